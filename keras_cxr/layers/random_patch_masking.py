"""Per-sample random masking of patch tokens (MAE, He et al. 2022, §3)."""

import keras
from keras import ops

from keras_cxr.distributed.replica import replica_rows


@keras.saving.register_keras_serializable(package="keras_cxr")
class RandomPatchMasking(keras.layers.Layer):
    """Keeps a random subset of round((1 − mask_ratio)·N) tokens per sample, as MAE's `random_masking`.

    Draws uniform noise per sample and token, argsorts it (the shuffle) and keeps the first K tokens of the
    shuffle. Masking is applied at every call, training or not (it defines the MAE pretext task; it is not
    a regularizer). Randomness comes from a `keras.random.SeedGenerator`, so one seed reproduces the masks;
    pass `noise` to fix them explicitly.

    Args:
        mask_ratio: fraction of tokens masked, in [0, 1).
        seed: random seed.

    Call arguments:
        tokens: (B, N, D) patch tokens (no class token).
        noise: optional (B, N) scores; the K lowest are kept.

    Returns:
        (visible (B, K, D), mask (B, N) with 1 = masked (in the tokens' dtype), restore_indices (B, N) int32)
        where `take_along_axis(concat([visible, anything (B, N − K, D)], 1), restore_indices[..., None], 1)`
        puts every token back at its original position.

    Example:
    >>> import numpy as np
    >>> visible, mask, restore = RandomPatchMasking(0.75, seed=0)(np.zeros((2, 16, 4), "float32"))
    >>> tuple(visible.shape), float(keras.ops.sum(mask)), tuple(restore.shape)
    ((2, 4, 4), 24.0, (2, 16))
    """

    def __init__(self, mask_ratio=0.75, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= float(mask_ratio) < 1:
            raise ValueError(f"mask_ratio must be in [0, 1); received {mask_ratio}.")
        self.mask_ratio, self.seed = float(mask_ratio), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def num_kept(self, num_tokens):
        """round((1 − mask_ratio)·N) tokens kept, at least 1."""
        return max(1, int(round(num_tokens * (1 - self.mask_ratio))))

    def call(self, tokens, noise=None):
        num_tokens = tokens.shape[1]
        if num_tokens is None:
            raise ValueError("RandomPatchMasking needs a static token count.")
        keep = self.num_kept(num_tokens)
        if noise is None:
            noise = replica_rows(lambda b: keras.random.uniform((b, num_tokens), seed=self.seed_generator),
                                 ops.shape(tokens)[0])
        shuffle = ops.cast(ops.argsort(noise, axis=1), "int32")
        restore = ops.cast(ops.argsort(shuffle, axis=1), "int32")
        visible = ops.take_along_axis(tokens, ops.expand_dims(shuffle[:, :keep], -1), axis=1)
        mask = ops.cast(restore >= keep, tokens.dtype)
        return visible, mask, restore

    def compute_output_shape(self, input_shape, noise_shape=None):
        batch, num_tokens, dim = input_shape
        return (batch, self.num_kept(num_tokens), dim), (batch, num_tokens), (batch, num_tokens)

    def get_config(self):
        return {**super().get_config(), "mask_ratio": self.mask_ratio, "seed": self.seed}
