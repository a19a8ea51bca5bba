"""Attention maps of a ViT against a NumPy re-derivation from the layer weights (and the block's own output)."""

import numpy as np
import pytest

from keras_cxr.explain import attention_rollout, attention_weights, class_token_attention
from keras_cxr.models import vit

HEADS, DIM = 2, 16


def _model():
    return vit((32, 32, 1), patch_size=8, embed_dim=DIM, depth=3, num_heads=HEADS, mlp_dim=32)


def _layer_norm(x, gamma, beta, eps=1e-6):
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def _numpy_attention(block, tokens):
    """softmax(q kᵀ/√d) from the block's weights, and the attention branch's output (@ v, proj)."""
    gamma, beta = (np.asarray(w) for w in block.norm1.get_weights())
    w_qkv, b_qkv = block.attention.qkv.get_weights()
    w_proj, b_proj = block.attention.proj.get_weights()
    h = _layer_norm(tokens, gamma, beta)
    qkv = (h @ w_qkv + b_qkv).reshape(tokens.shape[0], tokens.shape[1], 3, HEADS, DIM // HEADS)
    q, k, v = (qkv[:, :, i].transpose(0, 2, 1, 3) for i in range(3))
    logits = q @ k.transpose(0, 1, 3, 2) / np.sqrt(DIM // HEADS)
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    out = (weights @ v).transpose(0, 2, 1, 3).reshape(tokens.shape) @ w_proj + b_proj
    return weights, out


def test_weights_equal_numpy_and_reproduce_the_blocks_attention_output():
    import keras

    model = _model()
    images = np.random.default_rng(0).random((2, 32, 32, 1)).astype("float32")
    found = attention_weights(model, images, batch_size=1)
    assert [w.shape for w in found] == [(2, HEADS, 17, 17)] * 3
    get = model.get_layer
    x = keras.ops.convert_to_numpy(get("cls_token")(get("position")(get("patch_embed")(images))))
    for i, weights in enumerate(found):
        block = get(f"block_{i}")
        expected, branch = _numpy_attention(block, x)
        np.testing.assert_allclose(weights, expected, atol=2e-5)
        np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
        # the same weights give the attention branch the model itself computes (its fused kernel)
        fused = keras.ops.convert_to_numpy(block.attention(block.norm1(x)))
        np.testing.assert_allclose(branch, fused, atol=2e-4)
        x = keras.ops.convert_to_numpy(block(x))


def test_rollout_equals_the_papers_recursion_and_maps_are_normalized():
    model = _model()
    images = np.random.default_rng(1).random((3, 32, 32, 1)).astype("float32")
    weights = attention_weights(model, images)
    eye = np.eye(17)
    expected = np.stack([eye] * 3)
    for w in weights:  # Abnar & Zuidema: Ã = 0.5 A + 0.5 I, rows renormalized, R = Ã_l R
        a = 0.5 * w.mean(1) + 0.5 * eye
        expected = (a / a.sum(-1, keepdims=True)) @ expected
    patches = expected[:, 0, 1:].reshape(3, 4, 4)
    maps = attention_rollout(model, images)
    assert maps.shape == (3, 32, 32)
    assert maps.min() >= 0 and np.isclose(maps.max(), 1.0)
    # the up-sampled map keeps the ranking of the 4 × 4 patch scores: argmax patch is where the map peaks
    for m, p in zip(maps, patches):
        row, col = np.unravel_index(np.argmax(p), p.shape)
        assert np.isclose(m[row * 8 + 3:row * 8 + 5, col * 8 + 3:col * 8 + 5].max(), 1.0, atol=0.05)
    last = class_token_attention(model, images)
    assert last.shape == (3, 32, 32) and np.isclose(last.max(), 1.0)


def test_models_holding_a_vit_and_errors():
    from keras_cxr.models import GMML

    gmml = GMML(image_size=32, patch_size=8, embed_dim=DIM, depth=2, num_heads=HEADS, mlp_dim=32, decoder_dim=16,
                bottleneck_dim=8, seed=0)
    assert len(attention_weights(gmml, np.zeros((1, 32, 32, 1), "float32"))) == 2
    import keras

    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="not a keras_cxr ViT"):
        attention_weights(plain, np.zeros((1, 4)))
    with pytest.raises(ValueError, match="head_fusion"):
        attention_rollout(_model(), np.zeros((1, 32, 32, 1)), head_fusion="min")
