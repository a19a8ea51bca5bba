"""Score-CAM: gradient-free class activation maps from forward-pass scores (paper 003, §2.4)."""

import keras
import numpy as np
from keras import ops


def _class_indices(class_index, num_images):
    if class_index is None:
        return None
    indices = np.asarray(class_index)
    if indices.ndim == 0:
        indices = np.full(num_images, indices)
    if indices.shape != (num_images,) or not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(
            f"class_index must be None, an int or {num_images} ints (one per image); received {class_index!r}."
        )
    return indices.astype(np.int64)


def _min_max_normalize(maps, axes):
    low = ops.min(maps, axis=axes, keepdims=True)
    span = ops.max(maps, axis=axes, keepdims=True) - low
    valid = ops.greater(span, 0.0)
    return ops.where(valid, (maps - low) / ops.where(valid, span, 1.0), 0.0), valid


def score_cam(model, images, layer_name=None, class_index=None, batch_size=32, from_logits=False):
    """Score-CAM maps of `model` for `images`, resized to the input size and normalized to [0, 1].

    For each image: the activations A_k of `layer_name` (K channels) are upsampled bilinearly to the
    input size; each upsampled map, min-max normalized to [0, 1], masks the input (X ∘ H_k); the model's
    probability of the target class on the masked input is the weight α_k; the map is
    ReLU(Σ_k α_k · upsample(A_k)), min-max normalized. Channels whose map is constant get α_k = 0.
    This is the authors' released implementation (class probability as score, no baseline subtraction);
    the paper's Algorithm 1 variant with a softmax over channels is not used. Forward passes only
    (`predict_on_batch`), in chunks of `batch_size` masked inputs, so memory stays bounded and it runs
    on every backend. Cost: one forward pass per image and channel.

    Args:
        model: a functional classifier with one input, ending in a softmax (e.g. `encoder_classifier`).
        images: (N, H, W, C) array, preprocessed as the model expects.
        layer_name: layer whose activations are used; None → the deepest convolution
            (`keras_cxr.models.deepest_conv_layer_name`), as in paper 003.
        class_index: target class: None (the predicted class of each image), an int, or N ints.
        batch_size: masked inputs per forward pass.
        from_logits: the model outputs logits; a softmax turns them into probabilities first.

    Returns:
        (N, H, W) float32 numpy array in [0, 1] (all zeros where no channel has a positive score-weighted sum).

    Raises:
        ValueError: `images` not 4-D, a bad `class_index`, a model with several inputs or outputs.

    Example:
    >>> import keras, numpy as np
    >>> inputs = keras.Input((16, 16, 1))
    >>> x = keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu", name="conv")(inputs)
    >>> outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x))
    >>> maps = score_cam(keras.Model(inputs, outputs), np.random.rand(3, 16, 16, 1).astype("float32"))
    >>> maps.shape, bool(maps.min() >= 0.0 and maps.max() <= 1.0)
    ((3, 16, 16), True)

    Reference:
        Wang et al., "Score-CAM: Score-Weighted Visual Explanations for Convolutional Neural Networks",
        CVPR Workshops 2020, arXiv:1910.01279 (Eq. 5-8; github.com/haofanwang/Score-CAM);
        Rajaraman et al., Frontiers in AI 2024, doi:10.3389/frai.2024.1419638, §2.4.
    """
    from keras_cxr.models.classifier import deepest_conv_layer_name

    images = np.asarray(images, dtype="float32")
    if images.ndim != 4:
        raise ValueError(f"images must be (N, H, W, C); received shape {images.shape}.")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(
            f"score_cam needs a model with one input and one output; {model.name!r} has "
            f"{len(model.inputs)} and {len(model.outputs)}."
        )
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1; received {batch_size}.")
    batch_size = int(batch_size)
    layer_name = deepest_conv_layer_name(model) if layer_name is None else layer_name
    extractor = keras.Model(model.inputs[0], [model.get_layer(layer_name).output, model.outputs[0]])

    def probabilities(x):
        out = ops.cast(ops.convert_to_tensor(model.predict_on_batch(x)), "float32")
        return ops.softmax(out, axis=-1) if from_logits else out

    num_images, height, width, _ = images.shape
    targets = _class_indices(class_index, num_images)
    maps = np.zeros((num_images, height, width), dtype="float32")
    for i in range(num_images):
        x = ops.convert_to_tensor(images[i : i + 1])
        activations, predictions = extractor.predict_on_batch(x)
        predictions = np.asarray(ops.convert_to_numpy(predictions), dtype="float32")
        if predictions.ndim != 2:
            raise ValueError(f"score_cam needs (batch, classes) model outputs; received {predictions.shape}.")
        target = int(np.argmax(predictions[0])) if targets is None else int(targets[i])
        if not 0 <= target < predictions.shape[-1]:
            raise ValueError(f"class_index must lie in [0, {predictions.shape[-1]}); received {target}.")
        activations = ops.cast(ops.convert_to_tensor(activations), "float32")
        if len(activations.shape) != 4:
            raise ValueError(f"layer {layer_name!r} must output (batch, h, w, channels); got {activations.shape}.")
        cam = ops.zeros((height, width), dtype="float32")
        for start in range(0, int(activations.shape[-1]), batch_size):
            chunk = activations[..., start : start + batch_size]
            upsampled = ops.image.resize(chunk, (height, width), interpolation="bilinear")[0]  # (H, W, b)
            upsampled = ops.transpose(upsampled, (2, 0, 1))  # (b, H, W)
            masks, valid = _min_max_normalize(upsampled, axes=(1, 2))
            scores = probabilities(x * masks[..., None])[:, target]
            scores = ops.where(ops.reshape(valid, (-1,)), scores, 0.0)
            cam = cam + ops.sum(scores[:, None, None] * upsampled, axis=0)
        cam, _ = _min_max_normalize(ops.relu(cam)[None], axes=(1, 2))
        maps[i] = ops.convert_to_numpy(cam[0])
    return maps
