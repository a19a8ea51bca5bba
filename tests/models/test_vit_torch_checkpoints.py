"""PyTorch ViT checkpoints (timm / DeiT / MAE / GMML layouts) converted into keras_cxr's ViT, checked against a
plain-torch forward pass of the same state dict (written here from the ViT paper, independent of our code)."""

import argparse
import pathlib

import keras
import numpy as np
import pytest

from keras_cxr.layers.position_embedding import LearnedPositionEmbedding, sincos_position_embedding
from keras_cxr.models import (load_torch_vit_checkpoint, read_torch_vit_checkpoint, resample_position_embedding,
                              vit, vit_from_torch_checkpoint)
from keras_cxr.testing import assert_keras_round_trip, run_layer_test

torch = pytest.importorskip("torch")  # the reference forward pass and torch.save

WIDTH, DEPTH, HEADS, MLP, PATCH, SIZE = 32, 2, 2, 64, 8, 32  # a 4 x 4 grid of 8-px patches
ATOL = 1e-5  # float32 round-off of a 2-block ViT against the float64 reference (measured: about 1e-6)


def timm_state_dict(seed=0, channels=3, num_classes=0, grid=SIZE // PATCH, sincos=False):
    """A random state dict in timm's VisionTransformer layout (float32 tensors), norms away from identity."""
    rng = np.random.default_rng(seed)

    def normal(*shape, scale=0.2):
        return torch.tensor(rng.normal(0, scale, shape), dtype=torch.float32)

    state = {"cls_token": normal(1, 1, WIDTH, scale=0.5),
             "pos_embed": normal(1, 1 + grid * grid, WIDTH, scale=0.5),
             "patch_embed.proj.weight": normal(WIDTH, channels, PATCH, PATCH, scale=0.05),
             "patch_embed.proj.bias": normal(WIDTH)}
    if sincos:  # MAE: the fixed table with a zero class row, stored in the checkpoint
        state["pos_embed"] = torch.tensor(sincos_position_embedding(WIDTH, grid)[None])
    for i in range(DEPTH):
        for norm in ("norm1", "norm2"):
            state[f"blocks.{i}.{norm}.weight"], state[f"blocks.{i}.{norm}.bias"] = 1 + normal(WIDTH), normal(WIDTH)
        for name, (rows, cols) in {"attn.qkv": (3 * WIDTH, WIDTH), "attn.proj": (WIDTH, WIDTH),
                                   "mlp.fc1": (MLP, WIDTH), "mlp.fc2": (WIDTH, MLP)}.items():
            state[f"blocks.{i}.{name}.weight"], state[f"blocks.{i}.{name}.bias"] = normal(rows, cols), normal(rows)
    state["norm.weight"], state["norm.bias"] = 1 + normal(WIDTH), normal(WIDTH)
    if num_classes:
        state["head.weight"], state["head.bias"] = normal(num_classes, WIDTH), normal(num_classes)
    return state


def reference_forward(state, images, num_heads=HEADS):
    """timm's ViT forward in float64 torch from `state` on NHWC `images`: patch conv, class token, + pos_embed
    (bicubic-resampled to the image's grid, align_corners=False, as timm / MAE), pre-norm blocks with qkv
    attention and an erf-GELU MLP, final LayerNorm. Returns (class token after the norm, head output or None)."""
    f = torch.nn.functional
    s = {k: v.to(torch.float64) for k, v in state.items()}
    x = torch.tensor(np.asarray(images), dtype=torch.float64).permute(0, 3, 1, 2)
    patch = s["patch_embed.proj.weight"].shape[-1]
    x = f.conv2d(x, s["patch_embed.proj.weight"], s["patch_embed.proj.bias"], stride=patch)
    rows, cols = x.shape[2:]
    x = x.flatten(2).transpose(1, 2)
    batch, width = x.shape[0], x.shape[2]
    pos = s["pos_embed"]
    side = int(round((pos.shape[1] - 1) ** 0.5))
    if (rows, cols) != (side, side):
        grid = pos[:, 1:].reshape(1, side, side, width).permute(0, 3, 1, 2)
        grid = f.interpolate(grid, size=(rows, cols), mode="bicubic", align_corners=False)
        pos = torch.cat([pos[:, :1], grid.permute(0, 2, 3, 1).reshape(1, rows * cols, width)], dim=1)
    x = torch.cat([s["cls_token"].expand(batch, -1, -1), x], dim=1) + pos
    head_dim = width // num_heads
    i = 0
    while f"blocks.{i}.norm1.weight" in s:
        b = lambda name: (s[f"blocks.{i}.{name}.weight"], s[f"blocks.{i}.{name}.bias"])  # noqa: E731
        h = f.layer_norm(x, (width,), *b("norm1"), eps=1e-6)
        qkv = f.linear(h, *b("attn.qkv")).reshape(batch, -1, 3, num_heads, head_dim).permute(2, 0, 3, 1, 4)
        attention = torch.softmax(qkv[0] @ qkv[1].transpose(-2, -1) * head_dim**-0.5, dim=-1)
        x = x + f.linear((attention @ qkv[2]).transpose(1, 2).reshape(batch, -1, width), *b("attn.proj"))
        h = f.layer_norm(x, (width,), *b("norm2"), eps=1e-6)
        x = x + f.linear(f.gelu(f.linear(h, *b("mlp.fc1"))), *b("mlp.fc2"))
        i += 1
    features = f.layer_norm(x, (width,), s["norm.weight"], s["norm.bias"], eps=1e-6)[:, 0]
    head = f.linear(features, s["head.weight"], s["head.bias"]) if "head.weight" in s else None
    return features.numpy(), None if head is None else head.numpy()


def images(channels=3, size=SIZE, seed=1):
    return np.random.default_rng(seed).normal(0, 1, (2, size, size, channels)).astype("float32")


def predict(model, x):
    return keras.ops.convert_to_numpy(model(x, training=False))


def max_difference(a, b):
    difference = float(np.abs(np.asarray(a, np.float64) - b).max())
    print(f"{keras.backend.backend()}: max |keras - torch| = {difference:.2e}")  # the reply quotes these (pytest -s)
    return difference


@pytest.mark.parametrize("num_classes", [0, 5])
def test_timm_checkpoint_equals_the_torch_forward(tmp_path, num_classes):
    state = timm_state_dict(num_classes=num_classes)
    path = tmp_path / "vit_tiny_timm.pth"
    torch.save(state, path)
    model = vit_from_torch_checkpoint(str(path), (SIZE, SIZE, 3), num_classes=num_classes, num_heads=HEADS)
    assert isinstance(model.get_layer("position"), LearnedPositionEmbedding)
    x = images()
    features, head = reference_forward(state, x)
    assert max_difference(predict(model, x), head if num_classes else features) < ATOL
    assert model.output_shape == (None, num_classes or WIDTH)


def test_mae_checkpoint_ignores_the_decoder_and_keeps_sincos_positions(tmp_path):
    """MAE / medical_mae: {"model": encoder + decoder}, the fixed sin-cos table; 1-channel model from RGB."""
    state = timm_state_dict(seed=2, sincos=True)
    decoder = {"mask_token": torch.zeros(1, 1, 16), "decoder_embed.weight": torch.zeros(16, WIDTH),
               "decoder_pos_embed": torch.zeros(1, 17, 16), "decoder_pred.bias": torch.zeros(PATCH * PATCH * 3)}
    path = tmp_path / "mae_pretrain.pth"
    torch.save({"model": {**state, **decoder}}, path)
    info = read_torch_vit_checkpoint(str(path))
    assert info.position_embedding == "sincos" and info.grid_size == (4, 4) and info.channels == 3
    model = vit((SIZE, SIZE, 1), weights=str(path), patch_size=PATCH, embed_dim=WIDTH, depth=DEPTH, num_heads=HEADS,
                mlp_dim=MLP)  # the builder reads the file: sin-cos positions, as MAE's
    assert type(model.get_layer("position")).__name__ == "SinCosPositionEmbedding"
    report = load_torch_vit_checkpoint(model, str(path))
    assert sorted(report["ignored"]) == sorted(decoder) and not report["unused"] and not report["initialized"]
    gray = images(channels=1, seed=3)
    features, _ = reference_forward(state, np.repeat(gray, 3, axis=-1))  # the RGB model on the gray image x 3
    assert max_difference(predict(model, gray), features) < ATOL


def test_gmml_checkpoint_with_prefixes_and_training_args(tmp_path):
    """GMML: {"SiT_model": DDP state dict with `module.backbone.` keys + `module.head_recons.*`, "args": Namespace}."""
    state = timm_state_dict(seed=4)
    wrapped = {f"module.backbone.{k}": v for k, v in state.items()}
    wrapped["module.head_recons.mlp.0.weight"] = torch.zeros(WIDTH, WIDTH)
    path = tmp_path / "gmml_checkpoint.pth"
    torch.save({"SiT_model": wrapped, "optimizer": {}, "epoch": 800, "args": argparse.Namespace(lr=5e-4)}, path)
    model = vit_from_torch_checkpoint(str(path), (SIZE, SIZE, 1), num_heads=HEADS)
    gray = images(channels=1, seed=5)
    features, _ = reference_forward(state, np.repeat(gray, 3, axis=-1))
    assert max_difference(predict(model, gray), features) < ATOL
    report = load_torch_vit_checkpoint(model, str(path))
    assert report["ignored"] == ["module.head_recons.mlp.0.weight"] and len(report["loaded"]) == len(state)


def test_position_table_resampled_as_torch_bicubic(tmp_path):
    rng = np.random.default_rng(6)
    table = rng.normal(size=(4, 4, 8))
    for grid in [(6, 6), (3, 3), (2, 5), (4, 4)]:
        expected = torch.nn.functional.interpolate(torch.tensor(table).permute(2, 0, 1)[None], size=grid,
                                                   mode="bicubic", align_corners=False)[0].permute(1, 2, 0).numpy()
        np.testing.assert_allclose(resample_position_embedding(table, grid), expected, atol=1e-6)
    state = timm_state_dict(seed=7)  # end to end: a 48-px model (6 x 6 grid) from the 4 x 4 checkpoint
    model = vit_from_torch_checkpoint(state, (48, 48, 3), num_heads=HEADS)
    x = images(size=48)
    features, _ = reference_forward(state, x)
    assert max_difference(predict(model, x), features) < ATOL


def test_builder_loads_a_torch_file_with_a_new_head(tmp_path):
    """`vit(weights=.pth)`: learned positions picked from the file, an ImageNet head of another size left new."""
    state = timm_state_dict(seed=8, num_classes=5)
    path = tmp_path / "deit_tiny.pth"
    torch.save({"model": state}, path)
    model = vit((SIZE, SIZE, 3), num_classes=3, weights=str(path), patch_size=PATCH, embed_dim=WIDTH, depth=DEPTH,
                num_heads=HEADS, mlp_dim=MLP)
    assert isinstance(model.get_layer("position"), LearnedPositionEmbedding)
    features = keras.Model(model.input, model.get_layer("pool").output)
    x = images()
    assert max_difference(predict(features, x), reference_forward(state, x)[0]) < ATOL
    report = load_torch_vit_checkpoint(model, state)
    assert report["initialized"] == ["head"] and report["ignored"] == ["head.bias", "head.weight"]


def test_strict_errors_list_the_keys(tmp_path):
    state = timm_state_dict(seed=9)
    model = vit_from_torch_checkpoint(state, (SIZE, SIZE, 3), num_heads=HEADS)
    extra = {**state, "blocks.0.ls1.gamma": torch.ones(WIDTH)}
    del extra["blocks.1.norm2.bias"]
    with pytest.raises(ValueError, match=r"missing: \['blocks.1.norm2.bias'\].*understood: \['blocks.0.ls1.gamma'\]"):
        load_torch_vit_checkpoint(model, extra)
    report = load_torch_vit_checkpoint(model, extra, strict=False)
    assert report["unused"] == ["blocks.0.ls1.gamma"] and report["missing"] == ["blocks.1.norm2.bias"]
    assert report["initialized"] == ["norm2"]
    distilled = {**state, "dist_token": torch.zeros(1, 1, WIDTH),
                 "pos_embed": torch.zeros(1, 2 + 16, WIDTH), "head_dist.weight": torch.zeros(5, WIDTH)}
    with pytest.raises(ValueError, match="distilled DeiT.*non-distilled"):
        load_torch_vit_checkpoint(model, distilled)
    assert "dist_token" in load_torch_vit_checkpoint(model, distilled, strict=False)["ignored"]
    global_pool = {k: v for k, v in state.items() if not k.startswith("norm.")}
    global_pool.update({"fc_norm.weight": torch.ones(WIDTH), "fc_norm.bias": torch.zeros(WIDTH)})
    with pytest.raises(ValueError, match="global-pool ViT"):
        load_torch_vit_checkpoint(model, global_pool)
    sincos_model = vit((SIZE, SIZE, 3), patch_size=PATCH, embed_dim=WIDTH, depth=DEPTH, num_heads=HEADS, mlp_dim=MLP)
    with pytest.raises(ValueError, match="position_embedding='learned'"):
        load_torch_vit_checkpoint(sincos_model, state)
    deeper = vit((SIZE, SIZE, 3), patch_size=PATCH, embed_dim=WIDTH, depth=3, num_heads=HEADS, mlp_dim=MLP,
                 position_embedding="learned")
    with pytest.raises(ValueError, match=r"depth 3 \(model\) vs 2 \(checkpoint\).*vit_from_torch_checkpoint"):
        load_torch_vit_checkpoint(deeper, state)
    with pytest.raises(ValueError, match="pass num_heads="):
        vit_from_torch_checkpoint(state)
    path = tmp_path / "resnet34.pth"
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7), "fc.weight": torch.zeros(10, 512)}, path)
    with pytest.raises(ValueError, match=r"resnet34.pth is not a ViT checkpoint.*load_torchvision_weights"):
        vit_from_torch_checkpoint(str(path), num_heads=HEADS)
    (tmp_path / "corrupt.pth").write_bytes(b"0")
    with pytest.raises(ValueError, match="corrupt.pth' could not be read as a PyTorch checkpoint"):
        read_torch_vit_checkpoint(str(tmp_path / "corrupt.pth"))
    torch.save({"model": state, "path": pathlib.PurePosixPath("x")}, tmp_path / "objects.pth")
    with pytest.raises(ValueError, match=r"objects besides tensors .*PurePosixPath.*keep only its state dict"):
        read_torch_vit_checkpoint(str(tmp_path / "objects.pth"))


