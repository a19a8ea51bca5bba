"""keras_cxr AdamW (PyTorch: fused kernel) against keras.optimizers.AdamW, the reference it must equal."""

import keras
import numpy as np
import pytest

from keras_cxr.optimizers import AdamW, LayerDecayAdamW

c = keras.ops.convert_to_numpy


def _variables(seed=0):
    rng = np.random.default_rng(seed)
    shapes = [(7, 5), (5,), (3, 3, 2, 4), (1,)]
    return [keras.Variable(rng.normal(size=s).astype("float32"), name=f"v{i}") for i, s in enumerate(shapes)]


def _run(optimizer, steps=6, seed=0):
    variables = _variables(seed)
    optimizer.build(variables)
    rng = np.random.default_rng(seed + 1)
    for _ in range(steps):
        optimizer.apply([keras.ops.convert_to_tensor(rng.normal(scale=10.0 ** rng.integers(-4, 1), size=v.shape),
                                                     "float32") for v in variables], variables)
    return [c(v) for v in variables], optimizer


@pytest.mark.parametrize("kwargs", [
    dict(learning_rate=1e-2, weight_decay=0.05),
    dict(learning_rate=3e-3, weight_decay=0.1, beta_1=0.8, beta_2=0.95, epsilon=1e-4),
    dict(learning_rate=keras.optimizers.schedules.ExponentialDecay(1e-2, 2, 0.5), weight_decay=0.05),
    dict(learning_rate=1e-2, weight_decay=0.0),
])
def test_same_update_as_keras_adamw(kwargs):
    expected, _ = _run(keras.optimizers.AdamW(**kwargs))
    result, optimizer = _run(AdamW(**kwargs))
    assert optimizer._fused == (keras.backend.backend() == "torch")  # PyTorch takes the fused kernel
    for e, r in zip(expected, result):
        np.testing.assert_allclose(r, e, rtol=2e-6, atol=2e-7)
    assert int(c(optimizer.iterations)) == 6


def test_exclusions_and_amsgrad_follow_keras():
    def excluded(cls, **kw):
        optimizer = cls(learning_rate=1e-2, weight_decay=0.5, **kw)
        optimizer.exclude_from_weight_decay(var_names=["v1"])
        return _run(optimizer)

    for e, r in zip(excluded(keras.optimizers.AdamW)[0], excluded(AdamW)[0]):
        np.testing.assert_allclose(r, e, rtol=2e-6, atol=2e-7)
    expected, _ = excluded(keras.optimizers.AdamW, amsgrad=True)
    result, optimizer = excluded(AdamW, amsgrad=True)
    assert not optimizer._fused  # Keras' own path
    for e, r in zip(expected, result):
        np.testing.assert_allclose(r, e, rtol=1e-6, atol=1e-7)


def test_layer_decay_fused_equals_its_per_variable_definition():
    # Reference: Keras AdamW per variable with lr · scale, and decay only where LayerDecayAdamW decays.
    paths = ["patch_embed/kernel", "block_0/fc1/bias", "block_1/fc1/kernel", "head/kernel"]
    optimizer = LayerDecayAdamW(learning_rate=1e-2, layer_decay=0.5, weight_decay=0.05, num_layers=2)
    variables = _variables()
    scales = [optimizer.scale_for(p) for p in paths]
    rng = np.random.default_rng(5)
    grads = [[keras.ops.convert_to_tensor(rng.normal(size=v.shape), "float32") for v in variables] for _ in range(4)]
    optimizer.update_rule = lambda v, table=dict(zip((v.path for v in variables), paths)): (
        optimizer.scale_for(table[v.path]), len(v.shape) > 1)
    optimizer.build(variables)
    for step in grads:
        optimizer.apply(step, variables)
    for i, (variable, scale) in enumerate(zip(variables, scales)):
        reference = keras.Variable(_variables()[i])
        keras_opt = keras.optimizers.AdamW(learning_rate=1e-2 * scale,
                                           weight_decay=0.05 if len(variable.shape) > 1 else 0.0)
        for step in grads:
            keras_opt.apply([step[i]], [reference])
        np.testing.assert_allclose(c(variable), c(reference), rtol=2e-6, atol=2e-7)


def test_fit_and_serialization():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(1)])
    reference = keras.models.clone_model(model)
    reference.set_weights(model.get_weights())
    x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    y = x.sum(-1, keepdims=True)
    model.compile(optimizer=AdamW(1e-2, weight_decay=0.05), loss="mse")
    reference.compile(optimizer=keras.optimizers.AdamW(1e-2, weight_decay=0.05), loss="mse")
    model.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0)
    reference.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    clone = keras.optimizers.deserialize(keras.optimizers.serialize(model.optimizer))
    assert isinstance(clone, AdamW) and clone.weight_decay == pytest.approx(0.05)


def test_skip_weight_decay_1d_equals_keras_with_the_no_decay_group_excluded():
    # v1 (5,) and v3 (1,) are 1-D; "cls_token" in a path is excluded whatever its shape.
    def run(optimizer, exclude):
        variables = _variables()
        variables.append(keras.Variable(np.ones((1, 1, 3), "float32"), name="token"))
        if exclude:
            optimizer.exclude_from_weight_decay(var_list=[v for i, v in enumerate(variables) if i in (1, 3, 4)])
        optimizer.build(variables)
        rng = np.random.default_rng(3)
        for _ in range(5):
            optimizer.apply([keras.ops.convert_to_tensor(rng.normal(size=v.shape), "float32") for v in variables],
                            variables)
        return [c(v) for v in variables], variables

    from keras_cxr.optimizers import adamw

    original = adamw.NO_WEIGHT_DECAY_KEYS
    adamw.NO_WEIGHT_DECAY_KEYS = original + ("token",)  # the test's 3-D token stands in for cls_token/token
    try:
        expected, _ = run(keras.optimizers.AdamW(learning_rate=1e-2, weight_decay=0.5), exclude=True)
        result, variables = run(AdamW(learning_rate=1e-2, weight_decay=0.5, skip_weight_decay_1d=True), exclude=False)
        plain, _ = run(AdamW(learning_rate=1e-2, weight_decay=0.5), exclude=False)
    finally:
        adamw.NO_WEIGHT_DECAY_KEYS = original
    for e, r in zip(expected, result):
        np.testing.assert_allclose(r, e, rtol=1e-5, atol=1e-6)
    assert not np.allclose(plain[1], result[1], rtol=1e-4, atol=1e-5)  # without the option the bias decays
    np.testing.assert_allclose(plain[0], result[0], rtol=1e-5, atol=1e-6)  # kernels decay either way
    config = AdamW(learning_rate=1e-2, skip_weight_decay_1d=True).get_config()
    assert AdamW.from_config(config).skip_weight_decay_1d is True


def test_layer_decay_keeps_its_own_skip_rule():
    optimizer = LayerDecayAdamW(learning_rate=1e-3, layer_decay=0.5, num_layers=2, skip_weight_decay_1d=False)
    assert optimizer.get_config()["skip_weight_decay_1d"] is False
    assert LayerDecayAdamW.from_config(optimizer.get_config()).skip_weight_decay_1d is False
