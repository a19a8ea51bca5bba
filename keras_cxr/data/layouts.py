"""Dataset indexes for published CXR layouts: Kermany, VinDr-PCXR, ChestX-ray14, CheXpert, COVIDx, labels.csv
folders, image+mask folders, and any image folder. Each returns a `DatasetIndex`; nothing is downloaded.

Every loader validates the layout and raises `DatasetLayoutError` (a `ValueError`) listing what is wrong:
missing columns, unknown labels, missing image files (the first 10 and the count).
"""

import glob
import os
import re
import warnings

import numpy as np

from keras_cxr.data.index import DatasetIndex, DatasetLayoutError, list_problems, make_frame

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".dcm", ".dicom", ".npy")
MASK_EXTENSIONS = (*IMAGE_EXTENSIONS, ".gif")
NIH_CXR14_CLASSES = ("Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia",
                     "Pneumothorax", "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia")
CHEXPERT_CLASSES = ("No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema",
                    "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other",
                    "Fracture", "Support Devices")
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
_SPLIT_NAMES = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
                "test": "test", "testing": "test"}
_NORMAL_TOKENS = ("No Finding", "No finding", "normal", "Normal", "NORMAL")
_NEGATIVE_CLASSES = {"normal", "no finding", "negative", "non-nodule", "healthy"}


# ----------------------------------------------------------------------------------------------- helpers
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


def _visible(path, root):
    """False for files inside hidden folders, macOS resource forks (`._x.png`) and `__MACOSX/`."""
    parts = os.path.relpath(path, root).split(os.sep)
    return not any(p.startswith(".") or p == "__MACOSX" for p in parts)


def _find_images(root, extensions=IMAGE_EXTENSIONS):
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


# ----------------------------------------------------------------------------------------------- folders
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


def index_folder(root, class_names=None, patient_id=None):
    """Class-per-folder layouts: `root/[.../][train|val|test/]CLASS/image`.

    The class is the image's parent folder; a train / val (valid, validation) / test folder above it fills
    the split column. Hidden files, `__MACOSX/` and exact duplicates of (split, class, file name) — as in
    archives that contain the dataset twice — are skipped (with a warning for duplicates).

    Args:
        root: dataset folder.
        class_names: expected class folders, in column order (default: every class folder found, sorted).
        patient_id: optional callable file name → patient id (default: the file stem).

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
    for path in _find_images(root):
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
    or v3's `BACTERIA-…` / `VIRUS-…`); the patient id from `kermany_patient_id`.

    Args:
        root: the folder holding train/ test/ (val/).
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
    base = index_folder(root, ["NORMAL", "PNEUMONIA"], patient_id=kermany_patient_id)
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


# ----------------------------------------------------------------------------------------------- labels.csv
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


# ----------------------------------------------------------------------------------------------- VinDr-PCXR
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
        split: "train" or "test".
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
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test'; received {split!r}.")
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


# ----------------------------------------------------------------------------------------------- ChestX-ray14
def index_nih_cxr14(root, csv="Data_Entry_2017.csv", missing_images="error", *, csv_name=None):
    """NIH ChestX-ray14: `Data_Entry_2017.csv` with images in `images*/` folders (e.g. `images_001/images/`).

    Columns used: "Image Index", "Finding Labels" (pipe-separated; "No Finding" = all zeros), "Patient ID",
    "Patient Age" (years, or "058Y" in early releases), "Patient Gender", "View Position". The official
    `train_val_list.txt` / `test_list.txt` fill the split column ("train" / "test") when present.

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
    if all(os.path.isfile(p) for p in lists.values()):
        membership = {}
        for name, list_path in lists.items():
            with open(list_path) as f:
                membership.update({line.strip(): name for line in f if line.strip()})
        split = [membership.get(n, "") for n in names]
    frame = make_frame([locations.get(n, os.path.join(root, "images", n)) for n in names], labels, NIH_CXR14_CLASSES,
                       patient_ids=table["Patient ID"].astype(str).str.lstrip("0").replace("", "0"),
                       ages=table.get("Patient Age"), sexes=table.get("Patient Gender"),
                       views=table.get("View Position"), splits=split, missing_images=missing_images)
    return DatasetIndex(frame, list(NIH_CXR14_CLASSES), "multilabel")