def test_converted_model_round_trips_through_keras_file():
    model = vit_from_torch_checkpoint(timm_state_dict(seed=10, num_classes=4), (SIZE, SIZE, 1), num_classes=4,
                                      head_activation="softmax", num_heads=HEADS)
    reloaded = assert_keras_round_trip(model, images(channels=1), atol=1e-6, rtol=1e-6)
    assert isinstance(reloaded.get_layer("position"), LearnedPositionEmbedding)


def test_learned_position_embedding_layer_contract():
    x = np.random.default_rng(11).normal(size=(2, 6, 8)).astype("float32")
    out = run_layer_test(LearnedPositionEmbedding(grid_size=(2, 3)), x, expected_output_shape=(2, 6, 8))
    assert not np.allclose(out, x)
    with pytest.raises(ValueError, match="do not form a 2x2 grid"):
        LearnedPositionEmbedding(grid_size=2)(x)


def test_safetensors_file(tmp_path):
    safetensors = pytest.importorskip("safetensors.torch")
    state = timm_state_dict(seed=12)
    path = tmp_path / "model.safetensors"
    safetensors.save_file(state, str(path))
    model = vit_from_torch_checkpoint(str(path), (SIZE, SIZE, 3), num_heads=HEADS)
    x = images()
    assert max_difference(predict(model, x), reference_forward(state, x)[0]) < ATOL


