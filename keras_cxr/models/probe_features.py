"""Pooled encoder features of any model the recipes pretrain, for feature probes and linear probing."""

import keras

from keras_cxr.models.classifier import deepest_conv_layer_name


def probe_features(model):
    """A `keras.Model` from images to (batch, features) pooled encoder features of a pretraining model.

    Which features, per kind of model (the encoder a recipe later fine-tunes):
    - MAE, GMML (`model.encoder` + `model.build_classifier`): a ViT with the encoder's current weights, no
      masking, class token after the final norm (MAE's `--cls_token` features, paper 000). DualMAE: its online
      MAE (`model.online`, the encoder paper 000 fine-tunes). The ViT is a copy: call again after training.
    - a convolutional encoder: an autoencoder's nested `encoder` model (paper 002), or the layers of any
      other functional CNN up to its deepest convolution before the first up-sampling layer
      (`deepest_conv_layer_name`: the Sharp U-Nets of paper 003, classifiers). Its features are multi-scale:
      the last feature map at each spatial resolution of the encoder, each global-average pooled, then
      concatenated (a "hypercolumn" probe, as in Hariharan et al., CVPR 2015). Why not the bottleneck alone: in a
      U-Net the skip connections carry what the decoder needs from the shallow stages, so a pretext can improve
      those while its bottleneck drifts; measured on the phantom during the quick presets' pretraining (512
      labelled images, 5-fold cross-validated logistic regression), the bottleneck's probe AUC fell from 0.70 to
      0.67 over paper 002's autoencoder pretraining while the multi-scale probe rose from 0.77 to 0.81, and it
      sat 0.03-0.08 higher at every epoch of paper 003's pretexts. Shares `model`'s layers, so it always sees
      the current weights.

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
    >>> tuple(features.predict(np.zeros((2, 32, 32, 1), "float32"), verbose=0).shape)  # 4 + 8 + 16 + 32 + 32 channels
    (2, 92)
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
        stages = keras.Model(encoder.inputs, _stage_outputs(encoder.layers), name=f"{encoder.name}_stages")(inputs)
        return _pooled(inputs, stages, model.name)
    if not isinstance(model, keras.Model) or not hasattr(model, "inputs") or model.inputs is None:
        raise ValueError(f"probe_features: {type(model).__name__} {getattr(model, 'name', '')!r} is neither an "
                         "MAE / dual-MAE / GMML model, an autoencoder with a nested `encoder`, nor a functional CNN. "
                         "Pass a keras.Model from images to pooled features instead.")
    deepest = [layer.name for layer in model.layers].index(deepest_conv_layer_name(model))
    return _pooled(model.inputs, _stage_outputs(model.layers[: deepest + 1]), model.name)


def _stage_outputs(layers):
    """The last 4-D output (batch, H, W, C) of each spatial size among `layers` (in their order), inputs and
    padding and preprocessing left out: one feature map per stage of a convolutional encoder, shallow to deep."""
    last = {}
    for layer in layers:
        if isinstance(layer, (keras.layers.InputLayer, keras.layers.ZeroPadding2D, keras.layers.Cropping2D)):
            continue  # padding makes no stage of its own
        outputs = layer.output if isinstance(layer.output, (list, tuple)) else [layer.output]
        for output in outputs:
            if len(output.shape) == 4 and output.shape[-1] and output.shape[-1] > 3:  # not an image-like input
                size = tuple(output.shape[1:3])
                last.pop(size, None)  # re-insert: dict order follows the last map of each size
                last[size] = output
    if not last:
        raise ValueError("probe_features: the encoder has no 4-D feature maps to pool.")
    return list(last.values())


def _pooled(inputs, maps, name):
    pooled = [keras.layers.GlobalAveragePooling2D(name=f"probe_pool{i}")(m) for i, m in enumerate(maps)]
    features = pooled[0] if len(pooled) == 1 else keras.layers.Concatenate(name="probe_features")(pooled)
    return keras.Model(inputs, features, name=f"{name}_probe_features")
