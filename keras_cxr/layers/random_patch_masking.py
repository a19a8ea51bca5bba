"""Per-sample random masking of patch tokens (MAE, He et al. 2022, §3)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_cxr")
class RandomPatchMasking(keras.layers.Layer):
    """Keeps a random subset of round((1 − mask_ratio)·N) tokens per sample.

    Ranks uniform noise per sample (argsort), keeps the lowest-ranked tokens. Masking is applied whenever the
    layer is called (it defines the MAE pretext task, not a regularizer), with randomness from a
    `keras.random.SeedGenerator`, so a given seed reproduces the masks.

    Args:
        mask_ratio: fraction of tokens masked, in [0, 1).
        seed: random seed.

    Call arguments:
        tokens: (B, N, D) patch tokens (no class token).

    Returns:
        (visible (B, K, D), mask (B, N) with 1 = masked, restore_indices (B, N)) where
        `take_along_axis(concat(visible, masked), restore_indices)` restores the original order.

    Example:
    >>> import numpy as np
    >>> visible, mask, restore = RandomPatchMasking(0.75, seed=0)(np.zeros((2, 16, 4), "float32"))
    >>> tuple(visible.shape), float(keras.ops.sum(mask))
    ((2, 4, 4), 24.0)
    """

    def __init__(self, mask_ratio=0.75, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= float(mask_ratio) < 1:
            raise ValueError(f"mask_ratio must be in [0, 1); received {mask_ratio}.")
        self.mask_ratio, self.seed = float(mask_ratio), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def num_kept(self, num_tokens):
        """round((1 − mask_ratio)·N), at least 1."""
        return max(1, int(round(num_tokens * (1 - self.mask_ratio))))

    def call(self, tokens):
        num_tokens = tokens.shape[1]
        keep = self.num_kept(num_tokens)
        noise = keras.random.uniform((ops.shape(tokens)[0], num_tokens), seed=self.seed_generator)
        shuffle = ops.argsort(noise, axis=1)
        restore = ops.argsort(shuffle, axis=1)
        kept = shuffle[:, :keep]
        visible = ops.take_along_axis(tokens, ops.expand_dims(kept, -1), axis=1)
        mask = ops.cast(restore >= keep, tokens.dtype)
        return visible, mask, restore

    def get_config(self):
        return {**super().get_config(), "mask_ratio": self.mask_ratio, "seed": self.seed}
