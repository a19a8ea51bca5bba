"""Dataset indexes for published CXR layouts: Kermany, VinDr-PCXR, ChestX-ray14, CheXpert, COVIDx, labels.csv
folders, image+mask folders, and any image folder. Each returns a `DatasetIndex`; nothing is downloaded."""

import glob
import os
import re

import numpy as np

from keras_cxr.data.index import DatasetIndex, DatasetLayoutError, list_problems, make_frame

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".dcm", ".dicom", ".npy")
NIH_CXR14_CLASSES = ("Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia",
                     "Pneumothorax", "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia")
CHEXPERT_CLASSES = ("No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema",
                    "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other",
                    "Fracture", "Support Devices")
# Paper 000 (§IV.A, Table 1): five frequent PediCXR findings + "other diseases" (findings with < 5 test positives).
PEDICXR_6_CLASSES = ("No finding", "Bronchitis", "Broncho-pneumonia", "Bronchiolitis", "Pneumonia", "Other diseases")
_PEDICXR_SPELLINGS = {"brocho-pneumonia": "Broncho-pneumonia", "broncho-pneumonia": "Broncho-pneumonia",
                      "bronchopneumonia": "Broncho-pneumonia", "no finding": "No finding", "bronchitis": "Bronchitis",
                      "bronchiolitis": "Bronchiolitis", "pneumonia": "Pneumonia"}


def _require_columns(frame, columns, source):
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DatasetLayoutError(f"{source} lacks columns {missing}; it has {list(frame.columns)}. "
                                 "Check that the file is the published CSV of that dataset.")


def _is_image(name):
    return name.lower().endswith(IMAGE_EXTENSIONS)


def _find_images(root):
    paths = sorted(p for p in glob.glob(os.path.join(root, "**", "*"), recursive=True) if _is_image(p))
    return [p for p in paths if os.path.isfile(p)]


def _require_dir(root, what):
    if not os.path.isdir(root):
        raise DatasetLayoutError(f"{what} folder '{root}' does not exist or is not a folder.")


def index_unlabeled(root):
    """Every image file under `root` (recursively), for self-supervised pretraining.

    Example:
    >>> import cv2, numpy as np, tempfile, os
    >>> root = tempfile.mkdtemp(); _ = cv2.imwrite(os.path.join(root, "x.png"), np.zeros((9, 9), np.uint8))
    >>> len(index_unlabeled(root))
    1
    """
    _require_dir(root, "Image")
    paths = _find_images(root)
    if not paths:
        raise DatasetLayoutError(f"No image files ({', '.join(IMAGE_EXTENSIONS)}) under '{root}'.")
    ids = [os.path.splitext(os.path.basename(p))[0] for p in paths]
    return DatasetIndex(make_frame(paths, patient_ids=ids, check_files=False), [], "unlabeled")


def index_folder(root, class_names=None):
    """Class-per-folder layouts: `root/[split/]CLASS/*.png`; split folders train/val/test are recognized.

    Returns a multi-class index (one-hot columns, one per class folder) or binary when there are two.
    """
    _require_dir(root, "Dataset")
    rows = []
    for path in _find_images(root):
        parts = os.path.relpath(path, root).split(os.sep)
        if len(parts) < 2:
            continue
        split = parts[0].lower() if len(parts) >= 3 and parts[0].lower() in ("train", "val", "test") else ""
        rows.append((path, parts[-2], {"val": "val", "train": "train", "test": "test"}.get(split, "")))
    if not rows:
        raise DatasetLayoutError(f"No class folders with images under '{root}'; expected root/CLASS/image.png.")
    found = sorted({r[1] for r in rows})
    names = list(class_names) if class_names else found
    unknown = sorted(set(found) - set(names))
    if unknown:
        raise DatasetLayoutError(f"Unknown class folders {unknown} under '{root}'; expected {names}.")
    labels = np.array([[float(r[1] == n) for n in names] for r in rows])
    ids = [os.path.splitext(os.path.basename(r[0]))[0] for r in rows]
    frame = make_frame([r[0] for r in rows], labels, names, patient_ids=ids, splits=[r[2] for r in rows],
                       check_files=False)
    return DatasetIndex(frame, names, "binary" if len(names) == 2 else "multiclass")


