"""The one builder contract every registered model follows, and the pieces builders share to meet it.

Every builder in `keras_cxr.models` takes the same leading arguments (timm's `create_model` arguments,
keras-hub's image backbones' channels-last input):

- `input_shape=(224, 224, 1)`: (height, width, channels), channels last; one channel (a chest X-ray) by
  default, any channel count accepted;
- `num_classes=0`: 0 → the backbone without a head (pooled features for classifiers); > 0 → a Dense head;
- `head_activation=None`: None or "linear" (logits), "softmax", "sigmoid";
- `weights=None`: None (random init), a path (`.keras` / `.weights.h5`, or a torchvision / timm state dict
  where the builder has a converter), another Keras model to copy weights from by layer name, or
  "imagenet" where a builder knows the file (see `keras_cxr.models.weights`);
- `name`: the model's name;

then its own keyword arguments (patch size, width, mask ratio, ...).
"""

import keras

HEAD_ACTIVATIONS = (None, "linear", "softmax", "sigmoid")


def validate_input_shape(input_shape, builder, divisible_by=1):
    """`input_shape` as a tuple of 3 ints, or a ValueError that names the builder and the fix.

    Example:
    >>> validate_input_shape([64, 64, 1], "vit_small", divisible_by=16)
    (64, 64, 1)
    """
    try:
        shape = tuple(int(v) for v in input_shape)
    except (TypeError, ValueError):
        shape = None
    if shape is None or len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"{builder}: input_shape must be (height, width, channels) of positive ints, channels "
                         f"last (e.g. (224, 224, 1)); received {input_shape!r}.")
    for axis, size in zip(("height", "width"), shape[:2]):
        if size % divisible_by:
            fixed = max(divisible_by, round(size / divisible_by) * divisible_by)
            raise ValueError(f"{builder}: the input {axis} must be divisible by {divisible_by}; received "
                             f"input_shape {shape}. Resize or pad the images, e.g. to {fixed}.")
    return shape


def validate_head(num_classes, head_activation, builder):
    """(num_classes, head_activation) checked against the contract; num_classes None means 0 (no head), as
    timm's `num_classes=0` and keras.applications' `include_top=False` users often write it."""
    if num_classes is None:
        num_classes = 0
    if int(num_classes) < 0:
        raise ValueError(f"{builder}: num_classes must be >= 0 (0 = no head); received {num_classes}.")
    if head_activation not in HEAD_ACTIVATIONS:
        raise ValueError(f"{builder}: head_activation must be one of {HEAD_ACTIVATIONS}; received {head_activation!r}.")
    return int(num_classes), head_activation


def output_dtype():
    """float32 for the last layer under a mixed policy (a stable sigmoid / softmax and loss), else None."""
    return "float32" if keras.config.dtype_policy().name.startswith("mixed") else None


def classification_head(features, num_classes, head_activation, name="head", kernel_initializer="glorot_uniform"):
    """The contract's head: `features` unchanged for num_classes = 0, else a Dense layer (float32 under
    mixed precision) with `head_activation` ("linear" and None give logits)."""
    if not num_classes:
        return features
    activation = None if head_activation in (None, "linear") else head_activation
    return keras.layers.Dense(num_classes, activation=activation, kernel_initializer=kernel_initializer,
                              name=name, dtype="float32")(features)
