"""Linear probing: a frozen encoder, a normalization without affine parameters, one linear layer (mae's protocol)."""

import keras

from keras_cxr.models.contract import classification_head, validate_head


def linear_probe(features, num_classes, head_activation="softmax", name="linear_probe"):
    """The linear-probing classifier of facebookresearch/mae's `main_linprobe.py` over any feature model.

    images → `features` (frozen: `trainable = False`, always called in inference mode, so its normalization
    statistics and dropout stay as pretrained) → BatchNormalization without scale or shift (mae:
    `BatchNorm1d(affine=False, eps=1e-6)`, which standardizes the features the way the linear layer needs
    without adding parameters a linear classifier could not express) → Dense with truncated-normal
    (std 0.01) kernel, zero bias (mae's head init). Only the BN statistics and the head change in training.

    Args:
        features: a `keras.Model` from images to (batch, d) features, e.g. `probe_features(pretrained)`.
        num_classes: outputs.
        head_activation: "softmax", "sigmoid" (multi-label) or None (logits).
        name: model name.

    Returns:
        A `keras.Model` with the feature model's inputs.

    Example:
    >>> from keras_cxr.models import probe_features, vgg16_sharp_unet
    >>> probe = linear_probe(probe_features(vgg16_sharp_unet((32, 32, 1), width_multiplier=0.0625)), 2)
    >>> len(probe.trainable_weights)  # the head's kernel and bias only
    2

    Reference:
        He et al., "Masked Autoencoders Are Scalable Vision Learners", CVPR 2022, arXiv:2111.06377, §4 and
        appendix A.3 (linear probing: BatchNorm without affine before the linear classifier).
    """
    num_classes, head_activation = validate_head(num_classes, head_activation, "linear_probe")
    if num_classes < 1:
        raise ValueError(f"linear_probe: num_classes must be >= 1; received {num_classes}.")
    if len(features.outputs) != 1 or len(features.outputs[0].shape) != 2:
        raise ValueError(f"linear_probe: `features` must output one (batch, d) tensor; it outputs "
                         f"{[tuple(o.shape) for o in features.outputs]}. Use keras_cxr.models.probe_features.")
    features.trainable = False
    inputs = keras.Input(tuple(features.inputs[0].shape[1:]), name="image")
    x = features(inputs, training=False)
    x = keras.layers.BatchNormalization(center=False, scale=False, epsilon=1e-6, momentum=0.9, name="probe_norm")(x)
    outputs = classification_head(x, num_classes, head_activation, name="predictions",
                                  kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.01))
    return keras.Model(inputs, outputs, name=name)
