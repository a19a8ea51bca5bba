"""NIH ChestX-ray14 (Wang et al. 2017): `Data_Entry_2017.csv` and the `images*/` folders."""

import glob
import os

import numpy as np

from keras_cxr.data.index import DatasetIndex, DatasetLayoutError, list_problems, make_frame
from keras_cxr.data.layouts._common import Layout, _entries, _find_images, _require_columns, _require_file

NIH_CXR14_CLASSES = ("Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia",
                     "Pneumothorax", "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia")


def index_nih_cxr14(root, csv="Data_Entry_2017.csv", missing_images="error", *, csv_name=None):
    """NIH ChestX-ray14: `Data_Entry_2017.csv` with images in `images*/` folders (e.g. `images_001/images/`).

    Columns used: "Image Index", "Finding Labels" (pipe-separated; "No Finding" = all zeros), "Patient ID",
    "Patient Age" (years, or "058Y" in early releases), "Patient Gender", "View Position". The official
    `test_list.txt` (25,596 images of 2,797 patients) fills the split column with "test" when present, and
    `train_val_list.txt` with "train" (without it, every image not in the test list is "train"; with it,
    an image in neither list keeps an empty split).

    Args:
        root: the dataset folder.
        csv: the table's file name (also "Data_Entry_2017_v2020.csv").
        missing_images: "error" or "drop" (e.g. to index the one archive you have extracted).

    Returns:
        multi-label `DatasetIndex` over `NIH_CXR14_CLASSES`.

    Raises:
        DatasetLayoutError: missing CSV or columns, unknown findings, missing image files.

    Reference:
        Wang X. et al., "ChestX-ray8: Hospital-scale Chest X-ray Database and Benchmarks on Weakly-Supervised
        Classification and Localization of Common Thorax Diseases", CVPR 2017.
    """
    import pandas as pd

    root, csv = os.fspath(root), csv_name or csv
    path = os.path.join(root, csv)
    _require_file(path, f"ChestX-ray14 needs {csv} in its root")
    table = pd.read_csv(path, dtype={"Image Index": str, "Finding Labels": str, "Patient ID": str})
    _require_columns(table, ["Image Index", "Finding Labels", "Patient ID"], path)
    rows = [[t.strip() for t in str(v).split("|")] for v in table["Finding Labels"].fillna("No Finding")]
    unknown = sorted({t for r in rows for t in r} - set(NIH_CXR14_CLASSES) - {"No Finding"})
    if unknown:
        raise DatasetLayoutError(list_problems(f"unknown findings in {path}", unknown) +
                                 f"; expected {list(NIH_CXR14_CLASSES)} or 'No Finding'.")
    labels = np.array([[float(c in r) for c in NIH_CXR14_CLASSES] for r in rows]).reshape(len(rows), -1)
    locations = {}
    for folder in sorted(glob.glob(os.path.join(root, "images*"))):
        if os.path.isdir(folder):
            for p in _find_images(folder, (".png",)):
                locations.setdefault(os.path.basename(p), p)
    names = table["Image Index"].astype(str).tolist()
    split = [""] * len(table)
    lists = {"train": os.path.join(root, "train_val_list.txt"), "test": os.path.join(root, "test_list.txt")}
    if os.path.isfile(lists["test"]):
        membership = {}
        for name, list_path in lists.items():
            if os.path.isfile(list_path):
                with open(list_path) as f:
                    membership.update({line.strip(): name for line in f if line.strip()})
        # Without train_val_list.txt, the official complement of the test list is train / validation.
        missing = "" if os.path.isfile(lists["train"]) else "train"
        split = [membership.get(n, missing) for n in names]
    frame = make_frame([locations.get(n, os.path.join(root, "images", n)) for n in names], labels, NIH_CXR14_CLASSES,
                       patient_ids=table["Patient ID"].astype(str).str.lstrip("0").replace("", "0"),
                       ages=table.get("Patient Age"), sexes=table.get("Patient Gender"),
                       views=table.get("View Position"), splits=split, missing_images=missing_images)
    return DatasetIndex(frame, list(NIH_CXR14_CLASSES), "multilabel")


def _tables(path):
    return sorted(e for e in _entries(path) if e.startswith("Data_Entry") and e.endswith(".csv"))


def detect(path):
    """True for a folder holding a Data_Entry*.csv, or a file named Data_Entry*."""
    if os.path.isfile(path):
        return os.path.basename(path).startswith("Data_Entry")
    return bool(_tables(path))


def _index(path):
    if os.path.isfile(path):
        return index_nih_cxr14(os.path.dirname(path) or ".", os.path.basename(path))
    return index_nih_cxr14(path, _tables(path)[0])


LAYOUT = Layout("nih_cxr14", detect, _index, "a folder with Data_Entry*.csv (ChestX-ray14, 14 findings)")
