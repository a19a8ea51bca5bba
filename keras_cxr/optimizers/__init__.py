"""Optimizers Keras lacks: AdamW with layer-wise learning-rate decay."""

from keras_cxr.optimizers.layer_decay import LayerDecayAdamW, vit_layer_id
