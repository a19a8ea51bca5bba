"""WarmupCosineDecay against MAE's formula and Keras' CosineDecay; serialization; the linear scaling rule."""

import keras
import numpy as np
import pytest

from keras_cxr.callbacks import WarmupCosineDecay, scaled_lr


def mae_lr(step, base_lr, warmup, total, min_lr=0.0):
    """facebookresearch/mae util/lr_sched.adjust_learning_rate, with steps for (fractional) epochs."""
    if step < warmup:
        return base_lr * step / warmup
    return min_lr + (base_lr - min_lr) * 0.5 * (1.0 + np.cos(np.pi * (step - warmup) / (total - warmup)))


def test_values_match_the_mae_formula_and_keras_cosine_decay():
    schedule = WarmupCosineDecay(scaled_lr(1.5e-4, 64), warmup_steps=20, decay_steps=800, min_lr=1e-6)
    keras_equivalent = keras.optimizers.schedules.CosineDecay(0.0, 780, alpha=1e-6 / scaled_lr(1.5e-4, 64),
                                                              warmup_target=scaled_lr(1.5e-4, 64), warmup_steps=20)
    steps = [0, 1, 7, 19, 20, 21, 100, 410, 799, 800, 900]
    expected = [mae_lr(s, 3.75e-5, 20, 800, 1e-6) if s <= 800 else 1e-6 for s in steps]
    ours = [float(schedule(s)) for s in steps]
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(ours, [float(keras_equivalent(s)) for s in steps], rtol=1e-4, atol=1e-11)
    no_warmup = WarmupCosineDecay(2.5e-3, 0, 75)
    assert float(no_warmup(0)) == pytest.approx(2.5e-3)
    with pytest.raises(ValueError):
        WarmupCosineDecay(1e-3, 10, 10)


def test_serialization_and_scaling_rule():
    schedule = WarmupCosineDecay(2.5e-3, warmup_steps=5, decay_steps=75)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert isinstance(clone, WarmupCosineDecay) and clone.get_config() == schedule.get_config()
    optimizer = keras.optimizers.deserialize(keras.optimizers.serialize(keras.optimizers.AdamW(schedule)))
    assert float(optimizer.learning_rate) == 0.0  # evaluated at iteration 0
    assert isinstance(optimizer._learning_rate, WarmupCosineDecay)
    assert scaled_lr() == 1.5e-4 and scaled_lr(1.5e-4, 1024) == pytest.approx(6e-4)
