"""CNN backbones of paper 002 from `keras.applications`, wrapped (not copied) into the builder contract:
VGG19, MobileNetV2, Xception, DenseNet-121, ResNet-50.

One table (`APPLICATIONS`) holds, per backbone, the `keras.applications` constructor, its ImageNet input
scaling and its feature levels (the last layer at each stride, the layer names `keras.applications` gives
them), so adding a backbone is adding a row. The wrapped model is built on our own input: 1 channel by
default (any count accepted with `weights=None`), images in [0, 1]; with ImageNet weights a `GrayscaleToRGB`
adapter and the backbone's own ImageNet scaling are put in front, so callers always feed [0, 1] images.

Where the Keras definitions differ from the reference implementations the papers cite (torchvision /
the original authors): Keras' ResNet-50 convolutions carry biases (25,636,712 parameters with the
1000-class head, torchvision's 25,557,032); Keras' VGG19 top is two 4096-wide dense layers on a flattened
7 × 7 map, ours (as every builder here) is global average pooling + one dense layer.

Two defaults differ from keras.applications', for training from a few hundred steps (chest X-ray sets are
small): every BatchNormalization gets momentum 0.9 instead of 0.99 (MobileNetV2: 0.999), so inference mode
uses statistics of the trained network (`keras_cxr.models.batch_norm`); and with random weights VGG19's
convolutions are He-initialized with the fan-out, biases zero, as torchvision initializes VGG (Keras' glorot
default roughly halves the signal's variance at each of the 16 ReLU convolutions of this BN-free stack; our
VGG-16 with glorot kernels stayed at loss ln 2 under SGD). Pretrained weights are loaded unchanged.
"""

import re

import keras
import numpy as np

from keras_cxr.layers.grayscale_to_rgb import GrayscaleToRGB
from keras_cxr.models._initializers import conv_init
from keras_cxr.models.batch_norm import set_batch_norm_momentum
from keras_cxr.models.contract import classification_head, validate_head, validate_input_shape
from keras_cxr.models.features import register_feature_levels
from keras_cxr.models.registry import register_model
from keras_cxr.models.weights import load_weights

# ImageNet input scaling of each family, applied to [0, 1] images: (mean, std) per RGB channel on [0, 1].
_CAFFE = ((123.68 / 255, 116.779 / 255, 103.939 / 255), (1 / 255,) * 3)  # ×255 − mean (then BGR: first kernel flipped)
_TF = ((0.5,) * 3, (0.5,) * 3)  # [-1, 1]
_TORCH = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))

APPLICATIONS = {
    # name: (keras.applications constructor, scaling, minimum side, {level: layer}, published parameters with
    # the 1000-class head at 224 × 224 × 3 (keras.io/api/applications table; VGG19: trunk + GAP head))
    "vgg19": ("VGG19", _CAFFE, 32, {"P0": "block1_conv2", "P1": "block2_conv2", "P2": "block3_conv4",
                                    "P3": "block4_conv4", "P4": "block5_conv4"}, 20_024_384 + 513_000),
    "mobilenet_v2": ("MobileNetV2", _TF, 32, {"P1": "block_1_expand_relu", "P2": "block_3_expand_relu",
                                              "P3": "block_6_expand_relu", "P4": "block_13_expand_relu",
                                              "P5": "out_relu"}, 3_538_984),
    "xception": ("Xception", _TF, 71, {"P1": "block1_conv2_act", "P2": "block3_sepconv2_bn",
                                       "P3": "block4_sepconv2_bn", "P4": "block13_sepconv2_bn",
                                       "P5": "block14_sepconv2_act"}, 22_910_480),
    "densenet121": ("DenseNet121", _TORCH, 32, {"P1": "conv1_relu", "P2": "pool2_conv", "P3": "pool3_conv",
                                                "P4": "pool4_conv", "P5": "relu"}, 8_062_504),
    "resnet50": ("ResNet50", _CAFFE, 32, {"P1": "conv1_relu", "P2": "conv2_block3_out", "P3": "conv3_block4_out",
                                          "P4": "conv4_block6_out", "P5": "conv5_block3_out"}, 25_636_712),
}
# Backbones without batch normalization, whose random convolutions are He-initialized (fan-out, torchvision's VGG).
_HE_INITIALIZED = ("vgg19",)


