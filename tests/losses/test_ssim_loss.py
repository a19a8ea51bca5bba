import json

import keras
import numpy as np

from keras_cxr.losses import SSIMLoss
from keras_cxr.metrics import ssim


def test_value_is_one_minus_mean_ssim():
    rng = np.random.default_rng(0)
    x = rng.random((4, 24, 24, 1)).astype("float32")
    y = np.clip(x + rng.normal(0, 0.1, x.shape), 0, 1).astype("float32")
    expected = 1 - np.mean(keras.ops.convert_to_numpy(ssim(x, y)))
    assert abs(float(SSIMLoss()(x, y)) - expected) < 1e-6


def test_serializable_and_trains_a_denoiser():
    loss = SSIMLoss(kernel_size=7)
    clone = keras.losses.deserialize(json.loads(json.dumps(keras.losses.serialize(loss))))
    assert isinstance(clone, SSIMLoss) and clone.kernel_size == 7
    rng = np.random.default_rng(1)
    clean = rng.random((8, 16, 16, 1)).astype("float32")
    noisy = np.clip(clean + rng.normal(0, 0.2, clean.shape), 0, 1).astype("float32")
    model = keras.Sequential([keras.Input((16, 16, 1)), keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
                              keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=SSIMLoss(kernel_size=7))
    before = model.evaluate(noisy, clean, verbose=0)
    model.fit(noisy, clean, epochs=15, batch_size=8, verbose=0)
    assert model.evaluate(noisy, clean, verbose=0) < before