def _kermany_patient(name):
    match = re.match(r"(person\d+)_", name) or re.match(r"(?:NORMAL2?|IM)-(\d+)-", name) or \
        re.match(r"(?:BACTERIA|VIRUS|NORMAL)-(\d+)-", name)
    return match.group(1) if match else os.path.splitext(name)[0]


def index_kermany(root, num_classes=2):
    """Kermany et al. 2018 pediatric pneumonia: `train|val|test/NORMAL|PNEUMONIA/*.jpeg`.

    Bacterial / viral pneumonia come from the file names (`person1_bacteria_1.jpeg`, `person1_virus_6.jpeg`);
    the patient id from the `personN` / `IM-NNNN` part. num_classes=2 → column "PNEUMONIA" (binary);
    3 → one-hot "NORMAL", "BACTERIA", "VIRUS".
    """
    if num_classes not in (2, 3):
        raise ValueError(f"num_classes must be 2 or 3; received {num_classes}.")
    base = index_folder(root, ["NORMAL", "PNEUMONIA"])
    names = [os.path.basename(p) for p in base.paths]
    frame = base.frame
    frame["patient_id"] = [_kermany_patient(n) for n in names]
    if num_classes == 2:
        return DatasetIndex(frame.drop(columns=["NORMAL"]), ["PNEUMONIA"], "binary")
    detail = ["BACTERIA" if "bacteria" in n.lower() else "VIRUS" if "virus" in n.lower() else "NORMAL" for n in names]
    odd = [n for n, d, p in zip(names, detail, frame["PNEUMONIA"]) if (d == "NORMAL") == bool(p)]
    if odd:
        raise DatasetLayoutError(list_problems("PNEUMONIA images without bacteria/virus in the name (or NORMAL "
                                               "images with it)", odd))
    frame = frame.drop(columns=["NORMAL", "PNEUMONIA"])
    for cls in ("NORMAL", "BACTERIA", "VIRUS"):
        frame[cls] = [float(d == cls) for d in detail]
    return DatasetIndex(frame, ["NORMAL", "BACTERIA", "VIRUS"], "multiclass")


def index_labels_csv(folder, label_column="abnormal", csv_name="labels.csv", image_dir="images",
                     unknown_values=("unknown", "")):
    """A folder with `images/` and a `labels.csv` (filename, label, abnormal, patient_id, age, sex, view, ...).

    The layout of the shared data folders and of `PhantomDataset.save`. `label_column`:
    "abnormal" (binary 0/1, empty = unknown → NaN), any categorical column (one-hot; values in
    `unknown_values` → NaN), or a pipe-separated multi-label column (e.g. NIH "finding_labels").
    """
    import pandas as pd

    path = os.path.join(folder, csv_name)
    if not os.path.isfile(path):
        raise DatasetLayoutError(f"'{path}' not found: a labels.csv folder needs {csv_name} beside {image_dir}/.")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    _require_columns(table, ["filename", label_column], path)
    paths = [os.path.join(folder, image_dir, f) for f in table["filename"]]
    values = table[label_column].str.strip()
    if label_column == "abnormal":
        bad = sorted(set(values) - {"0", "1", "", "0.0", "1.0"})
        if bad:
            raise DatasetLayoutError(f"{path}: column 'abnormal' must hold 0/1 or empty; found {bad}.")
        labels = pd.to_numeric(values, errors="coerce").to_numpy()[:, None]
        names, task = ["abnormal"], "binary"
    elif values.str.contains(r"\|").any() or label_column in ("finding_labels", "Finding Labels"):
        names = sorted({v for row in values for v in row.split("|")} - set(unknown_values) - {"No Finding", "normal"})
        labels = np.array([[float(n in row.split("|")) for n in names] for row in values])
        task = "multilabel"
    else:
        names = sorted(set(values) - set(unknown_values))
        labels = np.array([[np.nan] * len(names) if v in unknown_values else [float(v == n) for n in names]
                           for v in values])
        task = "binary" if len(names) == 2 else "multiclass"
    def optional(name):
        return table[name].tolist() if name in table.columns else None
    frame = make_frame(paths, labels, names, patient_ids=optional("patient_id") or list(table["filename"]),
                       ages=optional("age"), sexes=optional("sex"), views=optional("view"), splits=optional("split"))
    return DatasetIndex(frame, names, task)


