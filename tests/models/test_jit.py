"""resolve_jit_compile: XLA on TensorFlow unless a distribution strategy is active or bf16 runs on a CPU;
Keras' "auto" elsewhere."""

import keras
import pytest

from keras_cxr.models import resolve_jit_compile


def test_explicit_values_pass_through_and_flags_parse():
    assert resolve_jit_compile(True) is True and resolve_jit_compile(False) is False
    assert resolve_jit_compile("true") is True and resolve_jit_compile("False") is False
    with pytest.raises(ValueError, match="jit_compile"):
        resolve_jit_compile("xla")


def test_auto_is_xla_on_tensorflow_and_keras_auto_elsewhere():
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        assert resolve_jit_compile() is True
        with tf.distribute.OneDeviceStrategy("/cpu:0").scope():
            assert resolve_jit_compile() == "auto"  # Keras turns XLA off under tf.distribute
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
        try:  # bf16 on a CPU: TensorFlow's oneDNN kernels, not XLA (see the docstring's numbers)
            assert resolve_jit_compile() is (len(tf.config.list_physical_devices("GPU")) > 0)
        finally:
            keras.mixed_precision.set_global_policy("float32")
    else:
        assert resolve_jit_compile() == "auto"
