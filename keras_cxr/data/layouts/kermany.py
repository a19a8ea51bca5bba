"""Kermany et al. 2018 pediatric pneumonia (Kaggle "chest-xray-pneumonia" v2 and Mendeley v3)."""

import os
import re

from keras_cxr.data.index import DatasetIndex, DatasetLayoutError, list_problems
from keras_cxr.data.layouts._common import Layout, _split_name, _subfolders
from keras_cxr.data.layouts.folder import index_folder


def kermany_patient_id(filename):
    """Patient id from a Kermany file name.

    v2 (Kaggle "chest-xray-pneumonia"): `person1_bacteria_1.jpeg` → "person1", `IM-0115-0001.jpeg` →
    "IM-0115", `NORMAL2-IM-0027-0001.jpeg` → "NORMAL2-IM-0027"; v3 (Mendeley v3):
    `BACTERIA-1008087-0001.jpeg` → "1008087" (shared by the patient's NORMAL/BACTERIA/VIRUS files).

    Example:
    >>> [kermany_patient_id(n) for n in ("person1_virus_6.jpeg", "IM-0115-0001.jpeg", "VIRUS-95-0002.jpeg")]
    ['person1', 'IM-0115', '95']
    """
    name = os.path.basename(filename)
    for pattern in (r"(person\d+)_", r"(?:NORMAL|BACTERIA|VIRUS)-(\d+)-", r"((?:NORMAL\d*-)?IM-\d+)-"):
        match = re.match(pattern, name, flags=re.IGNORECASE)
        if match:
            return match.group(1)
    return os.path.splitext(name)[0]


def index_kermany(root, num_classes=2):
    """Kermany et al. 2018 pediatric pneumonia: `train|val|test/NORMAL|PNEUMONIA/*.jpeg`.

    Bacterial / viral pneumonia come from the file names (`person1_bacteria_1.jpeg`, `person1_virus_6.jpeg`,
    or v3's `BACTERIA-…` / `VIRUS-…`); the patient id from `kermany_patient_id`. Kaggle's archive holds
    the dataset twice (`chest_xray/` and `chest_xray/chest_xray/`, plus `__MACOSX/`): a complete copy nested
    in `root` (a subfolder that is itself this layout) is left out, as are `__MACOSX/` and hidden files.

    Args:
        root: the folder holding train/ test/ (val/), or a folder holding only that one (Kaggle's mount).
        num_classes: 2 → one column "PNEUMONIA" (binary); 3 → one-hot "NORMAL", "BACTERIA", "VIRUS".

    Raises:
        DatasetLayoutError: on class folders other than NORMAL / PNEUMONIA, or PNEUMONIA images whose name
            says neither bacteria nor virus (3 classes).

    Reference:
        Kermany D.S. et al., "Identifying Medical Diagnoses and Treatable Diseases by Image-Based Deep
        Learning", Cell 172(5), 2018, doi:10.1016/j.cell.2018.02.010.
    """
    if num_classes not in (2, 3):
        raise ValueError(f"num_classes must be 2 or 3; received {num_classes}.")
    root = os.fspath(root)
    inner = [f for f in _subfolders(root) if detect(f)] if not detect(root) else []
    if len(inner) == 1:  # the Kaggle mount /kaggle/input/chest-xray-pneumonia holds chest_xray/
        root = inner[0]
    nested = [f for f in _subfolders(root) if not _split_name(os.path.basename(f))
              and os.path.basename(f) not in ("NORMAL", "PNEUMONIA") and detect(f)]
    base = index_folder(root, ["NORMAL", "PNEUMONIA"], patient_id=kermany_patient_id, exclude=nested)
    names = [os.path.basename(p) for p in base.paths]
    frame = base.frame
    if num_classes == 2:
        return DatasetIndex(frame.drop(columns=["NORMAL"]), ["PNEUMONIA"], "binary")
    detail = ["BACTERIA" if "bacteria" in n.lower() else "VIRUS" if "virus" in n.lower() else "NORMAL" for n in names]
    odd = [n for n, d, p in zip(names, detail, frame["PNEUMONIA"]) if (d == "NORMAL") == bool(p)]
    if odd:
        raise DatasetLayoutError(list_problems("images whose name disagrees with their folder (PNEUMONIA without "
                                               "bacteria/virus in the name, or NORMAL with it)", odd))
    frame = frame.drop(columns=["NORMAL", "PNEUMONIA"])
    for cls in ("NORMAL", "BACTERIA", "VIRUS"):
        frame[cls] = [float(d == cls) for d in detail]
    return DatasetIndex(frame, ["NORMAL", "BACTERIA", "VIRUS"], "multiclass")


def detect(path):
    """True for a folder with a PNEUMONIA/ class folder, directly or under train/ test/ val/."""
    return any(os.path.isdir(os.path.join(path, split, "PNEUMONIA")) for split in ("train", "test", "val", "."))


LAYOUT = Layout("kermany", detect, index_kermany, "a folder with [train|test|val/]PNEUMONIA/ (2 classes)")
