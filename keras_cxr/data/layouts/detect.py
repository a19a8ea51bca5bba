"""The detection table: which published layout a folder or table is, and `index_any` that indexes it.

`LAYOUTS` lists one `Layout` per dataset file, in priority order; `index_any` indexes a path with the first
entry whose `detect(path)` is True:

1. `labels_csv`  a folder holding labels.csv (the shared folders, `PhantomDataset.save`), or labels.csv itself
2. `vindr_pcxr`  a folder holding image_labels_train.csv, or a file image_labels_*
3. `nih_cxr14`   a folder holding Data_Entry*.csv (the first by name), or a file Data_Entry*
4. `chexpert`    a folder holding train.csv, or the file train.csv / valid.csv
5. `covidx`      a folder holding train.txt or train_*.txt (COVIDx CXR-3's train_COVIDx9A.txt), or any .txt file
6. `tuberculosis` a folder with a CXR_png/ of MCUCXR_* / CHNCXR_* images, up to 3 folders down (Montgomery,
                 Shenzhen; Kaggle's pulmonary-chest-xray-abnormalities and chest-xray-masks-and-labels)
7. `kermany`     a folder with PNEUMONIA/ directly or under train/ test/ val/
8. `table`       any other file: read as a labels.csv-style table
9. `unlabeled`   any other folder: every image file under it

A folder holding several tables goes to the first match (labels.csv wins: it is what we write ourselves).
A folder that only wraps another one (Kaggle's `chest-xray-pneumonia/chest_xray/`,
`chexpert-v10-small/CheXpert-v1.0-small/`, PhysioNet's `physionet.org/files/vindr-pcxr/1.0.0/`: exactly one
visible subfolder and no image beside it) is looked through, up to three wrappers deep, when nothing but a
catch-all would match it.
Class-per-folder trees (`index_folder`) and image + mask folders (`index_segmentation_pairs`) are not in
the table: they need arguments (class names, mask folders) a folder listing cannot tell.

Adding a dataset: write `keras_cxr/data/layouts/<name>.py` with its `index_<name>` function, a
`detect(path)` and a `LAYOUT = Layout(...)`, and add `<name>.LAYOUT` to `LAYOUTS` below (before the two
catch-alls). Code outside the package can `register_layout` at run time.
"""

import os

import numpy as np

from keras_cxr.data.index import DatasetIndex, DatasetLayoutError
from keras_cxr.data.layouts import (chexpert, covidx, folder, kermany, labels_csv, nih_cxr14, tuberculosis,
                                    vindr_pcxr)
from keras_cxr.data.layouts._common import IMAGE_EXTENSIONS, Layout, _entries, _subfolders

LAYOUTS = [
    labels_csv.LAYOUT,
    vindr_pcxr.LAYOUT,
    nih_cxr14.LAYOUT,
    chexpert.LAYOUT,
    covidx.LAYOUT,
    tuberculosis.LAYOUT,
    kermany.LAYOUT,
    labels_csv.TABLE_LAYOUT,  # catch-all for a file
    folder.LAYOUT,  # catch-all for a folder
]
_CATCH_ALLS = ("table", "unlabeled")
_NEGATIVE_CLASSES = {"normal", "no finding", "negative", "non-nodule", "healthy"}
_WRAPPER_DEPTH = 3


def _wrapped_folder(path):
    """The one visible subfolder of `path` when `path` has no image of its own (other files, such as a
    README or wget's robots.txt, hidden files and `__MACOSX/` are ignored), else None. Only called when no
    named layout matched `path`, so a table beside the subfolder was not one a layout reads."""
    subfolders = _subfolders(path)
    if len(subfolders) != 1 or any(e.lower().endswith(IMAGE_EXTENSIONS) and not e.startswith(".")
                                   for e in _entries(path)):
        return None
    return subfolders[0]


def _resolve(path):
    """(layout, path to index): the first layout of `LAYOUTS` matching `path`, looking through up to three
    wrapper folders (`_wrapped_folder`) when only a catch-all matches `path` itself."""
    first, current = None, path
    for _ in range(_WRAPPER_DEPTH + 1):
        layout = next((entry for entry in LAYOUTS if entry.detect(current)), None)
        if layout is None:
            break
        if layout.name not in _CATCH_ALLS:
            return layout, current
        first = first or (layout, current)
        current = _wrapped_folder(current) if os.path.isdir(current) else None
        if current is None:
            break
    if first is None:
        raise DatasetLayoutError(f"'{path}' is neither a dataset folder nor a label table.")
    return first


