from keras_cxr.models.resnext.resnext import resnext50_32x4d
