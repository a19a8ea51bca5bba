"""Data-parallel training on the backends' own engines (tf.distribute strategies, torch DDP via torchrun)."""

from keras_cxr.distributed.callbacks import AverageNonTrainable, ChiefBackupAndRestore
from keras_cxr.distributed.context import (DistributedContext, barrier, context, initialize, is_chief,
                                          launcher_environment)
from keras_cxr.distributed.replica import replica_index_and_count, replica_rows
from keras_cxr.distributed.sharding import ArrayBatches, ShardedBatches, shard_bounds
from keras_cxr.distributed.training import fit, shard

__all__ = ["ArrayBatches", "AverageNonTrainable", "ChiefBackupAndRestore", "DistributedContext", "ShardedBatches",
           "barrier", "context", "fit", "initialize", "is_chief", "launcher_environment", "replica_index_and_count",
           "replica_rows", "shard", "shard_bounds"]
