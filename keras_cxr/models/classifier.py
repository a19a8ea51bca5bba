"""Classifiers from encoders: Den-P / Deb-P from pretext models and the ImageNet VGG-16 baseline (paper 003 §2.3.2)."""

import os
import warnings

import keras
import numpy as np

from keras_cxr.models.sharp_unet.sharp_unet import _output_dtype
from keras_cxr.models.sharp_unet.sharp_unet import vgg16_encoder

_CONV_TYPES = (keras.layers.Conv2D, keras.layers.SeparableConv2D)
_UPSAMPLING_TYPES = (keras.layers.Conv2DTranspose, keras.layers.UpSampling2D)
# keras.applications.VGG16 "caffe" preprocessing, RGB order, on the 0-255 scale.
IMAGENET_CAFFE_MEAN_RGB = (123.68, 116.779, 103.939)
VGG16_NOTOP_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
VGG16_NOTOP_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/" + VGG16_NOTOP_FILE
)


def deepest_conv_layer_name(model):
    """Name of the deepest convolution of the encoder path of `model`.

    The rule: walk `model.layers` in the model's topological order and stop at the first up-sampling
    layer (`Conv2DTranspose` or `UpSampling2D`, i.e. where a decoder starts); the answer is the last
    `Conv2D` / `SeparableConv2D` seen. For a U-Net this is the bottleneck's last convolution
    (`block5_conv3` of `vgg16_sharp_unet`), for a plain CNN its last convolution. Only top-level layers
    are searched: a nested sub-model is not entered (pass `layer_name` explicitly for those).

    Args:
        model: a built functional or sequential `keras.Model`.

    Returns:
        The layer name.

    Raises:
        ValueError: no convolution before the first up-sampling layer.

    Example:
    >>> from keras_cxr.models import vgg16_sharp_unet
    >>> deepest_conv_layer_name(vgg16_sharp_unet((32, 32, 1), width_multiplier=0.0625))
    'block5_conv3'
    """
    last = None
    for layer in model.layers:
        if isinstance(layer, _UPSAMPLING_TYPES):
            break
        if isinstance(layer, _CONV_TYPES):
            last = layer.name
    if last is None:
        raise ValueError(
            f"Model {model.name!r} has no top-level Conv2D before its first up-sampling layer; pass "
            f"layer_name= explicitly (top-level layers: {[layer.name for layer in model.layers][:20]})."
        )
    return last


def encoder_classifier(model, layer_name=None, num_classes=2, name="encoder_classifier"):
    """Truncates `model` at its deepest convolution and adds global average pooling + a softmax layer.

    This builds the Den-P / Deb-P classifiers of paper 003 from the trained denoising / deblurring
    VGG-16 Sharp U-Nets, and works for any functional encoder. The new model is a functional sub-graph
    of `model`: it shares its layers, hence its (pretrained) weights — training the classifier also
    changes `model`'s encoder. Call `keras.models.clone_model` + `set_weights` first for an
    independent copy.

    Args:
        model: a built functional (or sequential) `keras.Model` with one input.
        layer_name: layer to truncate at; None → `deepest_conv_layer_name(model)` (see its rule).
        num_classes: softmax outputs (2 in the paper: normal vs abnormal).
        name: model name; the new layers are `{name}_gap` and `{name}_predictions`.

    Returns:
        A `keras.Model` from `model`'s input to (batch, num_classes) softmax probabilities.

    Raises:
        ValueError: `num_classes` < 2, an unknown `layer_name`, or no convolution found.

    Example:
    >>> import numpy as np
    >>> from keras_cxr.models import vgg16_sharp_unet
    >>> unet = vgg16_sharp_unet((32, 32, 1), width_multiplier=0.0625)
    >>> classifier = encoder_classifier(unet, num_classes=2)
    >>> tuple(classifier.predict(np.zeros((3, 32, 32, 1), "float32"), verbose=0).shape)
    (3, 2)

    Reference:
        Rajaraman et al., Frontiers in AI 2024, doi:10.3389/frai.2024.1419638, §2.3.2.
    """
    if int(num_classes) < 2:
        raise ValueError(f"num_classes must be >= 2 for a softmax classifier; received {num_classes}.")
    if len(model.inputs) != 1:
        raise ValueError(f"encoder_classifier needs a model with one input; {model.name!r} has {len(model.inputs)}.")
    if layer_name is None:
        layer_name = deepest_conv_layer_name(model)
    try:
        layer = model.get_layer(layer_name)
    except ValueError as error:
        raise ValueError(
            f"Model {model.name!r} has no layer {layer_name!r}; top-level layers: {[l.name for l in model.layers]}."
        ) from error
    features = keras.layers.GlobalAveragePooling2D(name=f"{name}_gap")(layer.output)
    outputs = keras.layers.Dense(int(num_classes), activation="softmax", name=f"{name}_predictions",
                                 dtype=_output_dtype())(features)
    return keras.Model(model.inputs[0], outputs, name=name)


