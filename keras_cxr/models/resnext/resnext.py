"""ResNeXt-50 32×4d (Xie et al. 2017), which Keras applications and keras-hub lack: torchvision's layout,
1-channel input by default."""

import keras

from keras_cxr.models._initializers import conv_init
from keras_cxr.models.contract import classification_head, validate_head, validate_input_shape
from keras_cxr.models.features import register_feature_levels
from keras_cxr.models.registry import register_model
from keras_cxr.models.weights import load_weights

STAGES = (3, 4, 6, 3)  # bottleneck blocks per stage (ResNet-50's depths)
PLANES = (64, 128, 256, 512)  # a block outputs 4 × planes channels
CARDINALITY = 32  # groups of the 3 × 3 convolution
BOTTLENECK_WIDTH = 4  # channels per group at planes = 64 ("32×4d"): width = planes × 4 / 64 × 32
EXPANSION = 4


_conv_init = conv_init  # He-normal, fan-in, one instance per layer (keras_cxr.models._initializers)


register_feature_levels("resnext50_32x4d", {
    "P1": "stem_relu", "P2": "stage1_bottleneck3_out", "P3": "stage2_bottleneck4_out",
    "P4": "stage3_bottleneck6_out", "P5": "stage4_bottleneck3_out"})


def _conv(x, filters, kernel, stride, name, groups=1):
    """torchvision's Conv2d(padding=kernel // 2, bias=False): explicit symmetric zero padding + 'valid'."""
    if kernel > 1:
        x = keras.layers.ZeroPadding2D(kernel // 2, name=f"{name}_pad")(x)
    return keras.layers.Conv2D(filters, kernel, strides=stride, groups=groups, use_bias=False,
                               kernel_initializer=_conv_init(), name=name)(x)


def _bn(x, name):
    return keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=name)(x)  # torch: eps 1e-5, 0.1


def _bottleneck(x, planes, stride, name):
    """1 × 1 reduce → grouped 3 × 3 (the stride, torchvision's "ResNet v1.5") → 1 × 1 expand, + shortcut."""
    width = planes * BOTTLENECK_WIDTH // 64 * CARDINALITY
    y = keras.layers.ReLU(name=f"{name}_relu1")(_bn(_conv(x, width, 1, 1, f"{name}_conv1"), f"{name}_bn1"))
    y = _conv(y, width, 3, stride, f"{name}_conv2", groups=CARDINALITY)
    y = keras.layers.ReLU(name=f"{name}_relu2")(_bn(y, f"{name}_bn2"))
    y = _bn(_conv(y, planes * EXPANSION, 1, 1, f"{name}_conv3"), f"{name}_bn3")
    shortcut = x
    if stride != 1 or x.shape[-1] != planes * EXPANSION:
        shortcut = _bn(_conv(x, planes * EXPANSION, 1, stride, f"{name}_down_conv"), f"{name}_down_bn")
    return keras.layers.ReLU(name=f"{name}_out")(keras.layers.Add(name=f"{name}_add")([y, shortcut]))


@register_model(test_overrides={"input_shape": (64, 64, 1), "num_classes": 2, "head_activation": "softmax"})
def resnext50_32x4d(input_shape=(224, 224, 1), num_classes=0, head_activation=None, weights=None,
                    name="resnext50_32x4d"):
    """ResNeXt-50 (32 × 4d): ResNet-50 with each bottleneck's 3 × 3 convolution split into 32 groups and
    the bottlenecks twice as wide (128–1024 channels), global average pooling, optional linear head.

    torchvision's `resnext50_32x4d` layer for layer: 7 × 7/2 stem, 3 × 3/2 max-pool, bottleneck stages
    [3, 4, 6, 3] of 256–2048 output channels, the stride on the grouped 3 × 3 convolution (torchvision's
    "v1.5"; the paper's Table 1 puts no stride detail beyond the stage resolutions), BN eps 1e-5 and
    momentum 0.1 (Keras 0.9); 25,028,904 parameters with the 1000-class head at
    224 × 224 × 3 (torchvision's count; BN moving statistics excluded). The grouped convolution is one
    `keras.layers.Conv2D(groups=32)` (the paper's form (c) of Fig. 3).

    Differences from torchvision: He-normal fan-in initialization where torchvision uses the fan-out
    (see `_conv_init`: one SGD step on a small batch then lowers the loss); no torchvision weight converter
    and no bundled ImageNet weights (pass a Keras `.weights.h5` / `.keras` file or a model to copy from);
    1-channel input by default.
    Feature levels (`keras_cxr.models.feature_levels`): P1 (stem, stride 2) to P5 (last stage, stride 32).

    Reference:
        Xie, Girshick, Dollár, Tu, He (2017). Aggregated Residual Transformations for Deep Neural
        Networks. CVPR. arXiv:1611.05431 (Table 1, ResNeXt-50 32×4d; §3.3, grouped convolutions).

    Args:
        input_shape: (height, width, channels), channels last.
        num_classes: 0 → pooled 2048-d features; else a Dense head (float32 under mixed precision).
        head_activation: None / "linear" (logits), "softmax" or "sigmoid".
        weights: None, a `.weights.h5` / `.keras` path, or a Keras model to copy weights from.
        name: the model's name.

    Returns:
        A functional `keras.Model` from (batch, height, width, channels) images to (batch, 2048)
        features or (batch, num_classes) outputs.

    Example:
    >>> resnext50_32x4d((32, 32, 1), num_classes=2, head_activation="softmax").output_shape
    (None, 2)
    """
    input_shape = validate_input_shape(input_shape, "resnext50_32x4d")
    num_classes, head_activation = validate_head(num_classes, head_activation, "resnext50_32x4d")
    inputs = keras.Input(input_shape, name="image")
    x = keras.layers.ReLU(name="stem_relu")(_bn(_conv(inputs, 64, 7, 2, "stem_conv"), "stem_bn"))
    x = keras.layers.ZeroPadding2D(1, name="stem_pool_pad")(x)  # zero = -inf padding after a ReLU
    x = keras.layers.MaxPooling2D(3, strides=2, name="stem_pool")(x)
    for stage, (blocks, planes) in enumerate(zip(STAGES, PLANES)):
        for block in range(blocks):
            x = _bottleneck(x, planes, 2 if block == 0 and stage > 0 else 1,
                            f"stage{stage + 1}_bottleneck{block + 1}")
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    model = keras.Model(inputs, classification_head(x, num_classes, head_activation), name=name)
    return load_weights(model, weights, builder="resnext50_32x4d")
