import json

import keras
import numpy as np
import pytest

from keras_cxr.losses import SSIMLoss
from keras_cxr.metrics import ssim

c = keras.ops.convert_to_numpy


def _batch():
    rng = np.random.default_rng(0)
    x = rng.random((4, 24, 24, 1)).astype("float32")
    y = np.clip(x + rng.normal(0, 0.1, x.shape), 0, 1).astype("float32")
    return x, y


def test_value_and_reductions():
    x, y = _batch()
    per_image = 1 - c(ssim(x, y))
    assert abs(float(SSIMLoss()(x, y)) - per_image.mean()) < 1e-6
    np.testing.assert_allclose(c(SSIMLoss(reduction="none")(x, y)), per_image, atol=1e-6)
    assert abs(float(SSIMLoss(reduction="sum")(x, y)) - per_image.sum()) < 1e-5
    weights = np.array([1.0, 0.0, 2.0, 1.0], "float32")
    assert abs(float(SSIMLoss()(x, y, sample_weight=weights)) - (per_image * weights).sum() / 4) < 1e-6
    assert abs(float(SSIMLoss()(x, x))) < 1e-6
    same = 1 - c(ssim(x, y, kernel_size=7, padding="same"))
    assert abs(float(SSIMLoss(kernel_size=7, padding="same")(x, y)) - same.mean()) < 1e-6


def test_serialization():
    loss = SSIMLoss(data_range=255.0, kernel_size=7, sigma=1.0, padding="same", reduction="sum")
    clone = keras.losses.deserialize(json.loads(json.dumps(keras.losses.serialize(loss))))
    assert isinstance(clone, SSIMLoss)
    assert clone.get_config() == loss.get_config()
    assert (clone.kernel_size, clone.sigma, clone.padding, clone.data_range) == (7, 1.0, "same", 255.0)


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_one_training_step_reduces_the_loss(padding):
    clean = np.random.default_rng(1).random((8, 16, 16, 1)).astype("float32")
    noisy = np.clip(clean + np.random.default_rng(2).normal(0, 0.2, clean.shape), 0, 1).astype("float32")
    model = keras.Sequential([keras.Input((16, 16, 1)), keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
                              keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=SSIMLoss(kernel_size=7, padding=padding))
    before = float(model.evaluate(noisy, clean, batch_size=8, verbose=0))
    model.train_on_batch(noisy, clean)
    after = float(model.evaluate(noisy, clean, batch_size=8, verbose=0))
    assert np.isfinite(before) and after < before
    assert all(np.all(np.isfinite(c(w))) for w in model.trainable_weights)


def test_l1_term_adds_the_mean_absolute_error_per_image():
    """SSIM + L1 (Zhao et al. 2017): 1 − SSIM from scikit-image plus the weighted per-image MAE."""
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(3)
    clean = rng.random((2, 24, 24, 1)).astype("float32")
    restored = np.clip(clean + rng.normal(0, 0.1, clean.shape), 0, 1).astype("float32")
    expected = [1 - structural_similarity(c[..., 0], r[..., 0], data_range=1.0, gaussian_weights=True, sigma=1.5,
                                          use_sample_covariance=False) + 0.5 * np.mean(np.abs(c - r))
                for c, r in zip(clean, restored)]
    found = keras.ops.convert_to_numpy(SSIMLoss(l1_weight=0.5, reduction="none")(clean, restored))
    np.testing.assert_allclose(found, expected, atol=1e-4)
    assert SSIMLoss.from_config(SSIMLoss(l1_weight=0.5).get_config()).l1_weight == 0.5
