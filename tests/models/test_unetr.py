"""UNETR (2-D) on the shared ViT: MONAI's decoder block for block, taps, transfer from GMML."""

import keras
import numpy as np
import pytest

from keras_cxr.models import GMML, create_model, unetr

c = keras.ops.convert_to_numpy
SMALL = dict(embed_dim=32, depth=4, num_heads=2, mlp_dim=64, taps=(0, 1, 2), feature_size=4)


def test_decoder_parameters_equal_monai_unetr():
    """Everything outside the ViT: 1,352,369 parameters at ViT-S / feature size 16, as MONAI's UNETR
    (`sum(p.numel() for p in net.parameters()) - sum(p.numel() for p in net.vit.parameters())`)."""
    model = create_model("unetr_vit_small", input_shape=(256, 256, 1))
    encoder = sum(int(np.prod(w.shape)) for w in model.get_layer("encoder").weights)
    assert model.count_params() - encoder == 1_352_369
    try:
        from monai.networks.nets import UNETR
    except Exception:  # noqa: BLE001 - MONAI (a test extra) absent or its einops missing
        pytest.skip("MONAI UNETR not importable")
    net = UNETR(in_channels=1, out_channels=1, img_size=256, feature_size=16, hidden_size=384, mlp_dim=1536,
                num_heads=6, spatial_dims=2)
    assert sum(p.numel() for p in net.parameters()) - sum(p.numel() for p in net.vit.parameters()) == 1_352_369


def test_shapes_of_every_stage_and_taps():
    model = unetr((64, 64, 1), **SMALL)
    x = np.random.default_rng(0).random((2, 64, 64, 1), dtype=np.float32)
    probabilities = c(model(x))
    assert probabilities.shape == (2, 64, 64, 1) and ((probabilities > 0) & (probabilities < 1)).all()
    stages = {"encoder1_out": (64, 4), "encoder2_res2_out": (32, 8), "encoder3_res1_out": (16, 16),
              "encoder4_up0": (8, 32), "decoder5_res_out": (8, 32), "decoder2_res_out": (64, 4)}
    for layer, (side, channels) in stages.items():
        assert tuple(model.get_layer(layer).output.shape[1:]) == (side, side, channels), layer
    assert sorted(model.get_layer("encoder").output) == ["block_0", "block_1", "block_2", "norm"]
    with pytest.raises(ValueError, match="taps"):
        unetr((64, 64, 1), **{**SMALL, "taps": (1, 2, 9)})


def test_patch_8_decodes_through_three_levels():
    """Patch 8 (small images): the token grid is 1/8 of the side, so the decoder has three levels, encoder4 and
    decoder5 are left out, and the output is still at full resolution."""
    model = unetr((64, 64, 1), patch_size=8, **SMALL)
    x = np.random.default_rng(1).random((2, 64, 64, 1), dtype=np.float32)
    assert c(model(x)).shape == (2, 64, 64, 1)
    stages = {"encoder2_res1_out": (32, 8), "encoder3_up0": (16, 16), "decoder4_res_out": (16, 16),
              "decoder3_res_out": (32, 8), "decoder2_res_out": (64, 4)}
    for layer, (side, channels) in stages.items():
        assert tuple(model.get_layer(layer).output.shape[1:]) == (side, side, channels), layer
    names = {layer.name for layer in model.layers}
    assert not any(n.startswith(("encoder4", "decoder5")) for n in names)
    with pytest.raises(ValueError, match="patch_size"):
        unetr((64, 64, 1), patch_size=4, **SMALL)


def test_initialized_from_a_gmml_encoder():
    gmml = GMML(image_size=32, patch_size=16, embed_dim=32, depth=4, num_heads=2, mlp_dim=64, decoder_dim=32,
                bottleneck_dim=8, seed=0)
    model = unetr((64, 64, 1), weights=gmml, **SMALL)  # 32 px pretraining → 64 px segmentation
    for name in ("patch_embed", "block_0", "block_2", "norm"):
        for a, b in zip(model.get_layer("encoder").get_layer(name).weights, gmml.encoder.get_layer(name).weights):
            np.testing.assert_array_equal(c(a), c(b))
