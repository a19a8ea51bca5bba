"""Ensembles of classifiers: simple and SLSQP-weighted averaging, attention-fuzzy ensemble (paper 003 §2.3.3)."""

from keras_cxr.ensembles.attention_fuzzy import build_attention_fuzzy_ensemble
from keras_cxr.ensembles.averaging import average
from keras_cxr.ensembles.slsqp import slsqp_weights
from keras_cxr.layers.fuzzy_attention_head import AttentionFuzzyHead
