from keras_cxr.models.vit.vit import PRESETS, TokenPooling, ViT, vit, vit_base, vit_small, vit_tiny
