import keras
import numpy as np
import pytest

from keras_cxr.callbacks import EMATargetUpdate, WarmupCosineDecay, scaled_lr
from keras_cxr.layers import (DropPath, PatchEmbedding, RandomPatchMasking, TransformerBlock, patchify,
                              sincos_position_embedding, unpatchify)
from keras_cxr.models import MAE, DualMAE, vit, vit_from_mae, vit_small
from keras_cxr.models.mae import masked_mse
from keras_cxr.optimizers import LayerDecayAdamW
from keras_cxr.testing import assert_config_round_trip, assert_keras_round_trip

TINY = dict(image_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, mlp_dim=64, decoder_dim=16,
            decoder_depth=1, decoder_num_heads=2)
c = keras.ops.convert_to_numpy


def test_masking_invariants():
    tokens = np.random.default_rng(0).normal(size=(3, 49, 4)).astype("float32")
    layer = RandomPatchMasking(0.75, seed=1)
    visible, mask, restore = (c(v) for v in layer(tokens))
    kept = round(49 * 0.25)
    assert visible.shape == (3, kept, 4) and (mask.sum(1) == 49 - kept).all()
    shuffled_back = np.take_along_axis(np.argsort(restore, 1), restore, 1)
    np.testing.assert_array_equal(shuffled_back, np.tile(np.arange(49), (3, 1)))  # restore inverts the shuffle
    for b in range(3):  # visible tokens are exactly the unmasked ones
        assert {tuple(t) for t in visible[b]} == {tuple(t) for t in tokens[b][mask[b] == 0]}
    again = [c(v) for v in RandomPatchMasking(0.75, seed=1)(tokens)]
    np.testing.assert_array_equal(again[1], mask)
    assert_config_round_trip(layer)
    with pytest.raises(ValueError):
        RandomPatchMasking(1.0)


def test_patchify_round_trip_and_sincos_table():
    x = np.random.default_rng(0).random((2, 16, 16, 1)).astype("float32")
    np.testing.assert_allclose(c(unpatchify(patchify(x, 4), 4, 16)), x)
    np.testing.assert_allclose(c(patchify(x, 4))[0, 1], x[0, 0:4, 4:8, 0].ravel())
    table = sincos_position_embedding(8, 3, class_token=True)
    assert table.shape == (10, 8) and np.all(table[0] == 0)
    np.testing.assert_allclose(table[1 + 3 * 1 + 2, [0, 2]], [np.sin(2), np.cos(2)])  # row 1, col 2: col part


def test_drop_path_drops_whole_samples():
    out = c(DropPath(0.5, seed=0)(np.ones((64, 3, 2), "float32"), training=True))
    per_sample = out.reshape(64, -1)
    assert set(np.unique(per_sample)) <= {0.0, 2.0} and (per_sample.min(1) == per_sample.max(1)).all()


def test_vit_small_parameter_count():
    model = vit_small(channels=3)
    # timm vit_small_patch16_224 without head: 21,665,664 incl. a learned pos-embed of 197 x 384;
    # ours keeps the position embedding fixed (not a weight), so subtract it.
    assert model.count_params() == 21_665_664 - 197 * 384
    one_channel = vit_small()  # paper 000 input: 1 channel → patch projection 16·16·1·384 instead of ·3
    assert one_channel.count_params() == model.count_params() - 16 * 16 * 2 * 384


def test_mae_loss_equals_numpy_recomputation_and_training_step():
    model = MAE(seed=0, **TINY)
    x = np.random.default_rng(0).random((4, 32, 32, 1)).astype("float32")
    out = model(x)
    pred, mask = c(out["reconstruction"]), c(out["mask"])
    target = c(patchify(x, 8))
    expected = (((pred - target) ** 2).mean(-1) * mask).sum() / mask.sum()
    assert abs(float(model.compute_loss(x=x, y_pred=out)) - expected) < 1e-5
    model.compile(optimizer=keras.optimizers.AdamW(1e-3))
    history = model.fit(x, epochs=8, batch_size=4, verbose=0).history["loss"]
    assert history[-1] < history[0]


