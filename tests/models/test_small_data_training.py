"""Small-data training works by default for every registered classifier (issue 26): users call `create_model`
and `model.fit` for a few hundred steps, then `model.predict`.

Two defaults make that work and are checked here: batch normalization with momentum 0.9 everywhere
(`keras_cxr.models.batch_norm`; keras.applications' 0.99 / 0.999 leave inference mode predicting a constant
after ~100 steps), and He-normal fan-out convolutions in the BN-free VGGs (torchvision's VGG init; glorot leaves
them stuck at ln 2 under SGD). The behavioural test trains each classifier on a toy task: gray noise, and a
bright square somewhere in the positive images (`_squares`); scikit-learn's `roc_auc_score` is the reference
for the AUC.
"""

import math
import keras
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from keras_cxr.models import BATCH_NORM_MOMENTUM, batch_norm_momenta, create_model, list_models, model_entry

c = keras.ops.convert_to_numpy

# Registered models that are not classifiers (they own a reconstruction / segmentation objective); every other
# registered model, a new one included, is trained by test_inference_mode_follows_training_after_few_steps.
NOT_CLASSIFIERS = {"mae_vit_small": "MAE pretraining", "dual_mae_vit_small": "dual-MAE pretraining",
                   "gmml_vit_small": "GMML pretraining", "unetr_vit_small": "segmentation",
                   "vgg16_sharp_unet": "image restoration"}
CLASSIFIERS = [name for name in list_models() if name not in NOT_CLASSIFIERS]

SEED = 0
BATCH = 16
STEPS = 100  # 10 epochs of 10 batches: keras.applications' momentum 0.99 still holds 0.99**100 = 37 % of its start
# Steps where 100 left the training loss above 0.5 ln 2 although inference-mode AUC was 1 (slow to sharpen).
MORE_STEPS = {"vgg19": 200, "vit_small": 200, "vit_base": 200}
# Adam's learning rate: Keras' default 1e-3, except where 1e-3 diverged to a constant output on seed 0 or 1:
# the BN-free VGGs (all ReLUs dead) and the ViTs without warm-up (ViT-S: loss 7.3 -> 8.1).
LEARNING_RATES = {"vgg16": 3e-4, "vgg19": 3e-4, "vit_tiny": 1e-4, "vit_small": 1e-4, "vit_base": 1e-4}
CHANCE = math.log(2)
# The registry's small test shapes (64 × 64 for the stride-32 CNNs: at 32 × 32 their last stage sees 1 × 1 maps,
# and MobileNetV2's inference mode did not follow training mode after 100 steps even at momentum 0.9), except
# VGG-19 at 32 × 32 (full width, no BN: a quarter of the cost).
SIDES = {"vgg19": 32}
EXTRA = {"vgg16": {"width_multiplier": 0.125}}  # the width whose glorot init did not train under SGD
# In the default run: one model per family (our BN CNN, keras.applications with its BN momenta, the BN-free
# VGG, a ViT); the other registered classifiers train in `pytest -m slow` (CI budget).
FAST = ("resnet34", "mobilenet_v2", "vgg16", "vit_tiny")
# Seconds each (torch, one thread, 2 shared cores): resnet34 158, mobilenet_v2 55, vgg16 10, vit_tiny 24; the slow
# ones' BN momentum is checked in the default run by test_every_batch_normalization_has_momentum_0_9.
SLOW = tuple(name for name in CLASSIFIERS if name not in FAST)


