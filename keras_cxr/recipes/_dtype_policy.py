"""The Keras dtype policy a recipe runs under ("auto" resolved for the device), set for the run and restored."""

import contextlib
import os

import keras

DTYPE_POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")


def _gpu_capability():
    """(major, minor) compute capability of the first CUDA GPU the backend sees, or None."""
    try:
        if keras.backend.backend() == "torch":
            import torch  # backend-specific: only on the torch backend (may be absent on a TensorFlow install)

            return tuple(torch.cuda.get_device_capability(0)) if torch.cuda.is_available() else None
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf  # backend-specific: only on the tensorflow backend

            gpus = tf.config.list_physical_devices("GPU")
            if gpus:
                return tuple(tf.config.experimental.get_device_details(gpus[0]).get("compute_capability", (0, 0)))
    except Exception:  # noqa: BLE001 - no usable GPU runtime: decide on the CPU
        return None
    return None


def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            return set(next((line for line in f if line.startswith("flags")), "").split())
    except OSError:
        return set()


def resolve_dtype_policy(name="auto"):
    """`name` itself, or for "auto" the fast policy of this device: "mixed_bfloat16" on GPUs with bf16
    units (compute capability ≥ 8.0: Ampere, Hopper, ...) and on CPUs with AMX-bf16 or AVX-512-bf16;
    "mixed_float16" (Keras scales the loss) on older GPUs (T4, P100, V100); "float32" otherwise.

    Example:
    >>> resolve_dtype_policy("float32")
    'float32'
    """
    if name != "auto":
        if name not in DTYPE_POLICIES:
            raise ValueError(f"dtype_policy must be 'auto' or one of {DTYPE_POLICIES}; received {name!r}.")
        return name
    capability = _gpu_capability()
    if capability is not None:
        return "mixed_bfloat16" if capability >= (8, 0) else "mixed_float16"
    flags = _cpu_flags() if os.name == "posix" else set()
    return "mixed_bfloat16" if flags & {"amx_bf16", "avx512_bf16"} else "float32"


@contextlib.contextmanager
def dtype_policy_scope(name):
    """Runs the body under the global Keras dtype policy `name` ("auto": `resolve_dtype_policy`), then
    restores the caller's policy.

    Keras has only the global `keras.mixed_precision.set_global_policy`; a recipe called from a notebook
    must not leave it changed. Models built inside keep the policy in their saved config.
    """
    resolved = resolve_dtype_policy(name)
    previous = keras.config.dtype_policy()
    keras.mixed_precision.set_global_policy(resolved)
    try:
        yield resolved
    finally:
        keras.mixed_precision.set_global_policy(previous)
