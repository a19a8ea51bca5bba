"""Image quality (keras.ops) against the golden numbers of scikit-image / piq / tf.image, and scikit-image live."""

import json

import keras
import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from keras_cxr.metrics import PSNR, SSIM, HaarPSI, haarpsi, ms_ssim, psnr, ssim

c = keras.ops.convert_to_numpy


def _deviation(ours, reference):
    ours, reference = np.asarray(ours, np.float64), np.asarray(reference, np.float64)
    assert ours.shape == reference.shape
    return float(np.abs(ours - reference).max())


@pytest.mark.parametrize("size", [128, 256])
def test_parity_with_golden_numbers(golden_image_quality, size):
    """All 32 pairs (8 CXRs × noise 0.05 / noise 0.10 / blur / contrast) of each size."""
    g = golden_image_quality
    ref, dist = g[f"ref_{size}"], g[f"dist_{size}"]
    assert set(g[f"kind_{size}"]) == {"noise05", "noise10", "blur7", "contrast"}
    ours_ssim = c(ssim(ref, dist))
    assert ours_ssim.shape == (len(ref),)
    assert _deviation(ours_ssim, g[f"skimage_ssim_{size}"]) < 1e-4
    assert _deviation(ours_ssim, g[f"tf_ssim_{size}"]) < 1e-4
    assert _deviation(c(ssim(ref, dist, downsample=True)), g[f"piq_ssim_{size}"]) < 1e-4
    ours_psnr = c(psnr(ref, dist))
    for library in ("skimage", "piq", "tf"):
        assert _deviation(ours_psnr, g[f"{library}_psnr_{size}"]) < 1e-3
    assert _deviation(c(haarpsi(ref, dist)), g[f"piq_haarpsi_{size}"]) < 1e-4
    assert _deviation(c(haarpsi(ref, dist, compute_dtype="float32")), g[f"piq_haarpsi_{size}"]) < 1e-4
    if size == 256:
        assert _deviation(c(ms_ssim(ref, dist, kernel_size=7)), g["piq_msssim_256"]) < 1e-4


def test_ms_ssim_size_limits(golden_image_quality):
    ref, dist = golden_image_quality["ref_128"][:4], golden_image_quality["dist_128"][:4]
    # The golden file stores NaN at 128 px, but 128 ≥ (7 − 1)·2⁴ + 1 = 97, so piq (and we) compute it.
    values = c(ms_ssim(ref, dist, kernel_size=7))
    assert np.all(np.isfinite(values)) and np.all((values > 0) & (values <= 1))
    with pytest.raises(ValueError, match="at least 161x161"):
        ms_ssim(ref, dist)  # 11 × 11 window: 161 px needed
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        ms_ssim(ref, dist, kernel_size=8)


def _pair(seed, shape, noise):
    """Seeded images with some structure (3-tap running means) and a noisy copy; piq values below are for these."""
    rng = np.random.default_rng(seed)
    x = rng.random(shape).astype("float32")
    for axis in (1, 2):
        x = (x + np.roll(x, 1, axis) + np.roll(x, -1, axis)) / 3
    y = np.clip(x + rng.normal(0, noise, shape), 0, 1).astype("float32")
    return x.astype("float32"), y


def test_piq_values_rgb_odd_sizes_and_downsampling():
    """piq 0.8.0 values computed once (float64) on `_pair` inputs: the paths the gray golden file misses."""
    x, y = _pair(1, (2, 35, 42, 3), 0.05)  # RGB → YIQ with the chroma similarity map, odd height
    assert _deviation(c(haarpsi(x, y)), [0.903990643815289, 0.9079577034769297]) < 1e-6
    x, y = _pair(2, (2, 131, 117, 1), 0.05)  # odd sizes at every MS-SSIM scale (edge-replicated first row/col)
    assert _deviation(c(ms_ssim(x, y, kernel_size=7)), [0.9688325118853612, 0.9672811942408998]) < 1e-5
    x, y = _pair(3, (1, 400, 390, 1), 0.05)  # ≥ 384 px: piq average-pools by 2 before SSIM
    assert _deviation(c(ssim(x, y, downsample=True)), [0.9507897314001243]) < 1e-5
    assert _deviation(c(ssim(x, y)), [0.8468309467259472]) < 1e-5


def test_random_inputs_against_scikit_image():
    rng = np.random.default_rng(0)
    x = rng.random((3, 41, 48, 2)).astype("float32")
    y = np.clip(x + rng.normal(0, 0.1, x.shape), 0, 1).astype("float32")
    kwargs = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0, channel_axis=-1)
    valid, same, ours_psnr = c(ssim(x, y)), c(ssim(x, y, padding="same")), c(psnr(x, y))
    for i in range(3):
        expected, full_map = structural_similarity(x[i], y[i], full=True, **kwargs)
        assert abs(valid[i] - expected) < 1e-4
        assert abs(same[i] - full_map.mean()) < 1e-4  # "same": the mean of scikit-image's full SSIM map
        assert abs(ours_psnr[i] - peak_signal_noise_ratio(x[i], y[i], data_range=1.0)) < 1e-3
    # data_range: 8-bit scale gives the same values
    np.testing.assert_allclose(c(ssim(x * 255, y * 255, data_range=255)), valid, atol=1e-5)
    np.testing.assert_allclose(c(psnr(x * 255, y * 255, data_range=255)), ours_psnr, atol=1e-3)
    np.testing.assert_allclose(c(haarpsi(x[..., :1] * 255, y[..., :1] * 255, data_range=255)),
                               c(haarpsi(x[..., :1], y[..., :1])), atol=1e-6)
    np.testing.assert_allclose(c(ms_ssim(np.tile(x, (1, 3, 3, 1)) * 255, np.tile(y, (1, 3, 3, 1)) * 255,
                                         data_range=255, kernel_size=5)),
                               c(ms_ssim(np.tile(x, (1, 3, 3, 1)), np.tile(y, (1, 3, 3, 1)), kernel_size=5)), atol=1e-5)


