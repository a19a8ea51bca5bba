"""Patch embedding and the class token of a Vision Transformer (Dosovitskiy et al. 2021)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_cxr")
class PatchEmbedding(keras.layers.Layer):
    """Splits images into non-overlapping patch_size² patches and projects each to `embed_dim`.

    A Conv2D with kernel = stride = patch_size (Xavier-uniform kernel, as MAE initializes it), flattened to
    tokens in raster order.

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
        self.projection = keras.layers.Conv2D(self.embed_dim, self.patch_size, strides=self.patch_size,
                                              kernel_initializer="glorot_uniform", name="projection")

    def build(self, input_shape):
        height, width = input_shape[1], input_shape[2]
        if height is None or width is None or height % self.patch_size or width % self.patch_size:
            raise ValueError(f"Image size {height}x{width} must be known and divisible by patch_size={self.patch_size}.")
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
    """Prepends a learnable class token (initialized N(0, 0.02), as MAE) to a token sequence.

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
    """(B, H, W, C) → (B, N, p²·C) patches in raster order (keras.ops).

    Example:
    >>> import numpy as np
    >>> tuple(patchify(np.zeros((2, 8, 8, 1), "float32"), 4).shape)
    (2, 4, 16)
    """
    _, height, width, channels = images.shape
    gh, gw = height // patch_size, width // patch_size
    x = ops.reshape(images, (-1, gh, patch_size, gw, patch_size, channels))
    x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
    return ops.reshape(x, (-1, gh * gw, patch_size * patch_size * channels))


def unpatchify(patches, patch_size, image_size, channels=1):
    """(B, N, p²·C) → (B, H, W, C), the inverse of `patchify` for square images of side `image_size`."""
    g = image_size // patch_size
    x = ops.reshape(patches, (-1, g, g, patch_size, patch_size, channels))
    x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
    return ops.reshape(x, (-1, image_size, image_size, channels))
