"""Which `jit_compile` to pass to `Model.compile`: Keras' own "auto", except XLA on a CPU-only TensorFlow
(float32 / float16), and eager on PyTorch for a model that `torch.compile` cannot compile."""

import warnings

import keras

_CONVOLUTIONS = ("Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
                 "SeparableConv1D", "SeparableConv2D", "DepthwiseConv1D", "DepthwiseConv2D")


def torch_compile_blocker(model):
    """Why `torch.compile` (`jit_compile=True` on PyTorch) fails on `model`, or None where no known cause is found.

    The one known cause (torch 2.13, Keras 3.15): a channels-last convolution that reads a one-channel tensor
    another layer produced (the ResNet / ResNeXt / DenseNet / ShuffleNet / HRNet stems on a chest X-ray:
    `ZeroPadding2D` → `Conv2D`). `keras.ops.pad` (so `ZeroPadding2D`) builds a Keras `Operation` at every
    call; under dynamo that breaks the graph at each later `Layer.__call__` ("mapping proxy affected by
    dictionary mutation"), so layers are compiled one frame at a time, the frame shared by all layers meets a
    second input shape and is recompiled with dynamic shapes, and inductor fails on the backward of a
    convolution whose NHWC → NCHW input has a size-1 channel: "cannot determine truth value of Relational:
    1 < s..." (plain torch: `torch.compile(lambda x, w: torch.conv2d(x.permute(0, 3, 1, 2), w).sum(),
    dynamic=True)` on a (2, 10, 10, 1) input, then `.backward()`; tests/models/test_jit.py keeps it, and it also
    fails on 3 channels, "s0*s27 < s0", while dynamic=False or an NCHW input pass). A convolution that reads the
    model input itself is compiled before any other shape is seen, and passes (MobileNetV2, VGG, Xception, the
    ViT patch embedding, UNETR, the Sharp U-Net); ResNet-34 on 3-channel input compiled and trained too (its
    stem's input shape did not change between compilations). Nested models are searched; convolutions called
    inside a subclassed layer's `call` are not seen.

    Checked on PyTorch 2.13 (CPU), compiled vs eager, 3 SGD steps from the same weights, equal within float32
    noise (tests/models/test_jit.py): ViT-Tiny / ViT-S, MAE, DualMAE, UNETR, VGG-16 Sharp U-Net, VGG-19,
    MobileNetV2, Xception, the paper 002 autoencoder and disease + age model (MobileNetV2); failing, so
    trained eagerly: ResNet-34 / 50, ResNeXt-50, DenseNet-121, ShuffleNet v1, HRNet-W32 on one-channel input.

    Example:
    >>> import keras
    >>> inputs = keras.Input((32, 32, 1))
    >>> padded = keras.layers.ZeroPadding2D(3, name="pad")(inputs)
    >>> model = keras.Model(inputs, keras.layers.Conv2D(4, 7, name="stem")(padded), name="stem_model")
    >>> print(torch_compile_blocker(model))
    'stem' (Conv2D) reads a one-channel tensor from 'pad' (ZeroPadding2D); torch.compile fails on it ...
    >>> torch_compile_blocker(keras.Model(inputs, keras.layers.Conv2D(4, 7)(inputs))) is None
    True
    """
    convolutions = tuple(getattr(keras.layers, name) for name in _CONVOLUTIONS)
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if not isinstance(layer, convolutions) or getattr(layer, "data_format", "channels_last") != "channels_last":
            continue
        for node in layer._inbound_nodes:
            for tensor in node.input_tensors:
                producer = tensor._keras_history.operation if hasattr(tensor, "_keras_history") else None
                if tensor.shape[-1] == 1 and producer is not None and not isinstance(producer, keras.layers.InputLayer):
                    return (f"{layer.name!r} ({type(layer).__name__}) reads a one-channel tensor from {producer.name!r} "
                            f"({type(producer).__name__}); torch.compile fails on it with dynamic shapes (inductor: "
                            "'cannot determine truth value of Relational')")
    return None


