"""HRNet-W32, the ImageNet-classification variant (Wang et al. 2020), which Keras applications and
keras-hub lack: the layout of the HRNet-Image-Classification reference (timm's `hrnet_w32`), 1-channel
input by default."""

import keras

from keras_cxr.models._initializers import conv_init
from keras_cxr.models.contract import classification_head, validate_head, validate_input_shape
from keras_cxr.models.features import register_feature_levels
from keras_cxr.models.registry import register_model
from keras_cxr.models.weights import load_weights

STEM_FILTERS = 64
# Per stage: (modules, block, blocks per branch, channels per branch); W32: branches of 32, 64, 128, 256.
STAGES = (
    (1, "bottleneck", (4,), (64,)),  # stage 1 (the reference's `layer1`): 4 bottlenecks, 256 channels out
    (1, "basic", (4, 4), (32, 64)),
    (4, "basic", (4, 4, 4), (32, 64, 128)),
    (3, "basic", (4, 4, 4, 4), (32, 64, 128, 256)),
)
HEAD_PLANES = (32, 64, 128, 256)  # one bottleneck per branch → 128, 256, 512, 1024 channels ("incre")
NUM_FEATURES = 2048
EXPANSION = {"basic": 1, "bottleneck": 4}


_conv_init = conv_init  # He-normal, fan-in, one instance per layer (keras_cxr.models._initializers)


register_feature_levels("hrnet_w32", {
    "P1": "stem_relu1", "P2": "incre1_out", "P3": "incre2_sum", "P4": "incre3_sum", "P5": "final_relu"})


def _conv(x, filters, kernel, stride, name, use_bias=False):
    """torch's Conv2d(padding=kernel // 2): explicit symmetric zero padding + 'valid'."""
    if kernel > 1:
        x = keras.layers.ZeroPadding2D(kernel // 2, name=f"{name}_pad")(x)
    return keras.layers.Conv2D(filters, kernel, strides=stride, use_bias=use_bias, kernel_initializer=_conv_init(),
                               name=name)(x)


def _bn(x, name):
    return keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=name)(x)  # torch: eps 1e-5, 0.1


def _conv_bn_relu(x, filters, kernel, stride, name, use_bias=False, relu=True):
    x = _bn(_conv(x, filters, kernel, stride, f"{name}_conv", use_bias), f"{name}_bn")
    return keras.layers.ReLU(name=f"{name}_relu")(x) if relu else x


def _basic(x, planes, name):
    y = keras.layers.ReLU(name=f"{name}_relu1")(_bn(_conv(x, planes, 3, 1, f"{name}_conv1"), f"{name}_bn1"))
    y = _bn(_conv(y, planes, 3, 1, f"{name}_conv2"), f"{name}_bn2")
    shortcut = x if x.shape[-1] == planes else _bn(_conv(x, planes, 1, 1, f"{name}_down_conv"), f"{name}_down_bn")
    return keras.layers.ReLU(name=f"{name}_out")(keras.layers.Add(name=f"{name}_add")([y, shortcut]))


def _bottleneck(x, planes, name):
    y = keras.layers.ReLU(name=f"{name}_relu1")(_bn(_conv(x, planes, 1, 1, f"{name}_conv1"), f"{name}_bn1"))
    y = keras.layers.ReLU(name=f"{name}_relu2")(_bn(_conv(y, planes, 3, 1, f"{name}_conv2"), f"{name}_bn2"))
    y = _bn(_conv(y, planes * 4, 1, 1, f"{name}_conv3"), f"{name}_bn3")
    shortcut = x
    if x.shape[-1] != planes * 4:
        shortcut = _bn(_conv(x, planes * 4, 1, 1, f"{name}_down_conv"), f"{name}_down_bn")
    return keras.layers.ReLU(name=f"{name}_out")(keras.layers.Add(name=f"{name}_add")([y, shortcut]))


