"""Each DDP rank's share of every global batch (PyTorch; TensorFlow strategies split batches themselves)."""

import keras
import numpy as np


def shard_bounds(count, rank, num_shards):
    """Rows [start, stop) of a batch of `count` that rank `rank` of `num_shards` trains on: equal contiguous
    shares of the largest multiple of `num_shards` ≤ count (so every rank's loss has the same weight in
    DDP's average; at most num_shards − 1 images of a final partial batch are left out).

    Example:
    >>> shard_bounds(10, 1, 4)
    (2, 4)
    """
    share = count // num_shards
    if share == 0:
        raise ValueError(f"A batch of {count} images cannot be shared by {num_shards} ranks; use a global batch "
                         f"size of at least {num_shards} (and at least {num_shards} training images).")
    return rank * share, (rank + 1) * share


class ShardedBatches(keras.utils.PyDataset):
    """Rank `rank`'s rows of every batch of `dataset` (a `keras.utils.PyDataset` of global batches).

    Every rank walks the same batches in the same order (the dataset's shuffle is seeded), so together
    the ranks train on exactly the global batches one device would. A `CXRDataset` reads only its rows
    from disk (`dataset.shard(rank, num_shards)`); other datasets are read whole and sliced.
    """

    def __init__(self, dataset, rank, num_shards):
        super().__init__(workers=dataset.workers, use_multiprocessing=dataset.use_multiprocessing,
                         max_queue_size=dataset.max_queue_size)
        self.dataset, self.rank, self.num_shards = dataset, int(rank), int(num_shards)

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        batch = self.dataset[index]
        first = next(a for a in keras.tree.flatten(batch) if a is not None)
        start, stop = shard_bounds(len(first), self.rank, self.num_shards)
        return keras.tree.map_structure(lambda a: None if a is None else a[start:stop], batch)

    def on_epoch_end(self):
        self.dataset.on_epoch_end()


class ArrayBatches(keras.utils.PyDataset):
    """Global batches of in-memory arrays, reshuffled each epoch from (seed, epoch): what `fit(x, y,
    batch_size=…, shuffle=True)` does, in a form every rank walks identically. Shuffled, it never ends on a
    batch of one row: that row sits out the epoch (see `keras_cxr.data.make_dataset`'s drop_remainder)."""

    def __init__(self, x, y, batch_size, seed=0, shuffle=True):
        super().__init__()
        self.x, self.y, self.batch_size, self.seed, self.shuffle = x, y, int(batch_size), int(seed), shuffle
        self.count = len(keras.tree.flatten(x)[0])
        self.epoch = 0

    def __len__(self):
        full, remainder = divmod(self.count, self.batch_size)
        return full if remainder == 0 or (remainder == 1 and self.shuffle and full > 0) else full + 1

    def _order(self):
        if not self.shuffle:
            return np.arange(self.count)
        return np.random.default_rng([self.seed, self.epoch]).permutation(self.count)

    def __getitem__(self, index):
        rows = np.sort(self._order()[index * self.batch_size:(index + 1) * self.batch_size])
        take = lambda a: None if a is None else np.asarray(a)[rows]  # noqa: E731
        if self.y is None:
            return (keras.tree.map_structure(take, self.x),)
        return keras.tree.map_structure(take, self.x), keras.tree.map_structure(take, self.y)

    def on_epoch_end(self):
        self.epoch += 1
