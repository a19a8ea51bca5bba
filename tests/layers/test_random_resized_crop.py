import cv2
import keras
import numpy as np
import pytest

from keras_cxr.layers import RandomResizedCrop
from keras_cxr.testing import assert_config_round_trip, assert_keras_round_trip


def _np(x):
    return keras.ops.convert_to_numpy(x)


def test_shapes_batched_and_single():
    layer = RandomResizedCrop(24, 20, scale=(0.5, 1.0), seed=0)
    x = np.random.default_rng(0).random((3, 40, 50, 2)).astype("float32")
    assert tuple(layer(x).shape) == (3, 24, 20, 2)
    assert tuple(layer(x[0]).shape) == (24, 20, 2)
    assert layer.compute_output_shape((None, 40, 50, 2)) == (None, 24, 20, 2)


def test_inference_is_a_center_crop_resize_like_opencv():
    x = np.random.default_rng(0).random((2, 40, 50, 1)).astype("float32")
    out = _np(RandomResizedCrop(20, 25, antialias=False)(x, training=False))
    reference = np.stack([cv2.resize(image[..., 0], (25, 20), interpolation=cv2.INTER_LINEAR) for image in x])
    np.testing.assert_allclose(out[..., 0], reference, atol=1e-5)
    square = _np(RandomResizedCrop(10, 10, antialias=False)(x, training=False))  # 40 x 40 center window
    reference = np.stack([cv2.resize(image[:, 5:45, 0], (10, 10), interpolation=cv2.INTER_LINEAR) for image in x])
    np.testing.assert_allclose(square[..., 0], reference, atol=1e-5)


def test_antialiased_resize_matches_pil_bilinear():
    from PIL import Image

    x = np.random.default_rng(1).random((1, 64, 64, 1)).astype("float32")
    out = _np(RandomResizedCrop(16, 16, antialias=True)(x, training=False))[0, ..., 0]
    reference = np.asarray(Image.fromarray(x[0, ..., 0], mode="F").resize((16, 16), Image.BILINEAR))
    np.testing.assert_allclose(out, reference, atol=1e-4)


def test_boxes_follow_the_scale_and_ratio_ranges_per_image():
    size, out = 200, 64
    rows = np.repeat(np.arange(size, dtype="float32")[:, None], size, axis=1)
    x = np.stack([rows, rows.T], axis=-1)[None].repeat(32, axis=0)  # channel 0 = row index, 1 = column index
    y = _np(RandomResizedCrop(out, out, scale=(0.5, 1.0), antialias=False, seed=3)(x))
    # Sample centers span (box - step), step = box / out (no clamping: boxes are larger than the output).
    heights = np.ptp(y[..., 0].reshape(32, -1), axis=1) * out / (out - 1)
    widths = np.ptp(y[..., 1].reshape(32, -1), axis=1) * out / (out - 1)
    areas = heights * widths / size**2
    assert areas.min() >= 0.5 - 0.01 and areas.max() <= 1.0 + 1e-3
    assert (widths / heights).min() >= 3 / 4 - 0.01 and (widths / heights).max() <= 4 / 3 + 0.01
    assert np.unique(np.round(areas, 3)).size > 20  # a new box per image
    tops = y[:, 0, 0, 0]
    assert np.ptp(tops) > 10  # boxes placed at different positions


def test_seeded_determinism():
    x = np.random.default_rng(0).random((4, 32, 32, 1)).astype("float32")
    a = _np(RandomResizedCrop(16, 16, seed=7)(x))
    b = _np(RandomResizedCrop(16, 16, seed=7)(x))
    c = _np(RandomResizedCrop(16, 16, seed=8)(x))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_channels_first_matches_channels_last():
    x = np.random.default_rng(0).random((2, 30, 30, 3)).astype("float32")
    last = _np(RandomResizedCrop(12, 12, seed=1)(x))
    first = _np(RandomResizedCrop(12, 12, seed=1, data_format="channels_first")(np.transpose(x, (0, 3, 1, 2))))
    np.testing.assert_allclose(np.transpose(first, (0, 2, 3, 1)), last, atol=1e-6)


def test_in_a_tf_data_pipeline_on_any_backend():
    tf = pytest.importorskip("tensorflow")
    x = np.random.default_rng(0).random((5, 32, 32, 1)).astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(2).map(RandomResizedCrop(16, 16, seed=0))
    assert [tuple(batch.shape) for batch in dataset] == [(2, 16, 16, 1), (2, 16, 16, 1), (1, 16, 16, 1)]


def test_config_and_keras_round_trip():
    layer = RandomResizedCrop(8, 8, scale=(0.5, 1.0), ratio=(0.9, 1.1), antialias=False, seed=2)
    clone = assert_config_round_trip(layer)
    assert clone.scale == (0.5, 1.0) and clone.ratio == (0.9, 1.1) and clone.antialias is False
    model = keras.Sequential([keras.Input((16, 16, 1)), layer, keras.layers.Conv2D(2, 3)])
    assert_keras_round_trip(model, np.random.default_rng(0).random((2, 16, 16, 1)).astype("float32"))


@pytest.mark.parametrize("kwargs, match", [({"scale": (0.0, 1.0)}, "scale"), ({"scale": (0.8, 0.5)}, "scale"),
                                           ({"ratio": (2.0, 1.0)}, "ratio")])
def test_rejects_bad_ranges(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RandomResizedCrop(8, 8, **kwargs)
