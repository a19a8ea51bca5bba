"""Every official table of a dataset in one index, with its official split in the `split` column.

Papers test on a layout's official held-out split where it has one: VinDr-PCXR / PediCXR's
`image_labels_test.csv` (paper 000 §IV.A: 1,397 test images; paper 003 pools both tables and re-splits, Table 1),
ChestX-ray14's `test_list.txt`, CheXpert's `valid.csv` (and `test.csv` where present), COVIDx's test file (paper
001 §4.1: the 400-image RSNA / RICORD test set). `index_with_official_split` reads them all; `official_test_split`
says which rows are held out. A recipe takes its test set from these two and never reads a layout's tables itself.
"""

import os

import numpy as np

from keras_cxr.data.index import DatasetIndex
from keras_cxr.data.layouts.chexpert import index_chexpert
from keras_cxr.data.layouts.covidx import covidx_split_files, index_covidx
from keras_cxr.data.layouts.detect import detect_layout, index_any
from keras_cxr.data.layouts.vindr_pcxr import index_vindr_pcxr


def index_with_official_split(path):
    """The dataset at `path` with every official table pooled and the official split in the `split` column.

    VinDr-PCXR: both image-label tables; CheXpert: train.csv + valid.csv (+ test.csv); COVIDx: its train and test
    files (the three-class CXR-3 pair where present, `covidx_split_files`); ChestX-ray14: `index_any` already marks
    test_list.txt's images; any other layout: `index_any` (its own split column, if any).

    Example:
    >>> import cv2, numpy as np, tempfile, os
    >>> root = tempfile.mkdtemp()
    >>> for split, rows in (("train", ["p1 a.png normal rsna", "p2 b.png COVID-19 rsna"]), ("test", ["p3 c.png pneumonia rsna"])):
    ...     os.makedirs(os.path.join(root, split))
    ...     for row in rows:
    ...         _ = cv2.imwrite(os.path.join(root, split, row.split()[1]), np.zeros((9, 9), np.uint8))
    ...     _ = open(os.path.join(root, f"{split}.txt"), "w").write("\\n".join(rows))
    >>> index_with_official_split(root).frame["split"].tolist()
    ['train', 'train', 'test']
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        covidx = covidx_split_files(path)
        if covidx:
            return _covidx_pair(path, *covidx)
        layout = detect_layout(path).name
        if layout == "vindr_pcxr" and os.path.isfile(os.path.join(path, "image_labels_test.csv")):
            return index_vindr_pcxr(path, split="all")
        if layout == "chexpert":
            return index_chexpert(path, csv="all")
    return index_any(path)


def _covidx_pair(path, train_file, test_file):
    train = index_covidx(path, train_file)
    test = index_covidx(path, test_file, class_names=train.class_names)
    train.frame["split"], test.frame["split"] = "train", "test"
    return DatasetIndex.concat([train, test])


def official_test_split(index):
    """Which rows of `index` are an official held-out split: (boolean mask, description), or (None, reason).

    Rows whose split is "test" are the test set; without any, rows whose split is "val" (CheXpert's
    valid.csv, the set its authors report on) are; without either there is no official test split.
    """
    split = index.frame["split"].astype(str).str.lower().to_numpy() if "split" in index.frame else np.array([])
    for name, what in (("test", "the official test split"),
                       ("val", "the official validation split (no official test split; e.g. CheXpert valid.csv)")):
        rows = split == name
        if rows.any():
            return rows, f"{what}, {int(rows.sum())} images"
    return None, "no official test split in this dataset: a patient-level 20 % split"
