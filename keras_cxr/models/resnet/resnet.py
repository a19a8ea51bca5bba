"""ResNet-34 (He et al. 2016), which Keras applications lack: torchvision's layout, 1-channel input by default."""

import os

import keras
import numpy as np

from keras_cxr.models._initializers import conv_init
from keras_cxr.models.contract import classification_head, validate_head, validate_input_shape
from keras_cxr.models.registry import register_model
from keras_cxr.models.weights import load_weights, weights_file

STAGES = (3, 4, 6, 3)  # BasicBlocks per stage
FILTERS = (64, 128, 256, 512)
TORCHVISION_IMAGENET_URL = "https://download.pytorch.org/models/resnet34-b627a593.pth"

def _conv_init():
    """torchvision's kaiming normal (fan_out), one instance per layer (a shared instance gave every layer of a
    shape the same kernel)."""
    return conv_init("fan_out")


def _conv(x, filters, kernel, stride, name):
    """torchvision's Conv2d(padding=kernel // 2, bias=False): explicit symmetric zero padding + 'valid'."""
    if kernel > 1:
        x = keras.layers.ZeroPadding2D(kernel // 2, name=f"{name}_pad")(x)
    return keras.layers.Conv2D(filters, kernel, strides=stride, use_bias=False, kernel_initializer=_conv_init(),
                               name=name)(x)


def _bn(x, name):
    return keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=name)(x)  # torch: eps 1e-5, 0.1


def _basic_block(x, filters, stride, name):
    shortcut = x
    y = keras.layers.ReLU(name=f"{name}_relu1")(_bn(_conv(x, filters, 3, stride, f"{name}_conv1"), f"{name}_bn1"))
    y = _bn(_conv(y, filters, 3, 1, f"{name}_conv2"), f"{name}_bn2")
    if stride != 1 or x.shape[-1] != filters:
        shortcut = _bn(_conv(x, filters, 1, stride, f"{name}_down_conv"), f"{name}_down_bn")
    return keras.layers.ReLU(name=f"{name}_out")(keras.layers.Add(name=f"{name}_add")([y, shortcut]))


@register_model(test_overrides={"input_shape": (64, 64, 1), "num_classes": 3, "head_activation": "sigmoid"})
def resnet34(input_shape=(224, 224, 1), num_classes=0, head_activation=None, weights=None, name="resnet34"):
    """ResNet-34: 7×7/2 stem, 3×3/2 max-pool, BasicBlock stages [3, 4, 6, 3] of 64–512 filters, global
    average pool, optional linear head — torchvision's `resnet34` layer for layer (same paddings, BN eps
    1e-5 and momentum, He-normal fan-out init), so its weights convert exactly (`load_torchvision_weights`).

    The baseline of paper 000 (§IV.B, ~22 M parameters like ViT-S). ImageNet weights are not bundled:
    pass `weights` as a path — a Keras `.weights.h5` / `.keras` file, or a torchvision state dict (`.pth` /
    `.pt`, e.g. resnet34-b627a593.pth from `TORCHVISION_IMAGENET_URL`; needs torch to read) — or "imagenet"
    to fetch that file with `keras.utils.get_file` where the network allows (an error saying how to supply
    the file otherwise). Features by name (`keras_cxr.models.feature_levels`): P1 (stem, stride 2) to P5.

    Args:
        input_shape: (H, W, C); with C = 1, RGB stem weights are summed over the colour channels (timm's
            `adapt_input_conv`), right for a gray image replicated to RGB.
        num_classes: 0 → pooled 512-d features; else a Dense head (float32 under mixed precision).
        head_activation: e.g. "sigmoid" for multi-label outputs.
        weights: None, a weights path, or "imagenet" (see above).

    Example:
    >>> resnet34((64, 64, 1), num_classes=6, head_activation="sigmoid").output_shape
    (None, 6)
    """
    input_shape = validate_input_shape(input_shape, "resnet34")
    num_classes, head_activation = validate_head(num_classes, head_activation, "resnet34")
    inputs = keras.Input(input_shape, name="image")
    x = keras.layers.ReLU(name="stem_relu")(_bn(_conv(inputs, 64, 7, 2, "stem_conv"), "stem_bn"))
    x = keras.layers.ZeroPadding2D(1, name="stem_pool_pad")(x)  # zero = -inf padding after a ReLU
    x = keras.layers.MaxPooling2D(3, strides=2, name="stem_pool")(x)
    for stage, (blocks, filters) in enumerate(zip(STAGES, FILTERS)):
        for block in range(blocks):
            x = _basic_block(x, filters, 2 if block == 0 and stage > 0 else 1, f"stage{stage + 1}_block{block + 1}")
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    model = keras.Model(inputs, classification_head(x, num_classes, head_activation), name=name)

    def imagenet():
        return weights_file(os.path.basename(TORCHVISION_IMAGENET_URL), TORCHVISION_IMAGENET_URL, "resnet34",
                            sha256_prefix="b627a593")

    return load_weights(model, weights, builder="resnet34", torch_converter=load_torchvision_weights,
                        imagenet=imagenet)


