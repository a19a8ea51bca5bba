"""COVIDx (Wang, Lin & Wong 2020): space-separated split files `train.txt` / `val.txt` / `test.txt`."""

import os
import re

import numpy as np

from keras_cxr.data.index import DatasetIndex, DatasetLayoutError, list_problems, make_frame
from keras_cxr.data.layouts._common import Layout, _entries, _require_file, _split_name


COVIDX_CLASS_SETS = (("negative", "positive"), ("normal", "pneumonia", "COVID-19"))


def index_covidx(root, split_file="train.txt", image_dir=None, class_names=None, missing_images="error"):
    """COVIDx: space-separated `train.txt` / `val.txt` / `test.txt` lines `patient_id filename class source`.

    Images are in the folder named after the split file (`train/`, `val/`, `test/`; `image_dir` to
    override). Recent releases label "positive" / "negative"; older ones "normal" / "pneumonia" /
    "COVID-19": when the classes found belong to one of these sets, its order is used. The data source is
    kept in a `source` column.

    Args:
        root: the dataset folder.
        split_file: the split table (file name in `root`).
        image_dir: image folder (default: `root/<split>/`, falling back to `root`).
        class_names: expected classes in column order; other values raise.
        missing_images: "error" or "drop".

    Raises:
        DatasetLayoutError: missing file, malformed lines, unknown classes, missing images.

    Reference:
        Wang L., Lin Z.Q., Wong A., "COVID-Net: a tailored deep convolutional neural network design for
        detection of COVID-19 cases from chest X-ray images", Sci. Rep. 10:19549, 2020.
    """
    root = os.fspath(root)
    path = os.path.join(root, split_file)
    _require_file(path, f"COVIDx needs {split_file} in its root")
    with open(path) as f:
        rows = [(i + 1, line.split()) for i, line in enumerate(f) if line.strip()]
    short = [i for i, r in rows if len(r) < 3]
    if short:
        raise DatasetLayoutError(list_problems(f"lines of {path} with fewer than 3 fields (patient filename class "
                                               "[source])", short))
    parsed = [(r[0], r[1], r[2], "") if len(r) == 3 else (r[0], " ".join(r[1:-2]), r[-2], r[-1]) for _, r in rows]
    found = {p[2] for p in parsed}
    if class_names is not None:
        names = [str(c) for c in class_names]
    else:
        names = next((list(s) for s in COVIDX_CLASS_SETS if found <= set(s)), sorted(found))
    unknown = sorted(found - set(names))
    if unknown:
        raise DatasetLayoutError(list_problems(f"unknown classes in {path}", unknown) + f"; expected {names}.")
    split = _split_name(re.split(r"[_.]", split_file)[0])
    folder = os.fspath(image_dir) if image_dir is not None else os.path.join(root, split or "images")
    if image_dir is None and not os.path.isdir(folder):
        folder = root
    labels = np.array([[float(p[2] == n) for n in names] for p in parsed]).reshape(len(parsed), len(names))
    frame = make_frame([os.path.join(folder, p[1]) for p in parsed], labels, names, patient_ids=[p[0] for p in parsed],
                       splits=[split] * len(parsed), missing_images=missing_images, source=[p[3] for p in parsed])
    return DatasetIndex(frame, names, "multiclass")


def split_sources(index, sources):
    """(kept, held out): rows of a COVIDx index whose `source` column is not / is one of `sources`
    (case-insensitive; paper 001 §4.1 holds COHEN and ACTMED out of pretraining and fine-tuning). After
    `index_sources` / `DatasetIndex.concat` a source reads "folder/cohen": its last part is matched.

    Example:
    >>> import pandas as pd
    >>> from keras_cxr.data.index import DatasetIndex
    >>> frame = pd.DataFrame({"path": ["a", "b"], "patient_id": ["1", "2"], "age": [1.0, 2.0], "sex": ["", ""],
    ...                       "view": ["", ""], "split": ["", ""], "positive": [1.0, 0.0], "source": ["cohen", "rsna"]})
    >>> kept, held_out = split_sources(DatasetIndex(frame, ["positive"]), ["COHEN", "actmed"])
    >>> len(kept), len(held_out)
    (1, 1)
    """
    if "source" not in index.frame.columns:
        raise ValueError("split_sources needs a `source` column (COVIDx split files carry one); this index has "
                         f"columns {list(index.frame.columns)}.")
    wanted = {str(s).strip().lower() for s in sources}
    held = index.frame["source"].astype(str).str.split("/").str[-1].str.strip().str.lower().isin(wanted).to_numpy()
    return index.subset(~held), index.subset(held)


def _train_tables(path):
    """The train split files in folder `path`: train.txt (COVIDx CXR-2 and CXR-4 on Kaggle) first, then
    versioned ones such as train_COVIDx9A.txt (CXR-3, the COVID-Net repository's labels/), newest name first."""
    versioned = sorted((e for e in _entries(path) if re.fullmatch(r"train_covidx\w*\.txt", e, flags=re.IGNORECASE)),
                       reverse=True)
    return (["train.txt"] if "train.txt" in _entries(path) else []) + versioned


def detect(path):
    """True for a folder holding train.txt or train_COVIDx*.txt, or any .txt file."""
    if os.path.isfile(path):
        return os.path.basename(path).endswith(".txt")
    return bool(_train_tables(path))


def _index(path):
    if os.path.isfile(path):
        return index_covidx(os.path.dirname(path) or ".", os.path.basename(path))
    return index_covidx(path, _train_tables(path)[0])


LAYOUT = Layout("covidx", detect, _index, "a folder with train.txt or train_COVIDx*.txt (COVIDx)")


def covidx_split_files(root):
    """(train file, test file) of a COVIDx folder, or None when it is not one.

    COVIDx CXR-3 ships its three-class labels (normal / pneumonia / COVID-19) as `train_COVIDx9A.txt` and
    `test_COVIDx9A.txt` (earlier releases `train_COVIDx8A.txt` ...); Kaggle's mirror and CXR-4 carry the binary
    positive / negative `train.txt` / `test.txt`. The three-class pair of the newest release wins where both exist,
    because paper 001's tasks need the pneumonia class.

    Example:
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("train.txt", "test.txt", "train_COVIDx9A.txt", "test_COVIDx9A.txt"):
    ...     _ = (root / name).write_text("")
    >>> covidx_split_files(root)
    ('train_COVIDx9A.txt', 'test_COVIDx9A.txt')
    """
    root = os.fspath(root)
    if not os.path.isdir(root):
        return None
    names = set(os.listdir(root))
    versioned = sorted((n for n in names if re.fullmatch(r"train_COVIDx\w+\.txt", n)
                        and n.replace("train_", "test_", 1) in names),
                       key=lambda n: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", n)])
    if versioned:
        return versioned[-1], versioned[-1].replace("train_", "test_", 1)
    if "train.txt" in names and "test.txt" in names:
        return "train.txt", "test.txt"
    return None
