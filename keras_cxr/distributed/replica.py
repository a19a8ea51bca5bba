"""Random draws that stay right under data parallelism: each replica takes its rows of one global draw.

Under a `tf.distribute` strategy the replicas share one random-generator state (mirrored variables), and
under DDP every rank starts from the same seed, so a per-replica `keras.random.uniform((B_local, N))` gives
every replica the *same* masks: the model would see only B_local distinct masks per step instead of B. The
masking layers therefore draw noise for the global batch (B_local × replicas) and keep their replica's
rows, which is also exactly what one device running the global batch draws: a data-parallel run then
reproduces the single-device run (tested in tests/distributed/).
"""

import keras
from keras import ops

from keras_cxr.distributed.context import context


def replica_index_and_count():
    """(index of this replica, replicas in sync) inside a training step; (0, 1) on one device."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        replica = tf.distribute.get_replica_context()
        if replica is None or replica.num_replicas_in_sync == 1:
            return 0, 1
        return replica.replica_id_in_sync_group, replica.num_replicas_in_sync
    found = context()
    if found.engine == "torch_ddp":
        return found.rank, found.num_processes
    return 0, 1


def replica_rows(draw, local_batch):
    """`draw(batch)` for this replica: rows [i·B, (i+1)·B) of `draw(B · replicas)`, B = `local_batch`.

    Args:
        draw: function of a batch size returning a tensor whose first axis is that batch.
        local_batch: this replica's batch size (an int or a scalar tensor).

    Example:
    >>> import numpy as np
    >>> rows = replica_rows(lambda b: keras.ops.arange(b), 3)  # one device: the draw itself
    >>> keras.ops.convert_to_numpy(rows).tolist()
    [0, 1, 2]
    """
    index, count = replica_index_and_count()
    if isinstance(count, int) and count == 1:
        return draw(local_batch)
    full = draw(local_batch * count)
    return ops.take(full, ops.arange(local_batch) + index * local_batch, axis=0)
