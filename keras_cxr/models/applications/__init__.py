from keras_cxr.models.applications.applications import APPLICATIONS, densenet121, mobilenet_v2, resnet50, vgg19, xception
