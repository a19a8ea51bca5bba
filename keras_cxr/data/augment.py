"""Training augmentations: paper 000's resize → random-resized-crop → flip, and RandAugment.

Two forms of paper 000's pretraining augmentation, with the same crop-box distribution (torchvision's):

- `MAEPretrainAugmentation`: numpy/OpenCV, one image at a time, for `make_dataset(augment=...)`; it runs
  in the input pipeline's workers (the fast path: no per-image Keras layer calls, the accelerator stays free).
- `mae_pretrain_augmentation()`: a `keras.layers.Pipeline` of Keras preprocessing layers (Resizing,
  `keras_cxr.layers.RandomResizedCrop`, RandomFlip) for batches, inside a model, in `tf.data.Dataset.map`
  on any backend, or eagerly on torch/TensorFlow tensors.

`randaugment()` is `keras_cxr.layers.RandAugment`, Keras' RandAugment with the fixes its docstring lists.

Reference: Yoon & Kang, "Dual-Masked Autoencoders: Application to Multi-Labeled Pediatric Thoracic
Diseases", IEEE Access 2024, doi:10.1109/ACCESS.2024.3418985, §III.B.
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
    """Paper 000 §III.B: resize to 256 x 256, random-resized-crop to 224 (scale 0.5–1), horizontal flip.

    A picklable callable `(image (H, W), rng) -> (image_size, image_size)` for `make_dataset(augment=...)`.
    Its `input_size` (= `resize_to`) tells `make_dataset` to decode and cache images at that size, so the
    resize step is done once. ImageNet standardization (also §III.B) is the pipeline's
    `normalize="imagenet"`. The paper avoids other augmentations so as not to crop out or distort lesions.

    Args:
        image_size: output side (224).
        resize_to: side the image is first resized to (256).
        scale: area fraction range of the crop ((0.5, 1.0)).
        flip_rate: probability of a horizontal flip.

    Example:
    >>> augment = MAEPretrainAugmentation(image_size=64, resize_to=72)
    >>> augment(np.zeros((100, 80), np.float32), np.random.default_rng(0)).shape
    (64, 64)
    """

    def __init__(self, image_size=224, resize_to=256, scale=(0.5, 1.0), flip_rate=0.5):
        self.image_size, self.resize_to = int(image_size), int(resize_to)
        self.scale, self.flip_rate = tuple(scale), float(flip_rate)
        if not 0 < self.scale[0] <= self.scale[1] <= 1:
            raise ValueError(f"scale must be (min, max) with 0 < min <= max <= 1; received {scale}.")

    @property
    def input_size(self):
        return self.resize_to

    def __call__(self, image, rng):
        image = np.asarray(image, dtype=np.float32)
        image = image[..., 0] if image.ndim == 3 else image
        if image.shape != (self.resize_to, self.resize_to):
            shrink = image.shape[0] * image.shape[1] > self.resize_to**2
            image = cv2.resize(image, (self.resize_to, self.resize_to),
                               interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        image = random_resized_crop(image, self.image_size, self.scale, rng=rng)
        if rng.random() < self.flip_rate:
            image = image[:, ::-1]
        return np.ascontiguousarray(image)

    def __repr__(self):
        return (f"MAEPretrainAugmentation(image_size={self.image_size}, resize_to={self.resize_to}, "
                f"scale={self.scale}, flip_rate={self.flip_rate})")


def mae_pretrain_augmentation(image_size=224, resize_to=256, scale=(0.5, 1.0), seed=None):
    """Paper 000 §III.B as Keras layers: Resizing(256) → RandomResizedCrop(224, scale 0.5–1) → RandomFlip.

    A `keras.layers.Pipeline` rather than a `keras.Sequential`: a Sequential converts its inputs to the
    backend's tensors, which fails inside `tf.data.Dataset.map` on the torch backend; a Pipeline of
    tf.data-safe layers stays usable there. Works on batches (B, H, W, C) or single images (H, W, C), in a
    model, in `tf.data` (any backend) or eagerly on torch / TensorFlow tensors. Keras 3 has no
    RandomResizedCrop layer, hence `keras_cxr.layers.RandomResizedCrop` (its docstring says why).

    Args:
        image_size: output side (224).
        resize_to: side of the first resize (256); antialiased bilinear.
        scale: crop area fraction range ((0.5, 1.0)).
        seed: random seed (crop and flip).

    Returns:
        `keras.layers.Pipeline`.

    Example:
    >>> import numpy as np
    >>> augment = mae_pretrain_augmentation(image_size=32, resize_to=40, seed=0)
    >>> tuple(augment(np.random.rand(2, 64, 64, 1).astype("float32")).shape)
    (2, 32, 32, 1)
    """
    import keras

    from keras_cxr.layers.random_resized_crop import RandomResizedCrop

    return keras.layers.Pipeline([
        keras.layers.Resizing(int(resize_to), int(resize_to), interpolation="bilinear", antialias=True),
        RandomResizedCrop(int(image_size), int(image_size), scale=scale, seed=seed),
        keras.layers.RandomFlip("horizontal", seed=seed),
    ], name="mae_pretrain_augmentation")


def randaugment(magnitude=6, num_ops=2, seed=None):
    """RandAugment at `magnitude` on the 0–10 scale (paper 000 fine-tuning: 6) for [0, 1] images, or None
    (no augmentation) at magnitude 0.

    Returns `keras_cxr.layers.RandAugment(magnitude, num_ops, value_range=(0, 1))`: Keras' RandAugment with
    bounded, symmetric geometry and no in-place writes on torch (see that layer). Call it on batches
    (B, H, W, C), gray or RGB; it works in `tf.data` on any backend, eagerly, or as
    `make_dataset(augment=...)`.

    Example:
    >>> import numpy as np
    >>> augment = randaugment(6, seed=0)
    >>> out = augment(np.random.default_rng(0).random((2, 32, 32, 1)).astype("float32"))
    >>> tuple(out.shape)
    (2, 32, 32, 1)
    """
    from keras_cxr.layers.rand_augment import RandAugment

    if magnitude <= 0:  # "off" rather than a layer of identity-strength ops that still costs ~8 ms per image
        return None
    return RandAugment(magnitude=magnitude, num_ops=num_ops, value_range=(0, 1), seed=seed)
