"""EMATargetUpdate: Eq. 2 on known weights, non-trainable state copied, guards; both backends."""

import keras
import numpy as np
import pytest

from keras_cxr.callbacks import EMATargetUpdate, ema_update

c = keras.ops.convert_to_numpy


class OnlineTarget(keras.Model):
    """A toy model with an online and a frozen target network (Dense + BatchNormalization)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.online = keras.Sequential([keras.layers.Dense(3), keras.layers.BatchNormalization()], name="online")
        self.target = keras.Sequential([keras.layers.Dense(3), keras.layers.BatchNormalization()], name="target")

    def build(self, input_shape):
        self.online.build(input_shape)
        self.target.build(input_shape)
        self.target.trainable = False

    def call(self, x, training=None):
        return self.online(x, training=training) + self.target(x, training=False)


def test_ema_equation_on_known_weights():
    model = OnlineTarget()
    model.build((None, 2))
    rng = np.random.default_rng(0)
    theta = [rng.normal(size=tuple(w.shape)).astype("float32") for w in model.online.weights]
    xi = [rng.normal(size=tuple(w.shape)).astype("float32") for w in model.target.weights]
    model.online.set_weights(theta)
    model.target.set_weights(xi)
    callback = EMATargetUpdate(tau=0.99)
    callback.set_model(model)
    callback.on_train_begin()
    callback.on_train_batch_end(0)
    for w, target, t, x in zip(model.online.weights, model.target.weights, theta, xi):
        expected = 0.99 * x + 0.01 * t if w.trainable else t  # BN moving mean / variance are copied
        np.testing.assert_allclose(c(target), expected, rtol=1e-6)
    assert sum(not w.trainable for w in model.online.weights) == 2
    callback.on_train_batch_end(1)  # a second step composes: ξ2 = τ ξ1 + (1 − τ) θ
    kernel = 0.99 * (0.99 * xi[0] + 0.01 * theta[0]) + 0.01 * theta[0]
    np.testing.assert_allclose(c(model.target.weights[0]), kernel, rtol=1e-6)
    ema_update(model.online, model.target, tau=0.0)
    for o, t in zip(model.online.weights, model.target.weights):
        np.testing.assert_array_equal(c(o), c(t))


def test_ema_during_fit_and_guards():
    model = OnlineTarget()
    model.build((None, 2))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", run_eagerly=True)
    x, y = np.ones((4, 2), "float32"), np.zeros((4, 3), "float32")
    xi0 = [c(w).copy() for w in model.target.trainable_variables or model.target.weights]
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[EMATargetUpdate(tau=0.5)])
    theta1 = [c(w) for w in model.online.weights]
    np.testing.assert_allclose(c(model.target.weights[0]), 0.5 * xi0[0] + 0.5 * theta1[0], rtol=1e-6)
    model.target.trainable = True  # a target the optimizer would train is refused
    with pytest.raises(ValueError, match="trainable = False"):
        model.fit(x, y, verbose=0, callbacks=[EMATargetUpdate()])
    with pytest.raises(AttributeError, match="no attribute 'teacher'"):
        model.fit(x, y, verbose=0, callbacks=[EMATargetUpdate(target="teacher")])
    with pytest.raises(ValueError):
        EMATargetUpdate(tau=1.5)
    assert EMATargetUpdate.from_config(EMATargetUpdate(0.9).get_config()).tau == 0.9


def test_backend_fast_update_equals_ema_update_on_a_dual_mae():
    from keras_cxr.callbacks.ema import _fast_update
    from keras_cxr.models import DualMAE

    tiny = dict(image_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=2, mlp_dim=64, decoder_dim=16,
                decoder_depth=1, decoder_num_heads=2)
    models = [DualMAE(seed=0, **tiny) for _ in range(2)]
    rng = np.random.default_rng(4)
    for model in models:
        model.build((None, 32, 32, 1))
    for pair in zip(*(m.weights for m in models)):  # the same random state in both models
        if "seed_generator" not in pair[0].path:
            value = rng.normal(size=tuple(pair[0].shape)).astype(keras.backend.standardize_dtype(pair[0].dtype))
            for v in pair:
                v.assign(value)
    ema_update(models[0].online, models[0].target, 0.9)
    _fast_update(models[1].online, models[1].target, 0.9)()
    for a, b in zip(models[0].target.weights, models[1].target.weights):
        np.testing.assert_allclose(c(b), c(a), rtol=1e-6, atol=1e-7)
