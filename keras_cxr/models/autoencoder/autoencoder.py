"""`autoencoder(backbone)`: any registered CNN backbone as the encoder, a mirrored up-sampling decoder, L1 (paper 002)."""

import keras

from keras_cxr.models.batch_norm import BATCH_NORM_MOMENTUM
from keras_cxr.models.contract import output_dtype, validate_input_shape
from keras_cxr.models.features import feature_extractor, feature_levels
from keras_cxr.models.registry import create_model


def _deepest_level(model, backbone):
    levels = {k: v for k, v in feature_levels(model).items() if k.startswith("P")}
    if not levels:
        raise ValueError(f"autoencoder: backbone {backbone!r} declares no feature levels P1..P5 "
                         "(keras_cxr.models.register_feature_levels); use a CNN backbone such as 'resnet50'.")
    return max(levels, key=lambda level: int(level[1:]))


def autoencoder(backbone="resnet50", input_shape=(224, 224, 1), weights=None, name=None, *,
                decoder_filters=(256, 128, 64, 32, 16), backbone_kwargs=None):
    """A convolutional autoencoder: encoder E = a registered CNN backbone up to its deepest feature level
    (stride 2**k), decoder D = k up-sampling steps mirrored on the encoder's strides, image in [0, 1] out.

    Decoder (the classic convolutional-autoencoder / U-Net expanding path without skip connections, Masci et
    al. 2011; Ronneberger et al. 2015 — paper 002's Fig. 3 shows only E → Z → D): per ×2 step a 3 × 3
    `Conv2DTranspose` (stride 2) + BatchNorm + ReLU, widths `decoder_filters` (repeated from the last when
    there are more steps), then a 3 × 3 convolution to one sigmoid channel. Backbones whose 'valid'
    convolutions trim the map (Xception) are resized back to the input size by a final `Resizing`. BatchNorm
    momentum 0.9, as in every registered backbone (`keras_cxr.models.batch_norm`: inference mode then tracks
    the trained network within a few hundred steps).
    Trained with L1 (Eq. 1: `keras.losses.MeanAbsoluteError`) on clean images (input = target).

    The encoder is the nested model `encoder` (`model.get_layer("encoder")`): transfer it with
    `disease_age_model(backbone, weights=autoencoder_model)` or `create_model(backbone, weights=...)`,
    which copy weights by layer name.

    Args:
        backbone: a registered CNN builder name (`keras_cxr.models.list_models()`).
        input_shape: (H, W, C), images in [0, 1]; sides divisible by the deepest stride.
        weights: None or a `.weights.h5` file of this same autoencoder.
        name: model name (default "autoencoder_<backbone>").
        decoder_filters: widths of the up-sampling steps, deepest first.
        backbone_kwargs: extra arguments of the backbone builder.

    Returns:
        `keras.Model` (B, H, W, C) → (B, H, W, C) reconstructions; attribute-free, so `.keras` files reload.

    Example:
    >>> model = autoencoder("resnet34", input_shape=(64, 64, 1), decoder_filters=(16, 8))
    >>> model.output_shape
    (None, 64, 64, 1)

    Reference:
        Park & Martin, "Cross-Domain Transfer Learning for Medical Condition Classification from Infant X-Ray
        Images", Fig. 3(a), Eq. 1; Masci et al., "Stacked Convolutional Auto-Encoders", ICANN 2011.
    """
    name = name or f"autoencoder_{backbone}"
    height, width, channels = validate_input_shape(input_shape, name)
    base = create_model(backbone, input_shape=(height, width, channels), **(backbone_kwargs or {}))
    level = _deepest_level(base, backbone)
    stride = 2 ** int(level[1:])
    if height % stride or width % stride:
        raise ValueError(f"{name}: input sides must be divisible by the encoder's stride {stride} ({level}); "
                         f"received input_shape {(height, width, channels)}.")
    encoder = feature_extractor(base, [level], name="encoder")
    inputs = keras.Input((height, width, channels), name="image")
    features = encoder(inputs)
    x = features[level] if isinstance(features, dict) else features
    filters = list(decoder_filters) or [16]
    for step in range(int(level[1:])):
        width_step = filters[min(step, len(filters) - 1)]
        x = keras.layers.Conv2DTranspose(width_step, 3, strides=2, padding="same", use_bias=False,
                                         name=f"decoder_up{step}")(x)
        x = keras.layers.BatchNormalization(momentum=BATCH_NORM_MOMENTUM, name=f"decoder_bn{step}")(x)
        x = keras.layers.ReLU(name=f"decoder_relu{step}")(x)
    if tuple(x.shape[1:3]) != (height, width):
        x = keras.layers.Resizing(height, width, name="decoder_resize")(x)
    outputs = keras.layers.Conv2D(channels, 3, padding="same", activation="sigmoid", name="reconstruction",
                                  dtype=output_dtype())(x)
    model = keras.Model(inputs, outputs, name=name)
    if weights is not None:
        model.load_weights(weights)
    return model