def _resolve(root, stem, folders, extensions=(".dicom", ".dcm", ".png", ".jpg", ".jpeg")):
    for folder in folders:
        for ext in extensions:
            candidate = os.path.join(root, folder, stem + ext)
            if os.path.isfile(candidate):
                return candidate
    return os.path.join(root, folders[0], stem + extensions[0])


def index_vindr_pcxr(root, split="train", six_class=True):
    """VinDr-PCXR / PediCXR: `image_labels_{train,test}.csv` (image_id, rad_ID, one 0/1 column per finding)
    with images in `{train,test}/<image_id>.dicom` (or .dcm/.png).

    Rows of several radiologists for one image are merged by maximum. `six_class=True` gives the 6
    classes of paper 000: no finding, bronchitis, broncho-pneumonia (the official CSV spells it
    "Brocho-pneumonia"), bronchiolitis, pneumonia, and "Other diseases" = any other finding (the findings
    with fewer than 5 test positives, aggregated as in paper 000 §IV.A).
    """
    import pandas as pd

    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test'; received {split!r}.")
    path = os.path.join(root, f"image_labels_{split}.csv")
    if not os.path.isfile(path):
        raise DatasetLayoutError(f"'{path}' not found: VinDr-PCXR needs image_labels_{split}.csv in its root.")
    table = pd.read_csv(path)
    _require_columns(table, ["image_id"], path)
    findings = [c for c in table.columns if c not in ("image_id", "rad_ID", "rad_id")]
    grouped = table.groupby("image_id", sort=True)[findings].max()
    if six_class:
        canonical = {c: _PEDICXR_SPELLINGS.get(c.strip().lower()) for c in findings}
        missing = [n for n in PEDICXR_6_CLASSES[:5] if n not in canonical.values()]
        if missing:
            raise DatasetLayoutError(f"{path} lacks findings {missing} needed for the 6-class mapping; it has {findings}.")
        labels = pd.DataFrame(index=grouped.index)
        for name in PEDICXR_6_CLASSES[:5]:
            labels[name] = grouped[[c for c, k in canonical.items() if k == name]].max(axis=1)
        others = [c for c, k in canonical.items() if k is None]
        labels["Other diseases"] = grouped[others].max(axis=1) if others else 0.0
        grouped, findings = labels, list(PEDICXR_6_CLASSES)
    paths = [_resolve(root, str(i), [split, f"{split}_png", "images"]) for i in grouped.index]
    frame = make_frame(paths, grouped.to_numpy(float), findings, patient_ids=[str(i) for i in grouped.index],
                       splits=[split] * len(paths))
    return DatasetIndex(frame, findings, "multilabel")


