"""Checks every keras_cxr layer and model must pass (STYLE.md §5), on the public Keras API only."""

import json
import os
import tempfile

import keras
import numpy as np


def assert_config_round_trip(layer):
    """Asserts `from_config(get_config())` rebuilds a layer whose config serializes to identical JSON.

    Example:
    >>> import keras
    >>> _ = assert_config_round_trip(keras.layers.Dense(3))
    """
    config = layer.get_config()
    clone = layer.__class__.from_config(config)
    a = json.dumps(config, sort_keys=True, default=str)
    b = json.dumps(clone.get_config(), sort_keys=True, default=str)
    assert a == b, f"config round trip differs:\n{a}\n!=\n{b}"
    return clone


def assert_keras_round_trip(model, inputs, atol=1e-5, rtol=1e-5):
    """Saves `model` to a `.keras` file, reloads it and asserts the outputs on `inputs` agree.

    Returns the reloaded model.
    """
    expected = keras.ops.convert_to_numpy(model(inputs, training=False))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        reloaded = keras.saving.load_model(path)
    actual = keras.ops.convert_to_numpy(reloaded(inputs, training=False))
    np.testing.assert_allclose(actual, expected, atol=atol, rtol=rtol)
    return reloaded


def assert_training_step_changes_weights(model, x, y, loss="mse", optimizer=None):
    """Compiles `model`, trains one batch and asserts every trainable weight moved.

    Weights with an all-zero gradient by construction can be excluded by the caller by freezing them.
    """
    before = [keras.ops.convert_to_numpy(w).copy() for w in model.trainable_weights]
    assert before, "model has no trainable weights"
    model.compile(optimizer=optimizer or keras.optimizers.SGD(0.1), loss=loss)
    model.train_on_batch(x, y)
    after = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    unchanged = [w.path for w, a, b in zip(model.trainable_weights, after, before) if np.array_equal(a, b)]
    assert not unchanged, f"weights unchanged after one training step: {unchanged}"
