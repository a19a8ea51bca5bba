"""VGG-16 (Simonyan & Zisserman 2015): the encoder of paper 003's Sharp U-Net and its ImageNet baseline B."""

import keras
import numpy as np

from keras_cxr.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from keras_cxr.layers.grayscale_to_rgb import GrayscaleToRGB
from keras_cxr.models._initializers import conv_init
from keras_cxr.models.contract import classification_head, validate_head, validate_input_shape
from keras_cxr.models.registry import register_model
from keras_cxr.models.weights import copy_weights, load_weights

# (filters, number of 3 × 3 convolutions) per VGG-16 block.
VGG16_BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))
# keras.applications.VGG16 "caffe" preprocessing, RGB order, on the 0-255 scale.
IMAGENET_CAFFE_MEAN_RGB = (123.68, 116.779, 103.939)
VGG16_NOTOP_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
VGG16_NOTOP_URL = "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/" + VGG16_NOTOP_FILE


def scaled_filters(filters, width_multiplier):
    """Filters of a block scaled by `width_multiplier`, rounded, at least 1.

    Example:
    >>> scaled_filters(64, 0.125)
    8
    """
    return max(1, int(round(filters * float(width_multiplier))))


def vgg16_features(x, width_multiplier=1.0, pool_last=False, init="fan_out"):
    """Applies the VGG-16 convolutional blocks to the symbolic tensor `x`.

    Layers are named as in `keras.applications.VGG16` (`block{b}_conv{i}`, `block{b}_pool`), so ImageNet
    weights copy by name and `block5_conv3` is the deepest convolution. Kernels are He-normal, biases zero: with
    Keras' glorot-uniform default the 13 ReLU convolutions without batch normalization shrink the signal at each
    layer, and at width 1/8 the network did not train at all (binary cross-entropy stuck at ln 2 under SGD and
    Adam). Loaded weights (ImageNet, files) replace the draws unchanged.

    Args:
        x: symbolic (batch, height, width, channels) tensor.
        width_multiplier: scales the 64-128-256-512-512 filters.
        pool_last: also max-pool after block 5 (VGG-16's classification trunk); the U-Net does not.
        init: "fan_out", torchvision's VGG init (`kaiming_normal_(mode="fan_out", nonlinearity="relu")`), kept for
            the Sharp U-Net, whose skip connections carry the signal past the deep blocks; or "fan_in" (He et al.
            2015's variance-preserving forward pass), which the plain classifier `vgg16` uses (see there why).

    Returns:
        (output, levels): the last tensor and `{"P0": block 1 output, ..., "P4": block 5 output}` (before
        pooling; level k has stride 2**k).
    """
    levels = {}
    for block, (filters, num_convs) in enumerate(VGG16_BLOCKS, start=1):
        for i in range(1, num_convs + 1):
            x = keras.layers.Conv2D(scaled_filters(filters, width_multiplier), 3, padding="same", activation="relu",
                                    kernel_initializer=conv_init(init), name=f"block{block}_conv{i}")(x)
        levels[f"P{block - 1}"] = x
        if block < len(VGG16_BLOCKS) or pool_last:
            x = keras.layers.MaxPooling2D(2, strides=2, name=f"block{block}_pool")(x)
    return x, levels


