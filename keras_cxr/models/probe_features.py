"""Pooled encoder features of any model the recipes pretrain, for feature probes and linear probing."""

import keras

from keras_cxr.models.classifier import deepest_conv_layer_name


def probe_features(model):
    """A `keras.Model` from images to (batch, features) pooled encoder features of a pretraining model.

    Which features, per kind of model (the encoder a recipe later fine-tunes):
    - MAE, GMML (`model.encoder` + `model.build_classifier`): a ViT with the encoder's current weights, no
      masking, class token after the final norm (MAE's `--cls_token` features, paper 000). DualMAE: its online
      MAE (`model.online`, the encoder paper 000 fine-tunes). The ViT is a copy: call again after training.
    - an autoencoder with a nested `encoder` model (paper 002): the encoder's deepest map, global-average pooled.
    - any other functional CNN (the Sharp U-Net pretexts of paper 003, classifiers): the deepest convolution
      before the first up-sampling layer (`deepest_conv_layer_name`), global-average pooled; shares `model`'s
      layers, so it always sees the current weights.

    Args:
        model: a built pretraining model or functional CNN.

    Returns:
        A `keras.Model` (inputs as `model`'s) whose output is (batch, features).

    Raises:
        ValueError: a model of none of these kinds (e.g. a subclassed model without an encoder).

    Example:
    >>> import numpy as np
    >>> from keras_cxr.models import vgg16_sharp_unet
    >>> features = probe_features(vgg16_sharp_unet((32, 32, 1), width_multiplier=0.0625))
    >>> tuple(features.predict(np.zeros((2, 32, 32, 1), "float32"), verbose=0).shape)
    (2, 32)
    """
    if hasattr(model, "online") and hasattr(model.online, "encoder"):  # DualMAE: the online network
        model = model.online
    if hasattr(model, "encoder") and hasattr(model, "build_classifier"):  # MAE, GMML
        if not model.built:
            model(keras.ops.zeros((1, model.image_size, model.image_size, model.channels)))
        return model.build_classifier(num_classes=0, pooling="token")
    names = {layer.name for layer in getattr(model, "layers", ())}
    if "encoder" in names and isinstance(model.get_layer("encoder"), keras.Model):  # autoencoders (paper 002)
        encoder = model.get_layer("encoder")
        inputs = keras.Input(tuple(model.input.shape[1:]), name="image")
        features = encoder(inputs)
        if isinstance(features, (list, tuple, dict)):
            features = list(features.values())[-1] if isinstance(features, dict) else features[-1]
        pooled = keras.layers.GlobalAveragePooling2D(name="probe_pool")(features)
        return keras.Model(inputs, pooled, name=f"{model.name}_probe_features")
    if not isinstance(model, keras.Model) or not hasattr(model, "inputs") or model.inputs is None:
        raise ValueError(f"probe_features: {type(model).__name__} {getattr(model, 'name', '')!r} is neither an "
                         "MAE / dual-MAE / GMML model, an autoencoder with a nested `encoder`, nor a functional CNN. "
                         "Pass a keras.Model from images to pooled features instead.")
    layer = model.get_layer(deepest_conv_layer_name(model))
    pooled = keras.layers.GlobalAveragePooling2D(name="probe_pool")(layer.output)
    return keras.Model(model.inputs, pooled, name=f"{model.name}_probe_features")