def test_dual_mae_terms_and_ema(tmp_path):
    model = DualMAE(seed=0, **TINY)
    x = np.random.default_rng(1).random((4, 32, 32, 1)).astype("float32")
    out = model(x)
    for o, t in zip(model.online.trainable_weights, model.target.weights):
        np.testing.assert_array_equal(c(o), c(t))  # target starts as a copy of the online network
    assert not np.array_equal(c(out["online"]["mask"]), c(out["target"]["mask"]))  # independent masks
    consistency, online, target = (float(v) for v in model.loss_terms(x, out))
    y1, y2 = c(out["online"]["reconstruction"]), c(out["target"]["reconstruction"])
    assert abs(consistency - ((y1 - y2) ** 2).mean()) < 1e-6
    expected_online = float(masked_mse(patchify(x, 8), keras.ops.convert_to_tensor(y1), out["online"]["mask"]))
    assert abs(online - expected_online) < 1e-6
    assert abs(float(model.compute_loss(x=x, y_pred=out)) - (consistency + online + target)) < 1e-5
    # EMA equation on known weights: after one batch, ξ = τ·ξ_0 + (1 − τ)·θ_1.
    model.compile(optimizer=keras.optimizers.AdamW(1e-2))
    xi0 = [c(w).copy() for w in model.target.weights]
    model.fit(x, epochs=1, batch_size=4, verbose=0, callbacks=[EMATargetUpdate(tau=0.9)])
    theta1 = [c(w) for w in model.online.weights]
    for w, t0, th, t in zip(model.online.weights, xi0, theta1, [c(w) for w in model.target.weights]):
        if "seed_generator" in w.path:
            continue
        expected = 0.9 * t0 + 0.1 * th if w.trainable else th
        np.testing.assert_allclose(t, expected, atol=1e-6)
    assert model.target.trainable_weights == []
    assert not any("target" in v.path for v in model.trainable_variables)
    history = model.fit(x, epochs=6, batch_size=4, verbose=0, callbacks=[EMATargetUpdate(0.99)]).history
    assert history["online_loss"][-1] < history["online_loss"][0]
    assert {"consistency_loss", "online_loss", "target_loss"} <= set(history)


def test_keras_round_trips():
    x = np.random.default_rng(2).random((2, 32, 32, 1)).astype("float32")
    classifier = vit(num_classes=3, head_activation="sigmoid", drop_path_rate=0.1, **{k: v for k, v in TINY.items()
                                                                                      if not k.startswith("decoder")})
    assert_keras_round_trip(classifier, x)
    for layer in (PatchEmbedding(8, 16), TransformerBlock(2, 8, drop_path_rate=0.1), DropPath(0.2)):
        assert_config_round_trip(layer)


def test_mae_save_load_and_transfer(tmp_path):
    model = MAE(seed=0, **TINY)
    x = np.random.default_rng(3).random((2, 32, 32, 1)).astype("float32")
    model(x)
    model.save(tmp_path / "mae.keras")
    loaded = keras.saving.load_model(tmp_path / "mae.keras")
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(c(a), c(b))
    classifier = vit_from_mae(model, num_classes=6, head_activation="sigmoid")
    np.testing.assert_array_equal(c(classifier.get_layer("block_1").weights[0]), c(model.blocks[1].weights[0]))
    reconstruction, masked = model.reconstruct(x)
    assert tuple(reconstruction.shape) == (2, 32, 32, 1) and tuple(masked.shape) == (2, 32, 32, 1)


def test_schedule_and_layer_decay():
    schedule = WarmupCosineDecay(2.5e-3, warmup_steps=5, decay_steps=75)
    steps = np.array([0, 2, 5, 40, 75])
    expected = np.where(steps < 5, 2.5e-3 * steps / 5, 0.5 * 2.5e-3 * (1 + np.cos(np.pi * (steps - 5) / 70)))
    np.testing.assert_allclose([float(schedule(s)) for s in steps], expected, rtol=1e-5, atol=1e-9)
    assert scaled_lr(1.5e-4, 256) == 1.5e-4
    model = vit(num_classes=2, head_activation="softmax", **{k: v for k, v in TINY.items() if not k.startswith("decoder")})
    optimizer = LayerDecayAdamW(learning_rate=1e-2, layer_decay=0.55, num_layers=2, weight_decay=0.0)
    scales = {w.path.split("/")[0]: optimizer.scale_for(w.path) for w in model.trainable_weights}
    assert scales["patch_embed"] == pytest.approx(0.55**3) and scales["block_0"] == pytest.approx(0.55**2)
    assert scales["block_1"] == pytest.approx(0.55) and scales["head"] == 1.0
    # One step with Adam moves every weight by ≈ its lr: deeper layers move more.
    before = {w.path: c(w).copy() for w in model.trainable_weights}
    model.compile(optimizer=optimizer, loss="categorical_crossentropy")
    x = np.random.default_rng(0).random((4, 32, 32, 1)).astype("float32")
    model.train_on_batch(x, np.eye(2)[[0, 1, 0, 1]])
    moved = {w.path: np.abs(c(w) - before[w.path]).max() for w in model.trainable_weights}
    head = max(v for k, v in moved.items() if k.startswith("head"))
    embed = max(v for k, v in moved.items() if k.startswith("patch_embed"))
    assert embed < head * 0.55**2
    assert abs(head - 1e-2) < 2e-3 and abs(embed - 1e-2 * 0.55**3) < 1e-3


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_training_step(policy):
    keras.mixed_precision.set_global_policy(policy)
    try:
        model = DualMAE(seed=0, **TINY) if policy == "mixed_float16" else MAE(seed=0, **TINY)
        model.compile(optimizer=keras.optimizers.AdamW(1e-3))
        x = np.random.default_rng(0).random((2, 32, 32, 1)).astype("float32")
        loss = model.train_on_batch(x)
        assert np.all(np.isfinite(loss))
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_resnet34_parameter_count_matches_torchvision():
    from keras_cxr.models import resnet34

    model = resnet34((224, 224, 3), num_classes=1000)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == 21_797_672  # torchvision.models.resnet34()
