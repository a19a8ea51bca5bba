"""DiceBCELoss against a numpy reference (soft Dice per image, averaged; BCE averaged over pixels)."""

import keras
import numpy as np

from keras_cxr.losses import DiceBCELoss


def _reference(y, p, eps=1e-7):
    q = np.clip(p, eps, 1 - eps)
    bce = -(y * np.log(q) + (1 - y) * np.log(1 - q)).mean()
    axes = tuple(range(1, y.ndim))
    dice = 1 - 2 * (y * p).sum(axes) / (y.sum(axes) + p.sum(axes))
    return dice.mean() + bce


def test_matches_numpy_and_is_registered():
    rng = np.random.default_rng(0)
    y = (rng.random((3, 16, 16, 1)) > 0.6).astype("float32")
    p = rng.random((3, 16, 16, 1)).astype("float32")
    np.testing.assert_allclose(float(keras.ops.convert_to_numpy(DiceBCELoss()(y, p))), _reference(y, p), rtol=1e-4)
    assert keras.saving.get_registered_object("keras_cxr>DiceBCELoss") is DiceBCELoss
    assert float(keras.ops.convert_to_numpy(DiceBCELoss()(y, y))) < 1e-4
