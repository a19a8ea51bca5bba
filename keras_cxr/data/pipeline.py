"""One input pipeline from an index (or paths, or arrays) to batches that `model.fit` consumes on any backend.

Per image: decode (`read_image`) → `transforms` → resize to the load size → [cache] → per-image augmentation.
Per batch: stack → Keras-layer augmentation → target → ImageNet standardization. Built on
`keras.utils.PyDataset`, so `model.fit` / `predict` run it with parallel workers and a prefetch queue on the
TensorFlow, PyTorch and JAX backends alike, without tf.data.
"""

import collections
import concurrent.futures
import contextlib
import copy
import hashlib
import itertools
import json
import multiprocessing
import os
import threading

import keras
import numpy as np
from tqdm.auto import tqdm

from keras_cxr.data.index import DatasetIndex
from keras_cxr.data.layouts.segmentation import read_mask
from keras_cxr.data.readers import read_image
from keras_cxr.data.transforms import normalize_imagenet, resize
from keras_cxr.distributed.sharding import shard_bounds

_CACHE_FORMAT = 1


def _paths_of(source):
    if isinstance(source, DatasetIndex):
        return np.asarray([os.fspath(p) for p in source.paths])
    if isinstance(source, np.ndarray) and source.dtype.kind not in "USO":
        raise TypeError("preprocess_to_cache takes files (a DatasetIndex or a list of paths); an in-memory array "
                        "needs no cache.")
    return np.asarray([os.fspath(p) for p in source])


def _name(fn):
    return getattr(fn, "__qualname__", None) or type(fn).__name__


def _prepare(path_or_image, transforms, size, mode):
    """Decode (if a path) → transforms → resize to (size, size): the cacheable part of the pipeline."""
    if isinstance(path_or_image, (str, os.PathLike)):
        image = read_image(path_or_image)
    else:
        image = np.asarray(path_or_image, dtype=np.float32)
        image = image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image
    for transform in transforms:
        image = transform(image)
    image = np.asarray(image, dtype=np.float32)
    image = image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image
    if image.shape != (size, size):
        image = resize(image, size, mode=mode)
    return image


def _fill(out, done, items, prepare, num_workers, progress, description, save_every=None, on_save=None):
    """Prepares items[i] into out[i] for every i not done, in a thread pool, with a progress bar.

    `on_save()` runs every `save_every` completed images and once at the end, even after an error or an
    interrupt, so a resumable cache keeps everything finished before it.
    """
    todo = np.flatnonzero(~done)
    window = max(1, 4 * num_workers)
    completed = 0
    bar = tqdm(total=len(done), initial=int(done.sum()), desc=description, disable=not progress, unit="img")
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=num_workers) as pool:
            pending = collections.deque()
            positions = iter(todo)
            for position in itertools.islice(positions, window):
                pending.append((position, pool.submit(prepare, items[position])))
            while pending:
                position, future = pending.popleft()
                out[position, ..., 0] = future.result()
                done[position] = True
                completed += 1
                bar.update(1)
                following = next(positions, None)
                if following is not None:
                    pending.append((following, pool.submit(prepare, items[following])))
                if on_save is not None and save_every and completed % save_every == 0:
                    on_save()
    finally:
        bar.close()
        if on_save is not None:
            on_save()
    return out


