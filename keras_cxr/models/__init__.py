"""keras_cxr.models."""
from keras_cxr.models.classifier import deepest_conv_layer_name
from keras_cxr.models.classifier import encoder_classifier
from keras_cxr.models.classifier import vgg16_imagenet_classifier
from keras_cxr.models.sharp_unet import vgg16_sharp_unet
from keras_cxr.models.mae import MAE, DualMAE, vit_from_mae
from keras_cxr.models.vit import ViT, TokenPooling, vit, vit_base, vit_small, vit_tiny
from keras_cxr.models.resnet import load_torchvision_weights, resnet34
from keras_cxr.models.jit import resolve_jit_compile