def test_recipes_fine_tune_their_imagenet_vit_from_a_pth(tmp_path):
    """Paper 000's ViT-S (ImageNet) and paper 001's SS-IN: the Config field takes the .pth (converted on load)."""
    from keras_cxr.recipes import dual_mae, ss_cxr

    state = timm_state_dict(seed=13, num_classes=5)  # an "ImageNet" head of another size: a new head is made
    path = str(tmp_path / "vit-s_CXR_0.3M_mae.pth")
    torch.save({"model": state}, path)
    size = dict(image_size=SIZE, patch_size=PATCH, embed_dim=WIDTH, depth=DEPTH, num_heads=HEADS, mlp_dim=MLP)
    gray = images(channels=1, seed=14)
    features, _ = reference_forward(state, np.repeat(gray, 3, axis=-1))
    built = [dual_mae.build_classifier(dual_mae.Config.quick(output_dir=str(tmp_path), vit_imagenet_weights=path,
                                                             **size), "vit_imagenet", path, 6),
             ss_cxr.build_classifier(ss_cxr.Config.quick(output_dir=str(tmp_path), imagenet_weights=path, **size),
                                     "ss_in", None, 3)]
    for model, num_classes in zip(built, (6, 3)):
        assert model.output_shape == (None, num_classes)
        pooled = keras.Model(model.input, model.get_layer("pool").output)
        assert max_difference(predict(pooled, gray), features) < ATOL