def preprocess_to_cache(source, folder, image_size, *, transforms=(), mode="squash", num_workers=None,
                        progress=True, save_every=256, dtype="float32"):
    """Decodes, transforms and resizes every file once into a `.npy` memmap folder; resumable.

    The folder holds `images.npy` (N, S, S, 1) float32 or uint8, `done.npy` (which rows are finished) and
    `meta.json` (image size, mode, transform names, a hash of the file list). Rerunning on the same folder
    skips the rows already done, so an interrupted pass (error, Ctrl-C, killed job) loses at most the
    images in flight; a folder built for another file list, size, mode or transforms is refused. Processes
    that build the same folder at once (data-parallel ranks of one machine) take turns on a lock file:
    the first builds it, the others find it finished.

    Args:
        source: a `DatasetIndex` or a sequence of image paths.
        folder: cache folder (created if needed).
        image_size: side of the cached images.
        transforms: callables (H, W) → (H, W) applied after decoding, before resizing.
        mode: "squash" or "pad" (see `keras_cxr.data.resize`).
        num_workers: decoding threads (default: the number of CPUs).
        progress: show a "preprocessing" progress bar.
        save_every: completed images between two saves of the done flags.
        dtype: "float32" (exact), or "uint8": values in [0, 1] stored as round(255 · x), 4× smaller on disk
            (8 bits are what PNG / JPEG datasets hold anyway; 12/16-bit DICOM lose their low bits). The
            paper-scale recipes use uint8: 303k images at 256 px are 20 GB instead of 79 GB.

    Returns:
        Read-only `np.memmap` of shape (N, image_size, image_size, 1) of `dtype` (uint8: 0-255).

    Raises:
        keras_cxr.data.ImageReadError: naming the first unreadable file (the rows done so far are kept).
        ValueError: when the folder was built with other settings.

    Example:
    >>> import cv2, numpy as np, tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> _ = cv2.imwrite(os.path.join(folder, "a.png"), np.full((40, 30), 255, np.uint8))
    >>> cached = preprocess_to_cache([os.path.join(folder, "a.png")], os.path.join(folder, "cache"), 16,
    ...                              progress=False)
    >>> cached.shape, round(float(cached.max()), 4)
    ((1, 16, 16, 1), 1.0)
    """
    paths = _paths_of(source)
    if len(paths) == 0:
        raise ValueError("preprocess_to_cache received no files; check the index or folder.")
    size = int(image_size)
    if dtype not in ("float32", "uint8"):
        raise ValueError(f"dtype must be 'float32' or 'uint8'; received {dtype!r}.")
    os.makedirs(folder, exist_ok=True)
    with _exclusive(os.path.join(folder, ".lock")):  # data-parallel ranks on one machine share the folder
        return _build_cache(paths, folder, size, transforms, mode, num_workers, progress, save_every, dtype)


@contextlib.contextmanager
def _exclusive(lock_path):
    """Holds an exclusive lock on `lock_path` (POSIX `flock`): the first process builds a cache folder, the
    others wait and then find it finished. Where `fcntl` is missing (Windows) no lock is taken; run one
    process per cache folder there."""
    try:
        import fcntl  # POSIX only: absent on Windows, where no lock is taken
    except ImportError:
        yield
        return
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build_cache(paths, folder, size, transforms, mode, num_workers, progress, save_every, dtype):
    meta = {"format": _CACHE_FORMAT, "image_size": size, "mode": mode, "count": len(paths), "dtype": dtype,
            "transforms": [_name(t) for t in transforms],
            "paths_sha1": hashlib.sha1("\n".join(paths).encode()).hexdigest(), "first_path": str(paths[0])}
    meta_path, images_path, done_path = (os.path.join(folder, name) for name in ("meta.json", "images.npy", "done.npy"))
    if os.path.exists(meta_path):
        with open(meta_path) as f:
            existing = json.load(f)
        existing.setdefault("dtype", "float32")  # folders written before the dtype option
        different = sorted(k for k in meta if existing.get(k) != meta[k])
        if different:
            raise ValueError(f"The cache folder {folder} was built with other settings ({', '.join(different)} "
                             f"differ: {({k: existing.get(k) for k in different})} vs "
                             f"{({k: meta[k] for k in different})}); pass another folder or delete this one.")
    resuming = os.path.exists(images_path) and os.path.exists(meta_path)
    images = np.lib.format.open_memmap(images_path, mode="r+" if resuming else "w+", dtype=np.dtype(dtype),
                                       shape=(len(paths), size, size, 1))
    done = np.load(done_path) if resuming and os.path.exists(done_path) else np.zeros(len(paths), bool)
    if not resuming:
        with open(meta_path, "w") as f:
            json.dump(meta, f, indent=1)

    def save():
        images.flush()  # pixels first, then the flags that vouch for them
        np.save(done_path + ".tmp.npy", done)
        os.replace(done_path + ".tmp.npy", done_path)

    def prepare(path):
        image = _prepare(path, transforms, size, mode)
        return np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8) if dtype == "uint8" else image

    if not done.all():
        _fill(images, done, paths, prepare, num_workers or os.cpu_count() or 1, progress, "preprocessing", save_every,
              save)
    return np.load(images_path, mmap_mode="r")


