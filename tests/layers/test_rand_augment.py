import keras
import numpy as np
import pytest

from keras_cxr.layers import RandAugment
from keras_cxr.testing import assert_config_round_trip, assert_keras_round_trip


def _np(x):
    return keras.ops.convert_to_numpy(x)


def test_gray_batches_stay_in_range_and_inputs_are_not_modified():
    x = np.random.default_rng(0).random((4, 32, 32, 1)).astype("float32")
    original = x.copy()
    layer = RandAugment(magnitude=6, seed=0)
    outputs = [_np(layer(x)) for _ in range(25)]
    np.testing.assert_array_equal(x, original)  # Keras' own layer writes into it on torch
    assert all(out.shape == (4, 32, 32, 1) for out in outputs)
    assert min(out.min() for out in outputs) >= 0.0 and max(out.max() for out in outputs) <= 1.0
    assert sum(not np.allclose(out, x) for out in outputs) > 20
    tensor = keras.ops.convert_to_tensor(x)
    layer(tensor)
    np.testing.assert_array_equal(_np(tensor), original)


def test_geometry_is_bounded_and_symmetric():
    layer = RandAugment(magnitude=6)
    assert layer.random_rotation.factor == pytest.approx((-18 / 360, 18 / 360))
    assert layer.random_translation.height_factor == pytest.approx(0.27)
    assert layer.random_translation.width_factor == pytest.approx(0.27)
    assert max(abs(v) for v in layer.random_shear.x_factor) == pytest.approx(0.18)
    with pytest.raises(ValueError, match="0-10"):
        RandAugment(magnitude=11)


def test_seeded_and_identity_at_inference():
    x = np.random.default_rng(1).random((3, 24, 24, 1)).astype("float32")
    np.testing.assert_array_equal(_np(RandAugment(6, seed=4)(x)), _np(RandAugment(6, seed=4)(x)))
    np.testing.assert_array_equal(_np(RandAugment(6, seed=4)(x, training=False)), x)


def test_in_a_tf_data_pipeline_on_any_backend():
    tf = pytest.importorskip("tensorflow")
    x = np.random.default_rng(0).random((4, 16, 16, 1)).astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(2).map(RandAugment(6, seed=0))
    batches = [batch.numpy() for batch in dataset]
    assert [b.shape for b in batches] == [(2, 16, 16, 1)] * 2
    assert min(b.min() for b in batches) >= 0 and max(b.max() for b in batches) <= 1


def test_config_and_keras_round_trip():
    layer = RandAugment(magnitude=4, num_ops=3, seed=1)
    clone = assert_config_round_trip(layer)
    assert clone.magnitude == 4.0 and clone.num_ops == 3 and "factor" not in clone.get_config()
    model = keras.Sequential([keras.Input((16, 16, 1)), layer, keras.layers.Conv2D(2, 3)])
    assert_keras_round_trip(model, np.random.default_rng(0).random((2, 16, 16, 1)).astype("float32"))
