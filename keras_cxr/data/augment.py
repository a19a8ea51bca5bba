"""Training augmentations: paper 000's resize → random-resized-crop → flip, and RandAugment.

The crop/flip run per image in numpy/OpenCV inside the input pipeline's workers (Keras 3 has no
RandomResizedCrop layer, and doing it before batching keeps the accelerator free); RandAugment is Keras'
own `keras.layers.RandAugment` applied per batch.
"""

import math

import cv2
import numpy as np


def random_resized_crop(image, size, scale=(0.5, 1.0), ratio=(3 / 4, 4 / 3), rng=None):
    """Crops a random region of random area and aspect ratio and resizes it to (size, size).

    Same sampling as torchvision's RandomResizedCrop: up to 10 draws of an area fraction in `scale` and a
    log-uniform aspect ratio in `ratio`; if none fits, a center crop at the nearest allowed ratio.
    Bilinear resizing (INTER_AREA when the crop is larger than the output).

    Example:
    >>> random_resized_crop(np.zeros((256, 256), np.float32), 224, rng=np.random.default_rng(0)).shape
    (224, 224)
    """
    rng = rng if rng is not None else np.random.default_rng()
    height, width = image.shape[:2]
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target_area = area * rng.uniform(scale[0], scale[1])
        aspect = math.exp(rng.uniform(*log_ratio))
        w = int(round(math.sqrt(target_area * aspect)))
        h = int(round(math.sqrt(target_area / aspect)))
        if 0 < w <= width and 0 < h <= height:
            top, left = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
            break
    else:
        in_ratio = width / height
        w, h = (width, int(round(width / ratio[0]))) if in_ratio < ratio[0] else \
            (int(round(height * ratio[1])), height) if in_ratio > ratio[1] else (width, height)
        w, h = min(w, width), min(h, height)
        top, left = (height - h) // 2, (width - w) // 2
    crop = image[top:top + h, left:left + w]
    interpolation = cv2.INTER_AREA if h * w > size * size else cv2.INTER_LINEAR
    return cv2.resize(crop, (size, size), interpolation=interpolation)


class MAEPretrainAugmentation:
    """Paper 000 §III.B: resize to 256 × 256, random-resized-crop to 224 (scale 0.5–1), horizontal flip.

    A picklable callable `(image (H, W), rng) -> (size, size)` for `make_dataset(augment=...)`. ImageNet
    standardization (also §III.B) is the pipeline's `normalize="imagenet"`. The paper avoids other
    augmentations so as not to crop out or distort lesions.

    Example:
    >>> augment = MAEPretrainAugmentation(image_size=64, resize_to=72)
    >>> augment(np.zeros((100, 80), np.float32), np.random.default_rng(0)).shape
    (64, 64)
    """

    def __init__(self, image_size=224, resize_to=256, scale=(0.5, 1.0), flip_rate=0.5):
        self.image_size, self.resize_to, self.scale, self.flip_rate = int(image_size), int(resize_to), tuple(scale), flip_rate

    def __call__(self, image, rng):
        shrink = image.shape[0] * image.shape[1] > self.resize_to**2
        image = cv2.resize(image, (self.resize_to, self.resize_to),
                           interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        image = random_resized_crop(image, self.image_size, self.scale, rng=rng)
        if rng.random() < self.flip_rate:
            image = image[:, ::-1]
        return np.ascontiguousarray(image)


def randaugment(magnitude=6, num_ops=2, seed=None):
    """RandAugment with magnitude on the usual 0–10 scale (paper 000 fine-tuning: m6) for [0, 1] images.

    Wraps `keras.layers.RandAugment(value_range=(0, 1), factor=magnitude / 10)`. Call it on batches
    (B, H, W, C); gray batches are replicated to RGB for the color operations and averaged back.

    Example:
    >>> import numpy as np
    >>> augment = randaugment(6, seed=0)
    >>> out = augment(np.random.default_rng(0).random((2, 32, 32, 1)).astype("float32"))
    >>> tuple(out.shape)
    (2, 32, 32, 1)
    """
    import keras

    if not 0 <= magnitude <= 10:
        raise ValueError(f"magnitude must be on the 0-10 scale; received {magnitude}.")
    layer = keras.layers.RandAugment(value_range=(0, 1), num_ops=num_ops, factor=magnitude / 10, seed=seed)

    def apply(batch):
        batch = keras.ops.convert_to_tensor(batch, dtype="float32")
        gray = batch.shape[-1] == 1
        if gray:
            batch = keras.ops.concatenate([batch] * 3, axis=-1)
        out = layer(batch, training=True)
        out = keras.ops.mean(out, axis=-1, keepdims=True) if gray else out
        return keras.ops.convert_to_numpy(out) if not isinstance(out, np.ndarray) else out

    return apply
