"""Callbacks and schedules: EMA target update (dual-MAE), warmup + cosine learning-rate schedule, kNN and linear
feature probes of pretraining encoders."""

from keras_cxr.callbacks.ema import EMATargetUpdate, ema_update
from keras_cxr.callbacks.schedules import WarmupCosineDecay, scaled_lr
from keras_cxr.callbacks.feature_probe import FeatureProbe, probe_folds, probe_scores
from keras_cxr.callbacks.knn_probe import KNNProbe, knn_predict
from keras_cxr.callbacks.linear_probe import LinearProbe