def _squares(num_images, side, rng):
    """(images, labels): uniform noise in [0, 0.4]; label 1 images carry a square of side `side // 4` at a
    random place, set to 0.9."""
    images = rng.uniform(0.0, 0.4, (num_images, side, side, 1)).astype("float32")
    labels = rng.permutation(np.arange(num_images) % 2)
    square = max(4, side // 4)
    for i in np.flatnonzero(labels):
        row, column = rng.integers(0, side - square + 1, size=2)
        images[i, row:row + square, column:column + square] = 0.9
    return images, labels.astype("float32")[:, None]


def _side(name):
    return SIDES.get(name, model_entry(name).test_overrides["input_shape"][0])


def _classifier(name, side):
    return create_model(name, input_shape=(side, side, 1), num_classes=1, head_activation="sigmoid",
                        **EXTRA.get(name, {}))


def train_toy_classifier(name, seed=SEED, steps=None):
    """Trains `name` with `model.fit` (Adam, batch 16) for `steps` steps (default: `MORE_STEPS` or `STEPS`) on
    160 toy images; returns the training losses per epoch, the inference-mode and training-mode probabilities
    of 64 held-out images, and their labels."""
    steps = steps or MORE_STEPS.get(name, STEPS)
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    side = _side(name)
    x, y = _squares(BATCH * 10, side, rng)
    x_test, y_test = _squares(64, side, rng)
    model = _classifier(name, side)
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATES.get(name, 1e-3)), loss="binary_crossentropy")
    history = model.fit(x, y, batch_size=BATCH, epochs=steps // 10, verbose=0).history["loss"]
    inference = model.predict(x_test, batch_size=64, verbose=0).ravel()
    training = c(model(x_test, training=True)).ravel()  # batch statistics, as `fit` normalizes
    return history, inference, training, y_test.ravel()


def _marks(name):
    """`slow` outside FAST, and resnet34 (369 s in the TF suite, 158 s on PyTorch: the CI budget, which the quick
    presets' learning tests fill). The default run keeps mobilenet_v2 (keras.applications' BatchNormalization),
    vgg16 and vit_tiny on both backends; resnet34's BN momentum is checked by
    `test_every_batch_normalization_has_momentum_0_9`, its learning by `pytest -m slow` and by infant_transfer's
    quick preset, whose autoencoder and transfer train a resnet34."""
    return pytest.mark.slow if name in SLOW or name == "resnet34" else ()


@pytest.mark.parametrize("name", [pytest.param(n, marks=_marks(n)) for n in CLASSIFIERS])
def test_inference_mode_follows_training_after_few_steps(name):
    history, inference, training, labels = train_toy_classifier(name)
    # learns: the last epoch's training loss is well below chance
    assert history[-1] < 0.5 * CHANCE, (name, history)
    # inference mode (running statistics) separates the classes and follows training mode
    assert np.std(inference) > 1e-3, (name, "inference mode predicts a constant", inference[:4])
    assert roc_auc_score(labels, inference) >= 0.9, name
    assert np.corrcoef(inference, training)[0, 1] >= 0.8, name  # measured 0.89 for MobileNetV2 on TensorFlow


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_every_batch_normalization_has_momentum_0_9(name):
    model = _classifier(name, 32 if name != "xception" else 72)  # the smallest sides: building is the cost
    momenta = batch_norm_momenta(model)
    assert set(momenta.values()) <= {BATCH_NORM_MOMENTUM}, {k: v for k, v in momenta.items() if v != 0.9}


def test_momentum_survives_config_and_keras_round_trip(tmp_path):
    model = create_model("mobilenet_v2", input_shape=(32, 32, 1), num_classes=2, head_activation="softmax")
    assert set(batch_norm_momenta(model).values()) == {BATCH_NORM_MOMENTUM}  # keras.applications' 0.999 replaced
    layers = model.get_config()["layers"]
    assert {layer["config"]["momentum"] for layer in layers if layer["class_name"] == "BatchNormalization"} == {0.9}
    assert set(batch_norm_momenta(keras.models.clone_model(model)).values()) == {BATCH_NORM_MOMENTUM}
    model.save(tmp_path / "mobilenet_v2.keras")
    reloaded = keras.saving.load_model(tmp_path / "mobilenet_v2.keras")
    assert batch_norm_momenta(reloaded) == batch_norm_momenta(model)


def test_autoencoder_decoder_and_disease_age_encoder_use_momentum_0_9():
    from keras_cxr.models.autoencoder import autoencoder
    from keras_cxr.models.disease_age import disease_age_model

    for model in (autoencoder("mobilenet_v2", input_shape=(32, 32, 1), decoder_filters=(8,)),
                  disease_age_model("resnet50", num_classes=2, input_shape=(32, 32, 1))):
        momenta = batch_norm_momenta(model)  # nested encoders included
        assert momenta and set(momenta.values()) == {BATCH_NORM_MOMENTUM}, model.name
    assert "decoder_bn0" in batch_norm_momenta(model=autoencoder("resnet34", input_shape=(32, 32, 1),
                                                                 decoder_filters=(8,)))


def _he_std(kernel, mode):
    """torch's `kaiming_normal_(mode=..., nonlinearity="relu")`: std = sqrt(2 / fan), torch's fan-out of an
    (out, in, kh, kw) weight being out · kh · kw and its fan-in in · kh · kw (Keras kernel: (kh, kw, in, out))."""
    height, width, inputs, filters = kernel.shape
    return math.sqrt(2.0 / ((filters if mode == "fan_out" else inputs) * height * width))


@pytest.mark.parametrize("name, kwargs, layers, mode", [
    ("vgg16", {"input_shape": (32, 32, 1), "width_multiplier": 0.125},
     ("block2_conv2", "block4_conv3", "block5_conv3"), "fan_in"),
    ("vgg19", {"input_shape": (32, 32, 1)}, ("block1_conv2", "block3_conv4", "block5_conv4"), "fan_out"),
    ("vgg16_sharp_unet", {"input_shape": (32, 32, 1), "width_multiplier": 0.125}, ("block3_conv2", "decoder1_conv1",
                                                                                 "decoder4_conv2"), "fan_out"),
])
def test_vgg_convolutions_are_he_initialized(name, kwargs, layers, mode):
    """VGG-16's classifier draws He-normal by the fan-in (`keras_cxr.models.vgg16` says why); VGG-19 and the Sharp
    U-Net by the fan-out (torchvision's VGG init)."""
    model = create_model(name, **kwargs)
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D) and layer.activation is keras.activations.relu:
            assert not np.any(c(layer.bias)), layer.name
            config = layer.get_config()["kernel_initializer"]["config"]
            assert (config["scale"], config["mode"], config["distribution"]) == (2.0, mode, "untruncated_normal")
    for layer_name in layers:  # >= 2,304 draws each: the sample std within 10 % of the reference
        kernel = c(model.get_layer(layer_name).kernel)
        assert np.std(kernel) == pytest.approx(_he_std(kernel, mode), rel=0.1), layer_name
        assert abs(np.mean(kernel)) < 0.1 * _he_std(kernel, mode), layer_name


