"""Patch embedding and class token of a Vision Transformer (Dosovitskiy et al. 2021), plus `patchify`."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_cxr")
class PatchEmbedding(keras.layers.Layer):
    """Splits images into non-overlapping patch_size × patch_size patches and projects each to `embed_dim`.

    A Conv2D with kernel = stride = patch_size, flattened to tokens in raster order (row by row), i.e. the
    linear projection of `patchify(images)`. The kernel is Xavier-uniform initialized over the flattened
    (p²·C → embed_dim) matrix, exactly as MAE initializes its patch projection (Keras' own glorot_uniform
    on a conv kernel would count fans per kernel position, p² times too many outputs).

    Args:
        patch_size: patch side in pixels (16 for ViT-S/16).
        embed_dim: token width.

    Call arguments:
        images: (B, H, W, C), H and W divisible by patch_size.

    Returns:
        (B, (H/p)·(W/p), embed_dim) tokens.

    Example:
    >>> import numpy as np
    >>> tuple(PatchEmbedding(8, 32)(np.zeros((2, 32, 32, 1), "float32")).shape)
    (2, 16, 32)
    """

    def __init__(self, patch_size=16, embed_dim=384, **kwargs):
        super().__init__(**kwargs)
        self.patch_size, self.embed_dim = int(patch_size), int(embed_dim)

    def build(self, input_shape):
        height, width, channels = input_shape[1], input_shape[2], input_shape[3]
        if height is None or width is None or height % self.patch_size or width % self.patch_size:
            raise ValueError(f"Image size {height}x{width} must be known and divisible by "
                             f"patch_size={self.patch_size}.")
        fan_in, fan_out = self.patch_size**2 * channels, self.embed_dim
        # Keras' fans for a conv kernel are (p²·C, p²·D); rescale to Xavier on the (p²·C, D) matrix.
        scale = (fan_in + self.patch_size**2 * fan_out) / (fan_in + fan_out)
        self.projection = keras.layers.Conv2D(
            self.embed_dim, self.patch_size, strides=self.patch_size, name="projection",
            kernel_initializer=keras.initializers.VarianceScaling(scale, "fan_avg", "uniform"))
        self.projection.build(input_shape)

    def call(self, images):
        x = self.projection(images)
        return ops.reshape(x, (-1, x.shape[1] * x.shape[2], self.embed_dim))

    def compute_output_shape(self, input_shape):
        n = (input_shape[1] // self.patch_size) * (input_shape[2] // self.patch_size)
        return (input_shape[0], n, self.embed_dim)

    def get_config(self):
        return {**super().get_config(), "patch_size": self.patch_size, "embed_dim": self.embed_dim}


@keras.saving.register_keras_serializable(package="keras_cxr")
class ClassToken(keras.layers.Layer):
    """Prepends a learnable class token (initialized N(0, 0.02²), as MAE) to a token sequence.

    Example:
    >>> import numpy as np
    >>> tuple(ClassToken()(np.zeros((2, 4, 8), "float32")).shape)
    (2, 5, 8)
    """

    def build(self, input_shape):
        self.token = self.add_weight(name="token", shape=(1, 1, input_shape[-1]),
                                     initializer=keras.initializers.RandomNormal(stddev=0.02))

    def call(self, tokens):
        batch = ops.shape(tokens)[0]
        token = ops.broadcast_to(ops.cast(self.token, tokens.dtype), (batch, 1, tokens.shape[-1]))
        return ops.concatenate([token, tokens], axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], None if input_shape[1] is None else input_shape[1] + 1, input_shape[2])


def patchify(images, patch_size):
    """(B, H, W, C) → (B, N, p²·C) patches in raster order, pixels of a patch row-major then channel.

    The same order as `PatchEmbedding`'s tokens and as MAE's `patchify` (channels last).

    Example:
    >>> import numpy as np
    >>> tuple(patchify(np.zeros((2, 8, 12, 1), "float32"), 4).shape)
    (2, 6, 16)
    """
    _, height, width, channels = images.shape
    gh, gw = height // patch_size, width // patch_size
    x = ops.reshape(images, (-1, gh, patch_size, gw, patch_size, channels))
    x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
    return ops.reshape(x, (-1, gh * gw, patch_size * patch_size * channels))


def unpatchify(patches, patch_size, image_size, channels=1):
    """(B, N, p²·C) → (B, H, W, C), the inverse of `patchify`.

    Args:
        image_size: side of a square image, or (height, width).

    Example:
    >>> import numpy as np
    >>> x = np.arange(2 * 8 * 12, dtype="float32").reshape(2, 8, 12, 1)
    >>> bool(np.array_equal(keras.ops.convert_to_numpy(unpatchify(patchify(x, 4), 4, (8, 12))), x))
    True
    """
    height, width = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    gh, gw = height // patch_size, width // patch_size
    x = ops.reshape(patches, (-1, gh, gw, patch_size, patch_size, channels))
    x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
    return ops.reshape(x, (-1, height, width, channels))
