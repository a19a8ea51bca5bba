"""Classifiers from encoders: Den-P / Deb-P from pretext models and the ImageNet VGG-16 baseline (paper 003 §2.3.2)."""

import warnings

import keras

from keras_cxr.models.contract import output_dtype, validate_head

_CONV_TYPES = (keras.layers.Conv2D, keras.layers.SeparableConv2D)
_UPSAMPLING_TYPES = (keras.layers.Conv2DTranspose, keras.layers.UpSampling2D)


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


def encoder_classifier(model, layer_name=None, num_classes=2, name="encoder_classifier", head_activation="softmax"):
    """Truncates `model` at its deepest convolution and adds global average pooling + a dense head.

    This builds the Den-P / Deb-P classifiers of paper 003 from the trained denoising / deblurring
    VGG-16 Sharp U-Nets, and works for any functional encoder. The new model is a functional sub-graph
    of `model`: it shares its layers, hence its (pretrained) weights — training the classifier also
    changes `model`'s encoder. Call `keras.models.clone_model` + `set_weights` first for an
    independent copy.

    Args:
        model: a built functional (or sequential) `keras.Model` with one input.
        layer_name: layer to truncate at; None → `deepest_conv_layer_name(model)` (see its rule).
        num_classes: outputs (2 in the paper: normal vs abnormal, softmax).
        name: model name; the new layers are `{name}_gap` and `{name}_predictions`.
        head_activation: "softmax" (the paper), "sigmoid" (multi-label), "linear" / None (logits).

    Returns:
        A `keras.Model` from `model`'s input to (batch, num_classes) probabilities (or logits).

    Raises:
        ValueError: `num_classes` < 2 under softmax (< 1 otherwise), an unknown `layer_name`, or no
            convolution found.

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
    if int(num_classes) < (2 if head_activation == "softmax" else 1):
        raise ValueError(f"num_classes must be >= 2 for a softmax classifier (>= 1 otherwise); received {num_classes}.")
    validate_head(num_classes, head_activation, "encoder_classifier")
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
    activation = None if head_activation == "linear" else head_activation
    outputs = keras.layers.Dense(int(num_classes), activation=activation, name=f"{name}_predictions",
                                 dtype=output_dtype())(features)
    return keras.Model(model.inputs[0], outputs, name=name)


def vgg16_imagenet_classifier(input_shape=(224, 224, 3), num_classes=2, weights="imagenet", width_multiplier=1.0,
                              name="vgg16_classifier"):
    """Baseline B of paper 003 as its recipe uses it: `keras_cxr.models.vgg16` with a softmax head, and
    ImageNet weights when they can be had.

    Unlike `vgg16`, which raises when the ImageNet weights cannot be fetched, this falls back to random
    initialization with a `RuntimeWarning` that says where to put the weights file (offline machines), and
    to random initialization with a warning when `width_multiplier` != 1 (no ImageNet weights exist there).

    Args:
        input_shape: (height, width, 1 or 3).
        num_classes: softmax outputs (2 in the paper).
        weights: "imagenet", None (random init) or a path to a VGG-16 "notop" weights file.
        width_multiplier: scales the filters.
        name: model name.

    Raises:
        ValueError: channels other than 1 or 3, or an unreadable weights path.

    Example:
    >>> import numpy as np
    >>> model = vgg16_imagenet_classifier((32, 32, 1), weights=None, width_multiplier=0.0625)
    >>> tuple(model.predict(np.zeros((2, 32, 32, 1), "float32"), verbose=0).shape)
    (2, 2)

    Reference:
        Rajaraman et al., Frontiers in AI 2024, doi:10.3389/frai.2024.1419638, §2.3.2 (baseline B).
    """
    from keras_cxr.models.vgg.vgg16 import vgg16

    input_shape = tuple(input_shape)
    if len(input_shape) != 3 or input_shape[2] not in (1, 3):
        raise ValueError(f"input_shape must be (height, width, 1 or 3); received {input_shape}.")
    if weights is not None and float(width_multiplier) != 1.0:
        warnings.warn(f"ImageNet VGG-16 weights exist only for width_multiplier=1.0; received {width_multiplier}. "
                      "Using random initialization (weights=None).", RuntimeWarning, stacklevel=2)
        weights = None

    def build(chosen):
        return vgg16(input_shape, num_classes, "softmax", chosen, name=name, width_multiplier=width_multiplier)

    if weights == "imagenet":
        try:
            return build("imagenet")
        except OSError as error:
            warnings.warn(f"{error} Falling back to weights=None (random initialization), so baseline B is NOT "
                          "ImageNet-pretrained.", RuntimeWarning, stacklevel=2)
            return build(None)
    try:
        return build(weights)
    except (OSError, FileNotFoundError) as error:
        raise ValueError(f"Could not load VGG-16 weights from {weights!r}: {error}") from error
