"""Optimizers: Keras' AdamW with PyTorch's fused kernel, and AdamW with layer-wise learning-rate decay."""

from keras_cxr.optimizers.adamw import AdamW
from keras_cxr.optimizers.layer_decay import LayerDecayAdamW, vit_layer_id
