"""Batch-normalization momentum for small-data training: 0.9 in every registered model.

Keras' `BatchNormalization` updates its running statistics as `moving = momentum · moving + (1 − momentum) ·
batch`, starting from mean 0 and variance 1. After n steps the start values still weigh `momentum ** n`: at
Keras' default 0.99 that is 0.37 after 100 steps and 0.05 after 300 (keras.applications' MobileNetV2 uses
0.999: 0.90 and 0.74), so it takes many hundreds to thousands of steps before inference mode (`model.predict`,
`model(x, training=False)`) normalizes with statistics of the trained network. A pediatric chest X-ray set of
a few thousand images gives a few hundred steps: measured on such a run, MobileNetV2, ResNet-50, DenseNet-121
and Xception from keras.applications predicted a constant in inference mode (AUC ~0.5) while their
training-mode AUC was 0.6–0.9; tests/models/test_small_data_training.py shows it on a toy task. Momentum 0.9
is PyTorch's default (torch's `momentum=0.1` weighs the new batch, Keras' 0.9 the old statistics: the same
update), used by torchvision's ResNets and by our hand-written CNNs; it leaves `0.9 ** 50 < 0.01` of the start
values after 50 steps.

Only the running-average rate changes: learned weights (ImageNet-pretrained ones included), `epsilon` and
the normalization in training mode stay as they were. The momentum is part of `BatchNormalization.get_config`,
so it survives `.keras` save / load and `keras.models.clone_model`.
"""

import keras

BATCH_NORM_MOMENTUM = 0.9


def _layers(model):
    """Every layer of `model`, nested models (a wrapped backbone, an `encoder`) entered recursively."""
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _layers(layer)


def set_batch_norm_momentum(model, momentum=BATCH_NORM_MOMENTUM):
    """Sets `momentum` on every `BatchNormalization` layer of `model` (nested models included), in place.

    Call it on a freshly built model, before `compile` / `fit` (a traced TensorFlow function keeps the
    momentum it was traced with).

    Args:
        model: a `keras.Model` (or any layer with `.layers`).
        momentum: the running-statistics momentum in Keras' convention (weight of the old value), in [0, 1).

    Returns:
        `model`, for chaining.

    Raises:
        ValueError: `momentum` outside [0, 1).

    Example:
    >>> import keras
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.BatchNormalization()])
    >>> set_batch_norm_momentum(model).layers[0].momentum
    0.9
    """
    if not 0.0 <= float(momentum) < 1.0:
        raise ValueError(f"momentum must be in [0, 1) (Keras' convention: the weight of the running value; torch's "
                         f"momentum m is Keras' 1 - m); received {momentum}.")
    for layer in _layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = float(momentum)
    return model


def batch_norm_momenta(model):
    """`{layer name: momentum}` of every `BatchNormalization` layer of `model`, nested models included.

    Example:
    >>> import keras
    >>> batch_norm_momenta(keras.Sequential([keras.Input((4,)), keras.layers.BatchNormalization(name="bn")]))
    {'bn': 0.99}
    """
    return {layer.name: layer.momentum for layer in _layers(model)
            if isinstance(layer, keras.layers.BatchNormalization)}
