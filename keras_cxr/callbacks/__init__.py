"""Callbacks and schedules: EMA target update (dual-MAE), warmup + cosine learning-rate schedule."""

from keras_cxr.callbacks.ema import EMATargetUpdate, ema_update
from keras_cxr.callbacks.schedules import WarmupCosineDecay, scaled_lr
