"""VGG-16 Sharp U-Net (paper 003, §2.3.1)."""
from keras_cxr.models.sharp_unet.sharp_unet import vgg16_sharp_unet
