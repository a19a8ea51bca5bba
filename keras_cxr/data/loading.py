"""Reading whole datasets into memory: many files → one (N, S, S, 1) float32 array, in parallel, with progress."""

import concurrent.futures
import os

import numpy as np
from tqdm.auto import tqdm

from keras_cxr.data.layouts.segmentation import read_mask
from keras_cxr.data.readers import read_image
from keras_cxr.data.transforms import resize


def _read_resized(path, image_size, mode):
    return resize(read_image(path), image_size, mode=mode)


def _read_mask_resized(path, image_size, mode):
    return resize(read_mask(path), image_size, mode=mode) > 0.5


def load_images(paths, image_size=224, *, mode="squash", num_workers=None, description="reading images",
                progress=True, masks=False):
    """Reads and resizes image files into one array, decoding in a thread pool, with a progress bar.

    OpenCV and pydicom release the GIL while decoding, so threads give real parallelism here without the
    start-up cost of processes. For datasets that do not fit in memory use `keras_cxr.data.make_dataset`,
    which streams batches instead.

    Args:
        paths: sequence of image file paths (any format `keras_cxr.data.read_image` reads).
        image_size: side of the square output, in pixels.
        mode: "squash" (resize without keeping the aspect ratio, as paper 003 does) or "pad"
            (keep the aspect ratio and pad), see `keras_cxr.data.resize`.
        num_workers: decoding threads (default: the number of CPUs).
        description: progress-bar label.
        progress: show a progress bar.
        masks: read `paths` as binary masks (`keras_cxr.data.read_mask`: "left|right" paths are united, as
            `index_segmentation` writes them for Montgomery) and threshold them at 0.5 after resizing.

    Returns:
        np.ndarray of shape (N, image_size, image_size, 1), float32 in [0, 1] (0 / 1 for masks).

    Raises:
        keras_cxr.data.ImageReadError: naming the first file that cannot be read.
        ValueError: on an empty list of paths.

    Example:
    >>> import cv2, numpy as np, tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> _ = cv2.imwrite(os.path.join(folder, "a.png"), np.zeros((40, 30), np.uint8))
    >>> load_images([os.path.join(folder, "a.png")], image_size=16, progress=False).shape
    (1, 16, 16, 1)
    """
    paths = [os.fspath(p) for p in paths]
    if not paths:
        raise ValueError("load_images received no paths; check the dataset folder or index.")
    out = np.empty((len(paths), image_size, image_size, 1), dtype=np.float32)
    workers = num_workers or os.cpu_count() or 1
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        read = _read_mask_resized if masks else _read_resized
        results = pool.map(lambda p: read(p, image_size, mode), paths)
        for i, image in enumerate(tqdm(results, total=len(paths), desc=description, disable=not progress)):
            out[i, ..., 0] = image
    return out
