"""`GroupPatchMasking`: GMML's corruption of groups of connected patches (paper 001, §3.1)."""

import math

import keras
from keras import ops

from keras_cxr.distributed.replica import replica_rows


@keras.saving.register_keras_serializable(package="keras_cxr")
class GroupPatchMasking(keras.layers.Layer):
    """Corrupts groups of connected patches covering a sampled share of each image; returns (corrupted, mask).

    Group Masked Model Learning (GMML) corrupts "a group of connected patches representing a significant
    part" of the image and trains a ViT to restore it: paper 001 replaces 70 % of the image with noise, or
    35 % with patches from another CXR (§3.1). Written here because no Keras, keras-hub or MONAI layer does
    it (the official GMML code is GPL and was not used). How the corruption is drawn:

    - per image, the fill type: noise with probability `noise_rate` (not stated in the paper: 0.5, so
      both kinds are seen equally), else blocks of the next image of the batch (`roll` by one; a batch of
      one image always gets noise); its share of the image is then `noise_ratio` (0.7) or
      `replace_ratio` (0.35);
    - per image, up to `num_blocks` rectangular blocks aligned to the patch grid (so every corrupted
      patch is wholly corrupted and neighbours form groups): each block's area is uniform between one
      patch and `max_block_ratio` of the grid (not stated: 0.1, which bounds how far the share can
      overshoot), its aspect ratio log-uniform in `aspect_ratio_range` (not stated: (0.3, 1 / 0.3), the
      range of SimMIM/BEiT-style block masking), its position uniform; blocks are added in order until
      their union covers at least the image's share. The corrupted share is therefore in
      [share, share + max_block_ratio] (or below `share` in the rare case that all blocks together cover
      less; the returned mask always says exactly what was changed);
    - noise is Gaussian with each image's own mean and standard deviation (so the layer works on [0, 1]
      and on standardized inputs alike).

    The layer corrupts in training and in inference (it is the pretraining input transform; reconstruction
    figures need it at inference too), like `RandomPatchMasking`.

    Args:
        patch_size: side of a patch; image sides must be divisible by it.
        noise_ratio: share of an image replaced by noise (paper: 0.7).
        replace_ratio: share of an image replaced by another image's pixels (paper: 0.35).
        noise_rate: probability that an image is corrupted with noise rather than replaced.
        max_block_ratio: largest block, as a share of the patch grid.
        aspect_ratio_range: (min, max) height / width of a block.
        num_blocks: blocks drawn per image (enough to reach 0.7 with blocks of ≤ 0.1 of the grid).
        seed: seed of the `keras.random.SeedGenerator`; the same seed gives the same corruptions.

    Call arguments:
        images: (B, H, W, C) images.

    Returns:
        (corrupted (B, H, W, C), mask (B, H, W, 1) float, 1 = manipulated pixel).

    Example:
    >>> import numpy as np
    >>> corrupted, mask = GroupPatchMasking(patch_size=8, seed=0)(np.random.rand(4, 64, 64, 1).astype("float32"))
    >>> tuple(corrupted.shape), tuple(mask.shape)
    ((4, 64, 64, 1), (4, 64, 64, 1))

    Reference:
        Anwar et al., "SS-CXR: Multitask Representation Learning using Self Supervised Pre-training from
        Chest X-Rays", §3.1 and Algorithm 1; Atito, Awais & Kittler, "SiT: Self-supervised vIsion
        Transformer", arXiv:2104.03602 (GMML).
    """

    def __init__(self, patch_size=16, noise_ratio=0.7, replace_ratio=0.35, noise_rate=0.5, max_block_ratio=0.1,
                 aspect_ratio_range=(0.3, 1 / 0.3), num_blocks=64, seed=None, **kwargs):
        super().__init__(**kwargs)
        for label, value in (("noise_ratio", noise_ratio), ("replace_ratio", replace_ratio),
                             ("noise_rate", noise_rate), ("max_block_ratio", max_block_ratio)):
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{label} must be in [0, 1]; received {value}.")
        low, high = (float(v) for v in aspect_ratio_range)
        if not 0 < low <= high:
            raise ValueError(f"aspect_ratio_range must be (min, max) with 0 < min <= max; received {aspect_ratio_range}.")
        if int(patch_size) < 1 or int(num_blocks) < 1:
            raise ValueError(f"patch_size and num_blocks must be >= 1; received {patch_size}, {num_blocks}.")
        self.patch_size, self.num_blocks, self.seed = int(patch_size), int(num_blocks), seed
        self.noise_ratio, self.replace_ratio = float(noise_ratio), float(replace_ratio)
        self.noise_rate, self.max_block_ratio = float(noise_rate), float(max_block_ratio)
        self.aspect_ratio_range = (low, high)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        height, width = input_shape[1], input_shape[2]
        if height is None or width is None or height % self.patch_size or width % self.patch_size:
            raise ValueError(f"GroupPatchMasking needs image sides divisible by patch_size={self.patch_size}; "
                             f"received input shape {input_shape}.")
        self._grid = (height // self.patch_size, width // self.patch_size)

    def _grid_mask(self, batch, share):
        """(B, gh, gw) float: the union of the first blocks that reach `share` (B,) of the grid."""
        rows, cols = self._grid
        k = self.num_blocks
        uniform = lambda: replica_rows(  # noqa: E731
            lambda b: keras.random.uniform((b, k), seed=self.seed_generator), batch)
        area = 1.0 + uniform() * ops.maximum(self.max_block_ratio * rows * cols - 1.0, 0.0)
        log_low, log_high = math.log(self.aspect_ratio_range[0]), math.log(self.aspect_ratio_range[1])
        aspect = ops.exp(log_low + uniform() * (log_high - log_low))
        height = ops.clip(ops.floor(ops.sqrt(area * aspect)), 1, rows)
        width = ops.clip(ops.minimum(ops.floor(ops.sqrt(area / aspect)), ops.floor(area / height)), 1, cols)
        top = ops.floor(uniform() * (rows - height + 1))
        left = ops.floor(uniform() * (cols - width + 1))
        r = ops.reshape(ops.arange(rows, dtype="float32"), (1, 1, rows, 1))
        c = ops.reshape(ops.arange(cols, dtype="float32"), (1, 1, 1, cols))
        expand = lambda v: v[:, :, None, None]  # noqa: E731
        blocks = ops.cast((r >= expand(top)) & (r < expand(top + height)) & (c >= expand(left))
                          & (c < expand(left + width)), "float32")  # (B, K, gh, gw)
        union = ops.cast(ops.cumsum(blocks, axis=1) > 0, "float32")
        covered = ops.mean(union, axis=(2, 3))  # (B, K): share after each block
        reached = covered >= share[:, None]
        first = ops.argmax(ops.cast(reached, "int32"), axis=1)
        first = ops.where(ops.any(reached, axis=1), first, k - 1)
        pick = ops.one_hot(first, k, dtype="float32")
        return ops.sum(union * pick[:, :, None, None], axis=1)

    def call(self, images, training=None):
        images = ops.convert_to_tensor(images)
        dtype = images.dtype
        x = ops.cast(images, "float32")
        batch = ops.shape(x)[0]
        noise_type = replica_rows(lambda b: keras.random.uniform((b,), seed=self.seed_generator), batch) < self.noise_rate
        noise_type = ops.logical_or(noise_type, ops.equal(batch, 1))
        share = ops.where(noise_type, self.noise_ratio, self.replace_ratio)
        grid = self._grid_mask(batch, share)
        mask = ops.repeat(ops.repeat(grid, self.patch_size, axis=1), self.patch_size, axis=2)[..., None]
        mean = ops.mean(x, axis=(1, 2, 3), keepdims=True)
        std = ops.std(x, axis=(1, 2, 3), keepdims=True)
        noise = mean + std * replica_rows(
            lambda b: keras.random.normal((b, *x.shape[1:]), seed=self.seed_generator), batch)
        fill = ops.where(noise_type[:, None, None, None], noise, ops.roll(x, 1, axis=0))
        corrupted = x * (1.0 - mask) + fill * mask
        return ops.cast(corrupted, dtype), ops.cast(mask, dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape), (*input_shape[:3], 1)

    def get_config(self):
        return {**super().get_config(), "patch_size": self.patch_size, "noise_ratio": self.noise_ratio,
                "replace_ratio": self.replace_ratio, "noise_rate": self.noise_rate,
                "max_block_ratio": self.max_block_ratio, "aspect_ratio_range": list(self.aspect_ratio_range),
                "num_blocks": self.num_blocks, "seed": self.seed}
