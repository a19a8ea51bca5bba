"""ResNet-34 (He et al. 2016), which Keras applications lack, with a 1-channel input by default."""

import keras


def _basic_block(x, filters, stride, name):
    shortcut = x
    y = keras.layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_conv1")(x)
    y = keras.layers.BatchNormalization(epsilon=1e-5, name=f"{name}_bn1")(y)
    y = keras.layers.ReLU(name=f"{name}_relu1")(y)
    y = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv2")(y)
    y = keras.layers.BatchNormalization(epsilon=1e-5, name=f"{name}_bn2")(y)
    if stride != 1 or x.shape[-1] != filters:
        shortcut = keras.layers.Conv2D(filters, 1, strides=stride, use_bias=False, name=f"{name}_down_conv")(x)
        shortcut = keras.layers.BatchNormalization(epsilon=1e-5, name=f"{name}_down_bn")(shortcut)
    return keras.layers.ReLU(name=f"{name}_out")(keras.layers.Add(name=f"{name}_add")([y, shortcut]))


def resnet34(input_shape=(224, 224, 1), num_classes=0, head_activation=None, weights=None, name="resnet34"):
    """ResNet-34: 7×7/2 stem, max-pool, BasicBlock stages [3, 4, 6, 3] of 64–512 filters, global average pool.

    The baseline of paper 000 (§IV.B, 22 M parameters, like ViT-S). ImageNet weights are not downloaded:
    pass `weights` as the path of a Keras weights file (e.g. converted torchvision weights) to load them.

    Args:
        input_shape: (H, W, C).
        num_classes: 0 → pooled 512-d features; else a Dense head with `head_activation`.
        weights: None or a `.weights.h5` path.

    Example:
    >>> resnet34((64, 64, 1), num_classes=6, head_activation="sigmoid").output_shape
    (None, 6)
    """
    inputs = keras.Input(input_shape, name="image")
    x = keras.layers.Conv2D(64, 7, strides=2, padding="same", use_bias=False, name="stem_conv")(inputs)
    x = keras.layers.BatchNormalization(epsilon=1e-5, name="stem_bn")(x)
    x = keras.layers.ReLU(name="stem_relu")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    for stage, (blocks, filters) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512))):
        for block in range(blocks):
            x = _basic_block(x, filters, 2 if block == 0 and stage > 0 else 1, f"stage{stage + 1}_block{block + 1}")
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    if num_classes:
        x = keras.layers.Dense(num_classes, activation=head_activation, name="head", dtype="float32")(x)
    model = keras.Model(inputs, x, name=name)
    if weights is not None:
        model.load_weights(weights)
    return model
