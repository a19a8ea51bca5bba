import keras
import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from keras_cxr.metrics import PSNR, SSIM, HaarPSI, haarpsi, ms_ssim, psnr, ssim

c = keras.ops.convert_to_numpy


@pytest.mark.parametrize("size", [128, 256])
def test_parity_with_golden_numbers(golden_image_quality, size):
    g = golden_image_quality
    ref, dist = g[f"ref_{size}"], g[f"dist_{size}"]
    assert np.abs(c(ssim(ref, dist)) - g[f"skimage_ssim_{size}"]).max() < 1e-4
    assert np.abs(c(ssim(ref, dist)) - g[f"piq_ssim_{size}"]).max() < 1e-4
    assert np.abs(c(ssim(ref, dist)) - g[f"tf_ssim_{size}"]).max() < 1e-4
    assert np.abs(c(psnr(ref, dist)) - g[f"skimage_psnr_{size}"]).max() < 1e-3
    assert np.abs(c(psnr(ref, dist)) - g[f"piq_psnr_{size}"]).max() < 1e-3
    assert np.abs(c(haarpsi(ref, dist)) - g[f"piq_haarpsi_{size}"]).max() < 1e-4
    if size == 256:
        assert np.abs(c(ms_ssim(ref, dist, kernel_size=7)) - g["piq_msssim_256"]).max() < 1e-4
    else:
        with pytest.raises(ValueError, match="at least"):
            ms_ssim(ref, dist, kernel_size=7 if size == 64 else 11)


def test_random_inputs_against_scikit_image_and_data_range():
    rng = np.random.default_rng(0)
    x = rng.random((3, 40, 48, 2)).astype("float32")
    y = np.clip(x + rng.normal(0, 0.1, x.shape), 0, 1).astype("float32")
    for i in range(3):
        expected = structural_similarity(x[i], y[i], gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                         data_range=1.0, channel_axis=-1)
        assert abs(float(c(ssim(x, y))[i]) - expected) < 1e-4
        assert abs(float(c(psnr(x, y))[i]) - peak_signal_noise_ratio(x[i], y[i], data_range=1.0)) < 1e-3
    np.testing.assert_allclose(c(ssim(x * 255, y * 255, data_range=255)), c(ssim(x, y)), atol=1e-4)
    np.testing.assert_allclose(c(haarpsi(x[..., :1] * 255, y[..., :1] * 255, data_range=255)),
                               c(haarpsi(x[..., :1], y[..., :1])), atol=1e-5)


def test_identical_and_constant_images():
    x = np.full((2, 32, 32, 1), 0.3, "float32")
    assert np.all(np.isinf(c(psnr(x, x))))
    np.testing.assert_allclose(c(ssim(x, x)), 1.0, atol=1e-6)
    np.testing.assert_allclose(c(haarpsi(x, x)), 1.0, atol=1e-6)


@pytest.mark.parametrize("fn", [psnr, ssim, haarpsi])
def test_bad_shapes(fn):
    with pytest.raises(ValueError, match="batch, height, width, channels"):
        fn(np.zeros((32, 32)), np.zeros((32, 32)))
    with pytest.raises(ValueError, match="differ"):
        fn(np.zeros((1, 32, 32, 1)), np.zeros((1, 32, 16, 1)))
    with pytest.raises(ValueError, match="data_range"):
        fn(np.zeros((1, 32, 32, 1)), np.zeros((1, 32, 32, 1)), data_range=0)


@pytest.mark.parametrize("metric_class, fn", [(PSNR, psnr), (SSIM, ssim), (HaarPSI, haarpsi)])
def test_streaming_metric_equals_one_shot(golden_image_quality, metric_class, fn):
    ref, dist = golden_image_quality["ref_128"][:12], golden_image_quality["dist_128"][:12]
    metric = metric_class()
    for start in range(0, 12, 5):
        metric.update_state(ref[start:start + 5], dist[start:start + 5])
    assert abs(float(metric.result()) - float(np.mean(c(fn(ref, dist))))) < 1e-5
    clone = metric_class.from_config(metric.get_config())
    assert clone.data_range == metric.data_range
