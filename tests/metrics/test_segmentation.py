import warnings

import keras
import numpy as np
import pytest
from scipy.spatial.distance import directed_hausdorff

from keras_cxr.metrics import Dice, IoU, dice, hausdorff_distance, iou
from keras_cxr.metrics.segmentation import _surface


def _masks(n=6, size=24, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    out = []
    for _ in range(2 * n):
        cy, cx, r = rng.uniform(6, size - 6), rng.uniform(6, size - 6), rng.uniform(3, 7)
        out.append(((yy - cy) ** 2 / rng.uniform(0.5, 2) + (xx - cx) ** 2 < r * r).astype(np.float32))
    return np.stack(out[:n]), np.stack(out[n:])


def _brute_force_hd(a, b, percentile, spacing=(1.0, 1.0)):
    """Percentile Hausdorff distance from all pairwise surface-point distances (O(|A|·|B|))."""
    pa = np.argwhere(_surface(a > 0.5)) * np.asarray(spacing)
    pb = np.argwhere(_surface(b > 0.5)) * np.asarray(spacing)
    d = np.sqrt(((pa[:, None] - pb[None]) ** 2).sum(-1))
    return max(np.percentile(d.min(1), percentile), np.percentile(d.min(0), percentile)), pa, pb


def test_dice_iou_against_set_definitions():
    a, b = _masks()
    d, j = dice(a, b), iou(a, b)
    for i in range(len(a)):
        sa, sb = set(zip(*np.nonzero(a[i]))), set(zip(*np.nonzero(b[i])))
        assert abs(d[i] - 2 * len(sa & sb) / (len(sa) + len(sb))) < 1e-12
        assert abs(j[i] - len(sa & sb) / len(sa | sb)) < 1e-12
    np.testing.assert_allclose(j, d / (2 - d), atol=1e-12)
    # Probabilities are thresholded; a channel axis and a single (H, W) mask are accepted.
    np.testing.assert_array_equal(dice(a[..., None], 0.7 * b[..., None], threshold=0.6), d)
    assert dice(a[0], b[0]).tolist() == [d[0]]


def test_surface_is_monais_edge_definition():
    square = np.zeros((7, 7), bool)
    square[1:6, 1:6] = True
    expected = square.copy()
    expected[2:5, 2:5] = False  # a 5 x 5 square's edge is its 16-pixel ring
    np.testing.assert_array_equal(_surface(square), expected)
    plus = np.zeros((5, 5), bool)
    plus[1:4, 2] = plus[2, 1:4] = True
    assert _surface(plus).sum() == 4  # the centre has all four 4-neighbours: not surface
    border = np.ones((3, 3), bool)
    assert _surface(border).sum() == 8  # foreground touching the image border is surface


def test_hausdorff_matches_scipy_and_bruteforce_percentile():
    a, b = _masks(seed=1)
    hd100, hd95 = hausdorff_distance(a, b, percentile=100), hausdorff_distance(a, b, percentile=95)
    anisotropic = hausdorff_distance(a, b, percentile=95, spacing=(0.7, 1.3))
    for i in range(len(a)):
        brute95, pa, pb = _brute_force_hd(a[i], b[i], 95)
        assert abs(hd100[i] - max(directed_hausdorff(pa, pb)[0], directed_hausdorff(pb, pa)[0])) < 1e-9
        assert abs(hd95[i] - brute95) < 1e-9
        assert abs(anisotropic[i] - _brute_force_hd(a[i], b[i], 95, (0.7, 1.3))[0]) < 1e-9
    np.testing.assert_allclose(hausdorff_distance(a, b, percentile=100, spacing=2.0), 2 * hd100, atol=1e-12)
    np.testing.assert_array_equal(hausdorff_distance(a, b), hausdorff_distance(b, a))  # symmetric
    np.testing.assert_array_equal(hausdorff_distance(a, a), np.zeros(len(a)))


def test_hausdorff_3d_volumes():
    a, b = _masks(n=8, size=16, seed=4)
    va, vb = a.reshape(2, 4, 16, 16), b.reshape(2, 4, 16, 16)
    result = hausdorff_distance(va, vb, percentile=100)
    for i in range(2):
        pa, pb = np.argwhere(_surface(va[i] > 0.5)), np.argwhere(_surface(vb[i] > 0.5))
        assert abs(result[i] - max(directed_hausdorff(pa, pb)[0], directed_hausdorff(pb, pa)[0])) < 1e-9


def test_hausdorff_matches_monai():
    monai_metrics = pytest.importorskip("monai.metrics")
    torch = pytest.importorskip("torch")
    a, b = _masks(n=10, size=40, seed=5)
    for percentile, spacing in ((95, None), (100, None), (50, (0.7, 1.3))):
        ours = hausdorff_distance(a, b, percentile=percentile, spacing=spacing)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reference = monai_metrics.compute_hausdorff_distance(
                torch.tensor(b[:, None]), torch.tensor(a[:, None]), include_background=True,
                percentile=None if percentile == 100 else percentile, spacing=spacing).numpy().ravel()
        np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-4)  # MONAI computes in float32


