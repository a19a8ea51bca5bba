"""CheXpert (Irvin et al. 2019): `train.csv` / `valid.csv` with 14 observations and uncertainty labels."""

import os
import re

import numpy as np

from keras_cxr.data.index import DatasetIndex, DatasetLayoutError, make_frame
from keras_cxr.data.layouts._common import Layout, _entries, _require_columns, _require_file, _split_name

CHEXPERT_CLASSES = ("No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema",
                    "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other",
                    "Fracture", "Support Devices")


def index_chexpert(root, csv="train.csv", frontal_only=True, uncertain="zeros", missing_images="error", *,
                   csv_name=None):
    """CheXpert: `train.csv` / `valid.csv` (Path, Sex, Age, Frontal/Lateral, AP/PA, 14 observations).

    Observations: 1 positive, 0 negative, -1 uncertain, blank = not mentioned → 0 (the common practice,
    Irvin et al. 2019 §3; it is a negative-leaning default, not a known negative). Paths in the CSV start
    with the dataset folder name (`CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg`) and
    are resolved against `root`'s parent, then `root`. The split column is "train" for train.csv, "val"
    for valid.csv, "test" for test.csv; view is the AP/PA value for frontal images, "Lateral" otherwise.

    Args:
        root: the dataset folder holding `csv`.
        csv: "train.csv" or "valid.csv" (or another table with the same columns), or "all": the official
            tables present pooled, train.csv, valid.csv then test.csv (a test table with train.csv's
            columns), their rows keeping split "train" / "val" / "test".
        frontal_only: keep frontal images only (as paper 000 does for pretraining).
        uncertain: policy for -1: "zeros" (U-Zeros), "ones" (U-Ones) or "ignore" (NaN, to be masked out
            of losses and metrics).
        missing_images: "error" or "drop".

    Raises:
        DatasetLayoutError: missing CSV or columns, label values other than 1/0/-1/blank, missing images.

    Reference:
        Irvin J. et al., "CheXpert: A Large Chest Radiograph Dataset with Uncertainty Labels and Expert
        Comparison", AAAI 2019 (arXiv:1901.07031).
    """
    import pandas as pd

    root, csv = os.fspath(root), csv_name or csv
    if uncertain not in ("zeros", "ones", "ignore"):
        raise ValueError(f"uncertain must be 'zeros', 'ones' or 'ignore'; received {uncertain!r}.")
    if csv == "all":
        tables = [name for name in CHEXPERT_TABLES if os.path.isfile(os.path.join(root, name))]
        if "train.csv" not in tables:
            _require_file(os.path.join(root, "train.csv"), "CheXpert needs train.csv in its root")
        parts = [index_chexpert(root, name, frontal_only, uncertain, missing_images) for name in tables]
        frame = pd.concat([part.frame for part in parts], ignore_index=True)
        return DatasetIndex(frame, list(CHEXPERT_CLASSES), "multilabel")
    path = os.path.join(root, csv)
    _require_file(path, f"CheXpert needs {csv} in its root")
    table = pd.read_csv(path)
    _require_columns(table, ["Path", "Frontal/Lateral", *CHEXPERT_CLASSES], path)
    if frontal_only:
        table = table[table["Frontal/Lateral"].astype(str).str.lower() == "frontal"]
    values = table[list(CHEXPERT_CLASSES)].apply(pd.to_numeric, errors="coerce")
    bad = [c for c in CHEXPERT_CLASSES if not values[c].dropna().isin([1, 0, -1]).all()
           or (values[c].isna() & table[c].notna()).any()]
    if bad:
        raise DatasetLayoutError(f"{path}: observation columns {bad} hold values other than 1, 0, -1 or blank "
                                 f"(e.g. {sorted(set(map(str, table[bad[0]].dropna())))[:5]}).")
    values = np.array(values.fillna(0.0).to_numpy(np.float64))  # a writable copy
    values[values == -1] = {"zeros": 0.0, "ones": 1.0, "ignore": np.nan}[uncertain]
    relative = table["Path"].astype(str).tolist()
    bases = [os.path.dirname(os.path.abspath(root)), root]
    base = next((b for b in bases if relative and os.path.isfile(os.path.join(b, relative[0]))), None)
    paths = ([os.path.join(base, r) for r in relative] if base is not None
             else [os.path.join(root, r.split("/", 1)[-1]) for r in relative])
    patients = [m.group(1) if (m := re.search(r"(patient\d+)", r)) else r for r in relative]
    frontal = table["Frontal/Lateral"].astype(str).str.lower().eq("frontal").to_numpy()
    ap_pa = table["AP/PA"] if "AP/PA" in table.columns else pd.Series([""] * len(table), index=table.index)
    views = [str(v) if f and v == v else ("" if f else "Lateral") for f, v in zip(frontal, ap_pa)]
    sexes = [s if s in ("Male", "Female") else "" for s in table.get("Sex", pd.Series([""] * len(table)))]
    frame = make_frame(paths, values, CHEXPERT_CLASSES, patient_ids=patients, ages=table.get("Age"), sexes=sexes,
                       views=views, splits=[_split_name(os.path.splitext(csv)[0])] * len(paths),
                       missing_images=missing_images)
    return DatasetIndex(frame, list(CHEXPERT_CLASSES), "multilabel")


# The official tables, in the order csv="all" pools them: train, validation (234 images), test.
CHEXPERT_TABLES = ("train.csv", "valid.csv", "test.csv")


def detect(path):
    """True for a folder holding train.csv, or the file train.csv or valid.csv."""
    if os.path.isfile(path):
        return os.path.basename(path) in ("train.csv", "valid.csv")
    return "train.csv" in _entries(path)


def _index(path):
    if os.path.isfile(path):
        return index_chexpert(os.path.dirname(path) or ".", os.path.basename(path))
    return index_chexpert(path)


LAYOUT = Layout("chexpert", detect, _index, "a folder with train.csv (CheXpert, frontal views, U-Zeros)")