def detect_layout(path):
    """The first `Layout` of `LAYOUTS` that recognises `path` (a folder or a table file), looking through
    wrapper folders (a folder holding one subfolder and no table or image, as Kaggle mirrors add).

    Raises:
        DatasetLayoutError: when `path` is neither a folder nor a file (nothing matches).

    Example:
    >>> import os, tempfile
    >>> root = tempfile.mkdtemp(); os.makedirs(os.path.join(root, "train", "PNEUMONIA"))
    >>> detect_layout(root).name, detect_layout(tempfile.mkdtemp()).name
    ('kermany', 'unlabeled')
    """
    return _resolve(os.fspath(path))[0]


def register_layout(layout, before=None):
    """Adds a `Layout` to the detection table, so `index_any` recognises it.

    Args:
        layout: the `Layout`; its name must not be in the table yet.
        before: name of the entry it goes before (it then takes precedence over that entry and all after
            it). Default: just before the catch-alls "table" and "unlabeled", i.e. after every named dataset.

    Raises:
        ValueError: when the name is taken (unregister it first) or `before` names no entry.

    Example:
    >>> import os, tempfile
    >>> root = tempfile.mkdtemp(); open(os.path.join(root, "manifest.json"), "w").close()
    >>> register_layout(Layout("manifest", lambda p: os.path.isfile(os.path.join(p, "manifest.json")),
    ...                        lambda p: None, "a folder with manifest.json"), before="labels_csv")
    >>> detect_layout(root).name
    'manifest'
    >>> unregister_layout("manifest").name, detect_layout(root).name
    ('manifest', 'unlabeled')
    """
    if not isinstance(layout, Layout):
        raise TypeError(f"register_layout takes a Layout(name, detect, index, description); received {layout!r}.")
    names = [entry.name for entry in LAYOUTS]
    if layout.name in names:
        raise ValueError(f"A layout named {layout.name!r} is already registered; call "
                         f"unregister_layout({layout.name!r}) first or pick another name.")
    if before is None:
        position = min([names.index(n) for n in _CATCH_ALLS if n in names] or [len(names)])
    elif before in names:
        position = names.index(before)
    else:
        raise ValueError(f"before={before!r} names no layout; the table holds {names}.")
    LAYOUTS.insert(position, layout)


def unregister_layout(name):
    """Removes the layout called `name` from the detection table and returns it.

    Raises:
        ValueError: when no layout has that name (the message lists the names).
    """
    for i, layout in enumerate(LAYOUTS):
        if layout.name == name:
            return LAYOUTS.pop(i)
    raise ValueError(f"No layout named {name!r}; the table holds {[entry.name for entry in LAYOUTS]}.")


def index_any(path, binary=False):
    """Indexes a dataset given as a folder or a table, with the first layout of `LAYOUTS` that recognises it.

    Recognized, in this order (see the module docstring): a labels.csv folder (its "abnormal" column),
    VinDr-PCXR (`image_labels_train.csv`, 6 classes), ChestX-ray14 (`Data_Entry*.csv`), CheXpert
    (`train.csv`), COVIDx (`train.txt` or `train_COVIDx*.txt`), Montgomery / Shenzhen (`CXR_png/` with
    `MCUCXR_*` / `CHNCXR_*` files, tuberculosis from the name), Kermany (`[split/]PNEUMONIA/`), any other
    table as a labels.csv, else every image in the folder (unlabeled). A file path picks its table. Kaggle
    mirrors' wrapper folders are looked through (`/kaggle/input/chest-xray-pneumonia` → `chest_xray/`).

    `binary=True` reduces the labels to one "abnormal" column (normal vs any finding), as paper 003 does:
    a binary index keeps its column; a class named normal / no finding / negative / non-nodule gives
    1 − that column (Kermany 3-class, VinDr-PCXR, COVIDx); other multi-label indexes → any finding.

    Raises:
        DatasetLayoutError: when no layout matches, or on a malformed table.

    Example:
    >>> import cv2, numpy as np, tempfile, os
    >>> root = tempfile.mkdtemp(); os.makedirs(os.path.join(root, "train", "PNEUMONIA"))
    >>> _ = cv2.imwrite(os.path.join(root, "train", "PNEUMONIA", "person1_virus_6.jpeg"), np.zeros((9, 9), np.uint8))
    >>> index_any(root).class_names
    ['PNEUMONIA']
    """
    layout, path = _resolve(os.fspath(path))
    index = layout.index(path)
    return binary_index(index, path) if binary else index


def binary_index(index, path=""):
    """`index` reduced to one "abnormal" column (normal vs any finding), as `index_any(..., binary=True)` does:
    a binary index keeps its column; a class named normal / no finding / negative / non-nodule gives 1 − that
    column; other multi-label indexes → any finding.

    Raises:
        DatasetLayoutError: a multi-class index without a normal-like class (`path` names the dataset).
    """
    if index.class_names == ["abnormal"]:
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
