import warnings

import keras
import numpy as np
import pytest

from keras_cxr.models import deepest_conv_layer_name, encoder_classifier, vgg16_imagenet_classifier, vgg16_sharp_unet
from keras_cxr.testing import assert_keras_round_trip

TINY = 0.0625


def _plain_cnn():
    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Conv2D(4, 3, name="c1")(inputs)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(6, 3, name="c2")(x)
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(3)(x))


def test_deepest_conv_rule():
    assert deepest_conv_layer_name(vgg16_sharp_unet((32, 32, 1), width_multiplier=TINY)) == "block5_conv3"
    assert deepest_conv_layer_name(_plain_cnn()) == "c2"
    inputs = keras.Input((8,))
    with pytest.raises(ValueError, match="layer_name"):
        deepest_conv_layer_name(keras.Model(inputs, keras.layers.Dense(2)(inputs)))


def test_encoder_classifier_truncates_unet_and_shares_weights():
    unet = vgg16_sharp_unet((32, 32, 1), width_multiplier=TINY)
    model = encoder_classifier(unet, num_classes=2, name="den_p")
    names = [layer.name for layer in model.layers]
    assert names[-3:] == ["block5_conv3", "den_p_gap", "den_p_predictions"]
    assert not any(n.startswith("decoder") or n.endswith("sharpen") for n in names)
    assert model.get_layer("block3_conv2") is unet.get_layer("block3_conv2")
    assert model.get_layer("den_p_predictions").units == 2
    # shared weights: changing the source changes the classifier
    before = keras.ops.convert_to_numpy(model.predict_on_batch(np.ones((1, 32, 32, 1), "float32")))
    kernel, bias = unet.get_layer("block5_conv3").get_weights()
    unet.get_layer("block5_conv3").set_weights([kernel, bias + 1.0])
    after = keras.ops.convert_to_numpy(model.predict_on_batch(np.ones((1, 32, 32, 1), "float32")))
    assert not np.allclose(before, after)


def test_encoder_classifier_output_is_a_softmax():
    model = encoder_classifier(_plain_cnn(), num_classes=3)
    x = np.random.default_rng(0).uniform(size=(5, 16, 16, 1)).astype("float32")
    p = keras.ops.convert_to_numpy(model(x))
    assert p.shape == (5, 3) and np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-6)


def test_encoder_classifier_explicit_layer_and_errors():
    unet = vgg16_sharp_unet((32, 32, 1), width_multiplier=TINY)
    model = encoder_classifier(unet, layer_name="block4_conv3")
    assert tuple(model.output.shape) == (None, 2)
    assert model.layers[-3].name == "block4_conv3"
    with pytest.raises(ValueError, match="no layer 'nope'"):
        encoder_classifier(unet, layer_name="nope")
    with pytest.raises(ValueError, match="num_classes"):
        encoder_classifier(unet, num_classes=1)


def test_encoder_classifier_trains_and_round_trips():
    model = encoder_classifier(vgg16_sharp_unet((32, 32, 1), width_multiplier=0.125), name="deb_p")
    rng = np.random.default_rng(1)
    y = np.array([0, 1, 0, 1])
    x = (rng.uniform(size=(4, 32, 32, 1)) * (0.5 + y[:, None, None, None])).astype("float32")  # learnable
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", jit_compile=False)
    first = float(model.evaluate(x, y, verbose=0))
    for _ in range(5):
        model.train_on_batch(x, y)
    assert float(model.evaluate(x, y, verbose=0)) < first
    assert_keras_round_trip(model, x)


def test_vgg16_classifier_random_init_replicates_grayscale():
    model = vgg16_imagenet_classifier((32, 32, 1), num_classes=2, weights=None, width_multiplier=TINY)
    assert model.get_layer("grayscale_to_rgb").output.shape[-1] == 3
    assert model.get_layer("block1_conv1").kernel.shape[2] == 3
    names = [layer.name for layer in model.layers]
    assert "imagenet_preprocessing" not in names and names[-3] == "block5_conv3"
    x = np.random.default_rng(2).uniform(size=(3, 32, 32, 1)).astype("float32")
    p = keras.ops.convert_to_numpy(model(x))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-6)
    # the grayscale model equals the RGB model on the replicated image
    rgb = vgg16_imagenet_classifier((32, 32, 3), weights=None, width_multiplier=TINY)
    rgb.set_weights(model.get_weights())
    np.testing.assert_allclose(keras.ops.convert_to_numpy(rgb(np.repeat(x, 3, axis=-1))), p, atol=1e-5)
    assert_keras_round_trip(model, x)


