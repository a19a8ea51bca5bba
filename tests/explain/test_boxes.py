import numpy as np
import pytest

from keras_cxr.data import Box
from keras_cxr.explain import box_iou, boxes_from_maps, max_iou


def test_box_around_pixels_above_threshold():
    maps = np.zeros((3, 10, 12), "float32")
    maps[0, 2:5, 3:8] = 0.9
    maps[0, 7, 10] = 0.5  # exactly at the threshold: included
    maps[1, 4, 4] = 0.49  # below
    maps[2] = 1.0
    assert boxes_from_maps(maps) == [Box(None, 3, 2, 11, 8), None, Box(None, 0, 0, 12, 10)]
    assert boxes_from_maps(maps, threshold=0.95) == [None, None, Box(None, 0, 0, 12, 10)]
    assert boxes_from_maps(maps[0]) == [Box(None, 3, 2, 11, 8)]  # a single (H, W) map
    assert boxes_from_maps(maps[0], label="Pneumonia") == [("Pneumonia", 3, 2, 11, 8)]
    assert all(type(v) is int for v in boxes_from_maps(maps[0])[0].coordinates)


def test_largest_component_ignores_stray_pixels():
    heat = np.zeros((20, 20))
    heat[5:12, 4:9] = 1.0  # 35 pixels
    heat[15:17, 15:18] = 0.8  # 6 pixels
    heat[0, 19] = 1.0
    assert boxes_from_maps(heat[None]) == [Box(None, 4, 0, 20, 17)]
    assert boxes_from_maps(heat[None], largest_component=True) == [Box(None, 4, 5, 9, 12)]
    # 8-connectivity: a diagonal line is one component
    diagonal = np.eye(6)
    diagonal[0, 5] = 1.0
    assert boxes_from_maps(diagonal, largest_component=True) == [Box(None, 0, 0, 6, 6)]


def test_rejects_bad_map_shapes():
    with pytest.raises(ValueError, match="N, H, W"):
        boxes_from_maps(np.zeros(5))


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ((0, 0, 4, 4), (0, 0, 4, 4), 1.0),
        ((0, 0, 4, 4), (2, 2, 6, 6), 4 / 28),
        ((0, 0, 4, 4), (0, 0, 4, 2), 0.5),
        ((0, 0, 2, 2), (3, 3, 5, 5), 0.0),  # disjoint
        ((0, 0, 2, 2), (2, 0, 4, 2), 0.0),  # touching edges
        ((1.5, 2.0, 5.5, 4.0), (2.5, 1.0, 4.5, 6.0), 4.0 / (8 + 10 - 4)),  # float coordinates
        ((0, 0, 0, 0), (0, 0, 0, 0), 0.0),  # degenerate
        ((0, 0, 10, 10), (2, 3, 5, 7), 12 / 100),  # containment
    ],
)
def test_box_iou_against_hand_values(a, b, expected):
    assert box_iou(a, b) == pytest.approx(expected)
    assert box_iou(b, a) == pytest.approx(expected)


@pytest.mark.parametrize("form", ["tuple", "labelled", "box"])
def test_box_iou_accepts_every_box_form(form):
    # Hand-computed reference: intersection [2, 4) x [1, 4) = 6; areas 16 and 4 * 5 = 20; IoU 6 / 30.
    a, b = (0, 0, 4, 4), (2, 1, 6, 6)
    wrap = {"tuple": lambda c: c, "labelled": lambda c: ("nodule", *c), "box": lambda c: Box("mass", *c)}[form]
    assert box_iou(wrap(a), wrap(b)) == pytest.approx(6 / 30)
    assert box_iou(wrap(a), b) == pytest.approx(6 / 30)
    assert max_iou([wrap(a), None], [wrap(b), wrap((10, 10, 11, 11))]) == pytest.approx(6 / 30)
    np.testing.assert_allclose(box_iou([wrap(a), wrap(b)], wrap(b)), [6 / 30, 1.0])


def test_box_iou_broadcasts():
    pred = np.array([[0, 0, 4, 4], [2, 2, 6, 6]])
    gt = np.array([[0, 0, 4, 4], [0, 0, 4, 2], [10, 10, 11, 11]])
    table = box_iou(pred[:, None], gt[None])
    np.testing.assert_allclose(table, [[1.0, 0.5, 0.0], [4 / 28, 0.0, 0.0]])
    with pytest.raises(ValueError, match="4 coordinates"):
        box_iou((0, 0, 1), (0, 0, 1, 1))


def test_max_iou():
    assert max_iou([(0, 0, 4, 4)], [(2, 2, 6, 6), (0, 0, 4, 2)]) == pytest.approx(0.5)
    assert max_iou([None, (2, 2, 6, 6)], [(0, 0, 4, 4)]) == pytest.approx(4 / 28)
    assert max_iou([None], [(0, 0, 4, 4)]) == 0.0
    assert max_iou([(0, 0, 4, 4)], []) == 0.0


def test_boxes_and_iou_compose():
    heat = np.zeros((1, 16, 16))
    heat[0, 4:8, 2:10] = 1.0
    (box,) = boxes_from_maps(heat)
    assert box_iou(box, (2, 4, 10, 8)) == 1.0  # the box covers exactly the hot pixels
    assert max_iou([box], [("consolidation", 2, 4, 10, 8)]) == 1.0  # a phantom-style ground-truth tuple
