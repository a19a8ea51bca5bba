"""Pretraining under a distribution strategy: MirroredStrategy over two logical CPU devices (TensorFlow)."""

import os
import subprocess
import sys
import textwrap

import keras
import pytest

SCRIPT = textwrap.dedent("""
    import numpy as np, tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from keras_cxr.callbacks import EMATargetUpdate
    from keras_cxr.models import MAE, DualMAE
    from keras_cxr.optimizers import AdamW, LayerDecayAdamW
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert strategy.num_replicas_in_sync == 2
    x = np.random.default_rng(0).random((16, 32, 32, 1)).astype("float32")
    tiny = dict(image_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=2, mlp_dim=64, decoder_dim=16,
                decoder_depth=1, decoder_num_heads=2, seed=0)
    for cls, callbacks, optimizer in ((MAE, [], lambda: AdamW(1e-3)),
                                      (DualMAE, [EMATargetUpdate(0.9)], lambda: LayerDecayAdamW(learning_rate=1e-3))):
        with strategy.scope():  # the recipe's optimizers, as the recipe builds them under a strategy
            model = cls(**tiny)
            model(x[:2])
            model.compile(optimizer=optimizer())
        history = model.fit(x, batch_size=8, epochs=3, verbose=0, callbacks=callbacks).history
        assert np.isfinite(history["loss"]).all() and history["loss"][-1] < history["loss"][0], history
    print("OK", strategy.num_replicas_in_sync)
""")


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.distribute.MirroredStrategy is TensorFlow's")
def test_mae_and_dual_mae_train_under_mirrored_strategy_on_two_logical_cpus():
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0 and "OK 2" in result.stdout, result.stderr[-3000:]
