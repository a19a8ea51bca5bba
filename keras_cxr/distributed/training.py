"""`fit` that trains data-parallel when the process is part of a distributed run, and plainly otherwise."""

import keras

from keras_cxr.distributed.callbacks import AverageNonTrainable
from keras_cxr.distributed.context import context
from keras_cxr.distributed.sharding import ArrayBatches, ShardedBatches


def shard(data, rank, num_shards):
    """Rank `rank`'s share of each batch of a `keras.utils.PyDataset` (see `ShardedBatches`)."""
    if hasattr(data, "shard"):
        return data.shard(rank, num_shards)
    return ShardedBatches(data, rank, num_shards)


def fit(model, x=None, y=None, *, batch_size=None, shuffle=True, seed=0, callbacks=(), verbose="auto", **kwargs):
    """`model.fit(x, y, ...)`, data-parallel under the active `keras_cxr.distributed` context.

    The batch is the *global* batch in every case (`batch_size`, or the PyDataset's batches), so the
    learning rate, its schedule (steps per epoch) and the EMA target update are those of the single-device
    run, which a data-parallel run reproduces up to floating-point order (tests/distributed/). When scaling
    the global batch up for more devices, scale the learning rate with it (Goyal et al. 2017, linear rule).

    - One device: `model.fit` unchanged.
    - TensorFlow strategies: the model was built under `strategy.scope()` (`run_recipe` enters it), and
      Keras all-reduces the gradients. Under `MirroredStrategy` Keras splits each global batch over the
      local devices; under `MultiWorkerMirroredStrategy` each worker reads its replicas' rows of every
      global batch (`_tensorflow.per_worker_dataset`; arrays batched by `ArrayBatches` first).
    - PyTorch DDP: the model's training forward runs through `DistributedDataParallel`
      (`keras_cxr.distributed._torch.wrap_model`), each rank reads only its rows of every global batch
      (arrays are first batched by `ArrayBatches`, shuffled from (seed, epoch) as `fit` would), BatchNorm
      statistics are averaged over the ranks every epoch, and only rank 0 shows progress bars.

    Args:
        model: a built, compiled `keras.Model`.
        x, y: arrays or a `keras.utils.PyDataset` (then `y` is None), as for `model.fit`.
        batch_size: global batch size for arrays.
        shuffle: reshuffle arrays every epoch. A PyDataset shuffles itself (`make_dataset(shuffle=True)`):
            its batches are fed in its own order on every path, so all ranks and workers see the same batches
            (Keras' `fit(shuffle=True)` would also permute a PyDataset's batch order, from Keras' own seed).
        seed: seed of the per-epoch shuffle of arrays under DDP.
        callbacks: Keras callbacks (use `ChiefBackupAndRestore` rather than `BackupAndRestore`).
        verbose: as for `model.fit` (processes other than the chief are silent).
        **kwargs: passed to `model.fit` (`epochs`, `validation_data`, ...).

    Shuffled arrays whose last batch would hold one row go through `ArrayBatches`, which leaves that row
    out of the epoch (see `keras_cxr.data.make_dataset`'s drop_remainder: on PyTorch such a batch fails).

    Returns:
        The `History` of `model.fit`.
    """
    found = context()
    callbacks = list(callbacks)
    if not found.is_chief:
        verbose = 0
    arrays = not isinstance(x, keras.utils.PyDataset)
    if arrays and (found.engine in ("torch_ddp", "multi_worker_mirrored")
                   or _ends_on_one_row(x, batch_size, shuffle, kwargs.get("validation_split"))):
        split = kwargs.pop("validation_split", None)
        if split:  # Keras' own rule: the last fraction validates
            cut = int(len(keras.tree.flatten(x)[0]) * (1 - split))
            head = lambda a: keras.tree.map_structure(lambda v: v[:cut], a)  # noqa: E731
            tail = lambda a: keras.tree.map_structure(lambda v: v[cut:], a)  # noqa: E731
            kwargs["validation_data"] = (tail(x), tail(y)) if y is not None else (tail(x),)
            x, y = head(x), None if y is None else head(y)
        x, y = ArrayBatches(x, y, batch_size or 32, seed=seed, shuffle=shuffle), None
    if found.engine == "torch_ddp":
        from keras_cxr.distributed import _torch

        x = shard(x, found.rank, found.num_processes)
        _torch.wrap_model(model)
        callbacks.append(AverageNonTrainable())
    elif found.engine == "multi_worker_mirrored":
        from keras_cxr.distributed import _tensorflow

        return model.fit(_tensorflow.per_worker_dataset(found.strategy, x), steps_per_epoch=len(x),
                         callbacks=callbacks, verbose=verbose, **kwargs)
    if isinstance(x, keras.utils.PyDataset):  # it shuffles itself; Keras would also permute its batch order
        return model.fit(x, shuffle=False, callbacks=callbacks, verbose=verbose, **kwargs)
    return model.fit(x, y, batch_size=batch_size, shuffle=shuffle, callbacks=callbacks, verbose=verbose, **kwargs)


def _ends_on_one_row(x, batch_size, shuffle, validation_split):
    """True when shuffled training arrays (after Keras' validation split) would end on a batch of one row."""
    count = len(keras.tree.flatten(x)[0])
    if validation_split:
        count = int(count * (1 - validation_split))
    batch_size = batch_size or 32
    return bool(shuffle) and count > batch_size and count % batch_size == 1
