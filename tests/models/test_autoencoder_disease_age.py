"""Paper 002's two models: the backbone autoencoder (L1) and the disease + age multitask model (Eq. 2–4)."""

import keras
import numpy as np
import pytest

from keras_cxr.models.autoencoder import autoencoder
from keras_cxr.models.disease_age import ScaledMeanSquaredError, disease_age_losses, disease_age_model


@pytest.mark.parametrize("backbone, side", [("resnet34", 64), ("resnet50", 64), ("xception", 96), ("vgg19", 64)])
def test_autoencoder_mirrors_the_encoder_strides(backbone, side):
    model = autoencoder(backbone, input_shape=(side, side, 1), decoder_filters=(16, 8))
    assert model.output_shape == (None, side, side, 1)
    assert model.get_layer("encoder") is not None
    images = np.random.default_rng(0).random((2, side, side, 1)).astype("float32")
    out = keras.ops.convert_to_numpy(model(images))
    assert out.min() >= 0 and out.max() <= 1


@pytest.mark.slow_on_tensorflow  # 117 s there (CI budget); PyTorch runs it, and TF's infant notebook trains one
def test_autoencoder_learns_with_l1_and_its_encoder_transfers():
    keras.utils.set_random_seed(0)
    model = autoencoder("resnet34", input_shape=(32, 32, 1), decoder_filters=(16, 8))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=keras.losses.MeanAbsoluteError())
    images = np.random.default_rng(1).random((8, 32, 32, 1)).astype("float32")
    before = model.evaluate(images, images, verbose=0)
    model.fit(images, images, epochs=20, batch_size=8, verbose=0)  # 20 steps: the decoder BN (momentum 0.9) tracks the batches
    after = model.evaluate(images, images, verbose=0)
    assert after < before
    target = disease_age_model("resnet34", num_classes=3, input_shape=(32, 32, 1), weights=model)
    source_kernel = model.get_layer("encoder").get_layer("stage2_block1_conv1").get_weights()[0]
    target_kernel = [layer for layer in target.layers if isinstance(layer, keras.Model)][0] \
        .get_layer("stage2_block1_conv1").get_weights()[0]
    np.testing.assert_array_equal(source_kernel, target_kernel)
    with pytest.raises(ValueError, match="divisible"):
        autoencoder("resnet34", input_shape=(48, 40, 1))


def test_age_head_reads_in_the_dataset_unit_and_the_loss_is_eq_4():
    keras.utils.set_random_seed(0)
    mean, std = 14.0, 5.0
    model = disease_age_model("resnet34", num_classes=3, input_shape=(32, 32, 1), age_mean=mean, age_std=std)
    images = np.random.default_rng(2).random((6, 32, 32, 1)).astype("float32")
    out = model.predict(images, verbose=0)
    assert out["disease"].shape == (6, 3) and out["age"].shape == (6, 1)
    np.testing.assert_allclose(out["disease"].sum(1), 1.0, atol=1e-5)
    standardized = keras.Model(model.input, model.get_layer("age_standardized").output).predict(images, verbose=0)
    np.testing.assert_allclose(out["age"], standardized * std + mean, rtol=1e-5)
    labels = np.eye(3)[[0, 1, 2, 0, 1, 2]].astype("float32")
    ages = np.array([[3.0], [10.0], [20.0], [8.0], [15.0], [30.0]], "float32")
    losses, weights = disease_age_losses(age_std=std, age_loss_weight=0.8)
    model.compile(optimizer="sgd", loss=losses, loss_weights=weights)
    total = model.evaluate(images, {"disease": labels, "age": ages}, verbose=0, return_dict=True)["loss"]
    cross_entropy = -np.mean(np.sum(labels * np.log(np.clip(out["disease"], 1e-7, 1)), axis=1))
    mse = np.mean(((ages - out["age"]) / std) ** 2)
    assert total == pytest.approx(cross_entropy + 0.8 * mse, rel=1e-4)
    assert float(ScaledMeanSquaredError(2.0)(np.array([[0.0], [0.0]]), np.array([[2.0], [4.0]]))) == pytest.approx(2.5)


def test_multilabel_variant_and_errors():
    model = disease_age_model("resnet34", num_classes=4, input_shape=(32, 32, 1), multilabel=True)
    assert model.get_layer("disease").activation.__name__ == "sigmoid"
    with pytest.raises(ValueError, match="num_classes >= 2"):
        disease_age_model("resnet34", num_classes=1, input_shape=(32, 32, 1))
    with pytest.raises(ValueError, match="age_std"):
        disease_age_model("resnet34", num_classes=2, input_shape=(32, 32, 1), age_std=0)
    path_model = disease_age_model("resnet34", num_classes=2, input_shape=(32, 32, 1))
    reloaded = keras.saving.load_model(_save(path_model))
    images = np.zeros((1, 32, 32, 1), "float32")
    np.testing.assert_allclose(reloaded.predict(images, verbose=0)["age"], path_model.predict(images, verbose=0)["age"],
                               rtol=1e-5)


def _save(model):
    import tempfile
    import os

    path = os.path.join(tempfile.mkdtemp(), "model.keras")
    model.save(path)
    return path


_HEAVY = pytest.mark.slow_on_tensorflow  # CI budget: built twice each; the default TF run keeps four of the eight


@pytest.mark.parametrize("backbone", ["vgg19", "mobilenet_v2", "shufflenet_v1", "xception",
                                      pytest.param("hrnet_w32", marks=_HEAVY),
                                      pytest.param("resnext50_32x4d", marks=_HEAVY),
                                      pytest.param("densenet121", marks=_HEAVY), pytest.param("resnet50", marks=_HEAVY)])
def test_autoencoder_to_disease_age_transfer_copies_every_encoder_weight(backbone):
    """Issue 29: paper 002's transfer copies 100 % of the encoder, for each of its eight backbones. Xception's
    four shortcut convolutions and BNs had build-dependent names and stayed random before; a build in between
    shifts keras' automatic name counters, as a recipe building several models does."""
    side = 96 if backbone == "xception" else 64
    source = autoencoder(backbone, input_shape=(side, side, 1), decoder_filters=(8,))
    keras.layers.Conv2D(1, 1)  # another auto-named layer between the two builds
    target = disease_age_model(backbone, num_classes=2, input_shape=(side, side, 1), weights=source)
    encoder = [layer for layer in target.layers if isinstance(layer, keras.Model)][0]
    source_encoder = source.get_layer("encoder")
    assert len(encoder.weights) == len(source_encoder.weights) > 0
    for layer in encoder.layers:
        if not layer.weights:
            continue
        twin = source_encoder.get_layer(layer.name)
        for a, b in zip(layer.weights, twin.weights):
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b),
                                          err_msg=f"{backbone}: {layer.name}")


def test_copy_weights_is_strict_about_unmatched_layers():
    from keras_cxr.models import copy_weights, create_model

    source = create_model("resnet34", input_shape=(32, 32, 1))
    target = disease_age_model("resnet34", num_classes=2, input_shape=(32, 32, 1))
    with pytest.raises(ValueError, match="no namesake"):  # the two heads are not in the backbone
        copy_weights(source, target)
    copied = copy_weights(source, target, skip=("disease", "age_standardized"))
    assert "stem_conv" in copied
    copy_weights(source, target, strict=False)