def test_vgg16_classifier_rejects_bad_channels():
    with pytest.raises(ValueError, match="1 or 3"):
        vgg16_imagenet_classifier((32, 32, 2), weights=None)


def test_offline_fallback_warns_and_uses_random_init(monkeypatch):
    def offline(**kwargs):
        raise Exception("URL fetch failure: no internet")

    monkeypatch.setattr(keras.applications, "VGG16", offline)
    with pytest.warns(RuntimeWarning, match=r"\.keras.*vgg16_weights_tf_dim_ordering_tf_kernels_notop\.h5"):
        model = vgg16_imagenet_classifier((32, 32, 1), weights="imagenet")
    assert "imagenet_preprocessing" not in [layer.name for layer in model.layers]
    assert model.get_layer("block5_conv3").filters == 512


def test_weights_path_that_fails_raises(monkeypatch):
    def unreadable(**kwargs):
        raise OSError("no such file")

    monkeypatch.setattr(keras.applications, "VGG16", unreadable)
    with pytest.raises(ValueError, match="missing.h5"):
        vgg16_imagenet_classifier((32, 32, 1), weights="missing.h5")


def test_pretrained_weights_are_copied_with_rgb_order_and_preprocessing(monkeypatch):
    reference_calls = []
    real_vgg16 = keras.applications.VGG16

    def fake_imagenet(include_top, weights, input_shape):  # stands in for the download
        reference_calls.append(weights)
        return real_vgg16(include_top=include_top, weights=None, input_shape=input_shape)

    monkeypatch.setattr(keras.applications, "VGG16", fake_imagenet)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        model = vgg16_imagenet_classifier((32, 32, 1), weights="imagenet")
    assert reference_calls == ["imagenet"]
    assert "imagenet_preprocessing" in [layer.name for layer in model.layers]
    # the copied first kernel is the reference with input channels reversed (BGR -> RGB)
    x = np.random.default_rng(3).uniform(size=(2, 32, 32, 3)).astype("float32")
    rgb = vgg16_imagenet_classifier((32, 32, 3), weights="imagenet")
    trunk = keras.Model(rgb.input, rgb.get_layer("block5_conv3").output)
    reference = real_vgg16(include_top=False, weights=None, input_shape=(None, None, 3))
    for layer in trunk.layers:
        if isinstance(layer, keras.layers.Conv2D):
            reference.get_layer(layer.name).set_weights(layer.get_weights())
    kernel, bias = reference.get_layer("block1_conv1").get_weights()
    reference.get_layer("block1_conv1").set_weights([kernel[:, :, ::-1, :], bias])
    bgr_caffe = x[..., ::-1] * 255.0 - np.array([103.939, 116.779, 123.68], "float32")
    expected = keras.ops.convert_to_numpy(
        keras.Model(reference.input, reference.get_layer("block5_conv3").output)(bgr_caffe)
    )
    np.testing.assert_allclose(keras.ops.convert_to_numpy(trunk(x)), expected, rtol=1e-4, atol=1e-3)


def test_width_multiplier_with_imagenet_warns_and_uses_random_init(monkeypatch):
    monkeypatch.setattr(keras.applications, "VGG16", lambda **kw: pytest.fail("must not load weights"))
    with pytest.warns(RuntimeWarning, match="width_multiplier=1.0"):
        model = vgg16_imagenet_classifier((32, 32, 1), weights="imagenet", width_multiplier=TINY)
    assert model.get_layer("block1_conv1").filters == 4


def test_encoder_classifier_on_a_reloaded_unet(tmp_path):
    unet = vgg16_sharp_unet((32, 32, 1), width_multiplier=TINY)
    path = tmp_path / "unet.keras"
    unet.save(path)
    reloaded = keras.saving.load_model(path)
    model = encoder_classifier(reloaded, name="den_p")
    assert [layer.name for layer in model.layers][-3] == "block5_conv3"
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model.get_layer("block5_conv3").kernel),
        keras.ops.convert_to_numpy(unet.get_layer("block5_conv3").kernel),
    )
