"""ViT builders: timm parameter counts, heads, stochastic depth, `.keras` round trip."""

import keras
import numpy as np
import pytest

from keras_cxr.models import ViT, vit, vit_base, vit_small, vit_tiny
from keras_cxr.models.vit import PRESETS
from keras_cxr.testing import assert_keras_round_trip

TINY = dict(input_shape=(32, 32, 1), patch_size=8, embed_dim=32, depth=2, num_heads=2, mlp_dim=64)


def timm_vit_params(width, depth, mlp, channels=3, patch=16, image=224):
    """timm VisionTransformer without head (num_classes=0), learned pos_embed incl. the class position."""
    patch_embed = patch * patch * channels * width + width
    tokens = (image // patch) ** 2
    block = (2 * 2 * width  # two LayerNorms
             + width * 3 * width + 3 * width + width * width + width  # qkv + proj
             + width * mlp + mlp + mlp * width + width)  # MLP
    return patch_embed + width + (tokens + 1) * width + depth * block + 2 * width  # + cls, pos, final norm


def test_vit_small_parameter_count_equals_timm():
    model = vit_small((224, 224, 3), num_classes=0)
    timm = timm_vit_params(384, 12, 1536)
    assert timm == 21_665_664  # timm.create_model("vit_small_patch16_224", num_classes=0)
    # Ours keeps MAE's fixed sin-cos positions: a non-trainable (196, 384) table; the class token's
    # position row of timm's (197, 384) learned table is MAE's zero row, which we do not store.
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == timm - 197 * 384 == 21_590_016
    assert model.count_params() == timm - 384
    one_channel = vit_small()  # paper 000: 1-channel input → the patch projection has 16·16·2·384 fewer weights
    assert one_channel.count_params() == model.count_params() - 16 * 16 * 2 * 384
    assert model.output_shape == (None, 384)


def test_presets_and_head():
    assert PRESETS == {"tiny": (192, 12, 3, 768), "small": (384, 12, 6, 1536), "base": (768, 12, 12, 3072)}
    tiny = vit_tiny((32, 32, 3))
    assert tiny.count_params() == timm_vit_params(192, 12, 768, image=32) - 192
    assert vit_base.__name__ == "vit_base" and ViT is vit
    x = np.random.default_rng(0).random((2, 32, 32, 1)).astype("float32")
    model = vit(num_classes=6, head_activation="sigmoid", drop_path_rate=0.2, **TINY)
    probs = keras.ops.convert_to_numpy(model(x))
    assert probs.shape == (2, 6) and ((probs > 0) & (probs < 1)).all()
    assert [model.get_layer(f"block_{i}").drop_path_rate for i in range(2)] == [0.0, pytest.approx(0.2)]
    mean = vit(pooling="mean", **TINY)
    assert mean.output_shape == (None, 32)
    limit = np.sqrt(6 / (32 + 6))
    assert np.abs(keras.ops.convert_to_numpy(model.get_layer("head").kernel)).max() <= limit


def test_vit_keras_round_trip():
    x = np.random.default_rng(2).random((2, 32, 32, 1)).astype("float32")
    model = vit(num_classes=3, head_activation="sigmoid", drop_path_rate=0.1, **TINY)
    assert_keras_round_trip(model, x)