def _transition(branches, channels, name):
    """Branches kept (a 3 × 3 convolution where the width changes) and new ones: 3 × 3/2 convolutions
    from the lowest-resolution branch, one per halving."""
    out = []
    for i, filters in enumerate(channels):
        if i < len(branches):
            x = branches[i]
            out.append(x if x.shape[-1] == filters else _conv_bn_relu(x, filters, 3, 1, f"{name}_branch{i + 1}"))
            continue
        x = branches[-1]
        halvings = i + 1 - len(branches)
        for k in range(halvings):
            width = filters if k == halvings - 1 else branches[-1].shape[-1]
            x = _conv_bn_relu(x, width, 3, 2, f"{name}_branch{i + 1}_down{k + 1}")
        out.append(x)
    return out


def _fuse(branches, name):
    """Every output resolution i sums all branches: lower ones by 1 × 1 conv + BN + nearest upsampling,
    higher ones by 3 × 3/2 conv + BN (+ ReLU between), itself as is; then ReLU (§3, "exchange units")."""
    out = []
    for i, target in enumerate(branches):
        terms = []
        for j, x in enumerate(branches):
            prefix = f"{name}_fuse{i + 1}_from{j + 1}"
            if j > i:
                x = _conv_bn_relu(x, target.shape[-1], 1, 1, prefix, relu=False)
                x = keras.layers.UpSampling2D(2 ** (j - i), interpolation="nearest", name=f"{prefix}_up")(x)
            elif j < i:
                for k in range(i - j):
                    last = k == i - j - 1
                    x = _conv_bn_relu(x, target.shape[-1] if last else x.shape[-1], 3, 2, f"{prefix}_down{k + 1}",
                                      relu=not last)
            terms.append(x)
        out.append(keras.layers.ReLU(name=f"{name}_fuse{i + 1}_relu")(
            keras.layers.Add(name=f"{name}_fuse{i + 1}_sum")(terms)))
    return out


def _stage(branches, stage, modules, block, blocks, channels):
    for module in range(modules):
        name = f"stage{stage}_module{module + 1}"
        outs = []
        for b, (x, count, planes) in enumerate(zip(branches, blocks, channels)):
            for k in range(count):
                x = (_bottleneck if block == "bottleneck" else _basic)(x, planes, f"{name}_branch{b + 1}_block{k + 1}")
            outs.append(x)
        branches = _fuse(outs, name) if len(outs) > 1 else outs
    return branches


