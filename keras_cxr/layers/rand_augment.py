"""`keras.layers.RandAugment` with a 0–10 magnitude, bounded geometry and no in-place writes (any backend)."""

import keras


@keras.saving.register_keras_serializable(package="keras_cxr")
class RandAugment(keras.layers.RandAugment):
    """RandAugment (Cubuk et al. 2020) at a magnitude on the usual 0–10 scale, through Keras' own layer.

    Why a subclass and not `keras.layers.RandAugment` as is (checked with Keras 3.15.1):

    - Geometry: Keras passes `factor=(0, f)` unchanged to its rotation and translation sub-layers, whose
      factors mean fractions of 360° and of the image size, so `factor=0.6` rotates by 0° to 216° (one
      direction only) and shifts by up to 60 % of the image. This layer rebuilds those two sub-layers and
      the shear with symmetric ranges at RandAugment's usual maxima for magnitude 10 (timm / the MAE
      fine-tuning recipe that paper 000 follows): rotation ±30°, shear ±0.3, translation ±45 % of the side,
      each scaled by magnitude / 10. A chest X-ray then never turns upside down.
    - Torch: Keras' `RandomBrightness.transform_images` adds in place (`images += delta`). On the torch
      backend that writes into the running batch inside RandAugment (all operations are computed and
      selected with `where`), so every call brightens, the output leaves `value_range`, and a numpy input
      shared with the torch tensor is modified. Here each operation receives a copy.

    The intensity operations (brightness, contrast, color degeneration, sharpness, solarization,
    posterization, auto-contrast, equalization) are Keras' with `factor=magnitude / 10`. As in Keras, the
    same two operations are chosen for the whole batch, each with per-image random strength. Gray
    (1-channel) images work as they are (color degeneration is then the identity).

    Args:
        magnitude: strength on the 0–10 scale (paper 000 fine-tuning: 6).
        num_ops: operations applied in sequence.
        value_range: range of the pixel values, (0, 1) for keras_cxr images.
        interpolation: "bilinear" or "nearest" for the geometric operations.
        seed: random seed.
        data_format: "channels_last" (default) or "channels_first".

    Call arguments:
        images: (B, H, W, C) or (H, W, C).
        training: augment when True (default); identity when False.

    Returns:
        Images of the input's shape, values within `value_range`.

    Reference:
        Cubuk et al., "RandAugment: Practical automated data augmentation with a reduced search space",
        CVPR Workshops 2020, arXiv:1909.13719; Yoon & Kang 2024 (paper 000), §III.B: magnitude 6.

    Example:
    >>> import numpy as np
    >>> augment = RandAugment(magnitude=6, seed=0)
    >>> out = augment(np.random.default_rng(0).random((2, 32, 32, 1)).astype("float32"))
    >>> tuple(out.shape), 0.0 <= float(keras.ops.min(out)) and float(keras.ops.max(out)) <= 1.0
    ((2, 32, 32, 1), True)
    """

    MAX_ROTATION_DEGREES = 30.0
    MAX_SHEAR = 0.3
    MAX_TRANSLATION = 0.45

    def __init__(self, magnitude=6, num_ops=2, value_range=(0, 1), interpolation="bilinear", seed=None,
                 data_format=None, **kwargs):
        kwargs.pop("factor", None)  # derived from magnitude
        if not 0 <= float(magnitude) <= 10:
            raise ValueError(f"magnitude must be on the 0-10 scale; received {magnitude}.")
        super().__init__(value_range=tuple(value_range), num_ops=int(num_ops), factor=float(magnitude) / 10,
                         interpolation=interpolation, seed=seed, data_format=data_format, **kwargs)
        self.magnitude = float(magnitude)
        strength = self.magnitude / 10
        common = dict(interpolation=interpolation, seed=seed, data_format=data_format)
        self.random_rotation = keras.layers.RandomRotation(strength * self.MAX_ROTATION_DEGREES / 360.0, **common)
        self.random_translation = keras.layers.RandomTranslation(strength * self.MAX_TRANSLATION,
                                                                 strength * self.MAX_TRANSLATION, **common)
        # RandomShear draws |shear| in (0, x_factor) with a random sign.
        self.random_shear = keras.layers.RandomShear(strength * self.MAX_SHEAR, strength * self.MAX_SHEAR, **common)

    def transform_images(self, images, transformation, training=True):
        ops = self.backend
        images = ops.numpy.copy(ops.cast(images, self.compute_dtype))
        if not training or transformation is None:
            return images
        chosen = transformation["layer_idxes"]
        for step in range(self.num_ops):
            for index, (name, value) in enumerate(transformation["transforms"].items()):
                candidate = getattr(self, name).transform_images(ops.numpy.copy(images), value)
                images = ops.numpy.where(chosen[step] == index, candidate, images)
        return ops.cast(images, self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.pop("factor", None)
        return {**config, "magnitude": self.magnitude}
