"""GMML (paper 001 §3.1): Eq. 1 against numpy, the light decoder's layout, encoder transfer to 256 px."""

import keras
import numpy as np

from keras_cxr.models import GMML, create_model
from keras_cxr.models.gmml import masked_l1

c = keras.ops.convert_to_numpy
TINY = dict(image_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, mlp_dim=64, decoder_dim=64,
            bottleneck_dim=16)


def test_loss_is_l1_on_manipulated_pixels_only():
    rng = np.random.default_rng(0)
    x, r = rng.random((2, 16, 16, 1), dtype=np.float32), rng.random((2, 16, 16, 1), dtype=np.float32)
    m = (rng.random((2, 16, 16, 1)) > 0.6).astype("float32")
    expected = np.abs(r - x)[m == 1].mean()
    np.testing.assert_allclose(float(c(masked_l1(x, r, m))), expected, rtol=1e-6)
    r_outside = np.where(m == 1, r, 100.0).astype("float32")  # errors outside the mask do not count
    np.testing.assert_allclose(float(c(masked_l1(x, r_outside, m))), expected, rtol=1e-6)


def test_gmml_layout_loss_and_transfer():
    model = GMML(seed=0, **TINY)
    x = np.random.default_rng(1).random((4, 32, 32, 1), dtype=np.float32)
    out = model(x)
    assert [model.decoder_fc1.units, model.decoder_fc2.units, model.decoder_bottleneck.units] == [64, 64, 16]
    assert model.decoder_to_image.kernel_size == (8, 8) and model.decoder_to_image.strides == (8, 8)
    expected = np.abs(c(out["reconstruction"]) - x)[c(out["mask"]) == 1].mean()
    np.testing.assert_allclose(float(c(model.compute_loss(x, y_pred=out))), expected, rtol=1e-5)
    paper = GMML(image_size=32, seed=0)  # §3.1 defaults: 2048 → 2048 → 256, ViT-S
    assert (paper.decoder_dim, paper.bottleneck_dim, paper.noise_ratio, paper.replace_ratio) == (2048, 256, 0.7, 0.35)
    # §4.2 fine-tunes at 256 px from the pretraining grid: weights copy, positions are recomputed.
    classifier = model.build_classifier(num_classes=3, head_activation="softmax", image_size=48)
    assert classifier.output_shape == (None, 3)
    np.testing.assert_array_equal(c(classifier.get_layer("block_1").weights[0]),
                                  c(model.encoder.get_layer("block_1").weights[0]))
    vit = create_model("vit_small", input_shape=(32, 32, 1), weights=model, patch_size=8, embed_dim=32, depth=2,
                       num_heads=2, mlp_dim=64)
    np.testing.assert_allclose(c(vit(x)), c(model.encoder(x)), atol=1e-6)
