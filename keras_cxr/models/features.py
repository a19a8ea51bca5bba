"""Backbones return features by name: pyramid levels of CNNs, block outputs of ViTs (keras-hub's
`pyramid_outputs` idea, for functional Keras models of any origin).

A level `"P{k}"` is the last feature map at stride 2**k (keras-hub's convention: "P2" = stride 4).
Each architecture declares which of its layers are its levels in `FEATURE_LEVELS` (data, one entry per
architecture, looked up by the layer names a model has), so a model's graph needs no marker layers and
`.keras` files, torchvision weight maps and `keras.applications` models keep their layer names. A ViT's
features are its `block_{i}` outputs (0-based: UNETR's z3, z6, z9, z12 are block_2, block_5, block_8,
block_11) and `norm` (the normalized tokens).
"""

import re

import keras

FEATURE_LEVELS = {
    # torchvision layout (keras_cxr.models.resnet34): stem ReLU, then the output of each stage.
    "resnet34": {"P1": "stem_relu", "P2": "stage1_block3_out", "P3": "stage2_block4_out",
                 "P4": "stage3_block6_out", "P5": "stage4_block3_out"},
    # keras.applications.VGG16 names (keras_cxr.models.vgg16, and the encoder of vgg16_sharp_unet): the last
    # convolution of each block, before its pooling.
    "vgg16": {"P0": "block1_conv2", "P1": "block2_conv2", "P2": "block3_conv3", "P3": "block4_conv3",
              "P4": "block5_conv3"},
}


def register_feature_levels(architecture, levels):
    """Declares `{level: layer name}` for an architecture (a new backbone's file calls this once)."""
    FEATURE_LEVELS[architecture] = dict(levels)


def _layer_names(model):
    return {layer.name for layer in model.layers}


def feature_levels(model):
    """`{feature name: layer name}` of a backbone: its CNN pyramid levels, or a ViT's blocks and norm.

    Example:
    >>> from keras_cxr.models import create_model
    >>> sorted(feature_levels(create_model("resnet34", input_shape=(64, 64, 1))))
    ['P1', 'P2', 'P3', 'P4', 'P5']
    """
    names = _layer_names(model)
    matches = [levels for levels in FEATURE_LEVELS.values() if set(levels.values()) <= names]
    if matches:  # the most levels; among equals the deepest layers (VGG19's block3_conv4 over VGG16's conv3)
        position = {layer.name: i for i, layer in enumerate(model.layers)}
        return dict(max(matches, key=lambda levels: (len(levels), sum(position[n] for n in levels.values()))))
    blocks = sorted((n for n in names if re.fullmatch(r"block_\d+", n)), key=lambda n: int(n.split("_")[1]))
    if blocks:
        return {**{n: n for n in blocks}, **({"norm": "norm"} if "norm" in names else {})}
    return {}


def feature_extractor(model, names=None, name=None):
    """A functional model from `model`'s input to `{feature name: tensor}`; shares `model`'s layers.

    Args:
        model: a functional backbone (e.g. `create_model("resnet34")`, `create_model("vit_small")`).
        names: feature names (`"P3"`, `"block_5"`, `"norm"`) or any layer names; None → every level.
        name: the new model's name (default `{model.name}_features`).

    Raises:
        ValueError: a name that is neither a level nor a layer of `model` (the levels are listed).

    Example:
    >>> import numpy as np
    >>> from keras_cxr.models import create_model
    >>> features = feature_extractor(create_model("resnet34", input_shape=(64, 64, 1)), ["P2", "P5"])
    >>> {k: tuple(v.shape) for k, v in features(np.zeros((1, 64, 64, 1), "float32")).items()}
    {'P2': (1, 16, 16, 64), 'P5': (1, 2, 2, 512)}
    """
    levels = feature_levels(model)
    names = list(levels) if names is None else list(names)
    layers = _layer_names(model)
    outputs = {}
    for feature in names:
        layer_name = levels.get(feature, feature)
        if layer_name not in layers:
            raise ValueError(f"{model.name!r} has no feature {feature!r}; its features are {list(levels)} (or pass "
                             "any of its layer names).")
        outputs[feature] = model.get_layer(layer_name).output
    return keras.Model(model.inputs, outputs, name=name or f"{model.name}_features")
