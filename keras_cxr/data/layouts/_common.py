"""What every layout file shares: file endings, split names, validation helpers and the `Layout` table entry."""

import dataclasses
import os
from typing import Callable

from keras_cxr.data.index import DatasetLayoutError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".dcm", ".dicom", ".npy")
MASK_EXTENSIONS = (*IMAGE_EXTENSIONS, ".gif")
_SPLIT_NAMES = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
                "test": "test", "testing": "test"}


@dataclasses.dataclass(frozen=True)
class Layout:
    """One entry of the detection table `index_any` walks: how to recognise a dataset and how to index it.

    Attributes:
        name: a short unique name ("kermany", "nih_cxr14", ...), shown by `detect_layout`.
        detect: callable path → bool; True when `path` (a folder or a file, as given to `index_any`) is this
            layout. It must be cheap (list a folder, look at a file name; never read every image) and must
            not raise.
        index: callable path → `DatasetIndex` with this layout's defaults; called only when `detect` said True.
        description: one line for the docs and error messages (e.g. "a folder with Data_Entry*.csv").

    Example:
    >>> import os
    >>> layout = Layout("npz", lambda path: str(path).endswith(".npz"), lambda path: None, "an .npz file")
    >>> layout.detect("/data/x.npz"), layout.detect("/data/x.csv")
    (True, False)
    """

    name: str
    detect: Callable
    index: Callable
    description: str = ""

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"Layout name must be a non-empty string; received {self.name!r}.")
        for field in ("detect", "index"):
            if not callable(getattr(self, field)):
                raise TypeError(f"Layout {self.name!r}: {field} must be a callable taking a path; received "
                                f"{getattr(self, field)!r}.")


def _require_columns(frame, columns, source):
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DatasetLayoutError(f"{source} lacks columns {missing}; it has {list(frame.columns)}. "
                                 "Check that the file is the published table of that dataset.")


def _require_file(path, what):
    if not os.path.isfile(path):
        raise DatasetLayoutError(f"'{path}' not found: {what}.")


def _require_dir(root, what):
    if not os.path.isdir(root):
        raise DatasetLayoutError(f"{what} folder '{root}' does not exist or is not a folder.")


def _find_images(root, extensions=IMAGE_EXTENSIONS):
    """Sorted image files under `root`, skipping hidden files and folders and `__MACOSX/`."""
    root = os.fspath(root)
    paths = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__MACOSX")
        paths.extend(os.path.join(folder, f) for f in files
                     if f.lower().endswith(extensions) and not f.startswith("."))
    return sorted(paths)


def _split_name(text):
    return _SPLIT_NAMES.get(str(text).strip().lower(), "")


def _stem(path):
    return os.path.splitext(os.path.basename(os.fspath(path)))[0]


def _subfolders(path):
    """Sorted visible subfolders of `path` (full paths), without hidden folders and `__MACOSX/`."""
    return sorted(os.path.join(path, e) for e in _entries(path)
                  if not e.startswith(".") and e != "__MACOSX" and os.path.isdir(os.path.join(path, e)))


def _folders_below(root, depth):
    """`root` and its visible subfolders down to `depth` levels below it, shallowest first (breadth first).

    Example:
    >>> import os, tempfile
    >>> root = tempfile.mkdtemp(); os.makedirs(os.path.join(root, "a", "b", "c"))
    >>> [os.path.relpath(p, root) for p in _folders_below(root, 2)]
    ['.', 'a', 'a/b']
    """
    level, found = [os.fspath(root)], []
    for _ in range(depth + 1):
        found.extend(level)
        level = [sub for folder in level for sub in _subfolders(folder)]
    return found


def _entries(path):
    """The names in folder `path` (a set), or an empty set when it is not a readable folder."""
    try:
        return set(os.listdir(path)) if os.path.isdir(path) else set()
    except OSError:
        return set()
