"""The CNN backbones of paper 002 that Keras lacks (ShuffleNet v1, HRNet-W32, ResNeXt-50 32×4d): reference
parameter counts, the 1-channel default, feature levels by stride, heads, and the channel shuffle."""

import inspect
import json

import keras
import numpy as np
import pytest

from keras_cxr.models import (FEATURE_LEVELS, ChannelShuffle, create_model, feature_extractor, feature_levels,
                              model_entry)


def megvii_shufflenet_v1_params(groups=3, stem=24, stages=(240, 480, 960), units=(4, 8, 4), num_classes=1000):
    """Parameters of megvii-model/ShuffleNet-Series' `ShuffleNetV1(model_size="1.0x", group=3)`, counted
    module by module from its network.py / blocks.py: bias-free convolutions, 2 per BN channel, a bias-free
    classifier; the first 1 × 1 convolution of Stage 2 ungrouped; bottleneck = a unit's output // 4."""
    total = 3 * 3 * 3 * stem + 2 * stem
    channels = stem
    for stage, (filters, count) in enumerate(zip(stages, units)):
        for unit in range(count):
            mid, out = filters // 4, filters - channels if unit == 0 else filters
            first_groups = 1 if stage == 0 and unit == 0 else groups
            total += channels * mid // first_groups + 2 * mid  # grouped 1 × 1, BN
            total += 9 * mid + 2 * mid  # depthwise 3 × 3, BN
            total += mid * out // groups + 2 * out  # grouped 1 × 1, BN
            channels = filters
    return total + channels * num_classes


# Trainable parameters with the 1000-class head at 224 × 224 × 3 (PyTorch counts: BN running statistics are
# buffers, so they are left out here too; Keras' count_params() includes them).
REFERENCE = {
    # torchvision.models.resnext50_32x4d: 25,028,904 (the "Params" column of torchvision's model table;
    # timm's resnext50_32x4d has the same count, 25.03 M in timm's results-imagenet.csv).
    "resnext50_32x4d": 25_028_904,
    # timm's hrnet_w32 (= HRNet/HRNet-Image-Classification's cls_hrnet w32): 41.23 M in timm's
    # results/results-imagenet.csv; the exact 41,232,680 is sum(p.numel() for p in
    # timm.create_model("hrnet_w32").parameters()) with timm's hrnet.py at commit aa4b5850 (run once, not here).
    "hrnet_w32": 41_232_680,
    # megvii-model/ShuffleNet-Series ShuffleNetV1 1.0x g=3: "1.9M" in its README; exactly 1,864,728 counted from
    # its code (megvii_shufflenet_v1_params above, and the same from instantiating its network.py once),
    # + 1,000 for the bias of our Dense head (the megvii classifier is a bias-free Linear).
    "shufflenet_v1": 1_864_728 + 1_000,
}
FEATURES = {"resnext50_32x4d": 2048, "hrnet_w32": 2048, "shufflenet_v1": 960}  # pooled width, no head
STRIDES = {"P1": 2, "P2": 4, "P3": 8, "P4": 16, "P5": 32}


