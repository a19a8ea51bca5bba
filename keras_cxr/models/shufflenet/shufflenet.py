"""ShuffleNet v1 (Zhang et al. 2018), which Keras applications and keras-hub lack: groups = 3, width
1.0×, 1-channel input by default; its `ChannelShuffle` layer."""

import keras
from keras import ops

from keras_cxr.models._initializers import conv_init
from keras_cxr.models.contract import classification_head, validate_head, validate_input_shape
from keras_cxr.models.features import register_feature_levels
from keras_cxr.models.registry import register_model
from keras_cxr.models.weights import load_weights

GROUPS = 3
STEM_FILTERS = 24
STAGE_FILTERS = (240, 480, 960)  # Table 1, g = 3, 1.0×: output channels of Stage 2, 3, 4
STAGE_UNITS = (4, 8, 4)  # Table 1: one stride-2 unit, then 3, 7, 3 stride-1 units
BOTTLENECK_RATIO = 4  # §3.3: bottleneck channels = 1/4 of the unit's output channels


_conv_init = conv_init  # He-normal, fan-in, one instance per layer (keras_cxr.models._initializers)


def _depthwise_init():
    """He-normal with the fan-in kh·kw of a depthwise kernel (kh, kw, C, 1), which Keras' VarianceScaling
    calls its "fan_out" (its "fan_in" would be kh·kw·C); a fresh instance per layer as in `_conv_init`."""
    return keras.initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal")


register_feature_levels("shufflenet_v1", {
    "P1": "stem_relu", "P2": "stem_pool", "P3": "stage2_unit4_out", "P4": "stage3_unit8_out",
    "P5": "stage4_unit4_out"})


@keras.saving.register_keras_serializable(package="keras_cxr")
class ChannelShuffle(keras.layers.Layer):
    """Permutes channels so that each group of the next grouped convolution sees every previous group.

    ShuffleNet's channel shuffle (§3.1, Fig. 1c): the C = groups × n channels are reshaped to
    (groups, n), transposed to (n, groups) and flattened back, i.e. output channel `c * groups + g`
    is input channel `g * n + c`. A plain reshape / transpose with `keras.ops` (Keras has no such layer;
    `Reshape` + `Permute` would need the spatial size fixed at build time).

    Args:
        groups: number of channel groups (>= 1); the channel count must be divisible by it.

    Call arguments:
        inputs: (batch, height, width, channels), channels divisible by `groups`.

    Returns:
        A tensor of the input's shape with its channels permuted.

    Raises:
        ValueError: `groups` below 1, or a channel count that `groups` does not divide.

    Reference:
        Zhang, Zhou, Lin, Sun (2018). ShuffleNet: An Extremely Efficient Convolutional Neural Network for
        Mobile Devices. CVPR. arXiv:1707.01083 (§3.1).

    Example:
    >>> import numpy as np
    >>> x = np.arange(6, dtype="float32").reshape(1, 1, 1, 6)
    >>> keras.ops.convert_to_numpy(ChannelShuffle(groups=3)(x)).ravel().tolist()
    [0.0, 2.0, 4.0, 1.0, 3.0, 5.0]
    """

    def __init__(self, groups, **kwargs):
        super().__init__(**kwargs)
        if int(groups) != groups or groups < 1:
            raise ValueError(f"ChannelShuffle: groups must be a positive int; received groups={groups!r}.")
        self.groups = int(groups)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None or channels % self.groups:
            raise ValueError(f"ChannelShuffle: the channel count must be known and divisible by {self.groups} "
                             f"(groups={self.groups}); received input shape {tuple(input_shape)}. Use a channel "
                             f"count that is a multiple of {self.groups}.")

    def call(self, inputs):
        channels = inputs.shape[-1]
        shape = ops.shape(inputs)
        x = ops.reshape(inputs, (-1, shape[1], shape[2], self.groups, channels // self.groups))
        x = ops.transpose(x, (0, 1, 2, 4, 3))
        return ops.reshape(x, (-1, shape[1], shape[2], channels))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "groups": self.groups}


def _bn(x, name):
    return keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=name)(x)  # torch: eps 1e-5, 0.1


def _pointwise(x, filters, groups, name):
    return keras.layers.Conv2D(filters, 1, groups=groups, use_bias=False, kernel_initializer=_conv_init(),
                               name=name)(x)


def _shuffle_unit(x, filters, stride, first_groups, name):
    """Fig. 2(b) (stride 1: residual add) or 2(c) (stride 2: 3 × 3/2 average-pooled shortcut, concat)."""
    inputs = x
    bottleneck = filters // BOTTLENECK_RATIO
    branch_filters = filters - x.shape[-1] if stride == 2 else filters  # concat adds the shortcut channels
    y = keras.layers.ReLU(name=f"{name}_relu1")(_bn(_pointwise(x, bottleneck, first_groups, f"{name}_gconv1"),
                                                    f"{name}_bn1"))
    y = ChannelShuffle(GROUPS, name=f"{name}_shuffle")(y)
    y = keras.layers.ZeroPadding2D(1, name=f"{name}_dwconv_pad")(y)
    y = keras.layers.DepthwiseConv2D(3, strides=stride, use_bias=False, depthwise_initializer=_depthwise_init(),
                                     name=f"{name}_dwconv")(y)
    y = _bn(y, f"{name}_bn2")
    y = _bn(_pointwise(y, branch_filters, GROUPS, f"{name}_gconv2"), f"{name}_bn3")
    if stride == 1:
        y = keras.layers.Add(name=f"{name}_add")([inputs, y])
    else:  # torch's AvgPool2d(3, 2, padding=1): zero padding counted in the mean
        shortcut = keras.layers.ZeroPadding2D(1, name=f"{name}_shortcut_pad")(inputs)
        shortcut = keras.layers.AveragePooling2D(3, strides=2, name=f"{name}_shortcut_pool")(shortcut)
        y = keras.layers.Concatenate(name=f"{name}_concat")([shortcut, y])
    return keras.layers.ReLU(name=f"{name}_out")(y)


