"""PyTorch's copy-free convolution layout and fused normalization kernels (`keras_cxr.layers._torch_kernels`) against Keras' own functions:
the same outputs, gradients and moving statistics, so models trained with them are the same models."""

import keras
import numpy as np
import pytest

if keras.backend.backend() != "torch":
    pytest.skip("the fused kernels are installed on the torch backend only", allow_module_level=True)

import torch  # noqa: E402

from keras_cxr.layers import _torch_kernels as kernels  # noqa: E402


@pytest.fixture
def keras_own():
    """Runs the body with Keras' own functions, then puts the fused ones back."""
    kernels.uninstall()
    yield
    kernels.install()


def _run(layer_fn, x, training):
    """Output, input gradient and weight gradients of sum(layer(x) * w) for a fixed random w."""
    torch.manual_seed(0)
    layer = layer_fn()
    x = torch.tensor(x, requires_grad=True)
    y = layer(x, training=training)
    w = torch.rand(y.shape, generator=torch.Generator().manual_seed(1))
    (y * w).sum().backward()
    grads = [v.value.grad.detach().numpy().copy() for v in layer.trainable_weights]
    return (y.detach().float().numpy(), x.grad.detach().numpy(), grads,
            [np.asarray(v.numpy(), "float32") for v in layer.non_trainable_weights], y.dtype)


def _both(layer_fn, x, training):
    """`_run` with the fused kernels, then with Keras' own."""
    fused = _run(layer_fn, x, training)
    kernels.uninstall()
    try:
        return fused, _run(layer_fn, x, training)
    finally:
        kernels.install()


def _compare(layer_fn, x, training, rtol=1e-5, atol=1e-5):
    fused, reference = _both(layer_fn, x, training)
    np.testing.assert_allclose(fused[0], reference[0], rtol=rtol, atol=atol)
    np.testing.assert_allclose(fused[1], reference[1], rtol=rtol, atol=atol)
    for ours, theirs in zip(fused[2] + fused[3], reference[2] + reference[3]):
        np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)


def _layer(cls, seed=0, **options):
    def build():
        keras.utils.set_random_seed(seed)
        return cls(**options)
    return build


X = np.random.default_rng(0).normal(size=(3, 11, 9, 6)).astype("float32")


def test_they_are_installed_on_torch():
    assert kernels.torch_nn._transpose_spatial_inputs is kernels.transpose_spatial_inputs
    assert keras.layers.BatchNormalization.call is kernels.batch_norm_call
    assert keras.layers.GroupNormalization.call is kernels.group_norm_call
    assert keras.layers.Dense.call is kernels.dense_call


@pytest.mark.parametrize("options", [dict(filters=4, kernel_size=3, padding="same"),
                                     dict(filters=5, kernel_size=(3, 2), strides=2, padding="valid"),
                                     dict(filters=4, kernel_size=4, strides=2, padding="same"),  # asymmetric pad
                                     dict(filters=4, kernel_size=3, dilation_rate=2, padding="same"),
                                     dict(filters=6, kernel_size=3, groups=3, padding="same")])
def test_conv2d_equals_keras(options):
    _compare(_layer(keras.layers.Conv2D, **options), X, training=True)


def test_depthwise_separable_transposed_convolutions_and_poolings_equal_keras():
    _compare(_layer(keras.layers.DepthwiseConv2D, kernel_size=3, strides=2, padding="same", depth_multiplier=2), X,
             training=True)
    _compare(_layer(keras.layers.SeparableConv2D, filters=7, kernel_size=3, padding="same"), X, training=True)
    for options in (dict(kernel_size=2, strides=2), dict(kernel_size=3, strides=2, padding="same")):
        _compare(_layer(keras.layers.Conv2DTranspose, filters=5, **options), X, training=True)
    _compare(_layer(keras.layers.MaxPooling2D, pool_size=3, strides=2, padding="same"), X, training=True)
    _compare(_layer(keras.layers.AveragePooling2D, pool_size=2), X, training=True)
    volume = np.random.default_rng(3).normal(size=(2, 6, 7, 5, 3)).astype("float32")
    _compare(_layer(keras.layers.Conv3D, filters=4, kernel_size=3, padding="same"), volume, training=True)
    _compare(_layer(keras.layers.Conv1D, filters=4, kernel_size=3), X[:, 0], training=True)  # Keras' own path
    strided = X[:, ::2]  # not contiguous after the permute: made channels-last
    _compare(_layer(keras.layers.Conv2D, filters=4, kernel_size=3), strided, training=True)


