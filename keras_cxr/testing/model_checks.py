"""`run_model_test` / `run_layer_test`: the checks every registered model and every layer passes (STYLE.md §5),
on the public Keras API, for keras_cxr's own tests and for users' extensions (keras-hub's TestCase idea)."""

import json
import os
import tempfile

import keras
import numpy as np

from keras_cxr.testing.layer_checks import assert_config_round_trip, assert_training_step_changes_weights


def _numpy_tree(outputs):
    if isinstance(outputs, dict):
        return {k: _numpy_tree(v) for k, v in outputs.items()}
    if isinstance(outputs, (list, tuple)):
        return [_numpy_tree(v) for v in outputs]
    return keras.ops.convert_to_numpy(outputs)


def _leaves(tree, prefix="output"):
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _leaves(value, f"{prefix}[{key!r}]")
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            yield from _leaves(value, f"{prefix}[{i}]")
    else:
        yield prefix, tree


def _shapes(tree):
    if isinstance(tree, dict):
        return {k: _shapes(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_shapes(v) for v in tree]
    return tuple(tree.shape)


def _seed_states(model):
    return [v for v in model.variables if "seed_generator" in v.path]


def _snapshot(model):
    return [keras.ops.convert_to_numpy(v).copy() for v in _seed_states(model)]


def _restore(model, states):
    for variable, value in zip(_seed_states(model), states):
        variable.assign(value)


def _loss(model, x, y):
    y_pred = model(x, training=True)
    return float(keras.ops.convert_to_numpy(model.compute_loss(x=x, y=y, y_pred=y_pred, training=True)))


def run_model_test(model, x, y=None, *, loss="mse", expected_output_shape=None, optimizer=None, atol=1e-5,
                   rtol=1e-5):
    """Asserts what every model must do: output shape, no NaN / inf, config JSON round trip, `.keras` round
    trip with equal outputs, and one training step on the fixed batch (x, y) lowers its loss.

    Random layers (patch masking, dropout) draw from `keras.random.SeedGenerator` states, which are
    snapshotted and restored: the reloaded model is compared on the same draws as the original, and the
    loss before and after the step is measured on the same draws the step itself used, so "lowers the
    loss" is a property of the update, not of the noise.

    Args:
        model: a built `keras.Model` (functional, or a subclass such as `MAE` that owns its loss).
        x: a fixed input batch.
        y: targets for `loss` (None for models whose `compute_loss` needs none, e.g. an MAE).
        loss: the loss to compile with; None → the model's own `compute_loss`.
        expected_output_shape: a shape tuple, or a dict of them for dict outputs; None skips the check.
        optimizer: default `keras.optimizers.SGD(1e-4)`.
        atol, rtol: tolerance of the `.keras` round trip.

    Returns:
        {"loss_before": float, "loss_after": float, "output_shape": shapes}.

    Example:
    >>> import numpy as np
    >>> from keras_cxr.models import create_model
    >>> model = create_model("resnet34", input_shape=(64, 64, 1), num_classes=2, head_activation="softmax")
    >>> x, y = np.random.default_rng(0).random((4, 64, 64, 1), "float32"), np.eye(2, dtype="float32")[[0, 1, 1, 0]]
    >>> result = run_model_test(model, x, y, loss="categorical_crossentropy", expected_output_shape=(4, 2))
    >>> result["loss_after"] < result["loss_before"]
    True
    """
    model(x, training=False)  # build every sublayer, so the saved file holds every weight
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        reloaded = keras.saving.load_model(path, compile=False)
    states = _snapshot(model)
    outputs = _numpy_tree(model(x, training=False))
    shapes = _shapes(outputs)
    if expected_output_shape is not None:
        expected = expected_output_shape
        if isinstance(expected, dict):
            expected = {k: tuple(v) for k, v in expected.items()}
        else:
            expected = tuple(expected)
        assert shapes == expected, f"{model.name}: output shape {shapes} != expected {expected}"
    for where, value in _leaves(outputs):
        if value.dtype.kind == "f":
            assert np.isfinite(value).all(), f"{model.name}: {where} holds NaN or inf"

    import copy

    config = model.get_config()
    clone = model.__class__.from_config(copy.deepcopy(config))  # from_config may consume its argument
    first, second = (json.dumps(c, sort_keys=True, default=str) for c in (config, clone.get_config()))
    if first != second:
        import difflib

        diff = difflib.unified_diff(json.dumps(config, sort_keys=True, indent=0, default=str).splitlines(),
                                    json.dumps(clone.get_config(), sort_keys=True, indent=0, default=str).splitlines(),
                                    lineterm="", n=1)
        raise AssertionError(f"{model.name}: config round trip differs:\n" + "\n".join(list(diff)[:40]))

    reloaded(x[:1], training=False)
    _restore(reloaded, states)  # the same random draws as `outputs`
    for (where, a), (_, b) in zip(_leaves(outputs), _leaves(_numpy_tree(reloaded(x, training=False)))):
        np.testing.assert_allclose(b, a, atol=atol, rtol=rtol, err_msg=f"{model.name}: {where} after .keras reload")

    model.compile(optimizer=optimizer or keras.optimizers.SGD(1e-4), loss=loss)
    states = _snapshot(model)
    before = _loss(model, x, y)
    _restore(model, states)
    model.train_on_batch(x, y)
    _restore(model, states)
    after = _loss(model, x, y)
    assert np.isfinite(after) and after < before, f"{model.name}: one training step did not lower the loss " \
                                                  f"({before:.6g} → {after:.6g})"
    return {"loss_before": before, "loss_after": after, "output_shape": shapes}


def run_layer_test(layer, x, *, expected_output_shape=None, atol=1e-5, rtol=1e-5, train=True):
    """Asserts a layer's contract: output shape, config JSON round trip, `.keras` round trip inside a
    functional model with equal outputs (random layers compared on the same seed-generator states), and
    (with `train`) one training step moves every trainable weight.

    Example:
    >>> import keras, numpy as np
    >>> _ = run_layer_test(keras.layers.Dense(3), np.ones((2, 4), "float32"), expected_output_shape=(2, 3))
    """
    out = _numpy_tree(layer(x))
    if expected_output_shape is not None:
        assert _shapes(out) == tuple(expected_output_shape), f"{layer.name}: {_shapes(out)} != {expected_output_shape}"
    assert_config_round_trip(layer)
    inputs = keras.Input(tuple(x.shape[1:]), dtype=str(x.dtype))
    model = keras.Model(inputs, layer(inputs))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "layer.keras")
        model.save(path)
        reloaded = keras.saving.load_model(path, compile=False)
    states = _snapshot(model)
    expected = _numpy_tree(model(x))
    _restore(reloaded, states)
    for (where, a), (_, b) in zip(_leaves(expected), _leaves(_numpy_tree(reloaded(x)))):
        np.testing.assert_allclose(b, a, atol=atol, rtol=rtol, err_msg=f"{layer.name}: {where} after .keras reload")
    if train and layer.trainable_weights:
        assert_training_step_changes_weights(model, x, np.zeros_like(out))
    return out
