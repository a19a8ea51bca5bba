"""keras_cxr.layers."""
from keras_cxr.layers.fuzzy_attention_head import AttentionFuzzyHead
from keras_cxr.layers.sharpening import SharpeningConv2D
from keras_cxr.layers.drop_path import DropPath
from keras_cxr.layers.mae_decoder import MAEDecoder
from keras_cxr.layers.patch_embedding import ClassToken, PatchEmbedding, patchify, unpatchify
from keras_cxr.layers.position_embedding import (LearnedPositionEmbedding, SinCosPositionEmbedding,
                                                 sincos_position_embedding)
from keras_cxr.layers.random_patch_masking import RandomPatchMasking
from keras_cxr.layers.transformer_block import MultiHeadSelfAttention, TransformerBlock
from keras_cxr.layers.rand_augment import RandAugment
from keras_cxr.layers.random_resized_crop import RandomResizedCrop
from keras_cxr.layers.grayscale_to_rgb import GrayscaleToRGB
from keras_cxr.layers.group_patch_masking import GroupPatchMasking

import keras as _keras

if _keras.backend.backend() == "torch":  # PyTorch's fused conv / batch-norm kernels (keras_cxr/layers/_torch_kernels.py)
    from keras_cxr.layers import _allocator, _torch_kernels

    _torch_kernels.install()
    _allocator.tune()  # keep freed activation memory for the next step (keras_cxr/layers/_allocator.py)