@register_model(test_overrides={"input_shape": (64, 64, 1), "num_classes": 2, "head_activation": "softmax"})
def shufflenet_v1(input_shape=(224, 224, 1), num_classes=0, head_activation=None, weights=None,
                  name="shufflenet_v1"):
    """ShuffleNet v1, groups = 3, width 1.0×: 3 × 3/2 stem of 24 filters, 3 × 3/2 max-pool, Stages 2–4 of
    4, 8, 4 ShuffleNet units with 240, 480, 960 output channels, global average pooling, optional head.

    A unit (Fig. 2): grouped 1 × 1 convolution to 1/4 of the output channels, BN, ReLU, channel
    shuffle (`ChannelShuffle`), 3 × 3 depthwise convolution (stride 1 or 2), BN, grouped 1 × 1
    convolution, BN, then a residual add (stride 1) or the concatenation with a 3 × 3/2 average-pooled
    shortcut (stride 2, the first unit of a stage), ReLU. The first 1 × 1 convolution of Stage 2 is not
    grouped (§3.3: its 24 input channels are too few). BN eps 1e-5 and momentum 0.1 (Keras 0.9),
    paddings as in PyTorch (explicit zero padding; the average pool counts the padded zeros).

    Parameters at 224 × 224 × 3 with the 1000-class head: 1,865,728, that is the 1,864,728 of the
    reference implementation (megvii-model/ShuffleNet-Series, ShuffleNetV1, "1.9M") + 1,000 for our head's
    bias (the reference's classifier has none).

    Where our definition differs from that reference implementation (same parameters and the same
    functions, but its weights would need permuting): the channel shuffle follows the paper (after the
    first pointwise convolution's ReLU, Fig. 2; reshape to (groups, n) and transpose) where megvii
    shuffles after the depthwise convolution with the inverse permutation (the depthwise convolution is
    per channel, and for the 60, 120 and 240 bottleneck channels each group of the second grouped
    convolution receives as many channels of each first-convolution group under either permutation);
    the ReLU follows the concatenation (Fig. 2c; the pooled shortcut is already non-negative, so this
    equals megvii's ReLU on the branch alone); the head has a bias; convolutions are He-normal (fan-in)
    initialized, megvii draws N(0, 1 / input channels per group). No ImageNet weights are bundled.
    Feature levels (`keras_cxr.models.feature_levels`): P1 (stem, stride 2), P2 (max-pool), P3–P5 (the
    last unit of Stages 2–4).

    Reference:
        Zhang, Zhou, Lin, Sun (2018). ShuffleNet: An Extremely Efficient Convolutional Neural Network for
        Mobile Devices. CVPR. arXiv:1707.01083 (Table 1, g = 3; Fig. 2; §3.3).

    Args:
        input_shape: (height, width, channels), channels last.
        num_classes: 0 → pooled 960-d features; else a Dense head (float32 under mixed precision).
        head_activation: None / "linear" (logits), "softmax" or "sigmoid".
        weights: None, a `.weights.h5` / `.keras` path, or a Keras model to copy weights from.
        name: the model's name.

    Returns:
        A functional `keras.Model` from (batch, height, width, channels) images to (batch, 960)
        features or (batch, num_classes) outputs.

    Example:
    >>> shufflenet_v1((32, 32, 1), num_classes=2, head_activation="softmax").output_shape
    (None, 2)
    """
    input_shape = validate_input_shape(input_shape, "shufflenet_v1")
    num_classes, head_activation = validate_head(num_classes, head_activation, "shufflenet_v1")
    inputs = keras.Input(input_shape, name="image")
    x = keras.layers.ZeroPadding2D(1, name="stem_conv_pad")(inputs)
    x = keras.layers.Conv2D(STEM_FILTERS, 3, strides=2, use_bias=False, kernel_initializer=_conv_init(),
                            name="stem_conv")(x)
    x = keras.layers.ReLU(name="stem_relu")(_bn(x, "stem_bn"))
    x = keras.layers.ZeroPadding2D(1, name="stem_pool_pad")(x)  # zero = -inf padding after a ReLU
    x = keras.layers.MaxPooling2D(3, strides=2, name="stem_pool")(x)
    for stage, (units, filters) in enumerate(zip(STAGE_UNITS, STAGE_FILTERS)):
        for unit in range(units):
            first_groups = 1 if stage == 0 and unit == 0 else GROUPS
            x = _shuffle_unit(x, filters, 2 if unit == 0 else 1, first_groups, f"stage{stage + 2}_unit{unit + 1}")
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    model = keras.Model(inputs, classification_head(x, num_classes, head_activation), name=name)
    return load_weights(model, weights, builder="shufflenet_v1")