def index_nih_cxr14(root, csv_name="Data_Entry_2017.csv"):
    """NIH ChestX-ray14: `Data_Entry_2017.csv` (pipe-separated "Finding Labels"), images in any `images*/` folder,
    official splits from `train_val_list.txt` / `test_list.txt` when present. 14 classes; "No Finding" = zeros."""
    import pandas as pd

    path = os.path.join(root, csv_name)
    if not os.path.isfile(path):
        raise DatasetLayoutError(f"'{path}' not found: ChestX-ray14 needs {csv_name} in its root.")
    table = pd.read_csv(path)
    _require_columns(table, ["Image Index", "Finding Labels", "Patient ID"], path)
    locations = {os.path.basename(p): p for p in glob.glob(os.path.join(root, "images*", "**", "*.png"), recursive=True)}
    missing = [n for n in table["Image Index"] if n not in locations]
    if missing:
        raise DatasetLayoutError(list_problems(f"images listed in {csv_name} but absent under {root}/images*/", missing))
    found = {f for row in table["Finding Labels"] for f in row.split("|")}
    unknown = sorted(found - set(NIH_CXR14_CLASSES) - {"No Finding"})
    if unknown:
        raise DatasetLayoutError(f"{path}: unknown findings {unknown}; expected {NIH_CXR14_CLASSES} or 'No Finding'.")
    labels = np.array([[float(c in row.split("|")) for c in NIH_CXR14_CLASSES] for row in table["Finding Labels"]])
    split = [""] * len(table)
    lists = {"train": os.path.join(root, "train_val_list.txt"), "test": os.path.join(root, "test_list.txt")}
    if all(os.path.isfile(p) for p in lists.values()):
        membership = {n.strip(): name for name, p in lists.items() for n in open(p) if n.strip()}
        split = [membership.get(n, "") for n in table["Image Index"]]
    frame = make_frame([locations[n] for n in table["Image Index"]], labels, NIH_CXR14_CLASSES,
                       patient_ids=table["Patient ID"].astype(str), ages=table.get("Patient Age"),
                       sexes=table.get("Patient Gender"), views=table.get("View Position"), splits=split,
                       check_files=False)
    return DatasetIndex(frame, list(NIH_CXR14_CLASSES), "multilabel")


def index_chexpert(root, csv_name="train.csv", frontal_only=True, uncertain="zeros"):
    """CheXpert: `train.csv` / `valid.csv` (Path, Sex, Age, Frontal/Lateral, AP/PA, 14 observations).

    Observations: 1 positive, 0 negative, -1 uncertain, blank unmentioned (→ 0, the usual practice).
    `uncertain`: "zeros" (U-Zeros), "ones" (U-Ones) or "ignore" (NaN, masked out of losses and metrics).
    Paths in the CSV start with the dataset folder name (e.g. `CheXpert-v1.0-small/train/...`); they are
    resolved against `root` and its parent.
    """
    import pandas as pd

    if uncertain not in ("zeros", "ones", "ignore"):
        raise ValueError(f"uncertain must be 'zeros', 'ones' or 'ignore'; received {uncertain!r}.")
    path = os.path.join(root, csv_name)
    if not os.path.isfile(path):
        raise DatasetLayoutError(f"'{path}' not found: CheXpert needs {csv_name} in its root.")
    table = pd.read_csv(path)
    _require_columns(table, ["Path", "Frontal/Lateral", *CHEXPERT_CLASSES], path)
    if frontal_only:
        table = table[table["Frontal/Lateral"] == "Frontal"]
    values = table[list(CHEXPERT_CLASSES)].astype(float).fillna(0.0).to_numpy()
    values[values == -1] = {"zeros": 0.0, "ones": 1.0, "ignore": np.nan}[uncertain]

    def resolve(relative):
        for base in (os.path.dirname(os.path.abspath(root)), root):
            candidate = os.path.join(base, relative)
            if os.path.isfile(candidate):
                return candidate
        return os.path.join(root, relative.split("/", 1)[-1])

    paths = [resolve(p) for p in table["Path"]]
    patients = [re.search(r"(patient\d+)", p).group(1) if re.search(r"patient\d+", p) else p for p in table["Path"]]
    frame = make_frame(paths, values, CHEXPERT_CLASSES, patient_ids=patients, ages=table.get("Age"),
                       sexes=table.get("Sex"), views=table.get("AP/PA"))
    return DatasetIndex(frame, list(CHEXPERT_CLASSES), "multilabel")


