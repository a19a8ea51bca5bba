"""One bounding-box format for data, explain and report: `Box(label, x_min, y_min, x_max, y_max)`.

Coordinates are continuous pixel coordinates, x to the right, y down, where pixel (row r, column c) covers
[c, c + 1) × [r, r + 1): the maximum is exclusive, so a box around columns 2..5 has x_min=2, x_max=6. This
is the convention of VinDr-PCXR's annotations, of the phantom's boxes, of `lung_bbox` / `crop_and_resize`
and of `keras_cxr.explain.boxes_from_maps` / `box_iou`.

The label comes first so that a `Box` is the `(finding, x_min, y_min, x_max, y_max)` tuple the phantom and
`read_vindr_boxes` have always produced: `name, x0, y0, x1, y1 = box` and `box[-4:]` keep working, and a
`Box` compares equal to that plain tuple. Every function that takes boxes accepts a `Box`, such a 5-tuple, or
a bare `(x_min, y_min, x_max, y_max)` 4-tuple (label None) — see `as_box`.
"""

import numbers
from typing import NamedTuple, Optional

import numpy as np


class Box(NamedTuple):
    """An axis-aligned box with an optional label (a finding name), in continuous pixel coordinates.

    Attributes:
        label: the finding ("Pneumonia", "nodule") or None (e.g. a box read off an activation map).
        x_min: left edge (inclusive).
        y_min: top edge (inclusive).
        x_max: right edge (exclusive: one past the last column).
        y_max: bottom edge (exclusive: one past the last row).

    Example:
    >>> box = Box("nodule", 2, 4, 6, 8)
    >>> box.coordinates, box.width, box.area
    ((2, 4, 6, 8), 4, 16)
    >>> box.scale(0.5)
    Box(label='nodule', x_min=1.0, y_min=2.0, x_max=3.0, y_max=4.0)
    >>> box.shift(-2, -4).clip(3, 3)
    Box(label='nodule', x_min=0, y_min=0, x_max=3, y_max=3)
    >>> name, x0, y0, x1, y1 = box  # the legacy (finding, x0, y0, x1, y1) tuple
    >>> box == ("nodule", 2, 4, 6, 8), box[-4:]
    (True, (2, 4, 6, 8))
    """

    label: Optional[str]
    x_min: float
    y_min: float
    x_max: float
    y_max: float

    @property
    def coordinates(self):
        """(x_min, y_min, x_max, y_max)."""
        return (self.x_min, self.y_min, self.x_max, self.y_max)

    @property
    def width(self):
        """x_max − x_min (negative for an inverted box)."""
        return self.x_max - self.x_min

    @property
    def height(self):
        """y_max − y_min (negative for an inverted box)."""
        return self.y_max - self.y_min

    @property
    def area(self):
        """width · height, 0 for degenerate or inverted boxes."""
        return max(self.width, 0) * max(self.height, 0)

    def scale(self, sx, sy=None):
        """The box with x multiplied by `sx` and y by `sy` (default `sx`), e.g. after resizing its image."""
        sy = sx if sy is None else sy
        return Box(self.label, self.x_min * sx, self.y_min * sy, self.x_max * sx, self.y_max * sy)

    def shift(self, dx, dy):
        """The box moved by (dx, dy), e.g. (−x0, −y0) after cropping its image at (x0, y0)."""
        return Box(self.label, self.x_min + dx, self.y_min + dy, self.x_max + dx, self.y_max + dy)

    def clip(self, width, height):
        """The box clipped to an image of `width` × `height` pixels ([0, width] × [0, height])."""
        return Box(self.label, min(max(self.x_min, 0), width), min(max(self.y_min, 0), height),
                   min(max(self.x_max, 0), width), min(max(self.y_max, 0), height))


def _number(value, box):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"Box coordinates must be numbers; received {value!r} in {box!r}. Pass Box(label, x_min, "
                         "y_min, x_max, y_max) or an (x_min, y_min, x_max, y_max) tuple.")
    return int(value) if isinstance(value, numbers.Integral) else float(value)


def as_box(box, label=None):
    """A `Box` from any accepted form: a `Box`, `(label, x_min, y_min, x_max, y_max)` or `(x_min, y_min, x_max, y_max)`.

    Args:
        box: the box. A 5-sequence has its label first (the phantom's and VinDr's tuples); a 4-sequence
            holds coordinates only.
        label: label for a 4-sequence (ignored for a `Box` or 5-sequence, which carry their own).

    Returns:
        A `Box`; integer coordinates stay ints, the others become floats.

    Raises:
        ValueError: for anything else (the message shows the value and the accepted forms).

    Example:
    >>> as_box(("Pneumonia", 10, 4.5, 30, 20))
    Box(label='Pneumonia', x_min=10, y_min=4.5, x_max=30, y_max=20)
    >>> as_box((1, 2, 3, 4))
    Box(label=None, x_min=1, y_min=2, x_max=3, y_max=4)
    """
    if isinstance(box, Box):
        return box
    if box is None or isinstance(box, (str, bytes, dict)) or not hasattr(box, "__len__") or len(box) not in (4, 5):
        raise ValueError(f"A box needs 4 coordinates (x_min, y_min, x_max, y_max) or 5 values (label, x_min, y_min, "
                         f"x_max, y_max); received {box!r}. Build it as Box(label, x_min, y_min, x_max, y_max).")
    values = list(box)
    if len(values) == 5:
        label, values = values[0], values[1:]
        if label is not None and not isinstance(label, str):
            raise ValueError(f"A 5-value box starts with its label (a string or None); received {box!r}. Build it "
                             "as Box(label, x_min, y_min, x_max, y_max).")
    return Box(label, *(_number(v, box) for v in values))


