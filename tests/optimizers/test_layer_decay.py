"""LayerDecayAdamW: per-layer rates of a ViT-Ti, per-variable steps, weight decay with the scaled lr."""

import keras
import numpy as np
import pytest

from keras_cxr.models import vit, vit_tiny
from keras_cxr.optimizers import LayerDecayAdamW, vit_layer_id

c = keras.ops.convert_to_numpy
TINY = dict(input_shape=(32, 32, 1), patch_size=8, embed_dim=32, depth=2, num_heads=2, mlp_dim=64)


def test_layer_decay_table_for_vit_tiny():
    model = vit_tiny(num_classes=6, head_activation="sigmoid")
    optimizer = LayerDecayAdamW(learning_rate=1e-3, layer_decay=0.55)
    optimizer.build(model.trainable_variables)
    assert optimizer.num_layers == 12  # inferred from block_0 … block_11
    scales = optimizer.layer_scales(model.trainable_variables)
    by_layer = {}
    for path, scale in scales.items():
        by_layer.setdefault(path.split("/")[0], set()).add(scale)
    table = {name: s.pop() for name, s in by_layer.items() if len(s) == 1}
    assert set(table) == set(by_layer)  # one scale per layer
    # BEiT / MAE: patch embedding and class token ℓ = 0, block i ℓ = i + 1, norm and head ℓ = 13.
    expected = {"patch_embed": 0.55**13, "cls_token": 0.55**13, "norm": 1.0, "head": 1.0,
                **{f"block_{i}": 0.55 ** (12 - i) for i in range(12)}}
    assert table == pytest.approx(expected, rel=1e-12)
    assert vit_layer_id("online/block_7/fc1/kernel", 12) == 8
    assert vit_layer_id("decoder/decoder_block_0/fc1/kernel", 12) == 13


def test_one_step_with_identical_gradients_moves_deeper_layers_more():
    model = vit(num_classes=2, **TINY)
    variables = model.trainable_variables
    before = [c(v).copy() for v in variables]
    optimizer = LayerDecayAdamW(learning_rate=1e-2, layer_decay=0.5, weight_decay=0.0)
    optimizer.apply([keras.ops.ones(v.shape) for v in variables], variables)
    for v, b in zip(variables, before):
        step = b - c(v)  # Adam's first step with g = 1: lr · scale · (1 − tiny epsilon term)
        np.testing.assert_allclose(step, 1e-2 * optimizer.scale_for(v.path), rtol=1e-4)
    moved = {v.path.split("/")[0]: float(np.abs(b - c(v)).max()) for v, b in zip(variables, before)}
    assert moved["patch_embed"] < moved["block_0"] < moved["block_1"] < moved["head"]
    assert moved["block_0"] == pytest.approx(1e-2 * 0.5**2, rel=1e-4)


def test_weight_decay_uses_the_scaled_lr_and_skips_1d_and_tokens():
    model = vit(num_classes=2, **TINY)
    variables = model.trainable_variables
    before = [c(v).copy() for v in variables]
    optimizer = LayerDecayAdamW(learning_rate=1e-2, layer_decay=0.5, weight_decay=0.05, num_layers=2)
    optimizer.apply([keras.ops.zeros(v.shape) for v in variables], variables)  # zero gradients: decay only
    for v, b in zip(variables, before):
        no_decay = len(v.shape) == 1 or "cls_token" in v.path
        expected = b if no_decay else b * (1 - 1e-2 * optimizer.scale_for(v.path) * 0.05)
        np.testing.assert_allclose(c(v), expected, rtol=1e-6, atol=1e-9)


def test_fit_step_and_serialization():
    model = vit(num_classes=2, head_activation="softmax", **TINY)
    optimizer = LayerDecayAdamW(learning_rate=1e-2, layer_decay=0.55, num_layers=2, weight_decay=0.0)
    model.compile(optimizer=optimizer, loss="categorical_crossentropy", run_eagerly=True)
    before = {v.path: c(v).copy() for v in model.trainable_variables}
    x = np.random.default_rng(0).random((4, 32, 32, 1)).astype("float32")
    model.train_on_batch(x, np.eye(2)[[0, 1, 0, 1]])
    moved = {v.path: np.abs(c(v) - before[v.path]).max() for v in model.trainable_variables}
    assert moved["head/kernel"] == pytest.approx(1e-2, rel=0.2)
    assert moved["patch_embed/projection/kernel"] == pytest.approx(1e-2 * 0.55**3, rel=0.2)
    clone = LayerDecayAdamW.from_config(optimizer.get_config())
    assert (clone.layer_decay, clone.num_layers, clone.skip_weight_decay_1d) == (0.55, 2, True)
    assert clone.scale_for("block_0/fc1/kernel") == optimizer.scale_for("block_0/fc1/kernel")
    with pytest.raises(ValueError):
        LayerDecayAdamW(layer_decay=0.0)
