"""ViT / MAE layers: patch embedding, sin-cos positions, random masking, DropPath, transformer block, decoder."""

import keras
import numpy as np
import pytest

from keras_cxr.layers import (ClassToken, DropPath, MAEDecoder, MultiHeadSelfAttention, PatchEmbedding,
                              RandomPatchMasking, SinCosPositionEmbedding, TransformerBlock, patchify,
                              sincos_position_embedding, unpatchify)
from keras_cxr.testing import assert_config_round_trip

c = keras.ops.convert_to_numpy


def test_patch_embedding_is_a_linear_map_of_patchify_in_raster_order():
    x = np.random.default_rng(0).random((2, 16, 24, 2)).astype("float32")
    layer = PatchEmbedding(8, 6)
    tokens = c(layer(x))
    kernel, bias = (c(w) for w in layer.weights)  # (p, p, C, D): row, column, channel → patchify's order
    expected = c(patchify(x, 8)) @ kernel.reshape(-1, 6) + bias
    np.testing.assert_allclose(tokens, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(c(patchify(x, 8))[0, 1], x[0, 0:8, 8:16].ravel())  # 2nd patch: row 0, col 1
    np.testing.assert_allclose(c(unpatchify(patchify(x, 8), 8, (16, 24), channels=2)), x)
    assert_config_round_trip(layer)
    with pytest.raises(ValueError, match="divisible"):
        PatchEmbedding(8, 6)(np.zeros((1, 12, 16, 1), "float32"))


def test_patch_embedding_xavier_over_the_flattened_matrix_as_mae():
    layer = PatchEmbedding(16, 384)
    layer.build((None, 224, 224, 1))
    kernel = c(layer.weights[0])
    limit = np.sqrt(6 / (16 * 16 * 1 + 384))  # xavier_uniform on the (p²·C, D) matrix
    assert 0.97 * limit < np.abs(kernel).max() <= limit


def _mae_reference_table(embed_dim, grid_size):
    """facebookresearch/mae util/pos_embed.py, transcribed."""
    def one_d(dim, pos):
        omega = 1.0 / 10000 ** (np.arange(dim // 2, dtype=np.float64) / (dim / 2.0))
        out = np.einsum("m,d->md", pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)

    grid = np.stack(np.meshgrid(np.arange(grid_size, dtype=np.float32), np.arange(grid_size, dtype=np.float32)), 0)
    table = np.concatenate([one_d(embed_dim // 2, grid[0]), one_d(embed_dim // 2, grid[1])], axis=1)
    return np.concatenate([np.zeros([1, embed_dim]), table], axis=0)


def test_sincos_table_matches_mae_and_is_a_fixed_weight():
    np.testing.assert_allclose(sincos_position_embedding(32, 5), _mae_reference_table(32, 5), atol=1e-6)
    layer = SinCosPositionEmbedding(class_token=False)
    tokens = np.random.default_rng(0).random((2, 16, 8)).astype("float32")
    np.testing.assert_allclose(c(layer(tokens)) - tokens, np.broadcast_to(sincos_position_embedding(8, 4, False),
                                                                          (2, 16, 8)), atol=1e-6)
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 1
    rectangular = SinCosPositionEmbedding(class_token=False, grid_size=(2, 3))
    assert tuple(rectangular(np.zeros((1, 6, 8), "float32")).shape) == (1, 6, 8)
    assert_config_round_trip(rectangular)
    with pytest.raises(ValueError, match="grid"):
        SinCosPositionEmbedding(class_token=False)(np.zeros((1, 6, 8), "float32"))


def test_class_token():
    layer = ClassToken()
    out = c(layer(np.ones((3, 4, 8), "float32")))
    assert out.shape == (3, 5, 8)
    np.testing.assert_array_equal(out[:, 0], np.broadcast_to(c(layer.token)[0], (3, 8)))


def test_masking_invariants():
    tokens = np.random.default_rng(0).normal(size=(3, 49, 4)).astype("float32")
    layer = RandomPatchMasking(0.75, seed=1)
    visible, mask, restore = (c(v) for v in layer(tokens))
    kept = round(49 * 0.25)  # 12
    assert visible.shape == (3, kept, 4) and (mask.sum(1) == 49 - kept).all() and set(np.unique(mask)) == {0, 1}
    # Restoring inverts the shuffle: shuffle = argsort(restore); take(take(x, shuffle), restore) == x.
    shuffle = np.argsort(restore, 1)
    shuffled = np.take_along_axis(tokens, shuffle[..., None], 1)
    np.testing.assert_array_equal(shuffled[:, :kept], visible)
    np.testing.assert_array_equal(np.take_along_axis(shuffled, restore[..., None], 1), tokens)
    # As the decoder uses it: [visible, mask tokens] restored puts the visible tokens back in place.
    filled = np.concatenate([visible, np.zeros((3, 49 - kept, 4), "float32")], 1)
    np.testing.assert_array_equal(np.take_along_axis(filled, restore[..., None], 1), tokens * (1 - mask[..., None]))
    # Same seed → same masks; a second call draws new ones; noise fixes them explicitly.
    np.testing.assert_array_equal(c(RandomPatchMasking(0.75, seed=1)(tokens)[1]), mask)
    assert not np.array_equal(c(layer(tokens)[1]), mask)
    noise = np.random.default_rng(1).random((3, 49)).astype("float32")
    _, fixed, _ = layer(tokens, noise=noise)
    ranks = np.argsort(np.argsort(noise, 1), 1)
    np.testing.assert_array_equal(c(fixed), (ranks >= kept).astype("float32"))
    assert RandomPatchMasking(0.9).num_kept(196) == 20 and RandomPatchMasking(0.65).num_kept(196) == 69
    assert_config_round_trip(layer)
    with pytest.raises(ValueError):
        RandomPatchMasking(1.0)


def test_drop_path_drops_whole_samples():
    x = np.ones((256, 3, 2), "float32")
    out = c(DropPath(0.25, seed=0)(x, training=True)).reshape(256, -1)
    assert set(np.unique(out)) <= {np.float32(0), np.float32(1 / 0.75)} and (out.min(1) == out.max(1)).all()
    assert 0.6 < (out[:, 0] > 0).mean() < 0.9
    np.testing.assert_array_equal(c(DropPath(0.25)(x, training=False)), x)
    assert_config_round_trip(DropPath(0.2, seed=3))


def _layer_norm(x, gamma, beta):
    return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-6) * gamma + beta


def test_transformer_block_matches_a_numpy_timm_block():
    from scipy.special import erf

    x = np.random.default_rng(0).normal(size=(2, 5, 8)).astype("float32")
    block = TransformerBlock(num_heads=2, mlp_dim=16, name="block")
    block.build((None, 5, 8))
    w = {v.path.split("/", 1)[1]: c(v).astype("float64") for v in block.weights}
    for key in list(w):  # give LayerNorm non-trivial parameters
        if "gamma" in key or "beta" in key:
            w[key] = np.random.default_rng(len(key)).normal(size=w[key].shape)
    for v in block.weights:
        v.assign(w[v.path.split("/", 1)[1]].astype("float32"))
    out = c(block(x)).astype("float64")

    def attention(h):
        qkv = (h @ w["attention/qkv/kernel"] + w["attention/qkv/bias"]).reshape(2, 5, 3, 2, 4).transpose(2, 0, 3, 1, 4)
        q, k, v = qkv  # (B, heads, N, head_dim), timm's layout
        scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(4)
        probs = np.exp(scores - scores.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        merged = (probs @ v).transpose(0, 2, 1, 3).reshape(2, 5, 8)
        return merged @ w["attention/proj/kernel"] + w["attention/proj/bias"]

    y = x + attention(_layer_norm(x, w["norm1/gamma"], w["norm1/beta"]))
    hidden = _layer_norm(y, w["norm2/gamma"], w["norm2/beta"]) @ w["fc1/kernel"] + w["fc1/bias"]
    hidden = 0.5 * hidden * (1 + erf(hidden / np.sqrt(2)))  # exact GELU, as torch.nn.GELU
    np.testing.assert_allclose(out, y + hidden @ w["fc2/kernel"] + w["fc2/bias"], rtol=1e-4, atol=1e-4)
    limit = np.sqrt(6 / (8 + 24))  # xavier_uniform on MAE's fused qkv Linear(D, 3D)
    assert np.abs(w["attention/qkv/kernel"]).max() <= limit and not w["attention/qkv/bias"].any()
    assert_config_round_trip(TransformerBlock(2, 16, drop_path_rate=0.1))
    assert_config_round_trip(MultiHeadSelfAttention(4))


def test_half_precision_attention_on_cpu_is_the_explicit_form_and_matches_float32():
    # Off a GPU, bfloat16 attention takes the written-out path (batched matmuls + softmax); it must agree with the
    # float32 fused path on the same weights to bfloat16 accuracy, and both with a float64 NumPy reference.
    x = np.random.default_rng(3).normal(size=(2, 9, 16)).astype("float32")
    full = MultiHeadSelfAttention(4)
    half = MultiHeadSelfAttention(4, dtype="mixed_bfloat16")
    full.build(x.shape), half.build(x.shape)
    for source, target in zip(full.weights, half.weights):
        target.assign(source)
    from keras_cxr.layers.transformer_block import _fused_attention_pays

    assert _fused_attention_pays(keras.ops.convert_to_tensor(x))
    assert not _fused_attention_pays(keras.ops.cast(x, "bfloat16"))
    w = {v.path.rsplit("/", 2)[-2] + "/" + v.path.rsplit("/", 1)[-1]: c(v).astype("float64") for v in full.weights}
    q, k, v = (x @ w["qkv/kernel"] + w["qkv/bias"]).reshape(2, 9, 3, 4, 4).transpose(2, 0, 3, 1, 4)
    scores = q @ k.transpose(0, 1, 3, 2) / 2.0
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    expected = (probs @ v).transpose(0, 2, 1, 3).reshape(2, 9, 16) @ w["proj/kernel"] + w["proj/bias"]
    np.testing.assert_allclose(c(full(x)), expected, rtol=1e-4, atol=1e-4)
    out = c(keras.ops.cast(half(x), "float32"))
    assert np.abs(out - expected).max() < 0.05 * np.abs(expected).max()


def test_transformer_block_query_start_gives_the_trailing_outputs_of_the_full_block():
    x = np.random.default_rng(1).normal(size=(2, 7, 8)).astype("float32")
    block = TransformerBlock(num_heads=2, mlp_dim=16)
    full = c(block(x))
    np.testing.assert_allclose(c(block(x, query_start=3)), full[:, 3:], rtol=1e-5, atol=1e-5)


def test_mae_decoder_masked_only_predicts_the_masked_patches_of_the_full_pass():
    latent = np.random.default_rng(2).normal(size=(2, 1 + 4, 12)).astype("float32")
    restore = np.stack([np.random.default_rng(s).permutation(16) for s in range(2)]).astype("int32")
    masked = restore >= 4  # the masking's convention: the first K shuffled positions are the visible ones
    for depth in (0, 1, 2):
        decoder = MAEDecoder(patch_dim=16, decoder_dim=8, depth=depth, num_heads=2)
        full, pruned = c(decoder(latent, restore)), c(decoder(latent, restore, masked_only=True))
        np.testing.assert_allclose(pruned[masked], full[masked], rtol=1e-5, atol=1e-5)
        assert not pruned[~masked].any() and np.abs(full[~masked]).max() > 0


def test_mae_decoder_restores_order_and_fills_masked_positions_with_the_mask_token():
    # Without blocks the decoder acts per position: out[n] = pred(LN(token_n + pos_n)), where token_n is the
    # embedded visible latent sent back to n by the restore indices, or the mask token.
    decoder = MAEDecoder(patch_dim=16, decoder_dim=8, depth=0, num_heads=2)
    latent = np.random.default_rng(0).normal(size=(2, 1 + 4, 12)).astype("float32")
    restore = np.stack([np.random.default_rng(s).permutation(16) for s in range(2)]).astype("int32")
    out = c(decoder(latent, restore)).astype("float64")
    w = {v.path.split("/", 1)[1]: c(v).astype("float64") for v in decoder.weights}
    embedded = latent @ w["decoder_embed/kernel"] + w["decoder_embed/bias"]
    filled = np.concatenate([embedded[:, 1:], np.broadcast_to(w["mask_token"], (2, 12, 8))], 1)
    tokens = np.take_along_axis(filled, restore[..., None], 1) + sincos_position_embedding(8, 4, False)
    normed = _layer_norm(tokens, w["decoder_norm/gamma"], w["decoder_norm/beta"])
    expected = normed @ w["decoder_prediction/kernel"] + w["decoder_prediction/bias"]
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)
    deep = MAEDecoder(patch_dim=16, decoder_dim=8, depth=2, num_heads=2)
    assert tuple(deep(latent, restore).shape) == (2, 16, 16)
    assert_config_round_trip(deep)
