"""The synthetic phantom as an on-disk dataset source: written once to a cache folder, read back as a
`DatasetIndex`, so recipes stream the phantom exactly as they stream a real folder."""

import hashlib
import inspect
import json
import os
import shutil

import numpy as np
import pandas as pd

from keras_cxr.data import phantom
from keras_cxr.data.boxes import Box
from keras_cxr.data.index import DatasetIndex
from keras_cxr.data.layouts import index_labels_csv
from keras_cxr.data.phantom import FINDINGS, make_phantom_dataset


def cache_root(cache_dir=None):
    """Where keras_cxr keeps reusable data (the phantom, image caches): `cache_dir`, else
    `$KERAS_CXR_CACHE`, else `~/.cache/keras_cxr`."""
    return os.fspath(cache_dir or os.environ.get("KERAS_CXR_CACHE") or
                     os.path.join(os.path.expanduser("~"), ".cache", "keras_cxr"))


def _phantom_version():
    """A hash of the phantom's own source: a changed phantom is drawn anew instead of reusing old files."""
    return hashlib.sha1(inspect.getsource(phantom).encode()).hexdigest()[:10]


def phantom_folder(num_images, image_size=224, seed=0, age_range=(0.0, 18.0), cache_dir=None, progress=None,
                   prevalence=None):
    """The folder of `make_phantom_dataset(num_images, image_size, seed, age_range=age_range,
    prevalence=prevalence)` written as PNG files + `labels.csv` (`PhantomDataset.save`), drawn the first
    time and reused afterwards.

    The folder name holds every argument and a hash of the phantom's code; it is written under a temporary
    name and renamed when complete, so an interrupted write is never mistaken for a finished one.

    Example:
    >>> import tempfile
    >>> folder = phantom_folder(4, image_size=64, cache_dir=tempfile.mkdtemp())
    >>> sorted(os.listdir(folder))
    ['images', 'labels.csv', 'masks']
    """
    key = (f"phantom_n{int(num_images)}_px{int(image_size)}_seed{int(seed)}_age{float(age_range[0]):g}-"
           f"{float(age_range[1]):g}_{_phantom_version()}")
    if prevalence is not None:  # the default prevalence keeps the folder names of earlier versions
        key += "_prevalence" + hashlib.sha1(json.dumps(prevalence, sort_keys=True).encode()).hexdigest()[:8]
    folder = os.path.join(cache_root(cache_dir), "phantom", key)
    if os.path.isfile(os.path.join(folder, "labels.csv")):
        return folder
    partial = f"{folder}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    make_phantom_dataset(int(num_images), image_size=int(image_size), seed=int(seed),
                         age_range=tuple(age_range), prevalence=prevalence).save(partial, progress=progress)
    os.makedirs(os.path.dirname(folder), exist_ok=True)
    try:
        os.replace(partial, folder)
    except OSError:  # another process finished the same folder first
        shutil.rmtree(partial, ignore_errors=True)
    return folder


def phantom_index(num_images, image_size=224, seed=0, age_range=(0.0, 18.0), labels="findings", cache_dir=None,
                  prevalence=None):
    """The phantom as a `DatasetIndex` over its cached files, with lung masks (`mask_path`) and ground-truth
    boxes (`boxes` column: lists of `keras_cxr.data.Box`, in pixels of `image_size`).

    Args:
        num_images, image_size, seed, age_range, prevalence: as `make_phantom_dataset`.
        labels: "findings" (multi-label, one column per finding: all zeros = normal) or "abnormal" (binary).
        cache_dir: the cache root (see `cache_root`).

    Example:
    >>> import tempfile
    >>> index = phantom_index(6, image_size=64, labels="abnormal", cache_dir=tempfile.mkdtemp())
    >>> index.task, index.class_names, len(index), "mask_path" in index.frame
    ('binary', ['abnormal'], 6, True)
    """
    if labels not in ("findings", "abnormal"):
        raise ValueError(f"labels must be 'findings' or 'abnormal'; received {labels!r}.")
    folder = phantom_folder(num_images, image_size, seed, age_range, cache_dir, prevalence=prevalence)
    index = index_labels_csv(folder, "abnormal")
    table = pd.read_csv(os.path.join(folder, "labels.csv"), dtype=str, keep_default_na=False)
    frame = index.frame
    frame["mask_path"] = [os.path.join(folder, "masks", name) for name in table["filename"]]
    frame["boxes"] = [[Box(*b) for b in json.loads(text)] for text in table["boxes"]]
    if labels == "abnormal":
        return DatasetIndex(frame, ["abnormal"], "binary")
    for finding in FINDINGS:
        frame[finding] = table[finding].astype(float).to_numpy()
    return DatasetIndex(frame.drop(columns=["abnormal"]), list(FINDINGS), "multilabel")


def index_arrays(index, column):
    """A per-row object column of an index (e.g. `boxes`) as a list, empty lists where absent."""
    if column not in index.frame:
        return [[] for _ in range(len(index))]
    return [list(v) if isinstance(v, (list, tuple, np.ndarray)) else [] for v in index.frame[column]]
