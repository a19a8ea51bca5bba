"""VinDr-PCXR / PediCXR (Pham et al. 2023): label tables, paper 000's 6 classes, and box annotations."""

import os
import re
import warnings

import numpy as np

from keras_cxr.data.boxes import Box
from keras_cxr.data.index import DatasetIndex, DatasetLayoutError, make_frame
from keras_cxr.data.layouts._common import Layout, _entries, _require_columns, _require_file, _stem

# Paper 000 (§IV.A, Table 1): the frequent PediCXR labels + "other diseases" (the official "Other disease" column
# and every disease with fewer than 5 positives in the official test set).
PEDICXR_6_CLASSES = ("No finding", "Bronchitis", "Broncho-pneumonia", "Bronchiolitis", "Pneumonia", "Other diseases")
# The official image_labels_test.csv (VinDr-PCXR 1.0.0) has fewer than 5 positives for these diseases (test counts:
# Hyaline membrane disease 3, Situs inversus 2, Tuberculosis 1, Mediastinal tumor 1, CPAM 1, the others 0); this
# fixed list is used when the test CSV is not beside the train CSV. Spellings are the official column names.
PEDICXR_RARE_FINDINGS = ("Situs inversus", "Pleuro-pneumonia", "Diagphramatic hernia", "Tuberculosis",
                         "Congenital emphysema", "CPAM", "Hyaline membrane disease", "Mediastinal tumor", "Lung tumor")
_PEDICXR_SPELLINGS = {"no finding": "No finding", "bronchitis": "Bronchitis", "brocho-pneumonia": "Broncho-pneumonia",
                      "broncho-pneumonia": "Broncho-pneumonia", "bronchopneumonia": "Broncho-pneumonia",
                      "broncho pneumonia": "Broncho-pneumonia", "bronchiolitis": "Bronchiolitis",
                      "pneumonia": "Pneumonia", "other disease": "Other diseases", "other diseases": "Other diseases"}


def _vindr_table(path):
    """image_labels_*.csv → one row per image_id (radiologists merged by maximum), finding columns only."""
    import pandas as pd

    table = pd.read_csv(path, dtype={"image_id": str})
    _require_columns(table, ["image_id"], path)
    findings = [c for c in table.columns
                if c not in ("image_id", "rad_ID", "rad_id", "rad_Id") and not str(c).startswith("Unnamed:")]
    if not findings:
        raise DatasetLayoutError(f"{path} has no finding columns after image_id / rad_ID.")
    values = table[findings].apply(pd.to_numeric, errors="coerce")
    bad = [c for c in findings if not values[c].dropna().isin([0, 1]).all() or
           (values[c].isna() & table[c].notna()).any()]
    if bad:
        raise DatasetLayoutError(f"{path}: finding columns {bad} hold values other than 0/1 "
                                 f"(e.g. {sorted(set(map(str, table[bad[0]].dropna())))[:5]}).")
    values["image_id"] = table["image_id"].astype(str)
    return values.groupby("image_id", sort=True)[findings].max(), findings


def _pedicxr_six_classes(grouped, findings, path, test_path):
    canonical = {c: _PEDICXR_SPELLINGS.get(re.sub(r"\s+", " ", str(c)).strip().lower()) for c in findings}
    missing = [n for n in PEDICXR_6_CLASSES[:5] if n not in canonical.values()]
    if missing:
        raise DatasetLayoutError(f"{path} lacks findings {missing} (either spelling) needed for the 6-class mapping; "
                                 f"it has {findings}.")
    others = [c for c, k in canonical.items() if k is None]
    if os.path.isfile(test_path):
        test, _ = _vindr_table(test_path)
        positives = test.sum(axis=0).to_dict()
        rare = {c for c in others if positives.get(c, 0) < 5}  # a disease absent from the test table has 0
        source = os.path.basename(test_path)
    else:
        rare = set(PEDICXR_RARE_FINDINGS)
        source = "PEDICXR_RARE_FINDINGS (no test CSV found)"
    frequent = [c for c in others if c not in rare]
    if frequent:
        warnings.warn(f"Findings {frequent} have 5 or more positives in {source}, so paper 000's rule would keep "
                      "them apart; the 6-class mapping still counts them as 'Other diseases'.", stacklevel=3)
    labels = {}
    for name in PEDICXR_6_CLASSES:
        columns = [c for c, k in canonical.items() if k == name] + (others if name == "Other diseases" else [])
        labels[name] = grouped[columns].max(axis=1).to_numpy() if columns else np.zeros(len(grouped))
    return np.stack([labels[n] for n in PEDICXR_6_CLASSES], axis=1)


