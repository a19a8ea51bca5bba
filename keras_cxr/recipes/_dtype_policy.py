"""The Keras dtype policy a recipe runs under, set for the run and restored afterwards."""

import contextlib

DTYPE_POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")


@contextlib.contextmanager
def dtype_policy_scope(name):
    """Runs the body under the global Keras dtype policy `name`, then restores the caller's policy.

    Keras has only the global `keras.mixed_precision.set_global_policy`; a recipe called from a notebook
    must not leave it changed. Models built inside keep `name` in their saved config.
    """
    import keras

    if name not in DTYPE_POLICIES:
        raise ValueError(f"dtype_policy must be one of {DTYPE_POLICIES}; received {name!r}.")
    previous = keras.config.dtype_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)