def _imagenet_vgg16():
    """keras.applications.VGG16's convolutional trunk with ImageNet weights (Keras fetches or reads its cache)."""
    try:
        return keras.applications.VGG16(include_top=False, weights="imagenet", input_shape=(None, None, 3))
    except Exception as error:  # noqa: BLE001 - offline, proxy, SSL: all mean "no weights here"
        import os

        cache = os.path.join(os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras")), "models")
        raise OSError(f"vgg16: could not fetch the ImageNet weights ({type(error).__name__}: {error}). Download "
                      f"{VGG16_NOTOP_URL} on a machine with internet and place it as "
                      f"{os.path.join(cache, VGG16_NOTOP_FILE)} (Keras' cache), or pass weights=<path to that file>."
                      ) from error


def _copy_imagenet(model, reference):
    """Copies a keras.applications VGG-16's kernels; the first kernel's input channels reversed (BGR → RGB)."""
    copy_weights(reference, model, skip=("head",))  # the notop file has no classifier
    first = model.get_layer("block1_conv1")
    kernel, bias = first.get_weights()
    first.set_weights([np.ascontiguousarray(kernel[:, :, ::-1, :]), bias])


@register_model(test_overrides={"input_shape": (32, 32, 1), "num_classes": 2, "head_activation": "softmax"})
def vgg16(input_shape=(224, 224, 1), num_classes=0, head_activation=None, weights=None, name="vgg16",
          width_multiplier=1.0):
    """VGG-16 truncated at `block5_conv3` + global average pooling + optional head: paper 003's baseline B.

    Gray (1-channel) inputs are repeated to RGB inside the model (`GrayscaleToRGB`, layer
    `grayscale_to_rgb`), so the first convolution is always 3-channel and ImageNet kernels load exactly.
    With ImageNet weights (`weights="imagenet"`: keras.applications' file, fetched or read from Keras'
    cache; or a path to that "notop" `.h5` file) an `imagenet_preprocessing` layer maps inputs in [0, 1]
    to the "caffe" scale (× 255 minus the ImageNet mean), and the first kernel's input channels are
    reversed (Keras' VGG-16 weights expect BGR). Features by name: `feature_levels` P0-P4 (the last
    convolution of each block).

    From random initialization (`weights` None or a keras_cxr file) the inputs in [0, 1] are standardized with
    ImageNet's mean and std (layer `input_standardization`, no weights), as torchvision feeds its VGG, and the
    convolutions are He-normal by the fan-in (`vgg16_features(init="fan_in")`) rather than torchvision's fan-out.
    Both are for small-data training: a chain of 13 ReLU convolutions without batch normalization fed
    uncentred [0, 1] inputs, whose fan-out init scales the forward signal's variance by in / out channels at each
    widening layer, is at the mercy of its draw. Measured on paper 003's quick preset (1/8 width, 64 px, 840
    phantom images, Adam 3e-4 x 15 epochs, PyTorch): with fan-out and raw inputs the loss sat at ln 2 for 10-15
    epochs at seeds 1 and 2 (test AUC 0.65 / 0.76, balanced accuracy 0.50 / 0.66); centring alone rescued
    seed 1 (0.87) but not seed 2 (0.74); centring + fan-in learned from the first epochs at seeds 0, 1, 2
    (test AUC 0.85 / 0.88 / 0.86, balanced accuracy 0.78 / 0.81 / 0.81).

    Args:
        input_shape: (height, width, channels); 1 or 3 channels for ImageNet weights, any otherwise.
        num_classes, head_activation, weights, name: the builder contract (`keras_cxr.models.contract`).
        width_multiplier: scales every filter count (ImageNet weights exist only for 1.0).

    Example:
    >>> vgg16((32, 32, 1), num_classes=2, head_activation="softmax", width_multiplier=0.0625).output_shape
    (None, 2)

    Reference:
        Simonyan & Zisserman, ICLR 2015, arXiv:1409.1556; Rajaraman et al., Frontiers in AI 2024,
        doi:10.3389/frai.2024.1419638, §2.3.2 (baseline B).
    """
    input_shape = validate_input_shape(input_shape, "vgg16")
    num_classes, head_activation = validate_head(num_classes, head_activation, "vgg16")
    if not float(width_multiplier) > 0:
        raise ValueError(f"vgg16: width_multiplier must be > 0; received {width_multiplier}.")
    imagenet = isinstance(weights, str) and (weights == "imagenet" or weights.endswith(".h5")) \
        and not weights.endswith(".weights.h5")
    if imagenet and (float(width_multiplier) != 1.0 or input_shape[2] not in (1, 3)):
        raise ValueError(f"vgg16: ImageNet weights need width_multiplier=1.0 and 1 or 3 input channels; received "
                         f"{width_multiplier} and input_shape {input_shape}. Pass weights=None.")
    inputs = keras.Input(input_shape, name="image")
    x = GrayscaleToRGB(name="grayscale_to_rgb")(inputs) if input_shape[2] in (1, 3) else inputs
    if imagenet:
        x = keras.layers.Normalization(mean=[m / 255.0 for m in IMAGENET_CAFFE_MEAN_RGB],
                                       variance=[(1.0 / 255.0) ** 2] * 3, name="imagenet_preprocessing")(x)
    else:
        channels = x.shape[-1]
        mean, std = (IMAGENET_MEAN, IMAGENET_STD) if channels == 3 else (
            (float(np.mean(IMAGENET_MEAN)),) * channels, (float(np.mean(IMAGENET_STD)),) * channels)
        x = keras.layers.Normalization(mean=list(mean), variance=[s * s for s in std],
                                       name="input_standardization")(x)
    x, _ = vgg16_features(x, width_multiplier, pool_last=False, init="fan_out" if imagenet else "fan_in")
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    model = keras.Model(inputs, classification_head(x, num_classes, head_activation), name=name)
    if imagenet:
        reference = _imagenet_vgg16() if weights == "imagenet" else keras.applications.VGG16(
            include_top=False, weights=weights, input_shape=(None, None, 3))
        _copy_imagenet(model, reference)
        return model
    return load_weights(model, weights, builder="vgg16")
