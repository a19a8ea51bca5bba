"""Fixed 2-D sine-cosine position embedding (as in MAE, He et al. 2022)."""

import keras
import numpy as np
from keras import ops


def sincos_position_embedding(embed_dim, grid_size, class_token=True):
    """(grid², D) numpy table (plus a zero row for the class token): half the channels encode the row,
    half the column, each with sin/cos at frequencies 1/10000^(k/(D/4)).

    Example:
    >>> sincos_position_embedding(8, 2).shape
    (5, 8)
    """
    if embed_dim % 4:
        raise ValueError(f"embed_dim must be divisible by 4 for a 2-D sin-cos embedding; received {embed_dim}.")
    omega = 1.0 / 10000 ** (np.arange(embed_dim // 4, dtype=np.float64) / (embed_dim / 4.0))
    rows, cols = np.meshgrid(np.arange(grid_size, dtype=np.float64), np.arange(grid_size, dtype=np.float64),
                             indexing="ij")

    def encode(positions):
        angles = positions.reshape(-1, 1) * omega[None]
        return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)

    table = np.concatenate([encode(cols), encode(rows)], axis=1).astype(np.float32)
    if class_token:
        table = np.concatenate([np.zeros((1, embed_dim), np.float32), table], axis=0)
    return table


@keras.saving.register_keras_serializable(package="keras_cxr")
class SinCosPositionEmbedding(keras.layers.Layer):
    """Adds the fixed (not trained) 2-D sin-cos position embedding to a square grid of tokens.

    Args:
        class_token: the first token is a class token (gets a zero embedding).

    Example:
    >>> import numpy as np
    >>> tuple(SinCosPositionEmbedding()(np.zeros((1, 17, 8), "float32")).shape)
    (1, 17, 8)
    """

    def __init__(self, class_token=True, **kwargs):
        super().__init__(**kwargs)
        self.class_token = bool(class_token)

    def build(self, input_shape):
        num_patches = input_shape[1] - int(self.class_token)
        grid = int(round(num_patches**0.5))
        if grid * grid != num_patches:
            raise ValueError(f"{num_patches} patch tokens do not form a square grid.")
        self._table = sincos_position_embedding(input_shape[-1], grid, self.class_token)[None]

    def call(self, tokens):
        return tokens + ops.cast(self._table, tokens.dtype)

    def get_config(self):
        return {**super().get_config(), "class_token": self.class_token}
