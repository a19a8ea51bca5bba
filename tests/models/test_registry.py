"""The model registry: one test parametrized over every registered model (timm's tests/test_models.py idea),
plus the registry's own behaviour (close-match errors, patterns) and the shared `weights=` / feature API."""

import keras
import numpy as np
import pytest

from keras_cxr.models import (MAE, create_model, copy_weights, feature_extractor, feature_levels, list_models,
                              model_entry)
from keras_cxr.testing import run_model_test

c = keras.ops.convert_to_numpy
PRETRAINING = ("mae_vit_small", "dual_mae_vit_small", "gmml_vit_small")


BATCH = 4  # batch-norm statistics of 2 images are degenerate (every channel normalized to ±1)


def _batch(shape, num_classes, activation, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((BATCH, *shape), dtype=np.float32)
    if not num_classes:
        return x, None
    if activation == "softmax":
        return x, np.eye(num_classes, dtype="float32")[np.arange(BATCH) % num_classes]
    return x, rng.integers(0, 2, (BATCH, num_classes)).astype("float32")


# HRNet-W32 takes ~100 s here on TensorFlow (CI budget): `pytest -m slow` runs it; its shapes, feature
# levels and parameter count are checked in the default run by tests/models/test_cnn_backbones.py.
# dual_mae_vit_small and vit_base (~30 s / ~17 s on PyTorch, twice that on TensorFlow) are slow too: the
# dual_mae recipe tests and notebook train DualMAE in the default run, and vit_small stands for vit_base.
# densenet121 (~64 s on PyTorch) takes the keras.applications path that resnet50 / mobilenet_v2 / xception test
# here; tests/models/test_applications.py checks its parameter count and feature levels in the default run.
SLOW_MODELS = ("hrnet_w32", "dual_mae_vit_small", "vit_base", "densenet121")


# shufflenet_v1 and resnext50_32x4d take ~95 s each on TensorFlow (graph tracing of their grouped convolutions),
# unetr_vit_small 72 s and mae_vit_small 47 s: `slow_on_tensorflow` (CI budget). PyTorch runs them (10-26 s); on
# TensorFlow tests/models/test_cnn_backbones.py checks the first two's shapes and parameter counts, and the ss_cxr and
# dual_mae notebooks and tests train UNETR and MAE.
SLOW_ON_TENSORFLOW = ("shufflenet_v1", "resnext50_32x4d", "unetr_vit_small", "mae_vit_small")


def _registry_marks(name):
    return pytest.mark.slow if name in SLOW_MODELS else (
        pytest.mark.slow_on_tensorflow if name in SLOW_ON_TENSORFLOW else ())


@pytest.mark.parametrize("name", [pytest.param(n, marks=_registry_marks(n)) for n in list_models()])
def test_every_registered_model(name):
    entry = model_entry(name)
    overrides = dict(entry.test_overrides)
    model = create_model(name, **overrides)
    shape = tuple(overrides.get("input_shape", (224, 224, 1)))
    num_classes = overrides.get("num_classes", 0)
    x, y = _batch(shape, num_classes, overrides.get("head_activation"))
    if name in PRETRAINING:  # the model owns its loss; the target is the input
        result = run_model_test(model, x, loss=None)
        assert "reconstruction" in str(result["output_shape"])
    elif name == "vgg16_sharp_unet":
        result = run_model_test(model, x, x, loss="mae", expected_output_shape=(BATCH, *shape[:2], 1))
    elif name.startswith("unetr"):  # segmentation: a binary mask per pixel
        mask = (x > 0.5).astype("float32")
        result = run_model_test(model, x, mask, loss="binary_crossentropy", expected_output_shape=mask.shape)
    else:
        loss = "categorical_crossentropy" if overrides.get("head_activation") == "softmax" else "binary_crossentropy"
        result = run_model_test(model, x, y, loss=loss, expected_output_shape=(BATCH, num_classes))
    assert result["loss_after"] < result["loss_before"]


def test_every_builder_follows_the_contract_defaults():
    import inspect

    for name in list_models():
        parameters = inspect.signature(model_entry(name).builder).parameters
        for argument in ("input_shape", "num_classes", "head_activation", "weights", "name"):
            assert argument in parameters, f"{name} lacks {argument}"
        assert parameters["input_shape"].default == (224, 224, 1), name
        assert parameters["weights"].default is None, name


def test_unknown_name_lists_close_matches_and_patterns():
    with pytest.raises(ValueError, match=r"Unknown model 'resnet43'.*'resnet34'"):
        create_model("resnet43")
    assert list_models("vit_*") == ["vit_base", "vit_small", "vit_tiny"]
    assert set(PRETRAINING) - {"gmml_vit_small"} <= set(list_models("*mae*"))


@pytest.mark.parametrize("channels", [1, 3, 5])
def test_any_channel_count(channels):
    model = create_model("resnet34", input_shape=(32, 32, channels))
    assert model.output_shape == (None, 512)
    vit = create_model("vit_tiny", input_shape=(32, 32, channels), depth=1)
    assert vit.output_shape == (None, 192)


def test_bad_contract_arguments_are_named():
    with pytest.raises(ValueError, match="divisible by 16"):
        create_model("vit_small", input_shape=(30, 30, 1))
    with pytest.raises(ValueError, match="head_activation"):
        create_model("resnet34", input_shape=(32, 32, 1), num_classes=2, head_activation="relu")
    with pytest.raises(ValueError, match="without a head"):
        create_model("mae_vit_small", input_shape=(32, 32, 1), num_classes=3)
    with pytest.raises(FileNotFoundError, match="nope.weights.h5"):
        create_model("resnet34", input_shape=(32, 32, 1), weights="nope.weights.h5")


def test_feature_levels_of_cnns_have_the_right_strides():
    for name, shape, levels in (("resnet34", (64, 64, 1), {"P1": 2, "P2": 4, "P3": 8, "P4": 16, "P5": 32}),
                                ("vgg16", (64, 64, 1), {"P0": 1, "P1": 2, "P2": 4, "P3": 8, "P4": 16})):
        kwargs = {"width_multiplier": 0.0625} if name == "vgg16" else {}
        model = create_model(name, input_shape=shape, **kwargs)
        assert set(feature_levels(model)) == set(levels)
        outputs = feature_extractor(model)(np.zeros((1, *shape), "float32"))
        for level, stride in levels.items():
            assert tuple(outputs[level].shape[1:3]) == (shape[0] // stride, shape[1] // stride), (name, level)
    unet = create_model("vgg16_sharp_unet", input_shape=(32, 32, 1), width_multiplier=0.0625)
    assert feature_levels(unet) == feature_levels(create_model("vgg16", input_shape=(32, 32, 1),
                                                               width_multiplier=0.0625))


def test_vit_block_features_equal_a_manual_forward_pass():
    model = create_model("vit_tiny", input_shape=(32, 32, 1), depth=3, patch_size=8)
    assert list(feature_levels(model)) == ["block_0", "block_1", "block_2", "norm"]
    x = np.random.default_rng(1).random((2, 32, 32, 1), dtype=np.float32)
    features = feature_extractor(model, ["block_1", "norm"])(x)
    layer = model.get_layer
    tokens = layer("cls_token")(layer("position")(layer("patch_embed")(x)))
    block_1 = layer("block_1")(layer("block_0")(tokens))
    np.testing.assert_allclose(c(features["block_1"]), c(block_1), atol=1e-5)
    np.testing.assert_allclose(c(features["norm"])[:, 0], c(model(x)), atol=1e-5)  # pooled class token
    with pytest.raises(ValueError, match="no feature 'block_9'"):
        feature_extractor(model, ["block_9"])


def test_mae_encoder_is_a_vit_backbone_and_transfers_by_weights():
    mae = create_model("mae_vit_small", input_shape=(32, 32, 1), depth=2, decoder_depth=1, seed=0)
    assert isinstance(mae, MAE)
    encoder_weights = {id(w) for w in mae.encoder.weights}
    assert {id(w) for w in mae.trainable_weights} >= {id(w) for w in mae.encoder.trainable_weights}
    assert len(encoder_weights) > 0
    x = np.random.default_rng(2).random((2, 32, 32, 1), dtype=np.float32)
    # the MAE's encoding with no patch masked is the encoder's own forward pass
    latent, _, _ = mae.encode(x, noise=np.tile(np.arange(4, dtype="float32"), (2, 1)))
    keep = int(4 * (1 - mae.mask_ratio))
    assert latent.shape[1] == 1 + keep
    classifier = create_model("vit_small", input_shape=(48, 48, 1), num_classes=3, depth=2, weights=mae)
    for name in ("patch_embed", "cls_token", "block_0", "block_1", "norm"):
        for a, b in zip(classifier.get_layer(name).weights, mae.encoder.get_layer(name).weights):
            np.testing.assert_array_equal(c(a), c(b))
    dual = create_model("dual_mae_vit_small", input_shape=(32, 32, 1), depth=1, decoder_depth=1, seed=0)
    dual(x)
    vit = create_model("vit_small", input_shape=(32, 32, 1), depth=1, weights=dual)
    np.testing.assert_array_equal(c(vit.get_layer("block_0").weights[0]),
                                  c(dual.online.encoder.get_layer("block_0").weights[0]))


def test_weights_files_round_trip(tmp_path):
    source = create_model("resnet34", input_shape=(32, 32, 1), num_classes=2, head_activation="softmax")
    x = np.random.default_rng(3).random((2, 32, 32, 1), dtype=np.float32)
    source.save_weights(tmp_path / "r.weights.h5")
    source.save(tmp_path / "r.keras")
    for path in ("r.weights.h5", "r.keras"):
        loaded = create_model("resnet34", input_shape=(32, 32, 1), num_classes=2, head_activation="softmax",
                              weights=str(tmp_path / path))
        np.testing.assert_allclose(c(loaded(x)), c(source(x)), atol=1e-6)
    with pytest.raises(ValueError, match="could not be read as a PyTorch checkpoint"):
        create_model("vit_tiny", input_shape=(32, 32, 1), weights=str(tmp_path / "r.weights.h5").replace(
            "r.weights.h5", "x.pth")) if (tmp_path / "x.pth").write_bytes(b"0") else None


def test_copy_weights_adapts_rgb_kernels_and_rejects_mismatches():
    rgb = create_model("resnet34", input_shape=(32, 32, 3), num_classes=10)
    gray = create_model("resnet34", input_shape=(32, 32, 1), num_classes=2)
    copied = copy_weights(rgb, gray)
    assert "stem_conv" in copied and "head" not in copied
    np.testing.assert_allclose(c(gray.get_layer("stem_conv").kernel),
                               c(rgb.get_layer("stem_conv").kernel).sum(axis=2, keepdims=True), rtol=1e-6)
    with pytest.raises(ValueError, match="shapes differ"):
        copy_weights(create_model("vit_tiny", input_shape=(32, 32, 1), depth=1),
                     create_model("vit_small", input_shape=(32, 32, 1), depth=1))


def test_num_classes_none_means_no_head():
    """issue 29, point 8: `num_classes=None`, what many users pass for "no head", builds the backbone."""
    from keras_cxr.models import create_model

    for name in ("resnet34", "vit_tiny", "mobilenet_v2"):
        backbone = create_model(name, input_shape=(32, 32, 1), num_classes=None)
        reference = create_model(name, input_shape=(32, 32, 1), num_classes=0)
        assert backbone.output_shape == reference.output_shape, name