# ----------------------------------------------------------------------------------------------- CheXpert
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
        csv: "train.csv" or "valid.csv" (or another table with the same columns).
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


# ----------------------------------------------------------------------------------------------- COVIDx
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


# ----------------------------------------------------------------------------------------------- segmentation
def _mask_stem(name):
    """File stem without mask suffixes (`_mask`, `_lungs`, `_seg`) or inner extensions (`JPCLN001.IMG.png`)."""
    stem = _stem(name)
    stem = re.sub(r"\.(img|dcm|dicom|png|jpe?g|tiff?|gif)$", "", stem, flags=re.IGNORECASE)
    return re.sub(r"[_-](mask|masks|lungs?|seg|segmentation|label)$", "", stem, flags=re.IGNORECASE)


def index_segmentation_pairs(image_dir, mask_dirs, merge="union", merged_dir=None, require_all=True):
    """Images with masks matched by file stem; several mask folders are merged.

    Matching ignores extensions (`.png` image ↔ `.gif` mask), mask suffixes (`CHNCXR_0001_0_mask.png`,
    Shenzhen) and inner extensions (`JPCLN001.IMG.png`). With several mask folders (Montgomery's
    `leftMask/` + `rightMask/`) `mask_path` holds the files joined by "|" and `read_mask` returns their
    union; with `merged_dir` the unions are written there as 0/255 PNGs and `mask_path` names those
    files, so any image reader (e.g. `load_images`) can read them.

    Args:
        image_dir: folder of images (searched recursively).
        mask_dirs: one mask folder or a list of them.
        merge: "union" (the only rule: a pixel is foreground when it is in any mask).
        merged_dir: optional folder for materialized union masks.
        require_all: raise when an image lacks a mask in some folder (else drop it).

    Returns:
        `DatasetIndex` with task "segmentation", a mask_path column, patient_id = matched stem.

    Raises:
        DatasetLayoutError: missing folders, no images, or images without a mask (listed).

    Example:
    >>> import cv2, numpy as np, tempfile, os
    >>> root = tempfile.mkdtemp()
    >>> for sub in ("images", "left", "right"):
    ...     os.makedirs(os.path.join(root, sub))
    >>> _ = cv2.imwrite(os.path.join(root, "images", "a.png"), np.zeros((9, 9), np.uint8))
    >>> left, right = np.zeros((9, 9), np.uint8), np.zeros((9, 9), np.uint8)
    >>> left[:, :3], right[:, 6:] = 255, 255
    >>> _ = cv2.imwrite(os.path.join(root, "left", "a.png"), left)
    >>> _ = cv2.imwrite(os.path.join(root, "right", "a_mask.png"), right)
    >>> masks = [os.path.join(root, "left"), os.path.join(root, "right")]
    >>> index = index_segmentation_pairs(os.path.join(root, "images"), masks)
    >>> int(read_mask(index.mask_paths[0]).sum())
    54
    """
    if merge != "union":
        raise ValueError(f"merge must be 'union'; received {merge!r}.")
    image_dir = os.fspath(image_dir)
    _require_dir(image_dir, "Image")
    if isinstance(mask_dirs, (str, os.PathLike)):
        mask_dirs = [mask_dirs]
    mask_dirs = [os.fspath(d) for d in mask_dirs]
    if not mask_dirs:
        raise ValueError("mask_dirs is empty; pass at least one mask folder.")
    for d in mask_dirs:
        _require_dir(d, "Mask")
    images = _find_images(image_dir)
    if not images:
        raise DatasetLayoutError(f"No image files ({', '.join(IMAGE_EXTENSIONS)}) under '{image_dir}'.")
    masks = []
    for d in mask_dirs:
        found = {}
        for p in _find_images(d, MASK_EXTENSIONS):
            found.setdefault(_mask_stem(p), p)
        masks.append(found)
    stems = [_mask_stem(p) for p in images]
    unmatched = [os.path.basename(p) for p, s in zip(images, stems) if any(s not in m for m in masks)]
    if unmatched and require_all:
        raise DatasetLayoutError(list_problems(f"images in '{image_dir}' without a mask in every folder of {mask_dirs}",
                                               unmatched) + " (pass require_all=False to drop them).")
    keep = [i for i, s in enumerate(stems) if all(s in m for m in masks)]
    if not keep:
        raise DatasetLayoutError(f"No image in '{image_dir}' has a mask in {mask_dirs}.")
    mask_paths = ["|".join(m[stems[i]] for m in masks) for i in keep]
    if merged_dir is not None:
        import cv2

        merged_dir = os.fspath(merged_dir)
        os.makedirs(merged_dir, exist_ok=True)
        written = []
        for i, mask_path in zip(keep, mask_paths):
            target = os.path.join(merged_dir, stems[i] + ".png")
            cv2.imwrite(target, (read_mask(mask_path) > 0).astype(np.uint8) * 255)
            written.append(os.path.abspath(target))
        mask_paths = written
    frame = make_frame([images[i] for i in keep], patient_ids=[stems[i] for i in keep], check_files=False,
                       mask_path=mask_paths)
    return DatasetIndex(frame, [], "segmentation")


