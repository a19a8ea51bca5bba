"""MAE and DualMAE: loss terms against numpy, a training step lowers the loss, EMA target, `.keras`, bf16."""

import keras
import numpy as np
import pytest

from keras_cxr.callbacks import EMATargetUpdate
from keras_cxr.layers import patchify
from keras_cxr.models import MAE, DualMAE, create_model
from keras_cxr.optimizers import AdamW

TINY = dict(image_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, mlp_dim=64, decoder_dim=16,
            decoder_depth=1, decoder_num_heads=2)
c = keras.ops.convert_to_numpy
# The TensorFlow graph path of fit is exercised by the distribution and recipe tests; tracing a tf.function
# per test would cost ~10 s each here. The torch backend runs eagerly anyway.
RUN_EAGERLY = True


def _images(n=4, seed=0):
    """Smooth images in [0, 1] (a gradient plus a blob), so a tiny model learns something in few steps."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:32, 0:32] / 31.0
    out = [0.3 + 0.4 * (a * xx + (1 - a) * yy) + 0.3 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 0.02)
           for a, cx, cy in rng.random((n, 3))]
    return np.clip(np.stack(out)[..., None], 0, 1).astype("float32")


def _noise(seed, n=4):
    return np.random.default_rng(seed).random((n, 16)).astype("float32")


def _seed_states(model):
    return [v for v in model.weights if "seed_generator" in v.path]


def _loss_before_and_after_one_step(model, x):
    """Eq. loss on the masks the training step itself draws: random-generator states saved and restored."""
    states = [c(v).copy() for v in _seed_states(model)]

    def loss():
        for v, s in zip(_seed_states(model), states):
            v.assign(s)
        return float(c(model.compute_loss(x=x, y_pred=model(x, training=False))))

    before = loss()
    for v, s in zip(_seed_states(model), states):
        v.assign(s)
    model.train_on_batch(x)
    return before, loss()


def _masked_mse(target, prediction, mask):
    return float((((prediction - target) ** 2).mean(-1) * mask).sum() / mask.sum())


def test_mae_loss_equals_numpy_recomputation_with_a_fixed_mask():
    model = MAE(seed=0, **TINY)
    x, noise = _images(), _noise(1)
    out = model(x, noise=noise)
    prediction, mask = c(out["reconstruction"]), c(out["mask"])
    np.testing.assert_array_equal(mask, (np.argsort(np.argsort(noise, 1), 1) >= 4).astype("float32"))
    target = c(patchify(x, 8))
    assert float(c(model.compute_loss(x=x, y_pred=out))) == pytest.approx(_masked_mse(target, prediction, mask), rel=1e-5)
    normalized = MAE(norm_pix_loss=True, seed=0, **TINY)
    out = normalized(x, noise=noise)
    t = (target - target.mean(-1, keepdims=True)) / np.sqrt(target.var(-1, keepdims=True) + 1e-6)
    assert float(c(normalized.compute_loss(x=x, y_pred=out))) == pytest.approx(
        _masked_mse(t, c(out["reconstruction"]), c(out["mask"])), rel=1e-4)


def test_training_pass_decodes_only_masked_patches_with_the_same_loss():
    model = MAE(seed=0, **TINY)
    x, noise = _images(), _noise(5)
    full, pruned = model(x, noise=noise, training=False), model(x, noise=noise, training=True)
    mask = c(full["mask"]).astype(bool)
    np.testing.assert_array_equal(c(pruned["mask"]), c(full["mask"]))
    np.testing.assert_allclose(c(pruned["reconstruction"])[mask], c(full["reconstruction"])[mask], rtol=1e-5, atol=1e-5)
    assert not c(pruned["reconstruction"])[~mask].any()  # visible patches are not decoded in training
    assert float(c(model.compute_loss(x=x, y_pred=pruned))) == pytest.approx(
        float(c(model.compute_loss(x=x, y_pred=full))), rel=1e-5)
    # DualMAE's consistency term needs whole images: its online network decodes every patch in training.
    online = DualMAE(seed=0, **TINY).online
    assert online.decode_visible and c(online(x, noise=noise, training=True)["reconstruction"])[~mask].any()


def test_mae_training_step_lowers_the_loss_and_encoder_transfers(tmp_path):
    model = MAE(seed=0, **TINY)
    x, noise = _images(), _noise(2)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3), run_eagerly=RUN_EAGERLY)
    before, after = _loss_before_and_after_one_step(model, x)
    assert after < before
    # Reconstruction figure: visible patches are the input, masked ones the prediction.
    reconstruction, masked = (c(v) for v in model.reconstruct(x, noise=noise))
    visible = 1 - c(model(x, noise=noise)["mask"])[..., None]
    np.testing.assert_allclose(c(patchify(reconstruction, 8)) * visible, c(patchify(x, 8)) * visible, atol=1e-6)
    np.testing.assert_allclose(c(patchify(masked, 8)), c(patchify(x, 8)) * visible, atol=1e-6)
    assert reconstruction.shape == masked.shape == x.shape
    # The encoder IS the MAE's ViT (shared weights); build_classifier / create_model(weights=mae) copy it.
    encoder, classifier = model.encoder, model.build_classifier(num_classes=0)
    np.testing.assert_allclose(c(encoder(x)), c(classifier(x)), rtol=1e-5, atol=1e-5)
    head = create_model("vit_small", input_shape=(32, 32, 1), num_classes=6, head_activation="sigmoid",
                        drop_path_rate=0.2, weights=model, patch_size=8, embed_dim=32, depth=2, num_heads=2,
                        mlp_dim=64)
    assert head.output_shape == (None, 6) and head.get_layer("block_1").drop_path_rate == pytest.approx(0.2)
    np.testing.assert_array_equal(c(head.get_layer("block_1").weights[0]),
                                  c(model.encoder.get_layer("block_1").weights[0]))
    # `.keras` round trip: same weights, same outputs for a fixed mask.
    model.save(tmp_path / "mae.keras")
    loaded = keras.saving.load_model(tmp_path / "mae.keras")
    np.testing.assert_allclose(c(loaded(x, noise=noise)["reconstruction"]),
                               c(model(x, noise=noise)["reconstruction"]), rtol=1e-5, atol=1e-6)


def test_dual_mae_loss_terms_step_and_ema(tmp_path):
    model = DualMAE(seed=0, **TINY)
    x, noise = _images(seed=1), (_noise(3), _noise(4))
    out = model(x, noise=noise)
    for o, t in zip(model.online.weights, model.target.weights):
        if "seed_generator" not in o.path:
            np.testing.assert_array_equal(c(o), c(t))  # ξ_0 = θ_0
    assert model.target.trainable_weights == [] and not any("target" in v.path for v in model.trainable_variables)
    # Eq. 1 from the model's own sub-outputs: L1 on all patches, L2 / L3 on each network's own masked patches.
    y1, y2 = c(out["online"]["reconstruction"]), c(out["target"]["reconstruction"])
    m1, m2 = c(out["online"]["mask"]), c(out["target"]["mask"])
    assert not np.array_equal(m1, m2)
    target = c(patchify(x, 8))
    expected = [((y1 - y2) ** 2).mean(), _masked_mse(target, y1, m1), _masked_mse(target, y2, m2)]
    np.testing.assert_allclose([float(c(v)) for v in model.loss_terms(x, out)], expected, rtol=1e-5)
    assert float(c(model.compute_loss(x=x, y_pred=out))) == pytest.approx(sum(expected), rel=1e-5)
    # Independent random masks without `noise`.
    drawn = model(x)
    assert not np.array_equal(c(drawn["online"]["mask"]), c(drawn["target"]["mask"]))
    # One step lowers Eq. 1 on the masks it drew (the target fixed); a step with the callback gives
    # ξ1 = τ ξ0 + (1 − τ) θ1 exactly.
    model.compile(optimizer=keras.optimizers.AdamW(1e-3), run_eagerly=RUN_EAGERLY)
    before, after = _loss_before_and_after_one_step(model, x)
    assert after < before
    xi0 = [c(w).copy() for w in model.target.weights]
    callback = EMATargetUpdate(tau=0.9)
    history = model.fit(x, epochs=1, batch_size=4, verbose=0, callbacks=[callback]).history
    assert {"loss", "consistency_loss", "online_loss", "target_loss"} <= set(history)
    for o, t0, t in zip(model.online.weights, xi0, model.target.weights):
        if "seed_generator" in o.path:
            continue
        np.testing.assert_allclose(c(t), 0.9 * t0 + 0.1 * c(o) if o.trainable else c(o), rtol=1e-6, atol=1e-7)
    # `.keras` round trip keeps both networks and the frozen target.
    model.save(tmp_path / "dual.keras")
    loaded = keras.saving.load_model(tmp_path / "dual.keras")
    assert loaded.target.trainable is False and loaded.target.trainable_weights == []
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(c(a), c(b))
    assert loaded.build_classifier(6, "sigmoid").output_shape == (None, 6)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_forward_and_training_step(policy):
    keras.mixed_precision.set_global_policy(policy)
    try:
        model = MAE(seed=0, **TINY)
        x = _images(2)
        out = model(x)
        assert keras.backend.standardize_dtype(out["reconstruction"].dtype) == policy.split("_")[1]
        # The recipe's optimizer (fused on PyTorch), inside a LossScaleOptimizer for float16 as Keras would
        # wrap it; a small initial scale so that the first step is not skipped as an overflow.
        optimizer = AdamW(1e-3)
        if policy == "mixed_float16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer, initial_scale=16.0)
        model.compile(optimizer=optimizer, run_eagerly=RUN_EAGERLY)
        before = c(model.encoder.get_layer("patch_embed").weights[0]).copy()
        loss = model.train_on_batch(x)
        assert np.isfinite(loss) and model.encoder.get_layer("patch_embed").weights[0].dtype == "float32"
        assert np.abs(c(model.encoder.get_layer("patch_embed").weights[0]) - before).max() > 0
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_saved_weights_are_reached_through_the_model_not_a_derived_encoder(tmp_path):
    """`.keras` saving walks every attribute; an attribute that builds a new model over shared layers made
    the weight paths depend on the walk (failed to load under some PYTHONHASHSEED values on torch). The
    encoder is a real attribute of each network now: every weight is saved once, under its network."""
    import io
    import zipfile

    import h5py

    model = DualMAE(seed=0, **TINY)
    model(_images(seed=1))
    model.save(tmp_path / "dual.keras")
    with zipfile.ZipFile(tmp_path / "dual.keras") as archive:
        weights = h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r")
        paths = []
        weights.visit(lambda name: paths.append(name) if isinstance(weights[name], h5py.Dataset) else None)
    assert {"/".join(p.split("/")[:3]) for p in paths} == {"layers/mae/encoder", "layers/mae/decoder",
                                                           "layers/mae_1/encoder", "layers/mae_1/decoder"}
    assert sum(int(np.prod(weights[p].shape)) for p in paths) == sum(int(np.prod(w.shape)) for w in model.weights
                                                                       if "seed_generator" not in w.path)
