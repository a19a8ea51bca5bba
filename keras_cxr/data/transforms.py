"""Offline (numpy/OpenCV) transforms of single (H, W) images: resize, scaling, normalization, lung crop."""

import cv2
import numpy as np

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Gray images: the averages of the RGB statistics (see normalize_imagenet).
IMAGENET_GRAY_MEAN = float(np.mean(IMAGENET_MEAN))
IMAGENET_GRAY_STD = float(np.mean(IMAGENET_STD))


def _check_image(image, name="image"):
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim != 2 or min(image.shape) == 0:
        raise ValueError(f"{name} must be a non-empty (H, W) or (H, W, 1) array; received shape {image.shape}.")
    return image


def resize(image, size, mode="squash", interpolation=None):
    """Resizes an (H, W) image to (size, size) (or (height, width) when `size` is a pair).

    Args:
        image: (H, W) or (H, W, 1) array.
        size: int side, or (height, width).
        mode: "squash" (ignore the aspect ratio, as paper 003 resizes its lung crops to 224 x 224) or "pad"
            (keep the aspect ratio, center the image, pad the rest with zeros).
        interpolation: an OpenCV flag (e.g. `cv2.INTER_CUBIC`); default `cv2.INTER_AREA` when shrinking
            (averages the covered pixels, no aliasing) and `cv2.INTER_LINEAR` when enlarging.

    Returns:
        float32 array of shape (height, width).

    Raises:
        ValueError: on an empty or non-2D image, a non-positive size or an unknown mode.

    Example:
    >>> import numpy as np
    >>> resize(np.ones((40, 20), np.float32), 10, mode="pad")[5].tolist()
    [0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    """
    image = _check_image(image).astype(np.float32, copy=False)
    height, width = (int(size), int(size)) if np.isscalar(size) else (int(size[0]), int(size[1]))
    if height <= 0 or width <= 0:
        raise ValueError(f"size must be positive; received {size}.")
    if mode == "squash":
        target = (height, width)
    elif mode == "pad":
        scale = min(height / image.shape[0], width / image.shape[1])
        target = (min(height, max(1, round(image.shape[0] * scale))), min(width, max(1, round(image.shape[1] * scale))))
    else:
        raise ValueError(f"mode must be 'squash' or 'pad'; received {mode!r}.")
    if target == image.shape:
        out = image
    else:
        if interpolation is None:
            shrinking = target[0] * target[1] < image.shape[0] * image.shape[1]
            interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
        out = cv2.resize(image, (target[1], target[0]), interpolation=interpolation)
    if mode == "pad" and target != (height, width):
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

    3-channel inputs (..., 3) use the per-channel statistics, mean (0.485, 0.456, 0.406) and std
    (0.229, 0.224, 0.225). Gray inputs ((H, W) or (..., 1)) use the averages of those, mean 0.449 and std
    0.226 (our choice, documented here): close to the channel mean of what the RGB statistics give a gray
    image replicated to RGB, so a 1-channel model sees about the input distribution of the paper's RGB
    pipeline (paper 000, §III.B). For an RGB ImageNet model use `normalize_imagenet(to_rgb(image))`.

    Example:
    >>> round(float(normalize_imagenet(np.full((2, 2), 0.449))[0, 0]), 6)
    0.0
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim >= 3 and image.shape[-1] == 3:
        return (image - np.array(IMAGENET_MEAN, np.float32)) / np.array(IMAGENET_STD, np.float32)
    return (image - IMAGENET_GRAY_MEAN) / IMAGENET_GRAY_STD


def denormalize_imagenet(image):
    """The inverse of `normalize_imagenet` (gray or RGB), clipped to [0, 1]: for showing what a model that works
    on standardized images reconstructs.

    Example:
    >>> round(float(denormalize_imagenet(normalize_imagenet(np.full((2, 2), 0.3, np.float32)))[0, 0]), 6)
    0.3
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim >= 3 and image.shape[-1] == 3:
        image = image * np.array(IMAGENET_STD, np.float32) + np.array(IMAGENET_MEAN, np.float32)
    else:
        image = image * np.float32(IMAGENET_GRAY_STD) + np.float32(IMAGENET_GRAY_MEAN)
    return np.clip(image, 0, 1)


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


def lung_bbox_crop(image, mask, margin=0.05, *, size=None, mode="squash"):
    """Crops an image to the bounding box of its lung mask (paper 003, §2.1), optionally resizing it.

    A mask of another resolution than the image (e.g. a segmentation output at 256 px for a 2,048 px
    image) is resized to the image with nearest-neighbour interpolation first.

    Args:
        image: (H, W) or (H, W, 1) array.
        mask: binary lung mask (values > 0.5 are lung), any resolution.
        margin: fraction of the box's height / width added on each side (clipped to the image).
        size: when given, the crop is resized to it (int or (height, width), see `resize`).
        mode: resize mode when `size` is given.

    Returns:
        float32 crop (h, w), or (size, size) when `size` is given.

    Raises:
        ValueError: when the mask is empty (no lung pixel), naming the fix.

    Example:
    >>> m = np.zeros((20, 20)); m[5:15, 4:16] = 1
    >>> lung_bbox_crop(np.random.rand(20, 20), m, margin=0.0).shape
    (10, 12)
    >>> lung_bbox_crop(np.random.rand(40, 40), m, size=8).shape
    (8, 8)
    """
    image = _check_image(image).astype(np.float32, copy=False)
    mask = _check_image(mask, "mask").astype(np.float32, copy=False)
    if mask.shape != image.shape:
        mask = cv2.resize(mask, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_NEAREST)
    x0, y0, x1, y1 = lung_bbox(mask, margin)
    crop = image[y0:y1, x0:x1]
    return crop if size is None else resize(crop, size, mode=mode)