def _he_initialize(model):
    """Re-draws every Conv2D kernel of `model` He-normal by the fan-out, biases zero (torchvision's VGG:
    `kaiming_normal_(mode="fan_out", nonlinearity="relu")`); the initializer is stored on the layer too, so its
    config (and `keras.models.clone_model`) says what the weights were drawn from."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            layer.kernel_initializer = conv_init("fan_out")
            layer.bias_initializer = keras.initializers.Zeros()
            layer.kernel.assign(layer.kernel_initializer(tuple(layer.kernel.shape), dtype=layer.kernel.dtype))
            if layer.use_bias:
                layer.bias.assign(keras.ops.zeros(tuple(layer.bias.shape), dtype=layer.bias.dtype))


_AUTO_NAME = re.compile(r"(conv2d|batch_normalization|dense|depthwise_conv2d|separable_conv2d)(_\d+)?")


def _stable_layer_names(model, key):
    """Gives the weighted layers keras.applications leaves unnamed (Xception's four residual shortcut
    convolutions and their BN: `conv2d_7`, `batch_normalization_3`, numbered by every layer built before in the
    process) names fixed by their order in the graph (`xception_conv2d_1`, `xception_batch_normalization_1`,
    ...), so weights copy by name between two builds (autoencoder → disease + age transfer) and `.keras`
    files name them alike. Layers with names of their own are left alone."""
    counts = {}
    for layer in model.layers:
        found = _AUTO_NAME.fullmatch(layer.name)
        if found and layer.weights:
            kind = found.group(1)
            counts[kind] = counts.get(kind, 0) + 1
            layer.name = f"{key}_{kind}_{counts[kind]}"


def _application(key):
    constructor, (mean, std), min_side, levels, _ = APPLICATIONS[key]
    register_feature_levels(key, levels)

    def builder(input_shape=(224, 224, 1), num_classes=0, head_activation=None, weights=None, name=key):
        shape = validate_input_shape(input_shape, key)
        num_classes, head = validate_head(num_classes, head_activation, key)
        if min(shape[:2]) < min_side:
            raise ValueError(f"{key}: keras.applications.{constructor} needs sides >= {min_side}; received "
                             f"input_shape {shape}.")
        imagenet = isinstance(weights, str) and weights == "imagenet"
        if imagenet and shape[2] not in (1, 3):
            raise ValueError(f"{key}: ImageNet weights take 1 or 3 channels; received input_shape {shape}.")
        inputs = keras.Input(shape, name="image")
        x = inputs
        if imagenet:
            x = GrayscaleToRGB(name="grayscale_to_rgb")(x)
            x = keras.layers.Normalization(mean=list(mean), variance=[s * s for s in std],
                                           name="imagenet_preprocessing")(x)
        try:
            base = getattr(keras.applications, constructor)(include_top=False, weights="imagenet" if imagenet else None,
                                                            input_tensor=x, pooling="avg")
        except Exception as error:  # noqa: BLE001 - a failed download: say how to supply the file
            if not imagenet:
                raise
            raise OSError(f"{key}: could not fetch keras.applications.{constructor}'s ImageNet weights "
                          f"({type(error).__name__}: {error}). Download the 'notop' .h5 file named in the error on "
                          "a machine with internet into ~/.keras/models/ (Keras' cache), then retry.") from error
        if imagenet and (mean, std) == _CAFFE:  # caffe weights expect BGR: reverse the first kernel's inputs
            first = next(layer for layer in base.layers if isinstance(layer, keras.layers.Conv2D))
            kernel, *rest = first.get_weights()
            first.set_weights([np.ascontiguousarray(kernel[:, :, ::-1, :]), *rest])
        _stable_layer_names(base, key)
        if not imagenet and key in _HE_INITIALIZED:
            _he_initialize(base)
        set_batch_norm_momentum(base)
        model = keras.Model(inputs, classification_head(base.output, num_classes, head), name=name)
        return model if imagenet else load_weights(model, weights, builder=key)

    builder.__name__ = builder.__qualname__ = key
    init = ("; random convolutions He-normal by the fan-out, biases zero (torchvision's VGG init)"
            if key in _HE_INITIALIZED else "")
    builder.__doc__ = f"""`keras.applications.{constructor}` (include_top=False, global average pooling) in the builder
    contract: `input_shape=(224, 224, 1)` in [0, 1] (sides >= {min_side}), `num_classes=0` → pooled features,
    `head_activation`, `weights` (None, "imagenet": Keras' file, fetched or read from its cache, with a
    `GrayscaleToRGB` adapter and the ImageNet scaling in front; or a .weights.h5 / .keras file / model to copy
    from), `name`. BatchNormalization momentum 0.9 (`keras_cxr.models.batch_norm`: Keras' 0.99 needs thousands
    of steps before inference mode tracks the trained network){init}. Feature levels: {", ".join(levels)}
    (`keras_cxr.models.feature_extractor`).
    """
    test = {"input_shape": (max(64, min_side + 1), max(64, min_side + 1), 1), "num_classes": 2,
            "head_activation": "softmax"}
    return register_model(builder, test_overrides=test)


vgg19, mobilenet_v2, xception, densenet121, resnet50 = (_application(k) for k in APPLICATIONS)
