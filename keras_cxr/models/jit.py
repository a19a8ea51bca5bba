"""Which `jit_compile` to pass to `Model.compile`: Keras' own "auto", except XLA on a CPU-only TensorFlow
(float32 / float16)."""


def resolve_jit_compile(value="auto"):
    """The `jit_compile` argument for `Model.compile` that keras_cxr's recipes and benchmarks use.

    Keras' `jit_compile="auto"` turns XLA off on a CPU-only TensorFlow machine and under a `tf.distribute`
    strategy. For our transformer models XLA pays on CPU too: training steps of the benchmark MAE (ViT-S/16
    encoder, 2-block decoder, batch 8, 224 px) ran at 8.0 images/s with XLA against 5.9 without on a
    2-core CPU (`benchmarks/mae_pretrain.py --jit-compile`), and the VGG-16 Sharp U-Net at 0.42 against
    0.38. So "auto" here means XLA on TensorFlow whenever no distribution strategy is active, and Keras'
    "auto" everywhere else (PyTorch: eager — `torch.compile` gave no speed-up for these models and took
    minutes to compile; JAX: XLA). One exception: under a bfloat16 dtype policy on a CPU-only TensorFlow,
    XLA is off, because TensorFlow's own oneDNN kernels use the CPU's bf16 units (AMX) and XLA's CPU
    matmuls do not: MAE at batch 32 trained at 15.3 images/s without XLA against 11.0 with it, the Sharp
    U-Net at 4.52 against 4.41.

    Args:
        value: "auto", True or False (also "true" / "false"; booleans are returned unchanged).

    Returns:
        True, False or "auto", for `Model.compile(jit_compile=...)`.

    Example:
    >>> resolve_jit_compile(False)
    False
    """
    if isinstance(value, str) and value.lower() in ("true", "false"):  # command-line flags
        return value.lower() == "true"
    if value is True or value is False:
        return value
    if value != "auto":
        raise ValueError(f"jit_compile must be 'auto', True or False; received {value!r}.")
    import keras

    if keras.backend.backend() != "tensorflow":
        return "auto"
    import tensorflow as tf

    if tf.distribute.has_strategy():
        return "auto"
    if keras.config.dtype_policy().compute_dtype == "bfloat16" and not tf.config.list_physical_devices("GPU"):
        return False
    return True
