import keras
import numpy as np
import pytest
from scipy import ndimage

from keras_cxr.layers import SharpeningConv2D
from keras_cxr.testing import assert_config_round_trip, assert_keras_round_trip, assert_training_step_changes_weights

KERNEL = np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype="float32")


def _run(layer, x):
    return keras.ops.convert_to_numpy(layer(x))


def test_delta_image_reproduces_the_kernel_in_every_channel():
    x = np.zeros((1, 7, 7, 3), "float32")
    x[0, 3, 3, :] = [1.0, 2.0, -0.5]
    out = _run(SharpeningConv2D(), x)
    for c, scale in enumerate([1.0, 2.0, -0.5]):
        np.testing.assert_array_equal(out[0, 2:5, 2:5, c], scale * KERNEL)
    out[0, 2:5, 2:5, :] = 0.0
    assert not out.any()  # nothing outside the 3 x 3 footprint


def test_channels_are_filtered_independently():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 9, 11, 4)).astype("float32")
    full = _run(SharpeningConv2D(), x)
    for c in range(4):
        alone = _run(SharpeningConv2D(), x[..., c : c + 1])
        np.testing.assert_allclose(full[..., c : c + 1], alone, atol=1e-5)
    changed = x.copy()
    changed[..., 1] += 10.0
    other = _run(SharpeningConv2D(), changed)
    np.testing.assert_allclose(other[..., [0, 2, 3]], full[..., [0, 2, 3]], atol=1e-5)


def test_matches_scipy_with_zero_padding():
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(3, 12, 10, 2)).astype("float32")
    out = _run(SharpeningConv2D(), x)
    for i in range(3):
        for c in range(2):
            reference = ndimage.correlate(x[i, :, :, c].astype("float64"), KERNEL, mode="constant", cval=0.0)
            np.testing.assert_allclose(out[i, :, :, c], reference, atol=1e-5)
            # the kernel is symmetric: convolution gives the same result
            np.testing.assert_allclose(
                reference, ndimage.convolve(x[i, :, :, c].astype("float64"), KERNEL, mode="constant"), atol=1e-12
            )


def test_constant_image_keeps_interior_and_sharpens_borders():
    out = _run(SharpeningConv2D(), np.ones((1, 5, 5, 1), "float32"))[0, :, :, 0]
    assert out[2, 2] == 1.0  # 5 - 4 neighbours
    assert out[0, 2] == 2.0 and out[0, 0] == 3.0  # zero padding outside


def test_has_no_weights_and_keeps_shape():
    layer = SharpeningConv2D()
    out = layer(np.zeros((2, 8, 6, 5), "float32"))
    assert tuple(out.shape) == (2, 8, 6, 5)
    assert layer.weights == [] and layer.trainable_weights == [] and layer.count_params() == 0
    assert layer.compute_output_shape((None, 8, 6, 5)) == (None, 8, 6, 5)


def test_rejects_non_image_inputs():
    with pytest.raises(ValueError, match="height, width, channels"):
        SharpeningConv2D()(np.zeros((2, 8, 5), "float32"))


def test_config_and_keras_file_round_trip():
    assert_config_round_trip(SharpeningConv2D(name="sharp"))
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, SharpeningConv2D(name="sharp")(inputs))
    x = np.random.default_rng(2).uniform(size=(2, 8, 8, 3)).astype("float32")
    reloaded = assert_keras_round_trip(model, x)
    assert isinstance(reloaded.get_layer("sharp"), SharpeningConv2D)


def test_gradient_flows_through_the_layer():
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, padding="same"), SharpeningConv2D()])
    rng = np.random.default_rng(3)
    x = rng.uniform(size=(4, 8, 8, 1)).astype("float32")
    assert_training_step_changes_weights(model, x, rng.uniform(size=(4, 8, 8, 2)).astype("float32"))


def test_runs_in_mixed_precision():
    layer = SharpeningConv2D(dtype="mixed_bfloat16")
    out = layer(np.ones((1, 4, 4, 2), "float32"))
    assert keras.backend.standardize_dtype(out.dtype) == "bfloat16"
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras.ops.cast(out, "float32"))[0, 1, 1], [1.0, 1.0])
