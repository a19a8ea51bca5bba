from keras_cxr.models.unetr.unetr import unetr, unetr_vit_small
