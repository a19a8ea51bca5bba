"""Image folders: every image under a folder (unlabeled, for pretraining) and class-per-folder trees."""

import glob
import os
import warnings

import numpy as np

from keras_cxr.data.index import DatasetIndex, DatasetLayoutError, list_problems, make_frame
from keras_cxr.data.layouts._common import IMAGE_EXTENSIONS, Layout, _find_images, _require_dir, _split_name, _stem


def index_unlabeled(root_or_glob, extensions=IMAGE_EXTENSIONS):
    """Every image file under a folder (recursively) or matching a glob, for self-supervised pretraining.

    Args:
        root_or_glob: a folder, a glob pattern (`"/data/nih/images_*/*.png"`, `**` allowed), or a list of
            either.
        extensions: file endings counted as images.

    Returns:
        `DatasetIndex` with task "unlabeled", no classes, patient_id = file stem.

    Raises:
        DatasetLayoutError: when the folder is missing or nothing matches.

    Example:
    >>> import cv2, numpy as np, tempfile, os
    >>> root = tempfile.mkdtemp(); _ = cv2.imwrite(os.path.join(root, "x.png"), np.zeros((9, 9), np.uint8))
    >>> len(index_unlabeled(root)), len(index_unlabeled(os.path.join(root, "*.png")))
    (1, 1)
    """
    sources = [root_or_glob] if isinstance(root_or_glob, (str, os.PathLike)) else list(root_or_glob)
    paths = []
    for source in map(os.fspath, sources):
        if any(c in source for c in "*?["):
            paths.extend(p for p in glob.glob(source, recursive=True)
                         if os.path.isfile(p) and p.lower().endswith(extensions))
        else:
            _require_dir(source, "Image")
            paths.extend(_find_images(source, extensions))
    paths = sorted(set(os.path.abspath(p) for p in paths))
    if not paths:
        raise DatasetLayoutError(f"No image files ({', '.join(extensions)}) under or matching {sources}.")
    return DatasetIndex(make_frame(paths, patient_ids=[_stem(p) for p in paths], check_files=False), [], "unlabeled")


def index_folder(root, class_names=None, patient_id=None, exclude=()):
    """Class-per-folder layouts: `root/[.../][train|val|test/]CLASS/image`.

    The class is the image's parent folder; a train / val (valid, validation) / test folder above it fills
    the split column. Hidden files, `__MACOSX/` and exact duplicates of (split, class, file name) — as in
    archives that contain the dataset twice — are skipped (with a warning for duplicates).

    Args:
        root: dataset folder.
        class_names: expected class folders, in column order (default: every class folder found, sorted).
        patient_id: optional callable file name → patient id (default: the file stem).
        exclude: folders under `root` to leave out (e.g. a second copy of the dataset nested inside it).

    Returns:
        `DatasetIndex` with task "multiclass" and one one-hot column per class (also for two classes: a
        "binary" index has exactly one 0/1 column, e.g. `index_kermany`'s "PNEUMONIA").

    Raises:
        DatasetLayoutError: when no class folder holds images, or a class folder is not in `class_names`.

    Example:
    >>> import cv2, numpy as np, tempfile, os
    >>> root = tempfile.mkdtemp()
    >>> for split, cls in [("train", "cat"), ("train", "dog"), ("test", "dog")]:
    ...     os.makedirs(os.path.join(root, split, cls), exist_ok=True)
    ...     _ = cv2.imwrite(os.path.join(root, split, cls, "a.png"), np.zeros((9, 9), np.uint8))
    >>> index = index_folder(root)
    >>> index.class_names, index.task, list(index.frame["split"])
    (['cat', 'dog'], 'multiclass', ['test', 'train', 'train'])
    """
    root = os.fspath(root)
    _require_dir(root, "Dataset")
    rows, seen, duplicates = [], set(), []
    skipped = tuple(os.path.join(os.path.abspath(os.fspath(f)), "") for f in exclude)
    for path in _find_images(root):
        if skipped and os.path.abspath(path).startswith(skipped):
            continue
        folders = os.path.relpath(path, root).split(os.sep)[:-1]
        if not folders or _split_name(folders[-1]):
            continue  # images directly in root or in a split folder have no class folder
        split = next((_split_name(f) for f in reversed(folders[:-1]) if _split_name(f)), "")
        key = (split, folders[-1], os.path.basename(path))
        if key in seen:
            duplicates.append(path)
            continue
        seen.add(key)
        rows.append((path, folders[-1], split))
    if duplicates:
        warnings.warn(list_problems(f"duplicate images skipped under '{root}' (same split, class and name)",
                                    duplicates), stacklevel=2)
    if not rows:
        raise DatasetLayoutError(f"No class folders with images under '{root}'; expected root/[split/]CLASS/image.")
    found = sorted({r[1] for r in rows})
    names = [str(c) for c in class_names] if class_names else found
    unknown = sorted(set(found) - set(names))
    if unknown:
        raise DatasetLayoutError(f"Unknown class folders {unknown} under '{root}'; expected {names}.")
    labels = np.array([[float(r[1] == n) for n in names] for r in rows])
    get_id = patient_id or (lambda name: os.path.splitext(name)[0])
    frame = make_frame([r[0] for r in rows], labels, names, patient_ids=[get_id(os.path.basename(r[0])) for r in rows],
                       splits=[r[2] for r in rows], check_files=False)
    return DatasetIndex(frame, names, "multiclass")


# Table entry: the catch-all for a folder, last in `index_any`'s order. Class-per-folder trees are not
# detected: a folder of folders is as often an unlabeled archive (images_001/, images_002/, ...) as a class
# tree, so `index_folder` is called by name, with its class list.
LAYOUT = Layout("unlabeled", os.path.isdir, index_unlabeled, "any other folder: every image file under it")
