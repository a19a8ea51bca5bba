"""keras_cxr.models: every builder follows one contract (`contract`) and is reachable by name (`registry`).

>>> from keras_cxr.models import list_models
>>> "vit_small" in list_models() and "resnet34" in list_models()
True
"""
from keras_cxr.models.model_card import ModelCard, ModelCardError, card_for, load_model, read_card, save_model
from keras_cxr.models.registry import create_model, list_models, model_entry, register_model, unregister_model
from keras_cxr.models.contract import HEAD_ACTIVATIONS, classification_head, validate_input_shape
from keras_cxr.models.batch_norm import BATCH_NORM_MOMENTUM, batch_norm_momenta, set_batch_norm_momentum
from keras_cxr.models.weights import copy_weights, load_weights
from keras_cxr.models.features import FEATURE_LEVELS, feature_extractor, feature_levels, register_feature_levels
from keras_cxr.models.vit import (PRESETS, TokenPooling, ViT, vit, vit_base, vit_small, vit_tiny,
                                  load_torch_vit_checkpoint, read_torch_vit_checkpoint, resample_position_embedding,
                                  vit_from_torch_checkpoint)
from keras_cxr.models.vgg import vgg16, vgg16_features
from keras_cxr.models.sharp_unet import vgg16_sharp_unet
from keras_cxr.models.classifier import deepest_conv_layer_name, encoder_classifier, vgg16_imagenet_classifier
from keras_cxr.models.probe_features import probe_features
from keras_cxr.models.linear_probe import linear_probe
from keras_cxr.models.mae import MAE, DualMAE, dual_mae_vit_small, mae_vit_small
from keras_cxr.models.gmml import GMML, gmml_vit_small
from keras_cxr.models.unetr import unetr, unetr_vit_small
from keras_cxr.models.resnet import load_torchvision_weights, resnet34
from keras_cxr.models.applications import densenet121, mobilenet_v2, resnet50, vgg19, xception
from keras_cxr.models.shufflenet import ChannelShuffle, shufflenet_v1
from keras_cxr.models.hrnet import hrnet_w32
from keras_cxr.models.resnext import resnext50_32x4d
from keras_cxr.models.jit import resolve_jit_compile
from keras_cxr.models.autoencoder import autoencoder
from keras_cxr.models.disease_age import ScaledMeanSquaredError, disease_age_losses, disease_age_model