def test_empty_masks():
    empty, full = np.zeros((1, 8, 8)), np.zeros((1, 8, 8))
    full[0, 2:5, 2:5] = 1
    assert dice(empty, empty)[0] == 1.0 and iou(empty, empty)[0] == 1.0
    assert dice(empty, full)[0] == 0.0 and iou(full, empty)[0] == 0.0
    assert hausdorff_distance(empty, empty)[0] == 0.0
    assert np.isinf(hausdorff_distance(empty, full)[0]) and np.isinf(hausdorff_distance(full, empty)[0])


@pytest.mark.parametrize("call, match", [
    (lambda m: hausdorff_distance(m, m, percentile=0), "percentile"),
    (lambda m: hausdorff_distance(m, m, spacing=(1.0, 1.0, 1.0)), "spacing"),
    (lambda m: hausdorff_distance(m, m, spacing=(1.0, -1.0)), "spacing"),
    (lambda m: hausdorff_distance(m[..., None, None], m[..., None, None]), "2-D masks or 3-D"),
    (lambda m: dice(m, m[:, :4]), "differ"),
    (lambda m: iou(m[0, 0], m[0, 0]), "masks must be"),
])
def test_bad_inputs(call, match):
    with pytest.raises(ValueError, match=match):
        call(np.ones((1, 8, 8)))


@pytest.mark.parametrize("metric_class, fn", [(Dice, dice), (IoU, iou)])
def test_streaming_equals_one_shot(metric_class, fn):
    a, b = _masks(n=9, seed=2)
    a[0] = 0
    b[0] = 0  # an empty pair counts as 1
    soft = np.clip(b + np.random.default_rng(0).normal(0, 0.3, b.shape), 0, 1).astype(np.float32)
    metric = metric_class(threshold=0.4)
    for start in range(0, 9, 4):  # uneven batches: 4, 4, 1
        metric.update_state(a[start:start + 4, ..., None], soft[start:start + 4, ..., None])
    assert abs(float(metric.result()) - fn(a, soft, threshold=0.4).mean()) < 1e-6
    weights = np.linspace(0.5, 2.0, 9)
    weighted = metric_class()
    weighted.update_state(a[..., None], b[..., None], sample_weight=weights)
    assert abs(float(weighted.result()) - np.average(fn(a, b), weights=weights)) < 1e-6
    metric.reset_state()
    assert float(metric.result()) == 0.0
    restored = metric_class.from_config(metric_class(threshold=0.3, name="m").get_config())
    assert restored.threshold == 0.3 and restored.name == "m"
    assert keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(restored)).threshold == 0.3


@pytest.mark.parametrize("metric_class", [Dice, IoU])
def test_metric_in_a_compiled_model(metric_class, tmp_path):
    a, b = _masks(n=8, seed=3)
    model = keras.Sequential([keras.Input((24, 24, 1)), keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid")])
    model.compile("adam", "binary_crossentropy", metrics=[metric_class()])
    logs = model.evaluate(a[..., None], b[..., None], batch_size=3, verbose=0, return_dict=True)
    expected = (dice if metric_class is Dice else iou)(b, model.predict(a[..., None], verbose=0)[..., 0]).mean()
    assert abs(logs[metric_class().name] - expected) < 1e-5
    model.save(tmp_path / "m.keras")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")  # never built
        reloaded = keras.saving.load_model(tmp_path / "m.keras")
    again = reloaded.evaluate(a[..., None], b[..., None], batch_size=3, verbose=0, return_dict=True)
    assert abs(again[metric_class().name] - expected) < 1e-5
