"""GroupPatchMasking invariants (paper 001 §3.1): untouched outside the mask, share in range, seeded, grouped."""

import keras
import numpy as np
import pytest
from scipy import ndimage

from keras_cxr.layers import GroupPatchMasking
from keras_cxr.testing import run_layer_test

c = keras.ops.convert_to_numpy


def _images(n=32, size=64, seed=0):
    return np.random.default_rng(seed).random((n, size, size, 1)).astype("float32")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pixels_outside_the_mask_unchanged_and_share_in_range(seed):
    layer = GroupPatchMasking(patch_size=8, seed=seed)
    x = _images(seed=seed)
    corrupted, mask = (c(v) for v in layer(x))
    assert set(np.unique(mask)) <= {0.0, 1.0} and mask.shape == (32, 64, 64, 1)
    np.testing.assert_array_equal(corrupted[mask == 0], x[mask == 0])
    assert (corrupted[mask == 1] != x[mask == 1]).mean() > 0.99  # what the mask names was changed
    share = mask.mean(axis=(1, 2, 3))
    noise = np.isclose(share, 0.7, atol=0.1 + 1e-6) & (share >= 0.7)
    replace = (share >= 0.35) & (share <= 0.35 + 0.1 + 1e-6)
    assert (noise | replace).all(), share
    assert noise.any() and replace.any()  # both fill types occur (noise_rate 0.5)


def test_mask_is_patch_aligned_groups():
    _, mask = GroupPatchMasking(patch_size=8, seed=3)(_images(4))
    mask = c(mask)[..., 0]
    grid = mask[:, ::8, ::8]
    np.testing.assert_array_equal(np.repeat(np.repeat(grid, 8, 1), 8, 2), mask)  # whole patches only
    for image in grid:  # connected groups, not scattered patches: few components for ~45 corrupted patches
        assert ndimage.label(image)[1] <= 0.5 * image.sum()


def test_same_seed_same_corruption_and_replacement_comes_from_the_batch():
    x = _images(8)
    a = [c(v) for v in GroupPatchMasking(patch_size=8, seed=5)(x)]
    b = [c(v) for v in GroupPatchMasking(patch_size=8, seed=5)(x)]
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    layer = GroupPatchMasking(patch_size=8, noise_rate=0.0, seed=0)  # replacement only
    corrupted, mask = (c(v) for v in layer(x))
    other = np.roll(x, 1, axis=0)
    np.testing.assert_array_equal(corrupted[mask == 1], other[mask == 1])


def test_contract_and_errors():
    run_layer_test(GroupPatchMasking(patch_size=8, seed=0), _images(2, 32), train=False)
    with pytest.raises(ValueError, match="divisible by patch_size"):
        GroupPatchMasking(patch_size=7)(_images(1, 32))
    with pytest.raises(ValueError, match="noise_ratio"):
        GroupPatchMasking(noise_ratio=1.5)
