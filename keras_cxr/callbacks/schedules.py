"""Learning-rate schedules: linear warmup then cosine decay (MAE pretraining and fine-tuning)."""

import math

import keras
from keras import ops


def scaled_lr(base_lr=1.5e-4, batch_size=256):
    """MAE's linear scaling rule: lr = base_lr · batch_size / 256 (paper 000 §III.B: base 1.5e-4, batch 256).

    Example:
    >>> scaled_lr(1.5e-4, 64)
    3.75e-05
    """
    return base_lr * batch_size / 256


@keras.saving.register_keras_serializable(package="keras_cxr")
class WarmupCosineDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup from 0 to `base_lr`, then half-cosine down to `min_lr`: MAE's `adjust_learning_rate`.

    lr(t) = base_lr · t / warmup_steps                                       for t < warmup_steps,
    lr(t) = min_lr + (base_lr − min_lr) · ½ (1 + cos(π (t − warmup_steps) / (decay_steps − warmup_steps)))
    afterwards, and min_lr from t = decay_steps on. `t` is the optimizer's iteration count.

    `decay_steps` is the TOTAL length, warmup included (MAE's `epochs`): pass
    decay_steps = epochs × steps_per_epoch and warmup_steps = warmup_epochs × steps_per_epoch (paper 000:
    800 and 20 epochs for pretraining, 75 and 5 for fine-tuning). Note that Keras' own
    `CosineDecay(warmup_steps=w, decay_steps=d)` counts d AFTER the warmup: ours equals
    `CosineDecay(0.0, decay_steps − warmup_steps, warmup_target=base_lr, warmup_steps=warmup_steps,
    alpha=min_lr / base_lr)`.

    Args:
        base_lr: peak learning rate, reached at the end of the warmup (already batch-scaled: `scaled_lr`).
        warmup_steps: linear-warmup steps (≥ 0).
        decay_steps: total steps, > warmup_steps.
        min_lr: final learning rate.

    Example:
    >>> schedule = WarmupCosineDecay(1e-3, warmup_steps=10, decay_steps=110)
    >>> [round(float(schedule(s)), 6) for s in (0, 5, 10, 60, 110, 200)]
    [0.0, 0.0005, 0.001, 0.0005, 0.0, 0.0]
    """

    def __init__(self, base_lr, warmup_steps, decay_steps, min_lr=0.0):
        if warmup_steps < 0 or decay_steps <= warmup_steps:
            raise ValueError(f"Need 0 <= warmup_steps < decay_steps; received {warmup_steps}, {decay_steps}.")
        self.base_lr, self.warmup_steps = float(base_lr), int(warmup_steps)
        self.decay_steps, self.min_lr = int(decay_steps), float(min_lr)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warm = self.base_lr * step / max(self.warmup_steps, 1)
        progress = ops.clip((step - self.warmup_steps) / (self.decay_steps - self.warmup_steps), 0.0, 1.0)
        cosine = self.min_lr + (self.base_lr - self.min_lr) * 0.5 * (1 + ops.cos(math.pi * progress))
        return ops.where(step < self.warmup_steps, warm, cosine)

    def get_config(self):
        return {"base_lr": self.base_lr, "warmup_steps": self.warmup_steps, "decay_steps": self.decay_steps,
                "min_lr": self.min_lr}