def index_covidx(root, split_file="train.txt"):
    """COVIDx: space-separated `train.txt` / `test.txt` (patient id, filename, class, source) with images in
    `train/` or `test/` (named after the split file)."""
    path = os.path.join(root, split_file)
    if not os.path.isfile(path):
        raise DatasetLayoutError(f"'{path}' not found: COVIDx needs {split_file} in its root.")
    rows = [line.split() for line in open(path) if line.strip()]
    short = [i + 1 for i, r in enumerate(rows) if len(r) < 3]
    if short:
        raise DatasetLayoutError(f"{path}: lines {short[:10]} have fewer than 3 fields (patient filename class ...).")
    folder = os.path.splitext(split_file)[0]
    names = sorted({r[2] for r in rows})
    labels = np.array([[float(r[2] == n) for n in names] for r in rows])
    frame = make_frame([os.path.join(root, folder, r[1]) for r in rows], labels, names,
                       patient_ids=[r[0] for r in rows], splits=[folder if folder in ("train", "test") else ""] * len(rows))
    return DatasetIndex(frame, names, "binary" if len(names) == 2 else "multiclass")


def _mask_stem(name):
    stem = os.path.splitext(os.path.basename(name))[0]
    return re.sub(r"(_mask|_lungs?|_seg)$", "", stem, flags=re.IGNORECASE)


def index_segmentation_pairs(image_dir, mask_dirs, require_all=True):
    """Images with masks matched by file stem (a `_mask` suffix is ignored); several mask folders (e.g.
    Montgomery's leftMask/ and rightMask/) are kept as `a|b` in `mask_path` and merged (union) by `read_mask`."""
    _require_dir(image_dir, "Image")
    mask_dirs = [mask_dirs] if isinstance(mask_dirs, (str, os.PathLike)) else list(mask_dirs)
    for d in mask_dirs:
        _require_dir(d, "Mask")
    images = [p for p in _find_images(image_dir)]
    masks = [{_mask_stem(p): p for p in _find_images(d)} for d in mask_dirs]
    stems = [_mask_stem(p) for p in images]
    unmatched = [os.path.basename(p) for p, s in zip(images, stems) if any(s not in m for m in masks)]
    if unmatched and require_all:
        raise DatasetLayoutError(list_problems(f"images in '{image_dir}' without a mask in every folder of {mask_dirs}",
                                               unmatched))
    keep = [i for i, s in enumerate(stems) if all(s in m for m in masks)]
    frame = make_frame([images[i] for i in keep], patient_ids=[stems[i] for i in keep], check_files=False,
                       mask_path=["|".join(m[stems[i]] for m in masks) for i in keep])
    return DatasetIndex(frame, [], "segmentation")


def read_mask(mask_path):
    """Reads a mask (or the union of `a|b` masks) as a float32 {0, 1} (H, W) array."""
    from keras_cxr.data.readers import read_image

    parts = [read_image(p) > 0.5 for p in str(mask_path).split("|")]
    return np.logical_or.reduce(parts).astype(np.float32)


def index_any(path, binary=False):
    """Indexes a dataset given as a folder or a table, recognizing the published layouts above.

    `binary=True` reduces the labels to one "abnormal" column (normal vs any finding), as paper 003 does:
    labels.csv → its abnormal column; Kermany → PNEUMONIA; VinDr-PCXR → not "No finding";
    ChestX-ray14 / multi-label → any finding.

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
        if "labels.csv" in entries:
            index = index_labels_csv(path)
        elif "image_labels_train.csv" in entries:
            index = index_vindr_pcxr(path, "train")
        elif "Data_Entry_2017.csv" in entries:
            index = index_nih_cxr14(path)
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
    frame = index.frame.copy()
    labels = index.labels
    if index.class_names == ["PNEUMONIA"]:
        abnormal = labels[:, 0]
    elif "No finding" in index.class_names:
        abnormal = 1.0 - labels[:, index.class_names.index("No finding")]
    elif index.task in ("multilabel", "multiclass") and "NORMAL" not in index.class_names:
        abnormal = np.where(np.isnan(labels).all(1), np.nan, np.nansum(labels, 1) > 0).astype(float)
    elif "NORMAL" in index.class_names:
        abnormal = 1.0 - labels[:, index.class_names.index("NORMAL")]
    else:
        raise DatasetLayoutError(f"Cannot derive normal/abnormal labels from classes {index.class_names} of '{path}'.")
    frame = frame.drop(columns=index.class_names)
    frame["abnormal"] = abnormal
    return DatasetIndex(frame, ["abnormal"], "binary")


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