@pytest.mark.parametrize("options, x", [(dict(units=7), X), (dict(units=5, use_bias=False), X[:, 0]),
                                        (dict(units=4, activation="gelu"), X[:, 0, 0])])
def test_dense_equals_keras(options, x):
    _compare(_layer(keras.layers.Dense, **options), x, training=True)


def test_dense_under_bfloat16_and_lora_fall_back_or_match():
    fused, reference = _both(_layer(keras.layers.Dense, units=6, dtype="mixed_bfloat16"), X, True)
    assert fused[4] == reference[4] == torch.bfloat16
    np.testing.assert_allclose(fused[0], reference[0], atol=0.02)

    def lora():
        keras.utils.set_random_seed(0)
        layer = keras.layers.Dense(6)
        layer.build(X.shape)
        layer.enable_lora(2)
        return layer

    _compare(lora, X, training=True)  # through Keras' own call


@pytest.mark.parametrize("groups, axis", [(-1, -1), (3, -1), (-1, 1)])
def test_group_normalization_equals_keras(groups, axis):
    def build():
        layer = keras.layers.GroupNormalization(groups=groups, axis=axis, epsilon=1e-5)
        layer.build(X.shape)
        rng = np.random.default_rng(4)
        channels = X.shape[axis]
        layer.set_weights([rng.normal(1, 0.2, channels), rng.normal(0, 0.2, channels)])
        return layer

    _compare(build, X, training=True, rtol=1e-4, atol=1e-5)
    _compare(lambda: keras.layers.GroupNormalization(groups=-1, center=False, scale=False), X, training=True,
             rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("axis, x", [(-1, X), (1, X), (-1, X[:, 0, 0, :]), (-1, X[:, 0])])
def test_batch_normalization_equals_keras(training, axis, x):
    def build():
        layer = keras.layers.BatchNormalization(axis=axis, momentum=0.9, epsilon=1e-3)
        layer.build(x.shape)
        rng = np.random.default_rng(2)
        channels = x.shape[axis]
        layer.set_weights([rng.normal(1, 0.2, channels), rng.normal(0, 0.2, channels), rng.normal(0, 0.5, channels),
                           rng.uniform(0.5, 2.0, channels)])
        return layer

    _compare(build, x, training, rtol=1e-4, atol=1e-5)


def test_batch_normalization_without_scale_or_center_and_under_bfloat16():
    _compare(lambda: keras.layers.BatchNormalization(center=False, scale=False, epsilon=1e-6), X, training=True)

    def bf16():
        return keras.layers.BatchNormalization(dtype="mixed_bfloat16")

    fused, reference = _both(bf16, X, True)
    assert fused[4] == reference[4] == torch.bfloat16
    np.testing.assert_allclose(fused[0], reference[0], atol=0.02)
    np.testing.assert_allclose(fused[3][1], reference[3][1], rtol=1e-4)  # moving variance in float32


def test_a_trained_resnet_predicts_the_same_without_the_fused_kernels(tmp_path):
    """A few training steps with the fused kernels, saved, reloaded with Keras' own: identical outputs."""
    from keras_cxr.models import create_model

    model = create_model("resnet34", input_shape=(32, 32, 1), num_classes=2, head_activation="softmax")
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="categorical_crossentropy")
    rng = np.random.default_rng(0)
    x, y = rng.random((8, 32, 32, 1)).astype("float32"), np.eye(2, dtype="float32")[rng.integers(0, 2, 8)]
    for _ in range(3):
        model.train_on_batch(x, y)
    fused = model.predict(x, verbose=0)
    model.save(tmp_path / "m.keras")
    kernels.uninstall()
    try:
        reference = keras.saving.load_model(tmp_path / "m.keras").predict(x, verbose=0)
    finally:
        kernels.install()
    np.testing.assert_allclose(fused, reference, rtol=1e-4, atol=1e-5)


def test_the_environment_variable_keeps_keras_own(monkeypatch, keras_own):
    monkeypatch.setenv(kernels.ENV, "0")
    assert kernels.install() is False
    assert kernels.torch_nn._transpose_spatial_inputs is kernels.keras_transpose_spatial_inputs
