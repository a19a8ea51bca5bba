"""One input pipeline from an index (or paths, or arrays) to batches that `model.fit` consumes on any backend."""

import os

import keras
import numpy as np

from keras_cxr.data.transforms import IMAGENET_GRAY_MEAN, IMAGENET_GRAY_STD, resize


class CXRDataset(keras.utils.PyDataset):
    """Batches of chest X-rays as numpy arrays, decoded in parallel workers (a `keras.utils.PyDataset`).

    Built by `make_dataset`; see there for the arguments. Works with `model.fit` / `predict` on the
    TensorFlow, PyTorch and JAX backends alike.
    """

    def __init__(self, paths, images, labels, *, image_size, batch_size, augment, batch_augment, normalize, shuffle,
                 seed, cache, target, drop_remainder, workers, use_multiprocessing, max_queue_size):
        super().__init__(workers=workers, use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size)
        self.paths, self.images, self.labels = paths, images, labels
        self.image_size, self.batch_size = int(image_size), int(batch_size)
        self.augment, self.batch_augment, self.normalize = augment, batch_augment, normalize
        self.shuffle, self.seed, self.target, self.drop_remainder = shuffle, int(seed), target, drop_remainder
        self._cache = {} if cache else None
        self._count = len(paths) if paths is not None else len(images)
        self.epoch = 0
        self._order = self._make_order()

    def _make_order(self):
        if not self.shuffle:
            return np.arange(self._count)
        return np.random.default_rng([self.seed, self.epoch]).permutation(self._count)

    def __len__(self):
        full = self._count // self.batch_size
        return full if self.drop_remainder or self._count % self.batch_size == 0 else full + 1

    def on_epoch_end(self):
        self.epoch += 1
        self._order = self._make_order()

    def _load(self, position):
        if self._cache is not None and position in self._cache:
            return self._cache[position]
        if self.images is not None:
            image = self.images[position]
            image = image[..., 0] if image.ndim == 3 else image
            if image.shape != (self.image_size, self.image_size) and self.augment is None:
                image = resize(image, self.image_size)
        else:
            from keras_cxr.data.readers import read_image

            image = read_image(self.paths[position])
            if self.augment is None:
                image = resize(image, self.image_size)
        image = np.asarray(image, dtype=np.float32)
        if self._cache is not None:
            self._cache[position] = image
        return image

    def __getitem__(self, index):
        if index >= len(self):
            raise IndexError(f"batch {index} out of range ({len(self)} batches)")
        positions = self._order[index * self.batch_size:(index + 1) * self.batch_size]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        images = []
        for position in positions:
            image = self._load(position)
            if self.augment is not None:
                image = self.augment(image, rng)
            images.append(image)
        batch = np.stack(images)[..., None]
        if self.batch_augment is not None:
            batch = np.asarray(self.batch_augment(batch), dtype=np.float32)
        clean = batch
        if self.normalize == "imagenet":
            batch = (batch - IMAGENET_GRAY_MEAN) / IMAGENET_GRAY_STD
        if callable(self.target):
            return self.target(batch, rng)
        if self.target == "image":
            return batch, clean
        if self.target is None or self.labels is None:
            return (batch,)
        return batch, self.labels[positions]


def make_dataset(source, *, labels=None, image_size=224, batch_size=32, augment=None, batch_augment=None,
                 normalize=None, shuffle=True, seed=0, cache=False, target="labels", drop_remainder=False,
                 workers=None, use_multiprocessing=False, max_queue_size=8):
    """Builds the input pipeline for `model.fit` from an index, a list of files, or in-memory images.

    Each batch: decode (any format `read_image` reads) → resize to `image_size` (or `augment`, which then
    owns the geometry, e.g. `MAEPretrainAugmentation`) → optional per-batch `batch_augment` (e.g.
    `randaugment(6)`) → optional ImageNet standardization → (inputs, targets). Decoding runs in `workers`
    threads (or processes with `use_multiprocessing`), `max_queue_size` batches ahead (prefetch).
    Shuffling is reseeded every epoch from (seed, epoch), so runs are reproducible and resumable.

    Args:
        source: a `DatasetIndex`, a sequence of image paths, or an array (N, H, W[, 1]) of images in [0, 1].
        labels: (N, C) labels for paths/arrays (a DatasetIndex brings its own).
        image_size: output side in pixels.
        batch_size: images per batch.
        augment: optional callable (image (H, W), rng) -> (image_size, image_size) per image.
        batch_augment: optional callable on the (B, S, S, 1) batch.
        normalize: None or "imagenet".
        shuffle, seed: seeded reshuffling each epoch.
        cache: keep decoded, resized images in memory after the first epoch (not with `augment` randomness
            lost: augmentation runs after the cache).
        target: "labels" → (x, y); "image" → (x, x) for autoencoders; None → (x,); or a callable
            (batch, rng) -> (inputs, targets), e.g. a degradation for denoising pairs.
        drop_remainder: drop the last incomplete batch.
        workers: decoding threads (default: number of CPUs).
        use_multiprocessing: use processes instead of threads.
        max_queue_size: batches prepared ahead.

    Returns:
        `CXRDataset` (a `keras.utils.PyDataset`).

    Raises:
        ValueError: on an empty source, mismatched labels, or a bad option; `ImageReadError` (at batch time)
            naming the unreadable file.

    Example:
    >>> import numpy as np
    >>> data = make_dataset(np.random.rand(10, 32, 32, 1), labels=np.ones((10, 1)), image_size=32, batch_size=4)
    >>> len(data), data[0][0].shape, data[0][1].shape
    (3, (4, 32, 32, 1), (4, 1))
    """
    from keras_cxr.data.index import DatasetIndex

    paths = images = None
    if isinstance(source, DatasetIndex):
        paths = source.paths
        labels = source.labels if labels is None and source.class_names else labels
    elif isinstance(source, np.ndarray):
        images = source.astype(np.float32, copy=False)
        if images.ndim not in (3, 4):
            raise ValueError(f"Array sources must be (N, H, W) or (N, H, W, 1); received shape {images.shape}.")
    else:
        paths = np.asarray([os.fspath(p) for p in source])
    count = len(paths) if paths is not None else len(images)
    if count == 0:
        raise ValueError("make_dataset received an empty source; check the index or folder.")
    if labels is not None:
        labels = np.asarray(labels, dtype=np.float32)
        if len(labels) != count:
            raise ValueError(f"labels has {len(labels)} rows for {count} images.")
    if normalize not in (None, "imagenet"):
        raise ValueError(f"normalize must be None or 'imagenet'; received {normalize!r}.")
    if not (target in ("labels", "image", None) or callable(target)):
        raise ValueError(f"target must be 'labels', 'image', None or a callable; received {target!r}.")
    if int(batch_size) <= 0:
        raise ValueError(f"batch_size must be positive; received {batch_size}.")
    return CXRDataset(paths, images, labels, image_size=image_size, batch_size=batch_size, augment=augment,
                      batch_augment=batch_augment, normalize=normalize, shuffle=shuffle, seed=seed, cache=cache,
                      target=target, drop_remainder=drop_remainder, workers=workers or os.cpu_count() or 1,
                      use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size)
