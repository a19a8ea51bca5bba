import keras
import numpy as np
import pytest

from keras_cxr.data import MAEPretrainAugmentation, mae_pretrain_augmentation, random_resized_crop, randaugment
from keras_cxr.layers import RandAugment, RandomResizedCrop


def _np(x):
    return keras.ops.convert_to_numpy(x)


def test_numpy_mae_augmentation_geometry_and_flip():
    ramp = np.tile(np.linspace(0, 1, 300, dtype=np.float32), (300, 1))
    augment = MAEPretrainAugmentation(image_size=224, resize_to=256)
    assert augment.input_size == 256
    outs = [augment(ramp, np.random.default_rng(s)) for s in range(40)]
    assert all(o.shape == (224, 224) and o.dtype == np.float32 for o in outs)
    flipped = sum(o[0, 0] > o[0, -1] for o in outs)
    assert 8 < flipped < 32  # about half flipped horizontally
    np.testing.assert_array_equal(augment(ramp, np.random.default_rng(3)), augment(ramp, np.random.default_rng(3)))
    with pytest.raises(ValueError, match="scale"):
        MAEPretrainAugmentation(scale=(0.0, 1.0))


def test_numpy_random_resized_crop_area_within_scale():
    rows = np.repeat(np.arange(200, dtype=np.float32)[:, None], 200, axis=1)
    cols = rows.T.copy()
    for seed in range(50):
        h = np.ptp(random_resized_crop(rows, 64, (0.5, 1.0), rng=np.random.default_rng(seed))) + 1
        w = np.ptp(random_resized_crop(cols, 64, (0.5, 1.0), rng=np.random.default_rng(seed))) + 1
        assert 0.5 * 0.9 <= h * w / 200**2 <= 1.0 + 1e-6  # area fraction within scale (interpolation slack)
        assert 3 / 4 * 0.9 <= w / h <= 4 / 3 * 1.1


def test_keras_mae_augmentation_shapes_range_flip_and_seed():
    augment = mae_pretrain_augmentation(image_size=32, resize_to=40, scale=(0.5, 1.0), seed=0)
    kinds = [type(layer) for layer in augment.layers]
    assert kinds == [keras.layers.Resizing, RandomResizedCrop, keras.layers.RandomFlip]
    assert augment.layers[1].scale == (0.5, 1.0)
    ramp = np.tile(np.linspace(0, 1, 64, dtype="float32"), (64, 1))[None, ..., None].repeat(64, axis=0)
    out = _np(augment(ramp))
    assert out.shape == (64, 32, 32, 1) and out.min() >= 0.0 and out.max() <= 1.0
    flipped = int((out[:, 16, 0, 0] > out[:, 16, -1, 0]).sum())
    assert 16 < flipped < 48
    again = _np(mae_pretrain_augmentation(image_size=32, resize_to=40, seed=0)(ramp))
    np.testing.assert_array_equal(out, again)


def test_keras_mae_augmentation_in_tf_data_on_any_backend():
    tf = pytest.importorskip("tensorflow")
    x = np.random.default_rng(0).random((6, 48, 48, 1)).astype("float32")
    augment = mae_pretrain_augmentation(image_size=24, resize_to=32, seed=1)
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(4).map(augment)
    assert [tuple(batch.shape) for batch in dataset] == [(4, 24, 24, 1), (2, 24, 24, 1)]


def test_keras_mae_augmentation_eager_on_backend_tensors():
    x = keras.ops.convert_to_tensor(np.random.default_rng(0).random((2, 48, 48, 1)).astype("float32"))
    out = mae_pretrain_augmentation(image_size=24, resize_to=32, seed=1)(x)
    assert keras.ops.is_tensor(out) and tuple(out.shape) == (2, 24, 24, 1)


def test_randaugment_helper():
    augment = randaugment(6, seed=1)
    assert isinstance(augment, RandAugment) and augment.magnitude == 6 and augment.value_range == (0, 1)
    out = _np(augment(np.random.default_rng(0).random((4, 32, 32, 1)).astype("float32")))
    assert out.shape == (4, 32, 32, 1) and 0 <= out.min() and out.max() <= 1
    with pytest.raises(ValueError, match="0-10"):
        randaugment(12)