class CXRDataset(keras.utils.PyDataset):
    """Batches of chest X-rays as numpy arrays, prepared in parallel workers (a `keras.utils.PyDataset`).

    Built by `make_dataset`, which documents the options. `model.fit` / `predict` / `evaluate` drive it with
    `num_workers` threads (or processes) and a queue of `max_queue_size` batches on every backend.
    Iterating it directly (`for x, y in dataset`) also prepares batches in parallel, in order.

    Reproducibility: batch `i` of epoch `e` depends only on (seed, e, i): the shuffle order comes from
    `np.random.default_rng([seed, e])` and the per-image augmentation and callable targets from
    `np.random.default_rng([seed, e, i])`, whichever worker prepares it. `on_epoch_end()` (called by
    `fit`; Keras 3 also calls it once before the first epoch) moves to the next epoch; `set_epoch(e)` jumps
    to one. Keras-layer augmentations draw from their own seed generators: their seed fixes the sequence
    of draws, but with several workers the order in which batches reach the layer may vary.
    """

    def __init__(self, *, paths, images, labels, image_size, load_size, mode, batch_size, transforms, item_augment,
                 batch_augment, normalize, shuffle, seed, target, drop_remainder, num_workers, use_multiprocessing,
                 max_queue_size):
        super().__init__(workers=num_workers, use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size)
        self.paths, self.images, self.labels = paths, images, labels
        self.image_size, self.load_size, self.mode = image_size, load_size, mode
        self.batch_size, self.transforms = batch_size, tuple(transforms)
        self.item_augment, self.batch_augment, self.normalize = item_augment, batch_augment, normalize
        self.shuffle, self.seed, self.target, self.drop_remainder = shuffle, seed, target, drop_remainder
        self._count = len(paths) if paths is not None else len(images)
        self._lock = threading.Lock()
        self.epoch = 0
        self._order = self._make_order()
        self._shard = None

    def shard(self, rank, num_shards):
        """A copy that serves only rank `rank`'s rows of each batch (`keras_cxr.distributed.shard_bounds`),
        reading only those from disk: data-parallel training, where the ranks together walk the global
        batches. The shuffle order, random draws and length are those of the global dataset."""
        sharded = copy.copy(self)
        sharded._lock = threading.Lock()
        sharded._shard = (int(rank), int(num_shards))
        return sharded

    def __len__(self):
        full = self._count // self.batch_size
        remainder = self._count % self.batch_size
        lone = remainder == 1 and self.shuffle and full > 0  # see make_dataset's drop_remainder
        return full if self.drop_remainder or remainder == 0 or lone else full + 1

    @property
    def num_images(self):
        """Number of images (the last batch may be smaller unless `drop_remainder`; a shuffled dataset leaves
        out a lone last image each epoch)."""
        return self._count

    def _make_order(self):
        if not self.shuffle:
            return np.arange(self._count)
        return np.random.default_rng([self.seed, self.epoch]).permutation(self._count)

    def set_epoch(self, epoch):
        """Sets the epoch whose shuffle order and random draws the next batches use."""
        self.epoch = int(epoch)
        self._order = self._make_order()

    def on_epoch_end(self):
        self.set_epoch(self.epoch + 1)

    def _cache_all(self, folder, num_workers, progress, dtype="float32"):
        """Prepares every image once (memory, or a resumable memmap folder) and serves batches from it."""
        if folder is None:
            items = self.paths if self.paths is not None else self.images
            out = np.empty((self._count, self.load_size, self.load_size, 1), np.float32)
            _fill(out, np.zeros(self._count, bool), items,
                  lambda item: _prepare(item, self.transforms, self.load_size, self.mode), num_workers, progress,
                  "preprocessing")
            self.images = out
        else:
            if self.paths is None:
                raise ValueError("cache=<folder> caches decoded files; an in-memory array source needs no cache "
                                 "(use cache=True to cache its transformed, resized copy in memory).")
            self.images = preprocess_to_cache(self.paths, folder, self.load_size, transforms=self.transforms,
                                              mode=self.mode, num_workers=num_workers, progress=progress, dtype=dtype)
        self.paths, self.transforms = None, ()

    def _load(self, position):
        if self.paths is not None:
            item = self.paths[position]
        else:
            item = self.images[position]
            if item.dtype == np.uint8:  # a uint8 cache (or array) holds 0-255
                item = item.astype(np.float32) / 255.0
        return _prepare(item, self.transforms, self.load_size, self.mode)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} is out of range: this dataset has {len(self)} batches.")
        positions = self._order[index * self.batch_size:(index + 1) * self.batch_size]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        if self._shard is not None:
            start, stop = shard_bounds(len(positions), *self._shard)
            positions = positions[start:stop]
            rng = np.random.default_rng([self.seed, self.epoch, index, self._shard[0]])
        images = []
        for position in positions:
            image = self._load(position)
            for augment in self.item_augment:
                image = augment(image, rng)
            images.append(np.asarray(image, dtype=np.float32))
        shapes = {image.shape for image in images}
        if len(shapes) > 1:
            raise ValueError(f"Images of one batch have different shapes {sorted(shapes)} after augmentation; a "
                             "per-image augment must return one fixed size.")
        batch = np.stack(images)[..., None]
        for augment in self.batch_augment:
            if isinstance(augment, keras.layers.Layer):
                with self._lock:  # Keras layers keep a seed state; one call at a time
                    batch = keras.ops.convert_to_numpy(augment(batch, training=True))
            else:
                batch = np.asarray(augment(batch), dtype=np.float32)
        batch = batch.astype(np.float32, copy=False)
        if callable(self.target):
            inputs, targets = self.target(batch, rng)
            return self._standardize(np.asarray(inputs, np.float32)), targets
        inputs = self._standardize(batch)
        if self.target == "image":
            return inputs, batch
        if self.target is None or self.labels is None:
            return (inputs,)
        if isinstance(self.labels, dict):
            targets = {name: source[positions] if isinstance(source, np.ndarray) else self._masks(source, positions)
                       for name, source in self.labels.items()}
            return inputs, targets.get(None, targets) if list(targets) == [None] else targets
        return inputs, self.labels[positions]

    def _masks(self, paths, positions):
        """(B, S, S, 1) float32 0/1 masks of `paths` at `positions`, resized as the images are."""
        return np.stack([_read_mask(paths[p], self.image_size, self.mode) for p in positions])[..., None] \
            .astype(np.float32)

    def _standardize(self, batch):
        if self.normalize == "imagenet":
            return normalize_imagenet(batch).astype(np.float32, copy=False)
        return batch

    def __iter__(self):
        """Yields the batches of the current epoch in order, prepared `num_workers` at a time."""
        count = len(self)
        if self.workers <= 1 and not self.use_multiprocessing:
            for index in range(count):
                yield self[index]
            return
        if self.use_multiprocessing:
            with multiprocessing.get_context().Pool(self.workers, initializer=_set_worker_dataset,
                                                    initargs=(self,)) as pool:
                yield from pool.imap(_worker_batch, range(count))
            return
        with concurrent.futures.ThreadPoolExecutor(max_workers=self.workers) as pool:
            indices = iter(range(count))
            pending = collections.deque(pool.submit(self.__getitem__, i)
                                        for i in itertools.islice(indices, max(1, self.max_queue_size)))
            while pending:
                batch = pending.popleft().result()
                following = next(indices, None)
                if following is not None:
                    pending.append(pool.submit(self.__getitem__, following))
                yield batch