def resolve_jit_compile(value="auto", model=None):
    """The `jit_compile` argument for `Model.compile` that keras_cxr's recipes and benchmarks use.

    Keras' `jit_compile="auto"` turns XLA off on a CPU-only TensorFlow machine and under a `tf.distribute`
    strategy. For our transformer models XLA pays on CPU too: training steps of the benchmark MAE (ViT-S/16
    encoder, 2-block decoder, batch 8, 224 px) ran at 8.0 images/s with XLA against 5.9 without on a
    2-core CPU (`benchmarks/mae_pretrain.py --jit-compile`), and the VGG-16 Sharp U-Net at 0.42 against
    0.38. So "auto" here means XLA on TensorFlow whenever no distribution strategy is active, and Keras'
    "auto" everywhere else (PyTorch: eager — `torch.compile` trained the ViT-S MAE at 0.90x the
    eager speed on a 2-core CPU after ~4 minutes of compiling, `benchmarks/mae_pretrain.py --jit-compile both`;
    JAX: XLA). One exception: under a bfloat16 dtype policy on a CPU-only TensorFlow,
    XLA is off, because TensorFlow's own oneDNN kernels use the CPU's bf16 units (AMX) and XLA's CPU
    matmuls do not: MAE at batch 32 trained at 15.3 images/s without XLA against 11.0 with it, the Sharp
    U-Net at 4.52 against 4.41. A second exception, with `model=`: a CPU-only TensorFlow trains a network with
    BatchNormalization without XLA, because XLA's CPU code for the batch-normalized CNNs was slower than
    TensorFlow's own kernels (2-core AMD EPYC, batch 32, 224 px, `benchmarks/cnn_backbones.py`): ResNet-50 2.17
    images/s without XLA against 1.69 with it, MobileNetV2 6.46 against 1.49.

    With `model=` on PyTorch, True turns into False, with one warning naming the model and the cause, for a
    model `torch.compile` is known to fail on (`torch_compile_blocker`).

    Args:
        value: "auto", True or False (also "true" / "false"; booleans are returned unchanged, but for the
            PyTorch fallback above).
        model: the model to be compiled (optional); read on PyTorch when `value` is True, and on a CPU-only
            TensorFlow for "auto" (no XLA for a network with BatchNormalization).

    Returns:
        True, False or "auto", for `Model.compile(jit_compile=...)`.

    Example:
    >>> resolve_jit_compile(False)
    False
    """
    if isinstance(value, str) and value.lower() in ("true", "false"):  # command-line flags
        value = value.lower() == "true"
    if value is True or value is False:
        return _torch_fallback(model) if value and model is not None else value
    if value != "auto":
        raise ValueError(f"jit_compile must be 'auto', True or False; received {value!r}.")
    if keras.backend.backend() != "tensorflow":
        return "auto"
    import tensorflow as tf  # backend-specific: only on the tensorflow backend (may be absent on a torch install)

    if tf.distribute.has_strategy():
        return "auto"
    if not tf.config.list_physical_devices("GPU"):
        if keras.config.dtype_policy().compute_dtype == "bfloat16":
            return False
        if model is not None and _has_batch_norm(model):
            return False
    return True


def _has_batch_norm(model):
    """True when `model` (nested models included) has a BatchNormalization layer."""
    return any(isinstance(layer, keras.layers.BatchNormalization)
               for layer in model._flatten_layers(include_self=False, recursive=True))


def _torch_fallback(model):
    """True, or False with a warning where the PyTorch backend cannot `torch.compile` `model`."""
    if keras.backend.backend() != "torch":
        return True
    reason = torch_compile_blocker(model)
    if reason is None:
        return True
    warnings.warn(f"jit_compile=True: {model.name} trains eagerly on the PyTorch backend instead, because {reason}; "
                  "see keras_cxr.models.jit.torch_compile_blocker.", stacklevel=3)
    return False
