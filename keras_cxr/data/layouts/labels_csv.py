"""A folder with `images/` and a `labels.csv`: the shared data folders and `PhantomDataset.save`."""

import os

import numpy as np

from keras_cxr.data.index import DatasetIndex, DatasetLayoutError, list_problems, make_frame
from keras_cxr.data.layouts._common import Layout, _entries, _require_columns, _require_file, _split_name, _stem
from keras_cxr.data.layouts.nih_cxr14 import NIH_CXR14_CLASSES

_NORMAL_TOKENS = ("No Finding", "No finding", "normal", "Normal", "NORMAL")


def index_labels_csv(folder, label_column="abnormal", csv_name="labels.csv", image_dir="images",
                     unknown_values=("unknown", ""), class_names=None, split_column=None, missing_images="error"):
    """A folder with `images/` and a `labels.csv` (filename, label, abnormal, patient_id, age, sex, view, ...).

    The layout of the shared data folders and of `PhantomDataset.save`.

    Args:
        folder: the folder holding `csv_name` and `image_dir/`.
        label_column: "abnormal" (or any 0/1 column: binary, empty = unknown → NaN); a categorical column
            such as "label" or "label_detail" (multiclass, one-hot; values in `unknown_values` → NaN rows); or a
            pipe-separated multi-label column such as NIH "finding_labels" (multi-label; "No Finding" /
            "normal" = all zeros; the 14 ChestX-ray14 classes when every label is one of them).
        csv_name: the label table's file name.
        image_dir: the image folder, relative to `folder`.
        unknown_values: label values meaning "unknown".
        class_names: the expected classes, in column order; other values raise (default: the values found).
        split_column: optional column holding train / val (valid) / test per image, e.g. "orig_split".
        missing_images: "error" or "drop".

    Raises:
        DatasetLayoutError: listing missing columns, unknown labels or missing image files.

    Example:
    >>> import cv2, numpy as np, pandas as pd, tempfile, os
    >>> folder = tempfile.mkdtemp(); os.makedirs(os.path.join(folder, "images"))
    >>> for name in ("a.png", "b.png", "c.png"):
    ...     _ = cv2.imwrite(os.path.join(folder, "images", name), np.zeros((9, 9), np.uint8))
    >>> pd.DataFrame({"filename": ["a.png", "b.png", "c.png"], "label": ["COVID-19", "No finding", "unknown"],
    ...               "abnormal": [1, 0, None]}).to_csv(os.path.join(folder, "labels.csv"), index=False)
    >>> index = index_labels_csv(folder, "label")
    >>> index.class_names, index.labels.tolist()
    (['COVID-19', 'No finding'], [[1.0, 0.0], [0.0, 1.0], [nan, nan]])
    """
    import pandas as pd

    folder = os.fspath(folder)
    path = os.path.join(folder, csv_name)
    _require_file(path, f"a labels.csv folder needs {csv_name} beside {image_dir}/")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    _require_columns(table, ["filename", label_column], path)
    if split_column is not None:
        _require_columns(table, [split_column], path)
    values = table[label_column].str.strip()
    unknown_values = {str(u) for u in unknown_values}
    binary_values = {"0", "1", "0.0", "1.0"}
    multilabel = values.str.contains("|", regex=False).any() or label_column in ("finding_labels", "Finding Labels")
    if label_column == "abnormal" or (not multilabel and class_names is None
                                      and set(values) - unknown_values <= binary_values and len(values)):
        bad = sorted(set(values) - binary_values - unknown_values)
        if bad:
            raise DatasetLayoutError(list_problems(f"unknown labels in column {label_column!r} of {path} (it must "
                                                   "hold 0/1, or empty for unknown)", bad))
        labels = pd.to_numeric(values.where(~values.isin(unknown_values)), errors="coerce").to_numpy()[:, None]
        names, task = [label_column], "binary"
    elif multilabel:
        rows = [[t.strip() for t in v.split("|") if t.strip()] for v in values]
        found = {t for r in rows for t in r} - unknown_values - set(_NORMAL_TOKENS)
        if class_names is None:
            nih = found <= set(NIH_CXR14_CLASSES) and (found or label_column in ("finding_labels", "Finding Labels"))
            names = list(NIH_CXR14_CLASSES) if nih else sorted(found)
        else:
            names = [str(c) for c in class_names]
        unknown = sorted(found - set(names))
        if unknown:
            raise DatasetLayoutError(list_problems(f"unknown labels in column {label_column!r} of {path}", unknown) +
                                     f"; expected {names}.")
        labels = np.array([[np.nan] * len(names) if v in unknown_values else [float(n in r) for n in names]
                           for v, r in zip(values, rows)]).reshape(len(rows), len(names))
        task = "multilabel"
    else:
        found = set(values) - unknown_values
        names = [str(c) for c in class_names] if class_names is not None else sorted(found)
        unknown = sorted(found - set(names))
        if unknown:
            raise DatasetLayoutError(list_problems(f"unknown labels in column {label_column!r} of {path}", unknown) +
                                     f"; expected {names} (or one of {sorted(unknown_values)} for unknown).")
        labels = np.array([[np.nan] * len(names) if v in unknown_values else [float(v == n) for n in names]
                           for v in values]).reshape(len(values), len(names))
        task = "multiclass"

    def optional(name):
        return table[name].tolist() if name in table.columns else None

    splits = [_split_name(s) for s in table[split_column]] if split_column is not None else None
    frame = make_frame([os.path.join(folder, image_dir, f) for f in table["filename"]], labels, names,
                       patient_ids=optional("patient_id") or [_stem(f) for f in table["filename"]],
                       ages=optional("age"), sexes=optional("sex"), views=optional("view"), splits=splits,
                       missing_images=missing_images)
    return DatasetIndex(frame, names, task)


def detect(path):
    """True for a folder holding labels.csv, or the file labels.csv itself."""
    return "labels.csv" in _entries(path) or (os.path.isfile(path) and os.path.basename(path) == "labels.csv")


def _index(path):
    if os.path.isfile(path):
        return index_labels_csv(os.path.dirname(path) or ".", csv_name=os.path.basename(path))
    return index_labels_csv(path)


def _index_table(path):
    return index_labels_csv(os.path.dirname(path) or ".", csv_name=os.path.basename(path))


LAYOUT = Layout("labels_csv", detect, _index, "a folder with labels.csv and images/ (its 'abnormal' column)")
# The catch-all for a file, after every named table: any other table is read as a labels.csv with that name.
TABLE_LAYOUT = Layout("table", os.path.isfile, _index_table,
                      "any other file: a labels.csv-style table (filename, abnormal) with images/ beside it")