def _read_one_mask(path):
    lower = path.lower()
    if lower.endswith((".dcm", ".dicom")):
        from keras_cxr.data.readers import read_image

        return read_image(path) > 0.5
    if lower.endswith(".npy"):
        array = np.load(path)
        return (array[..., 0] if array.ndim == 3 else array) > 0
    from PIL import Image

    if not os.path.isfile(path):
        raise DatasetLayoutError(f"Mask file '{path}' does not exist.")
    try:
        with Image.open(path) as image:
            image.seek(0)
            if image.mode in ("P", "PA", "LA", "RGBA", "RGB", "CMYK", "YCbCr"):
                image = image.convert("L")
            array = np.asarray(image)
    except (OSError, ValueError) as error:
        raise DatasetLayoutError(f"Cannot read mask '{path}': {error}.") from error
    if array.ndim == 3:
        array = array.max(axis=-1)
    # Lossless masks: any non-zero pixel is foreground (0/1, 0/255 and label maps alike); JPEG masks carry
    # compression noise, so they are thresholded at half range.
    return array > (127 if lower.endswith((".jpg", ".jpeg")) else 0)


def read_mask(mask_path):
    """Reads a binary mask (or the union of "a|b" masks) as a float32 (H, W) array of 0 and 1.

    Non-zero pixels are foreground in lossless files (PNG 0/1 or 0/255, palette PNG and GIF through their
    palette, TIFF, BMP, .npy); JPEG masks are thresholded at 127.

    Raises:
        DatasetLayoutError: when a mask cannot be read or the masks to merge differ in size.
    """
    parts = [p for p in str(mask_path).split("|") if p]
    if not parts:
        raise DatasetLayoutError("Empty mask path.")
    arrays = [_read_one_mask(p) for p in parts]
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise DatasetLayoutError(f"Masks to merge differ in size {sorted(shapes)}: {parts}.")
    return np.logical_or.reduce(arrays).astype(np.float32)


