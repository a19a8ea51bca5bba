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
        cy, cx, r = rng.uniform(6, 18), rng.uniform(6, 18), rng.uniform(3, 7)
        out.append(((yy - cy) ** 2 + (xx - cx) ** 2 < r * r).astype(np.float32))
    return np.stack(out[:n]), np.stack(out[n:])


def test_dice_iou_against_set_definitions():
    a, b = _masks()
    for i in range(len(a)):
        sa, sb = set(zip(*np.nonzero(a[i]))), set(zip(*np.nonzero(b[i])))
        assert abs(dice(a, b)[i] - 2 * len(sa & sb) / (len(sa) + len(sb))) < 1e-12
        assert abs(iou(a, b)[i] - len(sa & sb) / len(sa | sb)) < 1e-12


def test_hausdorff_matches_scipy_and_bruteforce_percentile():
    a, b = _masks(seed=1)
    hd100, hd95 = hausdorff_distance(a, b, percentile=100), hausdorff_distance(a, b, percentile=95)
    for i in range(len(a)):
        pa, pb = np.argwhere(_surface(a[i] > 0.5)), np.argwhere(_surface(b[i] > 0.5))
        reference = max(directed_hausdorff(pa, pb)[0], directed_hausdorff(pb, pa)[0])
        assert abs(hd100[i] - reference) < 1e-9
        d = np.sqrt(((pa[:, None] - pb[None]) ** 2).sum(-1))
        brute = max(np.percentile(d.min(1), 95), np.percentile(d.min(0), 95))
        assert abs(hd95[i] - brute) < 1e-9
    scaled = hausdorff_distance(a, b, percentile=100, spacing=(2.0, 2.0))
    np.testing.assert_allclose(scaled, 2 * hd100)


def test_empty_masks():
    empty, full = np.zeros((1, 8, 8)), np.zeros((1, 8, 8))
    full[0, 2:5, 2:5] = 1
    assert dice(empty, empty)[0] == 1.0 and iou(empty, empty)[0] == 1.0
    assert dice(empty, full)[0] == 0.0 and iou(full, empty)[0] == 0.0
    assert hausdorff_distance(empty, empty)[0] == 0.0 and np.isinf(hausdorff_distance(empty, full)[0])
    with pytest.raises(ValueError, match="percentile"):
        hausdorff_distance(full, full, percentile=0)
    with pytest.raises(ValueError, match="differ"):
        dice(np.zeros((1, 4, 4)), np.zeros((1, 4, 5)))


@pytest.mark.parametrize("metric_class, fn", [(Dice, dice), (IoU, iou)])
def test_streaming_equals_one_shot(metric_class, fn):
    a, b = _masks(n=9, seed=2)
    a[0] = 0
    b[0] = 0  # an empty pair counts as 1
    metric = metric_class()
    for start in range(0, 9, 4):
        metric.update_state(a[start:start + 4, ..., None], b[start:start + 4, ..., None])
    assert abs(float(metric.result()) - fn(a, b).mean()) < 1e-6
    assert metric_class.from_config(metric.get_config()).threshold == 0.5
    model = keras.Sequential([keras.Input((24, 24, 1)), keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid")])
    model.compile("adam", "binary_crossentropy", metrics=[metric_class()])
    logs = model.evaluate(a[..., None], b[..., None], verbose=0, return_dict=True)
    assert 0.0 <= logs[metric_class().name] <= 1.0