def _torchvision_names():
    """{keras layer name: torchvision module prefix} for every conv / BN layer and the head."""
    names = {"stem_conv": "conv1", "stem_bn": "bn1", "head": "fc"}
    for stage, blocks in enumerate(STAGES):
        for block in range(blocks):
            ours, theirs = f"stage{stage + 1}_block{block + 1}", f"layer{stage + 1}.{block}"
            names.update({f"{ours}_conv1": f"{theirs}.conv1", f"{ours}_bn1": f"{theirs}.bn1",
                          f"{ours}_conv2": f"{theirs}.conv2", f"{ours}_bn2": f"{theirs}.bn2",
                          f"{ours}_down_conv": f"{theirs}.downsample.0", f"{ours}_down_bn": f"{theirs}.downsample.1"})
    return names


def load_torchvision_weights(model, state_dict):
    """Loads a torchvision ResNet-34 state dict (a dict of arrays / tensors, or a `.pth` path) into
    `resnet34(...)`: conv kernels (O, I, kh, kw) → (kh, kw, I, O), BN weight / bias / running stats → gamma /
    beta / moving mean / variance, fc → head when the class counts match (else the head is left as is).
    A 1-channel model gets the stem kernel summed over RGB.

    Returns the list of torchvision keys that were used.
    """
    if isinstance(state_dict, (str, os.PathLike)):
        import torch  # reading a .pth needs torch

        state_dict = torch.load(state_dict, map_location="cpu", weights_only=True)
    arrays = {k: np.asarray(v.detach().cpu().numpy() if hasattr(v, "detach") else v) for k, v in state_dict.items()}
    used = []
    for ours, theirs in _torchvision_names().items():
        try:
            layer = model.get_layer(ours)
        except ValueError:
            continue  # no head
        if isinstance(layer, keras.layers.BatchNormalization):
            keys = [f"{theirs}.{k}" for k in ("weight", "bias", "running_mean", "running_var")]
            layer.set_weights([arrays[k] for k in keys])
        elif isinstance(layer, keras.layers.Conv2D):
            keys = [f"{theirs}.weight"]
            kernel = arrays[keys[0]].transpose(2, 3, 1, 0)
            if kernel.shape[2] != layer.kernel.shape[2]:
                if layer.kernel.shape[2] != 1:
                    raise ValueError(f"Cannot adapt a {kernel.shape[2]}-channel stem to {layer.kernel.shape[2]} channels.")
                kernel = kernel.sum(axis=2, keepdims=True)
            layer.set_weights([kernel])
        else:  # head
            keys = ["fc.weight", "fc.bias"]
            if arrays[keys[0]].shape[0] != layer.kernel.shape[-1]:
                continue
            layer.set_weights([arrays[keys[0]].T, arrays[keys[1]]])
        used += keys
    return used