def _load_imagenet_vgg16(weights):
    """keras.applications.VGG16 convolutional trunk with `weights`, or None (with a warning) if unavailable."""
    try:
        return keras.applications.VGG16(include_top=False, weights=weights, input_shape=(None, None, 3))
    except Exception as error:  # noqa: BLE001 - any download/read failure means "no weights here"
        if weights != "imagenet":
            raise ValueError(f"Could not load VGG-16 weights from {weights!r}: {error}") from error
        cache = os.path.join(os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras")), "models")
        warnings.warn(
            f"Could not fetch the ImageNet VGG-16 weights ({type(error).__name__}: {error}). Falling back to "
            f"weights=None (random initialization), so baseline B is NOT ImageNet-pretrained. For offline use, "
            f"download {VGG16_NOTOP_URL} on a machine with internet and place it as "
            f"{os.path.join(cache, VGG16_NOTOP_FILE)} (Keras' cache; or pass weights=<path to that file>).",
            RuntimeWarning,
            stacklevel=3,
        )
        return None


def vgg16_imagenet_classifier(input_shape=(224, 224, 3), num_classes=2, weights="imagenet", width_multiplier=1.0,
                              name="vgg16_classifier"):
    """Baseline B: VGG-16 truncated at `block5_conv3` + GAP + softmax, ImageNet weights when available.

    The convolutional trunk has `keras.applications.VGG16`'s layer names. With `weights="imagenet"` (or a
    path to the Keras "notop" weights file) the weights of `keras.applications.VGG16(include_top=False)`
    are copied in; the first kernel's input channels are reversed so the model takes RGB (Keras' VGG-16
    weights expect BGR), and an `imagenet_preprocessing` layer maps inputs in [0, 1] to the "caffe" scale
    (×255 minus the ImageNet mean), so the same [0, 1] images feed this model and Den-P/Deb-P. If the
    ImageNet weights cannot be fetched (offline), a `RuntimeWarning` says where to put the file and the
    model falls back to random initialization without that preprocessing (the same as `weights=None`).

    One-channel inputs are replicated to three channels inside the model (`grayscale_to_rgb`, a
    `Concatenate` of the input with itself), so grayscale CXRs need no conversion.

    Args:
        input_shape: (height, width, 1 or 3).
        num_classes: softmax outputs (2 in the paper).
        weights: "imagenet", None (random init) or a path to a VGG-16 "notop" weights file.
        width_multiplier: scales the filters; ImageNet weights exist only for 1.0 (other values warn and
            use random init).
        name: model name.

    Returns:
        A `keras.Model` from (batch, H, W, C) images in [0, 1] to (batch, num_classes) probabilities.

    Raises:
        ValueError: channels other than 1 or 3, bad `num_classes`, or an unreadable weights path.

    Example:
    >>> import numpy as np
    >>> model = vgg16_imagenet_classifier((32, 32, 1), weights=None, width_multiplier=0.0625)
    >>> tuple(model.predict(np.zeros((2, 32, 32, 1), "float32"), verbose=0).shape)
    (2, 2)

    Reference:
        Rajaraman et al., Frontiers in AI 2024, doi:10.3389/frai.2024.1419638, §2.3.2 (baseline B);
        Simonyan & Zisserman, ICLR 2015, arXiv:1409.1556.
    """
    input_shape = tuple(input_shape)
    if len(input_shape) != 3 or input_shape[2] not in (1, 3):
        raise ValueError(f"input_shape must be (height, width, 1 or 3); received {input_shape}.")
    if not float(width_multiplier) > 0:
        raise ValueError(f"width_multiplier must be > 0; received {width_multiplier}.")
    if weights is not None and float(width_multiplier) != 1.0:
        warnings.warn(
            f"ImageNet VGG-16 weights exist only for width_multiplier=1.0; received {width_multiplier}. "
            f"Using random initialization (weights=None).",
            RuntimeWarning,
            stacklevel=2,
        )
        weights = None
    reference = _load_imagenet_vgg16(weights) if weights is not None else None

    inputs = keras.Input(input_shape, name="image")
    x = inputs
    if input_shape[2] == 1:
        x = keras.layers.Concatenate(axis=-1, name="grayscale_to_rgb")([x, x, x])
    if reference is not None:
        x = keras.layers.Normalization(
            mean=[m / 255.0 for m in IMAGENET_CAFFE_MEAN_RGB], variance=[(1.0 / 255.0) ** 2] * 3,
            name="imagenet_preprocessing",
        )(x)
    x, _ = vgg16_encoder(x, width_multiplier, pool_last=False)
    trunk = keras.Model(inputs, x, name=f"{name}_trunk")
    if reference is not None:
        for layer in trunk.layers:
            if isinstance(layer, keras.layers.Conv2D):
                kernel, bias = reference.get_layer(layer.name).get_weights()
                if layer.name == "block1_conv1":
                    kernel = np.ascontiguousarray(kernel[:, :, ::-1, :])  # BGR → RGB
                layer.set_weights([kernel, bias])
    return encoder_classifier(trunk, layer_name="block5_conv3", num_classes=num_classes, name=name)
