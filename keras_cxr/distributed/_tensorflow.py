"""TensorFlow half of `keras_cxr.distributed`: the `tf.distribute` strategy for this process."""

import tensorflow as tf

from keras_cxr.distributed.context import DistributedContext


def start(multi_worker):
    """`MultiWorkerMirroredStrategy` (from `TF_CONFIG`) or, with several local GPUs, `MirroredStrategy`;
    None when one device is all there is."""
    if multi_worker:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        _reduce_structures_one_value_at_a_time(strategy)
        resolver = strategy.cluster_resolver
        rank = int(resolver.task_id) if resolver.task_type in ("worker", "chief") else 0
        if resolver.task_type == "worker" and "chief" in resolver.cluster_spec().as_dict():
            rank += 1  # a separate chief task is rank 0
        workers = sum(len(tasks) for tasks in resolver.cluster_spec().as_dict().values())
        return DistributedContext("multi_worker_mirrored", rank, workers, strategy.num_replicas_in_sync, strategy)
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        strategy = tf.distribute.MirroredStrategy()
        return DistributedContext("mirrored", 0, 1, strategy.num_replicas_in_sync, strategy)
    return None


def _reduce_structures_one_value_at_a_time(strategy):
    """Works around two places where Keras 3.15's TensorFlow trainer calls `strategy.reduce` in a way
    `MultiWorkerMirroredStrategy` refuses, which made every multi-worker `fit` fail:

    - before building the model it reduces the first (x, y) batch, a tuple, where the strategy takes one
      value ("Attempt to convert a value (PerReplica...) to a Tensor");
    - after each step it reduces the scalar logs with `axis=0` ("Invalid reduction dimension 0 for input
      with 0 dimensions").

    Each value of a structure is reduced separately (the same collective, once per value), a scalar over
    the workers with `axis=None`.
    """
    own_reduce = strategy.reduce

    def reduce_one(reduce_op, item, axis):
        if axis is not None and isinstance(item, tf.distribute.DistributedValues):
            rank = strategy.experimental_local_results(item)[0].shape.rank
            axis = None if rank == 0 else axis
        elif axis is not None and getattr(item, "shape", None) is not None and item.shape.rank == 0:
            axis = None
        return own_reduce(reduce_op, item, axis)

    def reduce(reduce_op, value, axis=None):
        return tf.nest.map_structure(lambda item: reduce_one(reduce_op, item, axis), value)

    strategy.reduce = reduce


def per_worker_dataset(strategy, dataset):
    """A `tf.distribute` dataset in which every replica gets its rows of each global batch of `dataset`
    (a `keras.utils.PyDataset`), for `MultiWorkerMirroredStrategy`.

    Given a PyDataset, Keras distributes with `experimental_distribute_dataset`, whose data sharding gives
    each *worker* whole global batches in turn (worker 0 batches 0, 2, …) before splitting them over the
    replicas, so a step no longer trains on one global batch. Here each worker's input pipeline
    (`distribute_datasets_from_function`) yields, for every global batch in order, the shares of its local
    replicas (`shard_bounds` over all replicas), which the strategy hands to those replicas in turn.
    The pipeline is endless and `dataset.on_epoch_end()` runs after each pass; `fit` must be given
    `steps_per_epoch=len(dataset)`.
    """
    from keras_cxr.distributed.sharding import shard_bounds

    first = dataset[0]
    signature = tf.nest.map_structure(
        lambda a: tf.TensorSpec((None, *a.shape[1:]), tf.as_dtype(a.dtype)), first)

    def make(input_context):
        local = strategy.num_replicas_in_sync // input_context.num_input_pipelines
        replicas = [input_context.input_pipeline_id * local + j for j in range(local)]

        def generate():  # endless: `fit` takes steps_per_epoch = len(dataset) from one iterator
            while True:
                for index in range(len(dataset)):
                    batch = dataset[index]
                    count = len(tf.nest.flatten(batch)[0])
                    for replica in replicas:
                        start, stop = shard_bounds(count, replica, strategy.num_replicas_in_sync)
                        yield tf.nest.map_structure(lambda a: a[start:stop], batch)
                dataset.on_epoch_end()

        return tf.data.Dataset.from_generator(generate, output_signature=signature).prefetch(2)

    return strategy.distribute_datasets_from_function(make)
