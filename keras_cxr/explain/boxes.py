"""Bounding boxes from activation maps and their overlap with ground-truth boxes (paper 003, §2.4, Fig. 8)."""

import numpy as np
from scipy import ndimage

from keras_cxr.data.boxes import Box, box_coordinates


def boxes_from_maps(maps, threshold=0.5, largest_component=False, label=None):
    """One box per map around the extreme points of its pixels at or above `threshold`.

    Paper 003 (§2.4) "translates the activation maps into bounding boxes by identifying their extreme
    points"; we read that as: keep the pixels whose value is >= `threshold` (maps normalized to [0, 1],
    as `score_cam` returns) and take their leftmost, topmost, rightmost and bottommost pixels. With
    `largest_component=True` only the largest 8-connected region of those pixels is boxed (ties: the
    first in raster order), which ignores small stray activations.

    Boxes are `keras_cxr.data.Box`es in continuous pixel coordinates, where pixel (row r, column c) covers
    [c, c + 1) × [r, r + 1): a box around columns 2..5 is x_min=2, x_max=6. This is the convention of
    `box_iou` and of VinDr-PCXR's annotations (pixel coordinates, x to the right, y down).

    Args:
        maps: (N, H, W) maps, or one (H, W) map.
        threshold: minimum value of a pixel inside the box.
        largest_component: box only the largest connected region above the threshold.
        label: the label of every box (e.g. the class the maps explain); default None.

    Returns:
        A list of N `Box(label, x_min, y_min, x_max, y_max)` with int coordinates, or None for a map with
        no pixel at or above `threshold`.

    Example:
    >>> import numpy as np
    >>> heat = np.zeros((1, 8, 10))
    >>> heat[0, 2:5, 3:7] = 1.0
    >>> boxes_from_maps(heat)
    [Box(label=None, x_min=3, y_min=2, x_max=7, y_max=5)]
    >>> boxes_from_maps(heat, label="Pneumonia")[0].coordinates
    (3, 2, 7, 5)

    Reference:
        Rajaraman et al., Frontiers in AI 2024, doi:10.3389/frai.2024.1419638, §2.4 and Fig. 8.
    """
    maps = np.asarray(maps)
    if maps.ndim == 2:
        maps = maps[None]
    if maps.ndim != 3:
        raise ValueError(f"maps must be (N, H, W) or (H, W); received shape {maps.shape}.")
    boxes = []
    for heat in maps:
        above = np.nan_to_num(heat, nan=-np.inf) >= threshold
        if largest_component and above.any():
            labels, count = ndimage.label(above, structure=np.ones((3, 3), dtype=bool))
            sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
            above = labels == 1 + int(np.argmax(sizes))
        rows, cols = np.nonzero(above)
        if rows.size == 0:
            boxes.append(None)
            continue
        boxes.append(Box(label, int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1))
    return boxes


def box_iou(box_a, box_b):
    """Intersection over union of boxes; arrays of boxes broadcast.

    Areas are (x_max - x_min) · (y_max - y_min) in continuous coordinates (see `boxes_from_maps`);
    degenerate or inverted boxes have zero area, and two zero-area boxes have IoU 0. Labels are ignored.

    Args:
        box_a: a box — `Box`, `(label, x_min, y_min, x_max, y_max)` or `(x_min, y_min, x_max, y_max)` —, a
            (nested) sequence of boxes, or a numeric (..., 4) array.
        box_b: the same, broadcastable against `box_a`.

    Returns:
        A float for two single boxes, else an array of the broadcast shape.

    Example:
    >>> box_iou((0, 0, 4, 4), (2, 2, 6, 6))  # 4 / (16 + 16 - 4)
    0.14285714285714285
    >>> box_iou(Box("nodule", 0, 0, 4, 4), ("nodule", 0, 0, 4, 2))
    0.5
    """
    a, b = box_coordinates(box_a), box_coordinates(box_b)

    def area(box):
        return np.clip(box[..., 2] - box[..., 0], 0, None) * np.clip(box[..., 3] - box[..., 1], 0, None)

    width = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    height = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    intersection = width * height
    union = area(a) + area(b) - intersection
    iou = np.divide(intersection, union, out=np.zeros_like(intersection), where=union > 0)
    return float(iou) if iou.ndim == 0 else iou


def max_iou(pred_boxes, gt_boxes):
    """Best IoU between any predicted box and any ground-truth box; 0.0 when either list is empty.

    `None` entries (maps with nothing above the threshold, see `boxes_from_maps`) are skipped; labels are
    ignored (any predicted box against any true box).

    Args:
        pred_boxes: iterable of boxes (`Box`, `(label, x0, y0, x1, y1)` or `(x0, y0, x1, y1)`) or None.
        gt_boxes: iterable of boxes in the same coordinates, e.g. the phantom's or `read_vindr_boxes`'.

    Returns:
        A float in [0, 1].

    Example:
    >>> max_iou([(0, 0, 4, 4), None], [("nodule", 10, 10, 12, 12), ("mass", 0, 0, 4, 2)])
    0.5
    """
    pred = [box_coordinates(box) for box in pred_boxes if box is not None]
    gt = [box_coordinates(box) for box in gt_boxes if box is not None]
    if not pred or not gt:
        return 0.0
    return float(np.max(box_iou(np.stack(pred)[:, None, :], np.stack(gt)[None, :, :])))
