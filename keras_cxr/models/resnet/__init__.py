from keras_cxr.models.resnet.resnet import resnet34
