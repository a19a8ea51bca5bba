import keras
import numpy as np
import pytest

from keras_cxr.data import Box
from keras_cxr.explain import boxes_from_maps, score_cam
from keras_cxr.models import encoder_classifier, vgg16_sharp_unet


def _left_half_model():
    """Class 1 logit = 40 * mean of relu(x) over the left half - 6; class 0 logit = 0.

    Layer "conv" has two channels: relu(x) (positive blobs) and relu(-x) (negative blobs).
    """
    inputs = keras.Input((16, 16, 1))
    conv = keras.layers.Conv2D(2, 1, use_bias=False, activation="relu", name="conv")
    x = conv(inputs)
    conv.set_weights([np.array([1.0, -1.0], "float32").reshape(1, 1, 1, 2)])
    left = keras.layers.Cropping2D(((0, 0), (0, 8)))(x)
    head = keras.layers.Dense(2, activation="softmax")
    outputs = head(keras.layers.GlobalAveragePooling2D()(left))
    head.set_weights([np.array([[0.0, 40.0], [0.0, 0.0]], "float32"), np.array([0.0, -6.0], "float32")])
    return keras.Model(inputs, outputs)


def _blob_image():
    image = np.zeros((1, 16, 16, 1), "float32")
    image[0, 4:12, 2:7] = 1.0  # left blob, seen by the class-1 score
    image[0, 4:12, 10:15] = -1.0  # right blob, invisible to it
    return image


def test_map_concentrates_where_the_class_score_looks():
    model, image = _left_half_model(), _blob_image()
    assert int(np.argmax(keras.ops.convert_to_numpy(model(image)))) == 1
    maps = score_cam(model, image)  # predicted class = 1
    assert maps.shape == (1, 16, 16) and maps.dtype == np.float32
    assert maps.min() >= 0.0 and maps.max() == pytest.approx(1.0)
    assert maps[0, :, :8].sum() > 0.99 * maps[0].sum()
    assert boxes_from_maps(maps) == [Box(None, 2, 4, 7, 12)]
    # class 0 is supported by masks that hide the left blob: the map moves to the right blob
    right = score_cam(model, image, class_index=0)
    assert right[0, :, 8:].sum() > 0.99 * right[0].sum()
    assert boxes_from_maps(right) == [Box(None, 10, 4, 15, 12)]


def _reference_score_cam(model, layer_name, image, target):
    """The authors' loop (haofanwang/Score-CAM): one channel at a time, numpy."""
    height, width = image.shape[1:3]
    extractor = keras.Model(model.input, model.get_layer(layer_name).output)
    activations = keras.ops.convert_to_numpy(extractor(image))
    upsampled = keras.ops.convert_to_numpy(keras.ops.image.resize(activations, (height, width)))[0]
    cam = np.zeros((height, width))
    for k in range(upsampled.shape[-1]):
        saliency = upsampled[..., k]
        if saliency.max() == saliency.min():
            continue
        mask = (saliency - saliency.min()) / (saliency.max() - saliency.min())
        score = keras.ops.convert_to_numpy(model(image * mask[None, :, :, None]))[0, target]
        cam += score * saliency
    cam = np.maximum(cam, 0)
    return (cam - cam.min()) / (cam.max() - cam.min()) if cam.max() > cam.min() else np.zeros_like(cam)


def test_matches_the_reference_loop_with_chunking_and_constant_channels():
    inputs = keras.Input((20, 24, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    conv = keras.layers.Conv2D(7, 3, strides=2, padding="same", activation="relu", name="features")
    x = conv(keras.layers.MaxPooling2D()(x))  # 5 x 6 maps, upsampled x4
    kernel, bias = conv.get_weights()
    kernel[..., 0], bias[0] = 0.0, 0.5  # channel 0 is constant: weight 0
    conv.set_weights([kernel, bias])
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, outputs)
    images = np.random.default_rng(0).uniform(size=(3, 20, 24, 3)).astype("float32")
    maps = score_cam(model, images, batch_size=3)
    predicted = np.argmax(keras.ops.convert_to_numpy(model(images)), axis=-1)
    for i in range(3):
        expected = _reference_score_cam(model, "features", images[i : i + 1], predicted[i])
        np.testing.assert_allclose(maps[i], expected, atol=2e-5)
    np.testing.assert_allclose(score_cam(model, images, batch_size=32), maps, atol=1e-6)
    targets = [2, 0, 1]
    per_class = score_cam(model, images, class_index=targets, batch_size=4)
    for i, target in enumerate(targets):
        expected = _reference_score_cam(model, "features", images[i : i + 1], target)
        np.testing.assert_allclose(per_class[i], expected, atol=2e-5)


def test_from_logits_equals_the_softmax_model():
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(3, 3, activation="relu", name="conv")(inputs)
    logits = keras.layers.Dense(2, name="logits")(keras.layers.GlobalAveragePooling2D()(x))
    logit_model = keras.Model(inputs, logits)
    softmax_model = keras.Model(inputs, keras.layers.Softmax()(logits))
    images = np.random.default_rng(1).uniform(size=(2, 8, 8, 1)).astype("float32")
    np.testing.assert_allclose(
        score_cam(logit_model, images, from_logits=True), score_cam(softmax_model, images), atol=1e-6
    )


def test_default_layer_on_a_sharp_unet_classifier():
    model = encoder_classifier(vgg16_sharp_unet((32, 32, 1), width_multiplier=0.0625))
    images = np.random.default_rng(2).uniform(size=(2, 32, 32, 1)).astype("float32")
    maps = score_cam(model, images, class_index=1)
    assert maps.shape == (2, 32, 32) and np.all(np.isfinite(maps))
    assert maps.min() >= 0.0 and maps.max() <= 1.0
    np.testing.assert_allclose(score_cam(model, images, layer_name="block5_conv3", class_index=1), maps, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [({"images": np.zeros((16, 16, 1))}, "N, H, W, C"), ({"class_index": 5}, r"\[0, 2\)"),
     ({"class_index": [0, 1]}, "one per image"), ({"batch_size": 0}, "batch_size"),
     ({"class_index": 0.5}, "class_index")],
)
def test_rejects_bad_arguments(kwargs, match):
    arguments = {"images": _blob_image(), **kwargs}
    with pytest.raises(ValueError, match=match):
        score_cam(_left_half_model(), **arguments)
