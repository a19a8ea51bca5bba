from keras_cxr.models.vgg.vgg16 import VGG16_BLOCKS, scaled_filters, vgg16, vgg16_features
