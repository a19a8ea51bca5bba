"""The NLM tuberculosis sets (Jaeger et al. 2014): Montgomery County (`MCUCXR_*`) and Shenzhen (`CHNCXR_*`).

Both publish `CXR_png/<SET>_<number>_<label>.png` (label 0 normal, 1 tuberculosis) with one
`ClinicalReadings/<same stem>.txt` per image (sex, age, the radiologist's reading). Where they sit differs:

- NLM originals: `MontgomerySet/CXR_png/`, `ChinaSet_AllFiles/CXR_png/`;
- Kaggle `pulmonary-chest-xray-abnormalities`: `Montgomery/MontgomerySet/CXR_png/` and
  `ChinaSet_AllFiles/ChinaSet_AllFiles/CXR_png/` side by side;
- Kaggle `chest-xray-masks-and-labels`: `[data/]Lung Segmentation/CXR_png/` (both sets in one folder).

So every `CXR_png/` up to three folders below the root is indexed. The lung masks of the same trees are
read by `index_segmentation` (segmentation.py), not here.
"""

import os
import re

import numpy as np

from keras_cxr.data.index import DatasetIndex, DatasetLayoutError, list_problems, make_frame, parse_age
from keras_cxr.data.layouts._common import Layout, _folders_below, _stem

_NAME = re.compile(r"^(MCUCXR|CHNCXR)_(\d+)_([01])$", flags=re.IGNORECASE)
_SETS = {"MCUCXR": "montgomery", "CHNCXR": "shenzhen"}
_DEPTH = 3


def _cxr_folders(root):
    return [os.path.join(f, "CXR_png") for f in _folders_below(root, _DEPTH)
            if os.path.isdir(os.path.join(f, "CXR_png"))]


def read_clinical_reading(path):
    """(sex "M"/"F"/"", age in years or NaN, reading text) from one ClinicalReadings .txt file.

    Montgomery writes `Patient's Sex: M` / `Patient's Age: 044Y` lines, Shenzhen one line such as
    `male 35yrs` (also `female 8month`, `male 20days`); the other lines are the reading ("normal", "PTB in
    the left upper field", ...). A missing file gives ("", NaN, "").

    Example:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "CHNCXR_0001_0.txt")
    >>> _ = open(path, "w").write("female 8month\\nnormal\\n")
    >>> read_clinical_reading(path)
    ('F', 0.6666666666666666, 'normal')
    """
    if not os.path.isfile(path):
        return "", float("nan"), ""
    with open(path, errors="replace") as f:
        lines = [line.strip() for line in f if line.strip()]
    sex, age, reading = "", float("nan"), []
    for line in lines:
        lower = line.lower()
        sex_match = re.search(r"sex\W*([mf])\b", lower) or re.search(r"\b(female|male)", lower)
        age_match = re.search(r"(\d+(?:\.\d+)?)\s*(y|yrs?|years?|m|mos?|months?|w|weeks?|d|days?)\b", lower)
        if not (sex_match or re.search(r"\bage\b", lower)):
            reading.append(line)  # a line without sex or age is part of the reading
            continue
        if sex_match and not sex:
            sex = sex_match.group(1)[0].upper()
        if age_match and np.isnan(age):
            age = parse_age(age_match.group(1) + age_match.group(2)[0])
    return sex, age, " ".join(reading)


def index_tuberculosis(root):
    """Montgomery and / or Shenzhen under `root`: one binary column "tuberculosis" from the file name.

    Every `CXR_png/` folder up to three levels below `root` is read (see the module docstring for the
    NLM and Kaggle layouts); files not named `MCUCXR_<n>_<0|1>` / `CHNCXR_<n>_<0|1>` raise. Sex and age
    come from `ClinicalReadings/<stem>.txt` beside `CXR_png/` when present (`read_clinical_reading`), the
    reading text goes into a `reading` column, the set ("montgomery" / "shenzhen") into `source`.
    patient_id is the stem without its label (`CHNCXR_0001`): each patient has one image. A stem found
    twice (the same image in two mirrors under `root`) is kept once, from the first folder by path.

    Raises:
        DatasetLayoutError: no `CXR_png/` folder with images, or image names outside the convention.

    Reference:
        Jaeger S. et al., "Two public chest X-ray datasets for computer-aided screening of pulmonary
        diseases", Quant. Imaging Med. Surg. 4(6):475-477, 2014.
    """
    root = os.fspath(root)
    rows, odd, seen = [], [], set()
    for folder in _cxr_folders(root):
        readings = os.path.join(os.path.dirname(folder), "ClinicalReadings")
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if entry.name.startswith(".") or not entry.name.lower().endswith(".png"):
                continue
            match = _NAME.match(_stem(entry.name))
            if not match:
                odd.append(entry.path)
                continue
            if _stem(entry.name).upper() in seen:
                continue
            seen.add(_stem(entry.name).upper())
            sex, age, reading = read_clinical_reading(os.path.join(readings, _stem(entry.name) + ".txt"))
            rows.append((entry.path, f"{match.group(1).upper()}_{match.group(2)}", float(match.group(3)),
                         _SETS[match.group(1).upper()], sex, age, reading))
    if odd:
        raise DatasetLayoutError(list_problems("images in CXR_png/ not named MCUCXR_<n>_<0|1>.png or "
                                               "CHNCXR_<n>_<0|1>.png (the label is the last digit)", odd))
    if not rows:
        raise DatasetLayoutError(f"No CXR_png/ folder with MCUCXR_* / CHNCXR_* images up to {_DEPTH} folders below "
                                 f"'{root}' (Montgomery: MontgomerySet/CXR_png, Shenzhen: ChinaSet_AllFiles/CXR_png).")
    path, patient, label, source, sex, age, reading = zip(*rows)
    frame = make_frame(path, np.array(label)[:, None], ["tuberculosis"], patient_ids=patient, ages=age, sexes=sex,
                       views=["PA"] * len(rows), check_files=False, source=source, reading=reading)
    return DatasetIndex(frame, ["tuberculosis"], "binary")


def detect(path):
    """True for a folder with a `CXR_png/` holding an `MCUCXR_*` / `CHNCXR_*` png, up to three folders down."""
    if not os.path.isdir(path):
        return False
    for folder in _cxr_folders(path):
        try:
            with os.scandir(folder) as entries:
                if any(_NAME.match(_stem(e.name)) for e in entries):
                    return True
        except OSError:
            continue
    return False


LAYOUT = Layout("tuberculosis", detect, index_tuberculosis,
                "a folder with CXR_png/ of MCUCXR_*/CHNCXR_* images (Montgomery, Shenzhen; tuberculosis 0/1)")