def index_vindr_pcxr(root, split="train", six_class=True, missing_images="error"):
    """VinDr-PCXR / PediCXR: `image_labels_{train,test}.csv` with images in `{train,test}/<image_id>.dicom`.

    The tables have columns image_id, rad_ID and one 0/1 column per label ("No finding", "Bronchitis",
    "Brocho-pneumonia" — sic —, "Other disease", "Bronchiolitis", "Pneumonia", and nine rare diseases);
    rows of several radiologists for one image are merged by maximum. `.dcm` / `.png` / `.jpg` copies and
    `{split}_png/` or `images/` folders are found too.

    Args:
        root: the folder holding the CSVs and the train/ test/ folders.
        split: "train", "test", or "all": both official tables pooled, train rows first, the split column
            keeping "train" / "test" (paper 003 pools them and re-splits; paper 000 tests on "test").
        six_class: True → the 6 classes of paper 000 (`PEDICXR_6_CLASSES`): no finding, bronchitis,
            broncho-pneumonia, bronchiolitis, pneumonia, and "Other diseases" = the official "Other disease"
            column united with the diseases that have fewer than 5 positives in the official test set,
            counted from `image_labels_test.csv` when it is in `root`, else `PEDICXR_RARE_FINDINGS`.
            Both spellings of broncho-pneumonia are accepted. False → every label column as published.
        missing_images: "error" or "drop".

    Returns:
        multi-label `DatasetIndex`; patient_id = image_id (the tables have no patient ids); split = `split`.

    Raises:
        DatasetLayoutError: missing CSV or columns, values other than 0/1, missing image files.

    Reference:
        Pham H.H. et al., "PediCXR: an open, large-scale chest radiograph dataset for interpretation of
        common thoracic diseases in children", Sci. Data 10:240, 2023; the 6-class grouping is paper 000 §IV.A.
    """
    root = os.fspath(root)
    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all'; received {split!r}.")
    if split == "all":
        return _pooled(root, six_class, missing_images)
    path = os.path.join(root, f"image_labels_{split}.csv")
    _require_file(path, f"VinDr-PCXR needs image_labels_{split}.csv in its root")
    grouped, findings = _vindr_table(path)
    if six_class:
        labels = _pedicxr_six_classes(grouped, findings, path, os.path.join(root, "image_labels_test.csv"))
        names = list(PEDICXR_6_CLASSES)
    else:
        labels, names = grouped.to_numpy(np.float64), [str(c) for c in findings]
    located = {}
    for folder in (split, f"{split}_png", "images"):
        if os.path.isdir(os.path.join(root, folder)):
            for entry in sorted(os.scandir(os.path.join(root, folder)), key=lambda e: e.name, reverse=True):
                if entry.name.lower().endswith((".dicom", ".dcm", ".png", ".jpg", ".jpeg")):
                    located.setdefault(_stem(entry.name), entry.path)
    ids = [str(i) for i in grouped.index]
    paths = [located.get(i, os.path.join(root, split, f"{i}.dicom")) for i in ids]
    frame = make_frame(paths, labels, names, patient_ids=ids, splits=[split] * len(ids), missing_images=missing_images)
    return DatasetIndex(frame, names, "multilabel")


def _pooled(root, six_class, missing_images):
    """The official train and test tables as one index (image ids are unique across the two)."""
    import pandas as pd

    parts = [index_vindr_pcxr(root, name, six_class, missing_images) for name in ("train", "test")]
    names = list(dict.fromkeys(n for part in parts for n in part.class_names))  # union, train's order first
    shared = set(parts[0].frame["patient_id"]) & set(parts[1].frame["patient_id"])
    if shared:
        raise DatasetLayoutError(f"image ids {sorted(shared)[:5]} appear in both image_labels_train.csv and "
                                 f"image_labels_test.csv of {root}; the official tables should be disjoint.")
    frame = pd.concat([part.frame for part in parts], ignore_index=True)  # a class absent from one table: NaN
    columns = [c for c in frame.columns if c not in names] + names
    return DatasetIndex(frame[columns], names, "multilabel")


def read_vindr_boxes(root, split="test"):
    """VinDr-PCXR / PediCXR box annotations `annotations_{split}.csv` → {image_id: [Box(finding, x0, y0, x1, y1)]}.

    Columns image_id, class_name, x_min, y_min, x_max, y_max (original pixel coordinates; rows without a
    box, e.g. "No finding", are skipped). Returns {} when the file is absent. A `Box` is the
    `(finding, x_min, y_min, x_max, y_max)` tuple with names; `resize_boxes` maps it onto a resized image.

    Example:
    >>> read_vindr_boxes("/nonexistent")
    {}
    """
    import pandas as pd

    path = os.path.join(root, f"annotations_{split}.csv")
    if not os.path.isfile(path):
        return {}
    table = pd.read_csv(path)
    _require_columns(table, ["image_id", "class_name", "x_min", "y_min", "x_max", "y_max"], path)
    table = table.dropna(subset=["x_min", "y_min", "x_max", "y_max"])
    boxes = {}
    for row in table.itertuples(index=False):
        boxes.setdefault(str(row.image_id), []).append(
            Box(str(row.class_name), float(row.x_min), float(row.y_min), float(row.x_max), float(row.y_max)))
    return boxes


def detect(path):
    """True for a folder holding image_labels_train.csv, or a file named image_labels_*."""
    if os.path.isfile(path):
        return os.path.basename(path).startswith("image_labels_")
    return "image_labels_train.csv" in _entries(path)


def _index(path):
    if os.path.isfile(path):
        name = os.path.basename(path)
        return index_vindr_pcxr(os.path.dirname(path) or ".", "test" if "test" in name else "train")
    return index_vindr_pcxr(path, "train")


LAYOUT = Layout("vindr_pcxr", detect, _index, "a folder with image_labels_train.csv (VinDr-PCXR, 6 classes)")
