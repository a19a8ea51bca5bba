"""VGG-16 Sharp U-Net for denoising / deblurring pretext learning (paper 003, §2.3.1, Fig. 1)."""

import keras

from keras_cxr.layers.sharpening import SharpeningConv2D

# (filters, number of 3 × 3 convolutions) per VGG-16 encoder block (§2.3.1; Simonyan & Zisserman 2015).
VGG16_BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))
# Decoder blocks: one 2 × 2 up-convolution, then this many 3 × 3 convolutions (§2.3.1: 3, 3, 2, 2);
# filters mirror the encoder (512, 256, 128, 64) and the skip comes from encoder block 4, 3, 2, 1.
DECODER_CONVS = (3, 3, 2, 2)


def scaled_filters(filters, width_multiplier):
    """Filters of a block scaled by `width_multiplier`, rounded, at least 1.

    Example:
    >>> scaled_filters(64, 0.125)
    8
    """
    return max(1, int(round(filters * float(width_multiplier))))


def _output_dtype():
    # Mixed precision: keep the last layer in float32 for a stable sigmoid/softmax and loss.
    return "float32" if keras.mixed_precision.global_policy().name.startswith("mixed") else None


def vgg16_encoder(x, width_multiplier=1.0, pool_last=False):
    """Applies the VGG-16 convolutional blocks to the tensor `x` (keras.applications.VGG16 layer names).

    Layers are named `block{b}_conv{i}` and `block{b}_pool`, as in `keras.applications.VGG16`, so ImageNet
    weights can be copied by name and `block5_conv3` is the deepest convolution.

    Args:
        x: symbolic (batch, height, width, channels) tensor.
        width_multiplier: scales the 64-128-256-512-512 filters.
        pool_last: also max-pool after block 5 (VGG-16 classification trunk); the U-Net does not.

    Returns:
        (output, skips): the last tensor and the list of the five block outputs before pooling.
    """
    skips = []
    for block, (filters, num_convs) in enumerate(VGG16_BLOCKS, start=1):
        for i in range(1, num_convs + 1):
            x = keras.layers.Conv2D(
                scaled_filters(filters, width_multiplier), 3, padding="same", activation="relu",
                name=f"block{block}_conv{i}",
            )(x)
        skips.append(x)
        if block < len(VGG16_BLOCKS) or pool_last:
            x = keras.layers.MaxPooling2D(2, strides=2, name=f"block{block}_pool")(x)
    return x, skips


def vgg16_sharp_unet(input_shape=(224, 224, 1), width_multiplier=1.0, name="vgg16_sharp_unet"):
    """VGG-16 Sharp U-Net: VGG-16 encoder, sharpened skip connections, sigmoid image output.

    Encoder (random init): VGG-16 blocks of 2, 2, 3, 3, 3 convolutions 3 × 3 + ReLU with 64, 128, 256,
    512, 512 filters, a 2 × 2 max-pool after blocks 1–4 (`block{b}_conv{i}`, `block{b}_pool`; the deepest
    convolution is `block5_conv3`). Each skip (blocks 4, 3, 2, 1, before pooling) goes through
    `SharpeningConv2D` (`block{b}_sharpen`). Decoder block d = 1..4: a 2 × 2 up-convolution (stride 2,
    linear, `decoder{d}_upconv`) with 512, 256, 128, 64 filters, concatenation with the sharpened skip
    (`decoder{d}_concat`), then 3, 3, 2, 2 convolutions 3 × 3 + ReLU (`decoder{d}_conv{i}`). Output: one
    3 × 3 convolution with 1 filter and a sigmoid (`reconstruction`). At width 1 and 224 × 224 × 1 the
    model has 28,803,905 parameters (14,713,536 in the encoder).

    Args:
        input_shape: (height, width, channels); height and width divisible by 16 (four poolings).
        width_multiplier: scales every filter count (1.0 = the paper; e.g. 0.125 for CPU tests).
        name: model name.

    Returns:
        A functional `keras.Model` mapping (batch, H, W, C) images in [0, 1] to (batch, H, W, 1).

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
    input_shape = tuple(input_shape)
    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be (height, width, channels); received {input_shape}.")
    for axis, size in zip(("height", "width"), input_shape[:2]):
        if size is not None and (int(size) <= 0 or int(size) % 16):
            raise ValueError(
                f"vgg16_sharp_unet needs a {axis} divisible by 16 (four 2 × 2 poolings); received input_shape "
                f"{input_shape}. Resize or pad the images, e.g. to {max(16, (int(size) + 15) // 16 * 16)}."
            )
    if input_shape[2] is None or int(input_shape[2]) < 1:
        raise ValueError(f"input_shape needs a known channel count; received {input_shape}.")
    if not float(width_multiplier) > 0:
        raise ValueError(f"width_multiplier must be > 0; received {width_multiplier}.")

    inputs = keras.Input(input_shape, name="image")
    x, skips = vgg16_encoder(inputs, width_multiplier)
    for decoder, num_convs in enumerate(DECODER_CONVS, start=1):
        block = len(VGG16_BLOCKS) - decoder  # skip from encoder block 4, 3, 2, 1
        filters = scaled_filters(VGG16_BLOCKS[block - 1][0], width_multiplier)
        x = keras.layers.Conv2DTranspose(filters, 2, strides=2, padding="same", name=f"decoder{decoder}_upconv")(x)
        skip = SharpeningConv2D(name=f"block{block}_sharpen")(skips[block - 1])
        x = keras.layers.Concatenate(axis=-1, name=f"decoder{decoder}_concat")([x, skip])
        for i in range(1, num_convs + 1):
            x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"decoder{decoder}_conv{i}")(x)
    outputs = keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid", name="reconstruction",
                                  dtype=_output_dtype())(x)
    return keras.Model(inputs, outputs, name=name)