def _is_one_box(value):
    if isinstance(value, Box):
        return True
    if isinstance(value, np.ndarray):
        return value.ndim == 1 and value.dtype.kind not in "biuf"  # numeric arrays go through as arrays
    return isinstance(value, (tuple, list)) and len(value) > 0 and all(
        v is None or isinstance(v, (str, numbers.Number)) for v in value)


def box_coordinates(boxes):
    """A float64 (..., 4) array of (x_min, y_min, x_max, y_max) from one box, nested sequences of boxes, or an array.

    Labels are dropped. Numeric arrays pass through (their last axis must have length 4); sequences may mix
    the forms `as_box` accepts.

    Raises:
        ValueError: for a value that is not a box, or an array whose last axis is not 4.

    Example:
    >>> box_coordinates([("nodule", 0, 0, 4, 4), (2, 2, 6, 6)]).tolist()
    [[0.0, 0.0, 4.0, 4.0], [2.0, 2.0, 6.0, 6.0]]
    """
    if isinstance(boxes, np.ndarray) and boxes.dtype.kind in "biuf":
        array = boxes.astype(np.float64)
    elif _is_one_box(boxes):
        array = np.asarray(as_box(boxes).coordinates, dtype=np.float64)
    elif isinstance(boxes, (str, bytes, dict)) or boxes is None or not hasattr(boxes, "__iter__"):
        raise ValueError(f"Expected a box or a sequence of boxes; received {boxes!r}. Build boxes as Box(label, x_min, "
                         "y_min, x_max, y_max).")
    else:
        items = [box_coordinates(b) for b in boxes]
        array = np.stack(items) if items else np.zeros((0, 4))
    if array.shape[-1:] != (4,):
        raise ValueError(f"boxes must have 4 coordinates (x_min, y_min, x_max, y_max); received shape {array.shape}.")
    return array


def _height_width(size, name):
    height, width = (size, size) if np.isscalar(size) else tuple(size)
    if not (height > 0 and width > 0):
        raise ValueError(f"{name} must be a positive int or (height, width); received {size!r}.")
    return float(height), float(width)


def resize_boxes(boxes, from_size, to_size):
    """Boxes of an image of `from_size` mapped onto the same image resized (squashed) to `to_size`.

    Args:
        boxes: iterable of boxes (any form `as_box` accepts).
        from_size: the original image's (height, width), e.g. from `image_size_from_header`, or an int side.
        to_size: the resized image's (height, width) or int side (as `resize`'s `size`).

    Returns:
        A list of `Box`.

    Example:
    >>> resize_boxes([("Pneumonia", 10, 4, 30, 20)], from_size=(40, 50), to_size=20)
    [Box(label='Pneumonia', x_min=4.0, y_min=2.0, x_max=12.0, y_max=10.0)]
    """
    (h0, w0), (h1, w1) = _height_width(from_size, "from_size"), _height_width(to_size, "to_size")
    return [as_box(b).scale(w1 / w0, h1 / h0) for b in boxes]


def crop_boxes(boxes, crop, size=None):
    """Boxes mapped into the frame of `crop_and_resize(image, crop, size)` (mode "squash").

    Boxes are shifted by the crop's top-left corner and, when `size` is given, scaled by size / crop size.
    Parts outside the crop are kept (call `Box.clip` to cut them off).

    Args:
        boxes: iterable of boxes (any form `as_box` accepts).
        crop: the crop (x_min, y_min, x_max, y_max), e.g. from `lung_bbox`.
        size: optional side or (height, width) the crop is resized to.

    Returns:
        A list of `Box`.

    Raises:
        ValueError: for an empty crop.

    Example:
    >>> crop_boxes([("nodule", 12, 14, 16, 18)], crop=(10, 10, 30, 20), size=10)
    [Box(label='nodule', x_min=1.0, y_min=4.0, x_max=3.0, y_max=8.0)]
    """
    crop = as_box(crop)
    if crop.width <= 0 or crop.height <= 0:
        raise ValueError(f"crop {crop.coordinates} is empty; it needs x_min < x_max and y_min < y_max.")
    shifted = [as_box(b).shift(-crop.x_min, -crop.y_min) for b in boxes]
    if size is None:
        return shifted
    height, width = _height_width(size, "size")
    return [b.scale(width / crop.width, height / crop.height) for b in shifted]
