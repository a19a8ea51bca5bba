import keras
import numpy as np
import pytest

from keras_cxr.layers import SharpeningConv2D
from keras_cxr.models import vgg16_sharp_unet
from keras_cxr.testing import assert_keras_round_trip

TINY = 0.0625  # filters 4-8-16-32-32


def _conv(i, o, k=3):
    return k * k * i * o + o


def test_layer_and_filter_sequence_follow_the_paper():
    model = vgg16_sharp_unet((32, 32, 1), width_multiplier=1.0)
    convs = [(l.name, l.filters) for l in model.layers if type(l) is keras.layers.Conv2D]
    encoder = [(f"block{b}_conv{i}", f) for b, (f, n) in enumerate([(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)], 1)
               for i in range(1, n + 1)]
    decoder = [(f"decoder{d}_conv{i}", f) for d, (f, n) in enumerate([(512, 3), (256, 3), (128, 2), (64, 2)], 1)
               for i in range(1, n + 1)]
    assert convs == encoder + decoder + [("reconstruction", 1)]
    for layer in model.layers:
        if type(layer) is keras.layers.Conv2D:
            assert layer.kernel_size == (3, 3) and layer.padding == "same"
            assert layer.activation.__name__ == ("sigmoid" if layer.name == "reconstruction" else "relu")
    pools = [l.name for l in model.layers if isinstance(l, keras.layers.MaxPooling2D)]
    assert pools == ["block1_pool", "block2_pool", "block3_pool", "block4_pool"]
    ups = [(l.name, l.filters, l.kernel_size, l.strides) for l in model.layers
           if isinstance(l, keras.layers.Conv2DTranspose)]
    assert ups == [(f"decoder{d}_upconv", f, (2, 2), (2, 2)) for d, f in enumerate([512, 256, 128, 64], 1)]


def test_skips_are_sharpened_encoder_outputs_before_pooling():
    model = vgg16_sharp_unet((32, 32, 1), width_multiplier=TINY)
    last_conv = {1: "block1_conv2", 2: "block2_conv2", 3: "block3_conv3", 4: "block4_conv3"}
    for decoder, block in zip(range(1, 5), (4, 3, 2, 1)):
        sharpen = model.get_layer(f"block{block}_sharpen")
        assert isinstance(sharpen, SharpeningConv2D)
        assert sharpen.input is model.get_layer(last_conv[block]).output
        concat = model.get_layer(f"decoder{decoder}_concat")
        assert [t for t in concat.input] == [model.get_layer(f"decoder{decoder}_upconv").output, sharpen.output]


def test_parameter_count_at_full_width_matches_hand_count():
    model = vgg16_sharp_unet()  # the paper's 224 x 224 x 1, width 1
    encoder = [(1, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 256),
               (256, 512), (512, 512), (512, 512), (512, 512), (512, 512), (512, 512)]
    expected = sum(_conv(i, o) for i, o in encoder)
    # (up-conv in, out), then convs; the first decoder conv sees up-conv output + sharpened skip.
    decoder = [(512, 512, 512, 3), (512, 256, 256, 3), (256, 128, 128, 2), (128, 64, 64, 2)]
    for up_in, filters, skip, num_convs in decoder:
        expected += _conv(up_in, filters, k=2) + _conv(filters + skip, filters)
        expected += (num_convs - 1) * _conv(filters, filters)
    expected += _conv(64, 1)
    assert model.count_params() == expected == 28_803_905
    assert len(model.non_trainable_weights) == 0


@pytest.mark.parametrize("input_shape", [(32, 48, 1), (16, 16, 3)])
def test_output_shape_and_sigmoid_range(input_shape):
    model = vgg16_sharp_unet(input_shape, width_multiplier=TINY)
    x = np.random.default_rng(0).uniform(size=(2,) + input_shape).astype("float32")
    y = keras.ops.convert_to_numpy(model(x))
    assert y.shape == (2,) + input_shape[:2] + (1,)
    assert np.all(np.isfinite(y)) and y.min() >= 0.0 and y.max() <= 1.0


@pytest.mark.parametrize("bad", [(30, 32, 1), (32, 40, 1), (32, 32), (32, 32, None)])
def test_rejects_bad_input_shapes(bad):
    with pytest.raises(ValueError, match="input_shape|divisible by 16"):
        vgg16_sharp_unet(bad, width_multiplier=TINY)


def test_rejects_non_positive_width():
    with pytest.raises(ValueError, match="width_multiplier"):
        vgg16_sharp_unet((32, 32, 1), width_multiplier=0)


def test_width_multiplier_scales_filters():
    model = vgg16_sharp_unet((32, 32, 1), width_multiplier=0.125)
    assert [model.get_layer(f"block{b}_conv1").filters for b in range(1, 6)] == [8, 16, 32, 64, 64]


def test_keras_file_round_trip():
    model = vgg16_sharp_unet((32, 32, 1), width_multiplier=TINY, name="tiny_unet")
    x = np.random.default_rng(1).uniform(size=(2, 32, 32, 1)).astype("float32")
    reloaded = assert_keras_round_trip(model, x)
    assert reloaded.name == "tiny_unet"
    assert isinstance(reloaded.get_layer("block1_sharpen"), SharpeningConv2D)


def test_training_reduces_denoising_loss_on_a_fixed_batch():
    model = vgg16_sharp_unet((32, 32, 1), width_multiplier=0.125)
    rng = np.random.default_rng(2)
    clean = rng.uniform(0.2, 0.8, size=(4, 32, 32, 1)).astype("float32")
    noisy = np.clip(clean + rng.normal(0, 0.1, clean.shape), 0, 1).astype("float32")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse", jit_compile=False)
    first = float(model.evaluate(noisy, clean, verbose=0))
    for _ in range(5):
        model.train_on_batch(noisy, clean)
    assert float(model.evaluate(noisy, clean, verbose=0)) < first
