"""TensorFlow half of `EMATargetUpdate`: the per-variable Eq. 2 update traced once as a `tf.function`.

Run eagerly after every batch, the ViT-S dual-MAE's 182 assignments took 108 ms a step on this project's
2-core CPU, 29 ms as one graph (STYLE.md §3: backend-specific code in one small module per backend).
"""

import tensorflow as tf


def compile_update(update):
    """`update` (a function of no arguments) as a graph function; assignments stay cross-replica."""
    return tf.function(update)
