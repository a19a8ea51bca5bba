"""Position embeddings of a ViT: fixed 2-D sine-cosine (MAE, He et al. 2022) and learned (ViT / DeiT / timm)."""

import keras
import numpy as np
from keras import ops


def sincos_position_embedding(embed_dim, grid_size, class_token=True):
    """(gh·gw, D) numpy table, plus a leading zero row for the class token: MAE's
    `get_2d_sincos_pos_embed`. The first D/2 channels encode the column (x), the last D/2 the row (y), each
    as [sin, cos] at frequencies 1/10000^(k/(D/4)), k = 0 … D/4 − 1.

    Args:
        grid_size: patches per side, or (rows, columns).

    Example:
    >>> sincos_position_embedding(8, 2).shape
    (5, 8)
    """
    if embed_dim % 4:
        raise ValueError(f"embed_dim must be divisible by 4 for a 2-D sin-cos embedding; received {embed_dim}.")
    rows, cols = (grid_size, grid_size) if isinstance(grid_size, int) else tuple(grid_size)
    omega = 1.0 / 10000 ** (np.arange(embed_dim // 4, dtype=np.float64) / (embed_dim / 4.0))
    row, col = np.meshgrid(np.arange(rows, dtype=np.float64), np.arange(cols, dtype=np.float64), indexing="ij")

    def encode(positions):
        angles = positions.reshape(-1, 1) * omega[None]
        return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)

    table = np.concatenate([encode(col), encode(row)], axis=1).astype(np.float32)
    if class_token:
        table = np.concatenate([np.zeros((1, embed_dim), np.float32), table], axis=0)
    return table


@keras.saving.register_keras_serializable(package="keras_cxr")
class SinCosPositionEmbedding(keras.layers.Layer):
    """Adds the fixed 2-D sin-cos position embedding to a grid of tokens (raster order).

    The table is stored as a non-trainable weight (so it lives on the accelerator and is never updated by
    an optimizer); `count_params()` includes it, `trainable_weights` do not.

    Args:
        class_token: the first token is a class token (it gets the zero embedding, as in MAE).
        grid_size: (rows, columns) of the patch grid; None → a square grid inferred from the token count.

    Example:
    >>> import numpy as np
    >>> tuple(SinCosPositionEmbedding()(np.zeros((1, 17, 8), "float32")).shape)
    (1, 17, 8)
    """

    def __init__(self, class_token=True, grid_size=None, **kwargs):
        super().__init__(**kwargs)
        self.class_token = bool(class_token)
        self.grid_size = None if grid_size is None else (
            (int(grid_size),) * 2 if isinstance(grid_size, int) else tuple(int(g) for g in grid_size))

    def build(self, input_shape):
        num_patches = input_shape[1] - int(self.class_token)
        grid = self.grid_size
        if grid is None:
            side = int(round(num_patches**0.5))
            grid = (side, side)
        if grid[0] * grid[1] != num_patches:
            raise ValueError(f"{num_patches} patch tokens do not form a {grid[0]}x{grid[1]} grid; pass grid_size.")
        table = sincos_position_embedding(input_shape[-1], grid, self.class_token)
        self.embedding = self.add_weight(name="embedding", shape=(1,) + table.shape, initializer="zeros",
                                         trainable=False)
        self.embedding.assign(table[None])

    def call(self, tokens):
        return tokens + ops.cast(self.embedding, tokens.dtype)

    def get_config(self):
        return {**super().get_config(), "class_token": self.class_token,
                "grid_size": None if self.grid_size is None else list(self.grid_size)}


@keras.saving.register_keras_serializable(package="keras_cxr")
class LearnedPositionEmbedding(keras.layers.Layer):
    """Adds a learned (trainable) position table to a grid of patch tokens: the original ViT's and DeiT's
    `pos_embed`, here so that timm / DeiT / GMML checkpoints keep their learned positions.

    The table covers the patch grid only, like `SinCosPositionEmbedding(class_token=False)` in
    `keras_cxr.models.vit`, which adds positions before prepending the class token: timm's class-token
    position row (`pos_embed[:, 0]`) is added to the class token itself when a checkpoint is converted (the sum
    MAE's encoder forms too), which gives timm's forward exactly. Initialized N(0, 0.02²) (timm's
    `trunc_normal_(std=.02)`, whose ±2 cut-off is ~100 standard deviations out, so a plain normal).

    Args:
        grid_size: (rows, columns) of the patch grid; None → a square grid inferred from the token count.

    Call arguments:
        tokens: (B, rows·columns, D) patch tokens in raster order.

    Returns:
        (B, rows·columns, D): tokens + the table.

    Example:
    >>> import numpy as np
    >>> tuple(LearnedPositionEmbedding()(np.zeros((1, 16, 8), "float32")).shape)
    (1, 16, 8)

    Reference:
        Dosovitskiy et al., "An Image is Worth 16x16 Words", ICLR 2021, arXiv:2010.11929, §3.1 (Eq. 1: learned
        1-D position embeddings); Touvron et al., "Training data-efficient image transformers & distillation
        through attention" (DeiT), ICML 2021, arXiv:2012.12877.
    """

    def __init__(self, grid_size=None, **kwargs):
        super().__init__(**kwargs)
        self.grid_size = None if grid_size is None else (
            (int(grid_size),) * 2 if isinstance(grid_size, int) else tuple(int(g) for g in grid_size))

    def build(self, input_shape):
        num_patches, grid = input_shape[1], self.grid_size
        if grid is None:
            side = int(round((num_patches or 0) ** 0.5))
            grid = (side, side)
        if num_patches is None or grid[0] * grid[1] != num_patches:
            raise ValueError(f"{num_patches} patch tokens do not form a {grid[0]}x{grid[1]} grid; pass grid_size.")
        self.embedding = self.add_weight(name="embedding", shape=(1, num_patches, input_shape[-1]),
                                         initializer=keras.initializers.RandomNormal(stddev=0.02))

    def call(self, tokens):
        return tokens + ops.cast(self.embedding, tokens.dtype)

    def get_config(self):
        return {**super().get_config(), "grid_size": None if self.grid_size is None else list(self.grid_size)}
