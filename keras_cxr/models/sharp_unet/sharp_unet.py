"""VGG-16 Sharp U-Net for denoising / deblurring pretext learning (paper 003, §2.3.1, Fig. 1)."""

import keras

from keras_cxr.layers.sharpening import SharpeningConv2D
from keras_cxr.models._initializers import conv_init
from keras_cxr.models.contract import HEAD_ACTIVATIONS, output_dtype, validate_input_shape
from keras_cxr.models.registry import register_model
from keras_cxr.models.vgg.vgg16 import VGG16_BLOCKS, scaled_filters, vgg16_features
from keras_cxr.models.weights import load_weights

# Decoder blocks: one 2 × 2 up-convolution, then this many 3 × 3 convolutions (§2.3.1: 3, 3, 2, 2);
# filters mirror the encoder (512, 256, 128, 64) and the skip comes from encoder level P3, P2, P1, P0.
DECODER_CONVS = (3, 3, 2, 2)


@register_model(kind="image_to_image", test_overrides={"input_shape": (32, 32, 1), "width_multiplier": 0.0625},
                test_note="width 1/16: the full-width U-Net (28.8 M parameters) is benchmarks/sharp_unet.py's job")
def vgg16_sharp_unet(input_shape=(224, 224, 1), num_classes=1, head_activation="sigmoid", weights=None,
                     name="vgg16_sharp_unet", width_multiplier=1.0):
    """VGG-16 Sharp U-Net: VGG-16 encoder, sharpened skip connections, sigmoid image output.

    Encoder (random init): `keras_cxr.models.vgg16_features`, VGG-16 blocks of 2, 2, 3, 3, 3 convolutions
    3 × 3 + ReLU with 64, 128, 256, 512, 512 filters, a 2 × 2 max-pool after blocks 1–4 (`block{b}_conv{i}`,
    `block{b}_pool`; the deepest convolution is `block5_conv3`). The decoder asks it for its levels: each
    skip (P3, P2, P1, P0 = blocks 4, 3, 2, 1, before pooling) goes through `SharpeningConv2D`
    (`block{b}_sharpen`). Decoder block d = 1..4: a 2 × 2 up-convolution (stride 2, linear,
    `decoder{d}_upconv`) with 512, 256, 128, 64 filters, concatenation with the sharpened skip
    (`decoder{d}_concat`), then 3, 3, 2, 2 convolutions 3 × 3 + ReLU (`decoder{d}_conv{i}`). Output: one
    3 × 3 convolution with `num_classes` filters (1: the restored image) and a sigmoid (`reconstruction`).
    The ReLU convolutions, encoder and decoder, are He-normal by the fan-out with zero biases (torchvision's VGG
    init; see `vgg16_features`), the linear up-convolutions and the output convolution keep Keras' glorot.
    At width 1 and 224 × 224 × 1 the model has 28,803,905 parameters (14,713,536 in the encoder).

    Args:
        input_shape: (height, width, channels); height and width divisible by 16 (four poolings).
        num_classes: output channels (1 for a restored gray image or a lung mask); the builder contract's
            `num_classes`, read as output channels for an image-to-image model.
        head_activation: activation of the output convolution ("sigmoid": images in [0, 1]).
        weights: the builder contract's `weights` (a file or a model to copy from by layer name).
        width_multiplier: scales every filter count (1.0 = the paper; e.g. 0.125 for CPU tests).
        name: model name.

    Returns:
        A functional `keras.Model` mapping (batch, H, W, C) images in [0, 1] to (batch, H, W, num_classes).

    Raises:
        ValueError: a malformed `input_shape`, a size not divisible by 16, or `width_multiplier` <= 0.

    Example:
    >>> model = vgg16_sharp_unet((32, 32, 1), width_multiplier=0.0625)
    >>> tuple(model.output.shape), model.get_layer("block5_conv3").filters
    ((None, 32, 32, 1), 32)

    Reference:
        Rajaraman, Liang, Xue & Antani, Frontiers in AI 7:1419638 (2024), doi:10.3389/frai.2024.1419638,
        §2.3.1 and Fig. 1; Zunair & Hamza, Comput. Biol. Med. 2021 (Sharp U-Net);
        Simonyan & Zisserman, ICLR 2015, arXiv:1409.1556 (VGG-16).
    """
    input_shape = validate_input_shape(input_shape, "vgg16_sharp_unet", divisible_by=16)
    if not float(width_multiplier) > 0:
        raise ValueError(f"width_multiplier must be > 0; received {width_multiplier}.")
    if int(num_classes) < 1 or head_activation not in HEAD_ACTIVATIONS:
        raise ValueError(f"vgg16_sharp_unet: num_classes (output channels) must be >= 1 and head_activation one of "
                         f"{HEAD_ACTIVATIONS}; received {num_classes}, {head_activation!r}.")

    inputs = keras.Input(input_shape, name="image")
    x, levels = vgg16_features(inputs, width_multiplier)
    for decoder, num_convs in enumerate(DECODER_CONVS, start=1):
        block = len(VGG16_BLOCKS) - decoder  # skip from encoder block 4, 3, 2, 1 = level P3, P2, P1, P0
        filters = scaled_filters(VGG16_BLOCKS[block - 1][0], width_multiplier)
        x = keras.layers.Conv2DTranspose(filters, 2, strides=2, padding="same", name=f"decoder{decoder}_upconv")(x)
        skip = SharpeningConv2D(name=f"block{block}_sharpen")(levels[f"P{block - 1}"])
        x = keras.layers.Concatenate(axis=-1, name=f"decoder{decoder}_concat")([x, skip])
        for i in range(1, num_convs + 1):
            x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu",
                                    kernel_initializer=conv_init("fan_out"), name=f"decoder{decoder}_conv{i}")(x)
    activation = None if head_activation == "linear" else head_activation
    outputs = keras.layers.Conv2D(int(num_classes), 3, padding="same", activation=activation, name="reconstruction",
                                  dtype=output_dtype())(x)
    return load_weights(keras.Model(inputs, outputs, name=name), weights, builder="vgg16_sharp_unet")