_WORKER_DATASET = None


def _set_worker_dataset(dataset):
    global _WORKER_DATASET
    _WORKER_DATASET = dataset


def _worker_batch(index):
    return _WORKER_DATASET[index]


class MaskPaths(tuple):
    """A named target read from files: the masks at these paths, read (`read_mask`) and resized with the image
    to the model's input size, 0/1 after a 0.5 threshold. `make_dataset` makes one from an index's `mask_path`
    column (`labels={"mask": "mask_path"}`)."""


def _read_mask(path, image_size, mode):
    return resize(read_mask(path).astype(np.float32), image_size, mode=mode) > 0.5


def _named_targets(labels, source, count):
    """{name: (N, ...) float32 array or MaskPaths} from `labels={name: spec}`: a spec is an array, "labels" (the
    index's class columns), "mask_path" (its masks, read with the images) or another column of the index
    (e.g. "age")."""
    found = {}
    for name, spec in labels.items():
        if isinstance(spec, str):
            if not isinstance(source, DatasetIndex):
                raise ValueError(f"target {name!r} names the column {spec!r}: that needs a DatasetIndex source; give "
                                 "an array for a list of paths or an array of images.")
            if spec == "labels":
                spec = source.labels
            elif spec == "mask_path":
                if "mask_path" not in source.frame:
                    raise ValueError(f"target {name!r}: the index has no mask_path column (index masks with "
                                     "keras_cxr.data.index_segmentation_pairs).")
                found[name] = MaskPaths(os.fspath(p) for p in source.frame["mask_path"])
                continue
            elif spec in source.frame:
                spec = source.frame[spec].to_numpy(dtype=np.float32)
            else:
                raise ValueError(f"target {name!r}: the index has no column {spec!r}; its columns are "
                                 f"{list(source.frame.columns)}.")
        if isinstance(spec, MaskPaths):
            found[name] = spec
            continue
        array = np.asarray(spec, dtype=np.float32)
        array = array[:, None] if array.ndim == 1 else array
        if len(array) != count:
            raise ValueError(f"target {name!r} has {len(array)} rows for {count} images.")
        found[name] = array
    return found