# ----------------------------------------------------------------------------------------------- any layout
def index_any(path, binary=False):
    """Indexes a dataset given as a folder or a table, recognizing the published layouts above.

    Recognized: a labels.csv folder (its "abnormal" column), VinDr-PCXR (`image_labels_train.csv`, 6
    classes), ChestX-ray14 (`Data_Entry*.csv`), CheXpert (`train.csv`), COVIDx (`train.txt`), Kermany
    (`[split/]PNEUMONIA/`), else every image in the folder (unlabeled). A file path picks its table.

    `binary=True` reduces the labels to one "abnormal" column (normal vs any finding), as paper 003 does:
    a binary index keeps its column; a class named normal / no finding / negative / non-nodule gives
    1 − that column (Kermany 3-class, VinDr-PCXR, COVIDx); other multi-label indexes → any finding.

    Raises:
        DatasetLayoutError: when no layout matches, or on a malformed table.
    """
    path = os.fspath(path)
    if os.path.isfile(path):
        folder, name = os.path.dirname(path) or ".", os.path.basename(path)
        if name.startswith("image_labels_"):
            index = index_vindr_pcxr(folder, "test" if "test" in name else "train")
        elif name.startswith("Data_Entry"):
            index = index_nih_cxr14(folder, name)
        elif name.endswith(".txt"):
            index = index_covidx(folder, name)
        elif name in ("train.csv", "valid.csv"):
            index = index_chexpert(folder, name)
        else:
            index = index_labels_csv(folder, csv_name=name)
    elif os.path.isdir(path):
        entries = set(os.listdir(path))
        data_entry = sorted(e for e in entries if e.startswith("Data_Entry") and e.endswith(".csv"))
        if "labels.csv" in entries:
            index = index_labels_csv(path)
        elif "image_labels_train.csv" in entries:
            index = index_vindr_pcxr(path, "train")
        elif data_entry:
            index = index_nih_cxr14(path, data_entry[0])
        elif "train.csv" in entries:
            index = index_chexpert(path)
        elif "train.txt" in entries:
            index = index_covidx(path)
        elif any(os.path.isdir(os.path.join(path, s, "PNEUMONIA")) for s in ("train", "test", "val", ".")):
            index = index_kermany(path)
        else:
            index = index_unlabeled(path)
    else:
        raise DatasetLayoutError(f"'{path}' is neither a dataset folder nor a label table.")
    if not binary or index.class_names == ["abnormal"]:
        return index
    labels = index.labels
    negatives = [i for i, n in enumerate(index.class_names) if n.strip().lower() in _NEGATIVE_CLASSES]
    if index.task == "binary":
        abnormal = labels[:, 0]
    elif negatives:
        abnormal = 1.0 - labels[:, negatives[0]]
    elif index.task == "multilabel":
        abnormal = np.where(np.isnan(labels).all(1), np.nan, np.nansum(labels, 1) > 0).astype(float)
    else:
        raise DatasetLayoutError(f"Cannot derive normal/abnormal labels from classes {index.class_names} of '{path}': "
                                 f"no class is one of {sorted(_NEGATIVE_CLASSES)}.")
    frame = index.frame.drop(columns=index.class_names)
    frame["abnormal"] = abnormal
    return DatasetIndex(frame, ["abnormal"], "binary")


# ----------------------------------------------------------------------------------------------- VinDr extras
def read_vindr_boxes(root, split="test"):
    """VinDr-PCXR / PediCXR box annotations `annotations_{split}.csv` → {image_id: [(finding, x0, y0, x1, y1)]}.

    Columns image_id, class_name, x_min, y_min, x_max, y_max (original pixel coordinates; rows without a
    box, e.g. "No finding", are skipped). Returns {} when the file is absent.

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
            (str(row.class_name), float(row.x_min), float(row.y_min), float(row.x_max), float(row.y_max)))
    return boxes


def image_size_from_header(path):
    """(height, width) of an image file read from its header only (DICOM Rows/Columns, or PIL)."""
    if str(path).lower().endswith((".dcm", ".dicom")):
        import pydicom

        header = pydicom.dcmread(path, stop_before_pixels=True, force=True)
        return int(header.Rows), int(header.Columns)
    from PIL import Image

    with Image.open(path) as image:
        return image.height, image.width