def _trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def test_megvii_count_is_its_published_one():
    assert megvii_shufflenet_v1_params() == 1_864_728  # README: 1.9M
    assert round(megvii_shufflenet_v1_params() / 1e6, 1) == 1.9


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_parameter_count_equals_the_reference(name):
    model = create_model(name, input_shape=(224, 224, 3), num_classes=1000, head_activation="softmax")
    assert model.output_shape == (None, 1000)
    assert _trainable(model) == REFERENCE[name]


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_one_channel_default_and_feature_levels_by_stride(name):
    model = create_model(name)
    assert inspect.signature(model_entry(name).builder).parameters["input_shape"].default == (224, 224, 1)
    assert model.input_shape == (None, 224, 224, 1)
    assert model.output_shape == (None, FEATURES[name])
    side = 64
    small = create_model(name, input_shape=(side, side, 1))
    names = {layer.name for layer in small.layers}
    # exactly this architecture's table matches its layer names, so feature_levels() cannot pick another's
    assert [arch for arch, levels in FEATURE_LEVELS.items() if set(levels.values()) <= names] == [name]
    assert feature_levels(small) == FEATURE_LEVELS[name]
    outputs = feature_extractor(small)(np.zeros((1, side, side, 1), "float32"))
    assert sorted(outputs) == sorted(STRIDES)
    for level, stride in STRIDES.items():
        assert tuple(outputs[level].shape[1:3]) == (side // stride, side // stride), (name, level)


def test_resnet34_keeps_its_own_feature_table():
    names = {layer.name for layer in create_model("resnet34", input_shape=(32, 32, 1)).layers}
    assert [arch for arch, levels in FEATURE_LEVELS.items() if set(levels.values()) <= names] == ["resnet34"]


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_output_shape_with_a_head(name):
    model = create_model(name, input_shape=(64, 64, 1), num_classes=3, head_activation="sigmoid")
    x = np.random.default_rng(0).random((2, 64, 64, 1), dtype=np.float32)
    y = keras.ops.convert_to_numpy(model(x, training=False))
    assert y.shape == (2, 3)
    assert np.all(np.isfinite(y)) and np.all((y >= 0) & (y <= 1))


def test_grouped_convolutions_are_where_the_papers_put_them():
    shufflenet = create_model("shufflenet_v1", input_shape=(32, 32, 1))
    assert shufflenet.get_layer("stage2_unit1_gconv1").groups == 1  # §3.3: the first pointwise conv of Stage 2
    assert shufflenet.get_layer("stage2_unit1_gconv2").groups == 3
    assert shufflenet.get_layer("stage2_unit2_gconv1").groups == 3
    assert shufflenet.get_layer("stage3_unit1_concat").output.shape[-1] == 480
    resnext = create_model("resnext50_32x4d", input_shape=(32, 32, 1))
    conv = resnext.get_layer("stage1_bottleneck1_conv2")
    assert conv.groups == 32 and conv.filters == 128 and tuple(conv.kernel.shape) == (3, 3, 4, 128)


@pytest.mark.parametrize("name,first,second", [
    ("resnext50_32x4d", "stage1_bottleneck2_conv2", "stage1_bottleneck3_conv2"),
    ("shufflenet_v1", "stage2_unit2_gconv1", "stage2_unit3_gconv1")])
def test_initialization_is_per_layer_and_follows_the_global_seed(name, first, second):
    def kernel(model, layer):
        return keras.ops.convert_to_numpy(model.get_layer(layer).kernel)

    keras.utils.set_random_seed(3)
    model = create_model(name, input_shape=(32, 32, 1))
    assert not np.allclose(kernel(model, first), kernel(model, second))  # same shape, own draws
    keras.utils.set_random_seed(3)
    np.testing.assert_array_equal(kernel(create_model(name, input_shape=(32, 32, 1)), first), kernel(model, first))


def test_channel_shuffle_is_the_papers_reshape_transpose():
    groups, per_group = 3, 4
    x = np.random.default_rng(1).random((2, 5, 6, groups * per_group), dtype=np.float32)
    expected = x.reshape(2, 5, 6, groups, per_group).transpose(0, 1, 2, 4, 3).reshape(x.shape)
    layer = ChannelShuffle(groups)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x)), expected)
    config = layer.get_config()
    assert config["groups"] == groups
    clone = ChannelShuffle.from_config(config)
    assert json.dumps(clone.get_config(), sort_keys=True) == json.dumps(config, sort_keys=True)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(restored(x)), expected)
    # a permutation, and every output group holds channels of every input group
    order = keras.ops.convert_to_numpy(layer(np.arange(12, dtype="float32").reshape(1, 1, 1, 12))).ravel()
    assert sorted(order.tolist()) == list(range(12))
    for group in range(groups):
        assert {int(c) // per_group for c in order[group * per_group:(group + 1) * per_group]} == set(range(groups))


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="divisible by 3"):
        ChannelShuffle(3)(np.zeros((1, 2, 2, 4), "float32"))
    with pytest.raises(ValueError, match="positive int"):
        ChannelShuffle(0)
    with pytest.raises(ValueError, match="divisible by 32"):
        create_model("hrnet_w32", input_shape=(100, 100, 1))
    with pytest.raises(ValueError, match="head_activation"):
        create_model("shufflenet_v1", input_shape=(32, 32, 1), num_classes=2, head_activation="relu")