def test_identical_and_constant_images():
    x = np.random.default_rng(0).random((2, 112, 112, 1)).astype("float32")
    flat = np.full((2, 32, 32, 1), 0.3, "float32")
    for images in (x, flat):
        assert np.all(np.isposinf(c(psnr(images, images))))
        np.testing.assert_allclose(c(psnr(images, images, max_psnr=100.0)), 100.0)
        np.testing.assert_allclose(c(ssim(images, images)), 1.0, atol=1e-6)
        np.testing.assert_allclose(c(ssim(images, images, padding="same")), 1.0, atol=1e-6)
        np.testing.assert_allclose(c(haarpsi(images, images)), 1.0, atol=1e-6)
    np.testing.assert_allclose(c(ms_ssim(x, x, kernel_size=7)), 1.0, atol=1e-6)
    # a cap leaves finite values alone
    y = np.clip(x + 0.05, 0, 1)
    np.testing.assert_allclose(c(psnr(x, y, max_psnr=100.0)), c(psnr(x, y)))


@pytest.mark.parametrize("fn", [psnr, ssim, ms_ssim, haarpsi])
def test_input_validation(fn):
    with pytest.raises(ValueError, match="batch, height, width, channels"):
        fn(np.zeros((32, 32)), np.zeros((32, 32)))
    with pytest.raises(ValueError, match="differ"):
        fn(np.zeros((1, 32, 32, 1)), np.zeros((1, 32, 16, 1)))
    with pytest.raises(ValueError, match="data_range"):
        fn(np.zeros((1, 32, 32, 1)), np.zeros((1, 32, 32, 1)), data_range=0)
    if fn is not psnr:
        with pytest.raises(ValueError, match="at least"):
            fn(np.zeros((1, 6, 6, 1)), np.zeros((1, 6, 6, 1)))


def test_option_validation():
    x = np.zeros((1, 32, 32, 1), "float32")
    with pytest.raises(ValueError, match="padding"):
        ssim(x, x, padding="reflect")
    with pytest.raises(ValueError, match="odd"):
        ssim(x, x, kernel_size=4)
    with pytest.raises(ValueError, match="channels"):
        haarpsi(np.zeros((1, 32, 32, 2)), np.zeros((1, 32, 32, 2)))
    with pytest.raises(ValueError, match="weights"):
        ms_ssim(x, x, weights=[-1.0, 1.0])


@pytest.mark.parametrize("metric, fn, options", [
    (PSNR, psnr, {"max_psnr": 60.0}),
    (SSIM, ssim, {"padding": "same"}),
    (HaarPSI, haarpsi, {"compute_dtype": "float32"}),
])
def test_streaming_metric_equals_one_shot(golden_image_quality, metric, fn, options):
    ref, dist = golden_image_quality["ref_128"][:12], golden_image_quality["dist_128"][:12]
    dist = dist.copy()
    dist[3] = ref[3]  # one identical pair: PSNR capped at 60 dB
    m = metric(**options)
    for start in range(0, 12, 5):  # uneven batches: 5, 5, 2
        m.update_state(ref[start:start + 5], dist[start:start + 5])
    one_shot = c(fn(ref, dist, **options))
    assert np.all(np.isfinite(one_shot))
    assert abs(float(m.result()) - float(np.mean(one_shot))) < 1e-5
    clone = metric.from_config(json.loads(json.dumps(m.get_config())))
    assert clone.get_config() == m.get_config()
    # per-image sample weights
    weights = np.arange(1, 13, dtype="float32")
    m.reset_state()
    m.update_state(ref, dist, sample_weight=weights)
    assert abs(float(m.result()) - float(np.average(one_shot, weights=weights))) < 1e-5


def test_metrics_inside_compiled_evaluate():
    """The metric classes run inside a traced evaluate step (symbolic batch) and match the one-shot values."""
    rng = np.random.default_rng(0)
    x = rng.random((6, 32, 32, 1)).astype("float32")
    y = np.clip(x + rng.normal(0, 0.05, x.shape), 0, 1).astype("float32")
    model = keras.Sequential([keras.Input((32, 32, 1)), keras.layers.Identity()])
    model.compile(loss="mse", metrics=[PSNR(), SSIM(), HaarPSI()])
    result = model.evaluate(y, x, batch_size=4, verbose=0, return_dict=True)
    assert abs(result["psnr"] - float(np.mean(c(psnr(x, y))))) < 1e-4
    assert abs(result["ssim"] - float(np.mean(c(ssim(x, y))))) < 1e-5
    assert abs(result["haarpsi"] - float(np.mean(c(haarpsi(x, y))))) < 1e-5