def _split_augment(augment):
    """Per-image callables (image, rng) and batch-level Keras layers, in the given order."""
    if augment is None:
        return [], []
    steps = list(augment) if isinstance(augment, (list, tuple)) else [augment]
    item, batch = [], []
    for step in steps:
        if isinstance(step, keras.layers.Layer):
            batch.append(step)
        elif callable(step):
            if batch:
                raise ValueError("Per-image augment callables must come before Keras-layer augments (which run on "
                                 "the stacked batch).")
            item.append(step)
        else:
            raise ValueError(f"augment must be a callable (image, rng) -> image, a Keras layer, or a list of them; "
                             f"received {step!r}.")
    return item, batch


def make_dataset(source, *, labels=None, image_size=224, batch_size=32, transforms=(), augment=None, shuffle=True,
                 seed=0, cache=False, num_workers=None, drop_remainder=False, target="labels", normalize=None,
                 load_size=None, mode="squash", batch_augment=None, use_multiprocessing=False, max_queue_size=None,
                 progress=True, cache_dtype="float32"):
    """Builds the input pipeline for `model.fit` from an index, a list of files, or in-memory images.

    Per image: decode (any format `read_image` reads) → `transforms` → resize to `load_size` (squash or pad)
    → optional cache → per-image `augment` callables. Per batch: stack to (B, S, S, 1) → Keras-layer
    `augment`s (e.g. `randaugment(6)`, `mae_pretrain_augmentation()`) → `target` → optional ImageNet
    standardization of the inputs. Batches are prepared by `num_workers` threads (processes with
    `use_multiprocessing`) up to `max_queue_size` batches ahead (prefetch), on any Keras backend.

    Args:
        source: a `DatasetIndex`, a sequence of image paths, or an array (N, H, W[, 1]) of images in [0, 1]
            (e.g. the phantom's `.images`; a uint8 array is read as 0-255).
        labels: (N, C) labels for paths/arrays (a labelled `DatasetIndex` brings its own); or named targets for
            a model with several outputs, as MONAI's datalist keys, `{output name: spec}` with spec an (N, ...)
            array, "labels" (the index's class columns), "mask_path" (the index's masks, read and resized with
            the images to `image_size`, 0/1), or another index column such as "age": batches are then
            `(x, {name: array})`, e.g. `labels={"disease": "labels", "age": "age"}`; a single spec string
            (`labels="mask_path"`) gives `(x, array)` for a one-output model such as a segmenter.
        image_size: side of the model's input; with no augmentation, images are resized to it.
        batch_size: images per batch.
        transforms: callables (H, W) → (H, W) applied right after decoding (cacheable), e.g.
            `keras_cxr.data.to_unit_range`.
        augment: random augmentation: a per-image callable `(image (S, S), rng) -> image` (numpy/OpenCV in
            the workers, e.g. `MAEPretrainAugmentation`), a Keras layer applied to the batch, or a list of
            them (per-image ones first). A per-image augment with an `input_size` attribute makes that the
            default `load_size` (`MAEPretrainAugmentation` loads at 256 and crops to 224).
        shuffle: reshuffle every epoch, from (seed, epoch).
        seed: seed of the shuffle, of per-image augmentations and of callable targets.
        cache: False; True to decode, transform and resize every image once now (progress bar
            "preprocessing") and keep them in memory as float32; or a folder path for a resumable `.npy`
            memmap cache on disk (see `preprocess_to_cache`). Augmentation always runs after the cache.
        num_workers: threads (or processes) preparing batches; default: the number of CPUs. Keras uses them
            when > 1.
        drop_remainder: drop the last incomplete batch. A shuffled dataset never ends on a batch of one
            image even without it: that image sits out the epoch (a different one each epoch, as the order is
            reshuffled). One image is a degenerate training step, and on PyTorch 2.13 (CPU) its backward pass
            fails in a 1-filter `Conv2D` (the image heads of the Sharp U-Net, UNETR and the autoencoder:
            "slow_conv2d: grad_weight must be contiguous", a channels-last stride bug).
        target: "labels" → (x, y) (or (x,) without labels); "image" → (x, x_clean) for autoencoders; None →
            (x,); or a callable `fn(batch (B, S, S, 1) in [0, 1], rng) -> (inputs, targets)`, e.g.
            `DegradationTarget("noise")` for (degraded, clean) denoising pairs.
        normalize: None or "imagenet" (gray mean 0.449, std 0.226) applied to the inputs only.
        load_size: side images are resized to before augmentation (default: see `augment`, else image_size).
        mode: "squash" or "pad" resize (see `keras_cxr.data.resize`).
        batch_augment: a callable or Keras layer applied to each batch (kept for older code; same as
            appending it to `augment`).
        use_multiprocessing: processes instead of threads (OpenCV and numpy release the GIL, so threads
            usually suffice). A cache is built in the main process before the workers start.
        max_queue_size: batches prepared ahead (default 2 x num_workers).
        progress: show the progress bar of the cache pass.
        cache_dtype: "float32" or "uint8" for a folder cache (see `preprocess_to_cache`: 4× smaller).

    Returns:
        `CXRDataset` (a `keras.utils.PyDataset`): `len()` batches; `dataset[i]` is a tuple of numpy arrays.

    Raises:
        ValueError: on an empty source, mismatched labels or a bad option, naming it.
        keras_cxr.data.ImageReadError: (at batch or cache time) naming the unreadable file.

    Example:
    >>> import numpy as np
    >>> data = make_dataset(np.random.rand(10, 32, 32, 1), labels=np.ones((10, 1)), image_size=32, batch_size=4)
    >>> len(data), data[0][0].shape, data[0][1].shape
    (3, (4, 32, 32, 1), (4, 1))
    """
    paths = images = None
    if isinstance(source, DatasetIndex):
        paths = np.asarray([os.fspath(p) for p in source.paths])
        if labels is None and source.class_names:
            labels = source.labels
    elif isinstance(source, np.ndarray) and source.dtype.kind not in "USO":
        images = source
        if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] != 1):
            raise ValueError(f"Array sources must be (N, H, W) or (N, H, W, 1); received shape {images.shape}.")
    elif isinstance(source, (str, os.PathLike)):
        raise ValueError(f"source must be a DatasetIndex, a list of paths or an array; received the single path "
                         f"{source!r} (index a folder with keras_cxr.data.index_any first).")
    else:
        paths = np.asarray([os.fspath(p) for p in source])
    count = len(paths) if paths is not None else len(images)
    if count == 0:
        raise ValueError("make_dataset received an empty source; check the index or folder.")
    if isinstance(labels, str):  # one target from an index column, e.g. "mask_path" for a segmenter
        labels = _named_targets({None: labels}, source, count)
    if isinstance(labels, dict):
        labels = _named_targets(labels, source, count)
    elif labels is not None:
        labels = np.asarray(labels, dtype=np.float32)
        labels = labels[:, None] if labels.ndim == 1 else labels
        if len(labels) != count:
            raise ValueError(f"labels has {len(labels)} rows for {count} images.")
    if normalize not in (None, "imagenet"):
        raise ValueError(f"normalize must be None or 'imagenet'; received {normalize!r}.")
    if not (target in ("labels", "image", None) or callable(target)):
        raise ValueError(f"target must be 'labels', 'image', None or a callable; received {target!r}.")
    if mode not in ("squash", "pad"):
        raise ValueError(f"mode must be 'squash' or 'pad'; received {mode!r}.")
    if int(batch_size) <= 0 or int(image_size) <= 0:
        raise ValueError(f"batch_size and image_size must be positive; received {batch_size} and {image_size}.")
    for transform in transforms:
        if not callable(transform):
            raise ValueError(f"transforms must be callables image -> image; received {transform!r}.")
    item_augment, layer_augment = _split_augment(augment)
    if batch_augment is not None:
        if not callable(batch_augment):
            raise ValueError(f"batch_augment must be callable; received {batch_augment!r}.")
        layer_augment.append(batch_augment)
    if load_size is None:
        declared = [getattr(a, "input_size", None) for a in item_augment]
        load_size = next((int(s) for s in declared if s is not None), int(image_size))
    if isinstance(labels, dict) and any(isinstance(v, MaskPaths) for v in labels.values()) and \
            (item_augment or layer_augment or int(load_size) != int(image_size)):
        raise ValueError("mask targets are read at the input size and do not follow the images' random "
                         "augmentations or another load size; stream segmentation pairs without augment, "
                         "batch_augment or load_size.")
    num_workers = int(num_workers) if num_workers is not None else (os.cpu_count() or 1)
    if num_workers < 0:
        raise ValueError(f"num_workers must be >= 0; received {num_workers}.")
    dataset = CXRDataset(paths=paths, images=images, labels=labels, image_size=int(image_size),
                         load_size=int(load_size), mode=mode, batch_size=int(batch_size), transforms=transforms,
                         item_augment=item_augment, batch_augment=layer_augment, normalize=normalize, shuffle=shuffle,
                         seed=int(seed), target=target, drop_remainder=drop_remainder, num_workers=num_workers,
                         use_multiprocessing=use_multiprocessing,
                         max_queue_size=int(max_queue_size or max(2, 2 * num_workers)))
    if cache is not False and cache is not None:
        folder = None if cache is True else os.fspath(cache)
        dataset._cache_all(folder, max(1, num_workers), progress, cache_dtype)
    return dataset
