"""Offline (numpy/OpenCV) transforms of single (H, W) images: resize, scaling, normalization, lung crop."""

import cv2
import numpy as np

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# A gray image replicated to RGB, normalized per channel, averages to the channel means' mean.
IMAGENET_GRAY_MEAN = float(np.mean(IMAGENET_MEAN))
IMAGENET_GRAY_STD = float(np.mean(IMAGENET_STD))


def _check_image(image, name="image"):
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim != 2 or min(image.shape) == 0:
        raise ValueError(f"{name} must be a non-empty (H, W) or (H, W, 1) array; received shape {image.shape}.")
    return image


def resize(image, size, mode="squash"):
    """Resizes an (H, W) image to (size, size) (or (height, width) when `size` is a pair).

    INTER_AREA when shrinking (no aliasing), INTER_LINEAR when enlarging.

    Args:
        image: (H, W) or (H, W, 1) array.
        size: int side, or (height, width).
        mode: "squash" (ignore the aspect ratio, as paper 003 resizes lung crops) or "pad" (keep the aspect
            ratio, center, pad with zeros).

    Returns:
        float32 array of the requested (height, width).

    Example:
    >>> import numpy as np
    >>> resize(np.ones((40, 20), np.float32), 10, mode="pad")[:, 0].tolist()
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    """
    image = _check_image(image).astype(np.float32, copy=False)
    height, width = (int(size), int(size)) if np.isscalar(size) else (int(size[0]), int(size[1]))
    if height <= 0 or width <= 0:
        raise ValueError(f"size must be positive; received {size}.")
    if mode == "squash":
        target = (height, width)
    elif mode == "pad":
        scale = min(height / image.shape[0], width / image.shape[1])
        target = (max(1, round(image.shape[0] * scale)), max(1, round(image.shape[1] * scale)))
    else:
        raise ValueError(f"mode must be 'squash' or 'pad'; received {mode!r}.")
    shrinking = target[0] * target[1] < image.shape[0] * image.shape[1]
    out = cv2.resize(image, (target[1], target[0]), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    if mode == "pad":
        canvas = np.zeros((height, width), np.float32)
        top, left = (height - target[0]) // 2, (width - target[1]) // 2
        canvas[top:top + target[0], left:left + target[1]] = out
        out = canvas
    return out


def to_unit_range(image):
    """Min-max scales an array to [0, 1] (a constant image becomes zeros).

    Example:
    >>> to_unit_range([[2.0, 4.0], [6.0, 10.0]]).tolist()
    [[0.0, 0.25], [0.5, 1.0]]
    """
    image = np.asarray(image, dtype=np.float32)
    low, high = float(image.min()), float(image.max())
    return (image - low) / (high - low) if high > low else np.zeros_like(image)


def to_rgb(image):
    """Replicates a gray (..., H, W) or (..., H, W, 1) image to 3 channels (..., H, W, 3).

    Example:
    >>> to_rgb(np.zeros((4, 5))).shape
    (4, 5, 3)
    """
    image = np.asarray(image)
    if image.shape[-1] != 1:
        image = image[..., None]
    return np.repeat(image, 3, axis=-1)


def normalize_imagenet(image):
    """Standardizes [0, 1] images with the ImageNet mean and std, as ImageNet-pretrained models expect.

    3-channel inputs use the per-channel statistics; gray (1-channel or (H, W)) inputs use their average
    (mean 0.449, std 0.226), what a gray image replicated to RGB would get on average, so 1-channel models
    see the same input distribution (used by paper 000, §III.B).

    Example:
    >>> round(float(normalize_imagenet(np.full((2, 2), 0.449))[0, 0]), 6)
    0.0
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim >= 3 and image.shape[-1] == 3:
        return (image - np.array(IMAGENET_MEAN, np.float32)) / np.array(IMAGENET_STD, np.float32)
    return (image - IMAGENET_GRAY_MEAN) / IMAGENET_GRAY_STD


def lung_bbox(mask, margin=0.05):
    """Bounding box (x_min, y_min, x_max, y_max) of a binary lung mask, grown by `margin` of its size.

    Raises:
        ValueError: when the mask is empty (the fix: check the segmentation, or skip cropping).

    Example:
    >>> m = np.zeros((10, 10)); m[2:5, 3:8] = 1
    >>> lung_bbox(m, margin=0.0)
    (3, 2, 8, 5)
    """
    mask = _check_image(mask, "mask") > 0.5
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        raise ValueError("The lung mask is empty, so there is no lung bounding box to crop to; check the "
                         "segmentation model's output or run without lung cropping.")
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    dx, dy = int(round((x1 - x0) * margin)), int(round((y1 - y0) * margin))
    height, width = mask.shape
    return (int(max(x0 - dx, 0)), int(max(y0 - dy, 0)), int(min(x1 + dx, width)), int(min(y1 + dy, height)))


def crop_and_resize(image, box, size, mode="squash"):
    """Crops an (H, W) image to box (x_min, y_min, x_max, y_max) and resizes it (see `resize`).

    Example:
    >>> crop_and_resize(np.arange(100.0).reshape(10, 10), (0, 0, 5, 5), 5)[0, :3].tolist()
    [0.0, 1.0, 2.0]
    """
    image = _check_image(image)
    x0, y0, x1, y1 = (int(v) for v in box)
    if not (0 <= x0 < x1 <= image.shape[1] and 0 <= y0 < y1 <= image.shape[0]):
        raise ValueError(f"box {box} lies outside the image of shape {image.shape} or is empty.")
    return resize(image[y0:y1, x0:x1], size, mode=mode)


def lung_bbox_crop(image, mask, size, margin=0.05, mode="squash"):
    """Crops an image to the bounding box of its lung mask and resizes it (paper 003, §2.1).

    Example:
    >>> m = np.zeros((20, 20)); m[5:15, 4:16] = 1
    >>> lung_bbox_crop(np.random.rand(20, 20), m, 8).shape
    (8, 8)
    """
    return crop_and_resize(image, lung_bbox(mask, margin), size, mode=mode)
