from keras_cxr.models.resnet.resnet import load_torchvision_weights, resnet34
