"""`GrayscaleToRGB`: the input adapter of every model that carries ImageNet (RGB) weights."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_cxr")
class GrayscaleToRGB(keras.layers.Layer):
    """Repeats a 1-channel image to 3 channels; 3-channel inputs pass through unchanged.

    ImageNet weights expect RGB; a chest X-ray is gray. Repeating the channel is what torchvision, timm
    and keras.applications users do for gray inputs, and keeps the pretrained first convolution exact
    (summing its kernel over RGB instead, timm's `adapt_input_conv`, is the alternative for models built
    1-channel: `keras_cxr.models.weights.copy_weights` does that).

    Example:
    >>> import numpy as np
    >>> tuple(GrayscaleToRGB()(np.zeros((2, 8, 8, 1), "float32")).shape)
    (2, 8, 8, 3)
    """

    def build(self, input_shape):
        if input_shape[-1] not in (1, 3):
            raise ValueError(f"GrayscaleToRGB takes 1- or 3-channel images; received input shape {input_shape}.")

    def call(self, images):
        return images if images.shape[-1] == 3 else ops.repeat(images, 3, axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 3)