@pytest.mark.parametrize("name, kwargs", [("vgg16", {"width_multiplier": 0.125})])
def test_random_init_vgg_standardizes_its_inputs(name, kwargs):
    """From random init the BN-free VGG-16 sees ImageNet-standardized inputs, torchvision's transforms.Normalize
    arithmetic: per RGB channel after a gray-to-RGB repeat, or with the channel-averaged statistics on 1 channel."""
    model = create_model(name, input_shape=(32, 32, 1), **kwargs)
    probe = keras.Model(model.input, model.get_layer("input_standardization").output)
    out = c(probe(np.full((1, 32, 32, 1), 0.2, "float32")))
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    expected = (0.2 - mean) / std if out.shape[-1] == 3 else (0.2 - mean.mean()) / std.mean()
    np.testing.assert_allclose(out[0, 0, 0], np.broadcast_to(expected, out.shape[-1:]), rtol=1e-5)


def test_vgg19_imagenet_weights_are_loaded_unchanged(monkeypatch):
    real_vgg19, drawn = keras.applications.VGG19, {}

    def fake_imagenet(include_top, weights, input_tensor, pooling):  # stands in for the download
        assert weights == "imagenet"
        base = real_vgg19(include_top=include_top, weights=None, input_tensor=input_tensor, pooling=pooling)
        drawn.update({layer.name: c(layer.kernel).copy() for layer in base.layers
                      if isinstance(layer, keras.layers.Conv2D)})
        return base

    monkeypatch.setattr(keras.applications, "VGG19", fake_imagenet)
    model = create_model("vgg19", input_shape=(32, 32, 1), weights="imagenet")
    for layer_name in ("block1_conv2", "block5_conv4"):  # the "pretrained" kernels, not He re-draws
        np.testing.assert_array_equal(c(model.get_layer(layer_name).kernel), drawn[layer_name])
    np.testing.assert_array_equal(c(model.get_layer("block1_conv1").kernel), drawn["block1_conv1"][:, :, ::-1])


@pytest.mark.slow  # 200 steps, ~15 s on TensorFlow; the default run checks the init (test_vgg_convolutions_...)
def test_vgg16_at_one_eighth_width_learns_under_sgd():
    """torchvision's VGG recipe optimizer (SGD, momentum 0.9, lr 0.01; gradients clipped to norm 1), 200 steps:
    measured on torch for seeds 0-4, He fan-out kernels reached a loss below 0.16 on every seed, glorot kernels
    stayed above 0.68 on every seed (three of them at ln 2 for 300 steps). It passes with today's fan-in kernels
    and standardized inputs too (torch, seed SEED)."""
    keras.utils.set_random_seed(SEED)
    x, y = _squares(BATCH * 10, 32, np.random.default_rng(SEED))
    model = _classifier("vgg16", 32)
    model.compile(optimizer=keras.optimizers.SGD(1e-2, momentum=0.9, clipnorm=1.0), loss="binary_crossentropy")
    history = model.fit(x, y, batch_size=BATCH, epochs=20, verbose=0).history["loss"]
    assert min(history) < 0.5 * CHANCE, history
