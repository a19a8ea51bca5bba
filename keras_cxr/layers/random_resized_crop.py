"""Per-image random resized crop (Inception / torchvision `RandomResizedCrop`), safe inside `tf.data`."""

import math

import keras


@keras.saving.register_keras_serializable(package="keras_cxr")
class RandomResizedCrop(keras.layers.RandomCrop):
    """Crops a random box of random area and aspect ratio from each image and resizes it to (height, width).

    Why our own layer: Keras 3 (checked up to 3.15) has no RandomResizedCrop. `keras.layers.RandomCrop`
    takes a fixed-size window at one location for the whole batch, and `keras.layers.RandomZoom` zooms about
    the image center with a fill mode, so neither draws the box distribution paper 000 (§III.B) uses from the
    MAE recipe: area fraction uniform in `scale`, aspect ratio log-uniform in `ratio`, box uniformly placed,
    a new box per image. This layer subclasses `keras.layers.RandomCrop` only to inherit Keras' tf.data-safe
    preprocessing base (the layer then runs inside `tf.data.Dataset.map` on any backend, on tf graph tensors,
    as well as eagerly on torch or TensorFlow tensors); it overrides the random draw and the transform.

    Sampling is torchvision's: up to 10 draws of (area, ratio) per image, the first box that fits is kept,
    otherwise the whole image center-cropped to the nearest allowed ratio. Box corners are continuous (not
    rounded to pixels). Resizing is bilinear with half-pixel centers and edge clamping, like
    `cv2.resize(..., INTER_LINEAR)`, written as two small interpolation matrices per image (so it is a pair
    of batched matmuls on every backend); with `antialias=True` the triangle filter widens when a box is
    shrunk, as PIL and `torch.nn.functional.interpolate(antialias=True)` do.

    At inference (`training=False`) the layer returns the largest center crop with the output's aspect
    ratio, resized (as `keras.layers.RandomCrop` does).

    Args:
        height: output height.
        width: output width.
        scale: (min, max) area fraction of the box, 0 < min <= max <= 1. torchvision's default (0.08, 1);
            paper 000 uses (0.5, 1).
        ratio: (min, max) aspect ratio width / height of the box.
        antialias: widen the interpolation filter when a box is shrunk.
        seed: random seed.
        data_format: "channels_last" (default) or "channels_first".

    Call arguments:
        images: (B, H, W, C) or (H, W, C) images (or a dict with an "images" key).
        training: draw random boxes when True (default), center crop when False.

    Returns:
        (B, height, width, C) float images.

    Reference:
        Szegedy et al., "Going deeper with convolutions", CVPR 2015 (the crop); He et al., "Masked
        Autoencoders Are Scalable Vision Learners", CVPR 2022 (scale 0.2–1 there); paper 000 §III.B.

    Example:
    >>> import numpy as np
    >>> crop = RandomResizedCrop(24, 24, scale=(0.5, 1.0), seed=0)
    >>> tuple(crop(np.random.rand(2, 32, 32, 1).astype("float32")).shape)
    (2, 24, 24, 1)
    """

    _ATTEMPTS = 10

    def __init__(self, height, width, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), antialias=True, seed=None,
                 data_format=None, **kwargs):
        super().__init__(int(height), int(width), seed=seed, data_format=data_format, **kwargs)
        if self.height <= 0 or self.width <= 0:
            raise ValueError(f"height and width must be positive; received ({height}, {width}).")
        scale, ratio = tuple(float(v) for v in scale), tuple(float(v) for v in ratio)
        if len(scale) != 2 or not 0 < scale[0] <= scale[1] <= 1:
            raise ValueError(f"scale must be (min, max) with 0 < min <= max <= 1; received {scale}.")
        if len(ratio) != 2 or not 0 < ratio[0] <= ratio[1]:
            raise ValueError(f"ratio must be (min, max) with 0 < min <= max; received {ratio}.")
        self.scale, self.ratio, self.antialias = scale, ratio, bool(antialias)

    def get_random_transformation(self, data, training=True, seed=None):
        if not training:
            return None
        ops = self.backend
        if seed is None:
            seed = self._get_seed_generator(ops.name)
        images = data["images"] if isinstance(data, dict) else data
        shape = ops.shape(images)
        batch = shape[0] if len(shape) == 4 else 1
        in_h = ops.cast(shape[self.height_axis], "float32")
        in_w = ops.cast(shape[self.width_axis], "float32")
        draws = (batch, self._ATTEMPTS)
        area = in_h * in_w * ops.random.uniform(draws, self.scale[0], self.scale[1], seed=seed)
        aspect = ops.numpy.exp(ops.random.uniform(draws, math.log(self.ratio[0]), math.log(self.ratio[1]),
                                                  seed=seed))
        box_w, box_h = ops.numpy.sqrt(area * aspect), ops.numpy.sqrt(area / aspect)
        fits = ops.numpy.logical_and(box_w <= in_w, box_h <= in_h)
        first = ops.numpy.argmax(ops.cast(fits, "int32"), axis=1)[:, None]
        found = ops.numpy.any(fits, axis=1)
        # Fallback (no draw fits): the whole image, center-cropped to the nearest allowed aspect ratio.
        in_ratio = in_w / in_h
        fallback_w = ops.numpy.where(in_ratio > self.ratio[1], in_h * self.ratio[1], in_w)
        fallback_h = ops.numpy.where(in_ratio < self.ratio[0], in_w / self.ratio[0], in_h)
        box_w = ops.numpy.where(found, ops.numpy.take_along_axis(box_w, first, axis=1)[:, 0], fallback_w)
        box_h = ops.numpy.where(found, ops.numpy.take_along_axis(box_h, first, axis=1)[:, 0], fallback_h)
        top = ops.random.uniform((batch,), 0.0, 1.0, seed=seed) * (in_h - box_h)
        left = ops.random.uniform((batch,), 0.0, 1.0, seed=seed) * (in_w - box_w)
        top = ops.numpy.where(found, top, (in_h - box_h) / 2)
        left = ops.numpy.where(found, left, (in_w - box_w) / 2)
        return {"top": top, "left": left, "height": box_h, "width": box_w}

    def _center_box(self, images):
        ops = self.backend
        shape = ops.shape(images)
        in_h = ops.cast(shape[self.height_axis], "float32")
        in_w = ops.cast(shape[self.width_axis], "float32")
        target = self.width / self.height
        box_w = ops.numpy.minimum(in_w, in_h * target)
        box_h = ops.numpy.minimum(in_h, in_w / target)
        ones = ops.numpy.ones((shape[0],), "float32")
        return {"top": ones * (in_h - box_h) / 2, "left": ones * (in_w - box_w) / 2,
                "height": ones * box_h, "width": ones * box_w}

    def _interpolation_matrix(self, start, length, in_size, out_size):
        """(B, out_size, in_size) bilinear weights sampling [start, start + length) at out_size points."""
        ops = self.backend
        step = length / out_size
        centers = start[:, None] + (ops.numpy.arange(out_size, dtype="float32")[None, :] + 0.5) * step[:, None] - 0.5
        support = ops.numpy.maximum(step, 1.0) if self.antialias else ops.numpy.ones_like(step)
        pixels = ops.numpy.arange(in_size, dtype="float32")
        distance = ops.numpy.abs(pixels[None, None, :] - centers[:, :, None]) / support[:, None, None]
        weights = ops.numpy.maximum(1.0 - distance, 0.0)
        return weights / ops.numpy.maximum(ops.numpy.sum(weights, axis=-1, keepdims=True), 1e-12)

    def transform_images(self, images, transformation, training=True):
        ops = self.backend
        images = ops.cast(images, "float32")
        box = transformation if training and transformation is not None else self._center_box(images)
        if self.data_format == "channels_first":
            images = ops.numpy.transpose(images, (0, 2, 3, 1))
        shape = ops.shape(images)
        rows = self._interpolation_matrix(box["top"], box["height"], shape[1], self.height)
        cols = self._interpolation_matrix(box["left"], box["width"], shape[2], self.width)
        out = ops.numpy.einsum("boh,bhwc->bowc", rows, images)
        out = ops.numpy.einsum("bpw,bowc->bopc", cols, out)
        if self.data_format == "channels_first":
            out = ops.numpy.transpose(out, (0, 3, 1, 2))
        return ops.cast(out, self.compute_dtype)

    def transform_bounding_boxes(self, bounding_boxes, transformation, training=True):
        raise NotImplementedError("RandomResizedCrop transforms images (and segmentation masks) only, not "
                                  "bounding boxes; crop boxes with keras.layers.RandomCrop instead.")

    def get_config(self):
        return {**super().get_config(), "scale": list(self.scale), "ratio": list(self.ratio),
                "antialias": self.antialias}