@register_model(test_overrides={"input_shape": (64, 64, 1), "num_classes": 2, "head_activation": "softmax"})
def hrnet_w32(input_shape=(224, 224, 1), num_classes=0, head_activation=None, weights=None, name="hrnet_w32"):
    """HRNet-W32 for classification: a stem to stride 4, four stages that keep a high-resolution branch
    and add a branch at half the resolution per stage (W32: 32, 64, 128, 256 channels at strides 4–32),
    repeatedly exchanging information across resolutions, then the classification head.

    - Stem: two 3 × 3/2 convolutions of 64 filters (BN, ReLU).
    - Stage 1: 4 bottlenecks (256 channels). Stages 2, 3, 4: 1, 4, 3 modules of 2, 3, 4 branches, each
      branch 4 basic blocks, then a fuse (every branch summed into every resolution: 1 × 1 conv + BN +
      nearest upsampling from lower resolutions, chains of 3 × 3/2 conv + BN from higher ones; ReLU).
      Transitions between stages: a 3 × 3 conv where a branch changes width, a 3 × 3/2 conv from the
      lowest resolution for the new branch.
    - Head (the reference's classification head): one bottleneck per branch ("incre": 128, 256, 512,
      1024 channels), from the highest resolution down each sum is passed through a 3 × 3/2 conv (with
      bias) + BN + ReLU and added to the next branch, a final 1 × 1 conv (with bias) to 2048 channels +
      BN + ReLU, global average pooling, optional Dense head.

    BN eps 1e-5 and momentum 0.1 (Keras 0.9), PyTorch's paddings (explicit zero
    padding). 41,232,680 parameters with the 1000-class head at 224 × 224 × 3, timm's `hrnet_w32`
    exactly (BN moving statistics excluded). The input sides must be multiples of 32, or the upsampled
    branches would not line up (the reference fails there too).

    Where our definition differs from the reference: He-normal fan-in initialization where the reference
    uses the fan-out (see `_conv_init`), the head's convolution biases start at zero (torch: uniform); no
    weight converter and no bundled ImageNet weights. Feature levels
    (`keras_cxr.models.feature_levels`) are the last layer at each stride on the classification path:
    P1 the first stem ReLU (stride 2), P2 the first incre block, P3 and P4 the sums of the incre blocks
    and the downsampled path, P5 the final 2048-channel ReLU; timm's `features_only` returns the incre
    blocks themselves for P3–P5.

    Reference:
        Wang, Sun, Cheng, Jiang, Deng, Zhao, Liu, Mu, Tan, Wang, Liu, Xiao (2020). Deep High-Resolution
        Representation Learning for Visual Recognition. TPAMI 43(10). arXiv:1908.07919 (§3; §6
        "ImageNet classification", Fig. 11). Code: github.com/HRNet/HRNet-Image-Classification
        (`cls_hrnet.py`, `cls_hrnet_w32_*.yaml`), as timm's `hrnet_w32`.

    Args:
        input_shape: (height, width, channels), channels last; height and width multiples of 32.
        num_classes: 0 → pooled 2048-d features; else a Dense head (float32 under mixed precision).
        head_activation: None / "linear" (logits), "softmax" or "sigmoid".
        weights: None, a `.weights.h5` / `.keras` path, or a Keras model to copy weights from.
        name: the model's name.

    Returns:
        A functional `keras.Model` from (batch, height, width, channels) images to (batch, 2048)
        features or (batch, num_classes) outputs.

    Raises:
        ValueError: an input side that is not a multiple of 32.

    Example:
    >>> hrnet_w32((32, 32, 1), num_classes=2, head_activation="softmax").output_shape
    (None, 2)
    """
    input_shape = validate_input_shape(input_shape, "hrnet_w32", divisible_by=32)
    num_classes, head_activation = validate_head(num_classes, head_activation, "hrnet_w32")
    inputs = keras.Input(input_shape, name="image")
    x = keras.layers.ReLU(name="stem_relu1")(_bn(_conv(inputs, STEM_FILTERS, 3, 2, "stem_conv1"), "stem_bn1"))
    x = keras.layers.ReLU(name="stem_relu2")(_bn(_conv(x, 64, 3, 2, "stem_conv2"), "stem_bn2"))
    branches = [x]
    for stage, (modules, block, blocks, channels) in enumerate(STAGES, start=1):
        if stage > 1:
            channels_out = [c * EXPANSION[block] for c in channels]
            branches = _transition(branches, channels_out, f"transition{stage - 1}")
        branches = _stage(branches, stage, modules, block, blocks, channels)
    y = None
    for i, (branch, planes) in enumerate(zip(branches, HEAD_PLANES), start=1):
        incre = _bottleneck(branch, planes, f"incre{i}")
        if y is None:
            y = incre
        else:
            down = _conv_bn_relu(y, incre.shape[-1], 3, 2, f"downsample{i - 1}", use_bias=True)
            y = keras.layers.Add(name=f"incre{i}_sum")([incre, down])
    y = _conv_bn_relu(y, NUM_FEATURES, 1, 1, "final", use_bias=True)
    y = keras.layers.GlobalAveragePooling2D(name="pool")(y)
    model = keras.Model(inputs, classification_head(y, num_classes, head_activation), name=name)
    return load_weights(model, weights, builder="hrnet_w32")
