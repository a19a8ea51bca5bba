"""Learning-rate schedules: linear warmup then cosine decay (MAE pretraining and fine-tuning)."""

import math

import keras
from keras import ops


def scaled_lr(base_lr=1.5e-4, batch_size=256):
    """MAE's linear scaling rule: base_lr · batch_size / 256 (paper 000 §III.B: base 1.5e-4, batch 256).

    Example:
    >>> scaled_lr(1.5e-4, 64)
    3.75e-05
    """
    return base_lr * batch_size / 256


@keras.saving.register_keras_serializable(package="keras_cxr")
class WarmupCosineDecay(keras.optimizers.schedules.LearningRateSchedule):
    """lr(t) = peak · t / warmup for t < warmup, then min + (peak − min)·½(1 + cos(π·(t − warmup)/(total − warmup))).

    Steps are optimizer iterations; pass warmup = warmup_epochs × steps_per_epoch (paper 000: 20 epochs of
    800 for pretraining, 5 of 75 for fine-tuning).

    Example:
    >>> schedule = WarmupCosineDecay(1e-3, warmup_steps=10, decay_steps=110)
    >>> [round(float(schedule(s)), 6) for s in (0, 5, 10, 60, 110)]
    [0.0, 0.0005, 0.001, 0.0005, 0.0]
    """

    def __init__(self, peak_lr, warmup_steps, decay_steps, min_lr=0.0):
        if warmup_steps < 0 or decay_steps <= warmup_steps:
            raise ValueError(f"Need 0 <= warmup_steps < decay_steps; received {warmup_steps}, {decay_steps}.")
        self.peak_lr, self.warmup_steps, self.decay_steps, self.min_lr = float(peak_lr), int(warmup_steps), int(decay_steps), float(min_lr)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warm = self.peak_lr * step / max(self.warmup_steps, 1)
        progress = ops.clip((step - self.warmup_steps) / (self.decay_steps - self.warmup_steps), 0.0, 1.0)
        cosine = self.min_lr + (self.peak_lr - self.min_lr) * 0.5 * (1 + ops.cos(math.pi * progress))
        return ops.where(step < self.warmup_steps, warm, cosine)

    def get_config(self):
        return {"peak_lr": self.peak_lr, "warmup_steps": self.warmup_steps, "decay_steps": self.decay_steps,
                "min_lr": self.min_lr}
