"""The one box format: Box, the forms every box-taking function accepts, and resize / crop mapping."""

import numpy as np
import pandas as pd
import pytest

from keras_cxr.data import (Box, as_box, box_coordinates, crop_and_resize, crop_boxes, read_vindr_boxes, resize,
                            resize_boxes)
from keras_cxr.explain import boxes_from_maps


def test_box_is_the_legacy_finding_tuple():
    box = Box("nodule", 1.5, 2, 6, 8.25)
    assert box == ("nodule", 1.5, 2, 6, 8.25) and tuple(box) == ("nodule", 1.5, 2, 6, 8.25)
    name, x0, y0, x1, y1 = box
    assert (name, x0, y0, x1, y1) == ("nodule", 1.5, 2, 6, 8.25) and box[-4:] == box.coordinates
    assert (box.width, box.height, box.area) == (4.5, 6.25, 4.5 * 6.25)
    assert Box("x", 5, 5, 2, 9).area == 0  # inverted: no area


@pytest.mark.parametrize("value, expected", [
    (Box("a", 0, 1, 2, 3), Box("a", 0, 1, 2, 3)),
    (("a", 0, 1, 2, 3), Box("a", 0, 1, 2, 3)),  # the phantom / VinDr tuple
    (["a", 0.5, 1, 2, 3], Box("a", 0.5, 1, 2, 3)),
    ((0, 1, 2, 3), Box(None, 0, 1, 2, 3)),  # explain's old 4-tuples
    ((None, 0, 1, 2, 3), Box(None, 0, 1, 2, 3)),
    (np.array([0, 1, 2, 3]), Box(None, 0, 1, 2, 3)),
    ((np.float32(0.5), np.int64(1), 2, 3), Box(None, 0.5, 1, 2, 3)),
])
def test_as_box_accepts_every_form(value, expected):
    box = as_box(value)
    assert box == expected and isinstance(box, Box)
    assert all(type(v) in (int, float) for v in box.coordinates)  # plain numbers: JSON-ready
    assert as_box(tuple(box)) == box  # round trip through a plain tuple
    assert Box(*tuple(box)) == box


def test_as_box_label_for_bare_coordinates():
    assert as_box((0, 1, 2, 3), label="Pneumonia") == ("Pneumonia", 0, 1, 2, 3)
    assert as_box(("mass", 0, 1, 2, 3), label="ignored").label == "mass"


@pytest.mark.parametrize("value, message", [
    ((0, 1, 2), "4 coordinates"),
    (("a", 0, 1, 2, 3, 4), "4 coordinates"),
    ((0, 1, 2, 3, 4), "starts with its label"),
    (("a", "b", 1, 2, 3), "must be numbers; received 'b'"),
    ((True, 0, 1, 1), "must be numbers"),
    (None, "received None"),
    ("abcd", "received 'abcd'"),
])
def test_as_box_rejects_other_values(value, message):
    with pytest.raises(ValueError, match=message):
        as_box(value)


def test_box_coordinates_of_mixed_sequences_and_arrays():
    mixed = [Box("a", 0, 0, 4, 4), ("b", 1, 1, 2, 2), (2, 2, 6, 6), np.array([0.5, 0, 1, 1])]
    np.testing.assert_array_equal(box_coordinates(mixed), [[0, 0, 4, 4], [1, 1, 2, 2], [2, 2, 6, 6], [0.5, 0, 1, 1]])
    assert box_coordinates([]).shape == (0, 4)
    assert box_coordinates(np.zeros((2, 3, 4), np.int32)).dtype == np.float64
    assert box_coordinates([[mixed[0], mixed[2]]]).shape == (1, 2, 4)
    with pytest.raises(ValueError, match="4 coordinates"):
        box_coordinates(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="sequence of boxes"):
        box_coordinates(3.0)


def test_scale_shift_clip_round_trips():
    box = Box("effusion", 3, 5, 11, 17)
    assert box.scale(2.0, 0.5).scale(0.5, 2.0) == box
    assert box.scale(4) == Box("effusion", 12, 20, 44, 68)
    assert box.shift(-3, -5).shift(3, 5) == box
    assert box.clip(8, 100) == Box("effusion", 3, 5, 8, 17)
    assert Box(None, -2, -1, 3, 4).clip(10, 10) == (None, 0, 0, 3, 4)


def test_resize_boxes_matches_the_hand_formula():
    # The recipe's formula: x * size / width, y * size / height (VinDr boxes in original pixels).
    boxes = [("Pneumonia", 10, 4, 30, 20), Box("Nodule", 0, 0, 50, 40)]
    assert resize_boxes(boxes, (40, 50), 20) == [("Pneumonia", 4.0, 2.0, 12.0, 10.0), ("Nodule", 0, 0, 20, 20)]
    back = resize_boxes(resize_boxes(boxes, (40, 50), (13, 7)), (13, 7), (40, 50))
    np.testing.assert_allclose(box_coordinates(back), box_coordinates(boxes))
    with pytest.raises(ValueError, match="from_size must be a positive"):
        resize_boxes(boxes, (0, 50), 20)


def test_crop_boxes_matches_crop_and_resize_of_a_drawn_box():
    # Reference: draw the box into an image, crop_and_resize it, read the box back off the pixels.
    image = np.zeros((60, 80), np.float32)
    image[20:36, 24:40] = 1.0  # rows 20..35, columns 24..39 → Box(24, 20, 40, 36)
    crop, size = (16, 12, 56, 44), (16, 20)  # 40 × 32 crop → 20 wide × 16 high: factor 1/2 both ways
    resized = crop_and_resize(image, crop, size)
    (expected,) = boxes_from_maps(resized, threshold=0.5)
    (mapped,) = crop_boxes([("mass", 24, 20, 40, 36)], crop, size)
    assert mapped == ("mass", *expected.coordinates) == ("mass", 4, 4, 12, 12)
    (shifted,) = crop_boxes([Box(None, 24, 20, 40, 36)], Box(None, *crop))  # no size: a shift only
    assert shifted == (None, 8, 8, 24, 24) and resize(image[12:44, 16:56], 32).shape == (32, 32)
    with pytest.raises(ValueError, match="is empty"):
        crop_boxes([], (4, 4, 4, 8), 10)


def test_read_vindr_boxes_gives_boxes(tmp_path):
    pd.DataFrame([["img1", "R1", "Pneumonia", 10, 4, 30, 20], ["img1", "R2", "Nodule/Mass", 1.5, 2, 3, 4],
                  ["img0", "R1", "No finding", None, None, None, None]],
                 columns=["image_id", "rad_id", "class_name", "x_min", "y_min", "x_max", "y_max"]
                 ).to_csv(tmp_path / "annotations_test.csv", index=False)
    boxes = read_vindr_boxes(tmp_path)
    assert list(boxes) == ["img1"] and all(isinstance(b, Box) for b in boxes["img1"])
    assert boxes["img1"] == [("Pneumonia", 10.0, 4.0, 30.0, 20.0), ("Nodule/Mass", 1.5, 2.0, 3.0, 4.0)]
    assert boxes["img1"][0].label == "Pneumonia" and read_vindr_boxes(tmp_path, "train") == {}
