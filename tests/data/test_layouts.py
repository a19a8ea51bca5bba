"""The detection table: each published layout is recognised on a small tree, in the documented order."""

import os

import numpy as np
import pandas as pd
import pytest
from test_index import _chexpert, _kermany_v2, _nih, _png, _vindr_row, _write_vindr

from keras_cxr.data import DatasetIndex, DatasetLayoutError, index_any, index_labels_csv, layouts
from keras_cxr.data.index import make_frame
from keras_cxr.data.layouts import LAYOUTS, Layout, detect_layout, register_layout, unregister_layout


def _labels_folder(root):
    _png(root / "images" / "a.png")
    _png(root / "images" / "b.png")
    pd.DataFrame({"filename": ["a.png", "b.png"], "abnormal": [1, 0]}).to_csv(root / "labels.csv", index=False)
    return root


def _vindr(root):
    _write_vindr(root, "train", [_vindr_row("a", "R1", "Pneumonia"), _vindr_row("b", "R1", "No finding")])
    _write_vindr(root, "test", [_vindr_row("c", "R1", "Bronchitis")])
    return root


def _covidx(root):
    (root / "train.txt").write_text("p1 a.png positive rsna\np2 b.png negative sirm\n")
    (root / "val.txt").write_text("p3 c.png positive rsna\n")
    for split, name in (("train", "a.png"), ("train", "b.png"), ("val", "c.png")):
        _png(root / split / name)
    return root


def _nih_folder(root):
    _nih(root)
    return root


def _kermany(root):
    _kermany_v2(root)
    return root


def _unlabeled(root):
    _png(root / "images_001" / "1.png")
    _png(root / "images_002" / "2.png")
    return root


# (tree builder, path inside the tree given to index_any, expected layout, expected rows)
CASES = [
    (_labels_folder, "", "labels_csv", 2),
    (_labels_folder, "labels.csv", "labels_csv", 2),
    (_vindr, "", "vindr_pcxr", 2),
    (_vindr, "image_labels_test.csv", "vindr_pcxr", 1),
    (_nih_folder, "", "nih_cxr14", 3),
    (_nih_folder, "Data_Entry_2017.csv", "nih_cxr14", 3),
    (_chexpert, "", "chexpert", 2),
    (_chexpert, "train.csv", "chexpert", 2),
    (_covidx, "", "covidx", 2),
    (_covidx, "val.txt", "covidx", 1),
    (_kermany, "", "kermany", 12),
    (_unlabeled, "", "unlabeled", 2),
]


@pytest.mark.parametrize("build, inner, expected, rows", CASES, ids=[f"{c[2]}:{c[1] or 'folder'}" for c in CASES])
def test_table_recognises_each_layout(tmp_path, build, inner, expected, rows):
    root = build(tmp_path)  # _chexpert returns its dataset folder below tmp_path
    path = os.path.join(root, inner) if inner else root
    assert detect_layout(path).name == expected
    assert len(index_any(path)) == rows


def test_any_other_table_is_read_as_labels_csv(tmp_path):
    _labels_folder(tmp_path)
    os.rename(tmp_path / "labels.csv", tmp_path / "subset.csv")
    assert detect_layout(tmp_path / "subset.csv").name == "table"
    assert detect_layout(tmp_path).name == "unlabeled"  # a folder without a known table: its images
    index = index_any(tmp_path / "subset.csv")
    assert index.frame.equals(index_labels_csv(tmp_path, csv_name="subset.csv").frame)


def test_documented_priority_order(tmp_path):
    assert [layout.name for layout in LAYOUTS] == ["labels_csv", "vindr_pcxr", "nih_cxr14", "chexpert", "covidx",
                                                   "tuberculosis", "kermany", "table", "unlabeled"]
    for name in [layout.name for layout in LAYOUTS[:-2]]:
        assert f"`{name}`" in layouts.detect.__doc__
    _nih_folder(tmp_path)
    (tmp_path / "train.csv").write_text("Path\n")  # ChestX-ray14 comes before CheXpert
    (tmp_path / "train" / "PNEUMONIA").mkdir(parents=True)  # and before Kermany
    assert detect_layout(tmp_path).name == "nih_cxr14"
    _labels_folder(tmp_path)  # labels.csv (what we write ourselves) wins over every published table
    assert detect_layout(tmp_path).name == "labels_csv"


def test_unknown_path_names_it(tmp_path):
    with pytest.raises(DatasetLayoutError, match="missing' is neither a dataset folder nor a label table"):
        detect_layout(tmp_path / "missing")


@pytest.fixture
def manifest_layout():
    """A layout for folders with a manifest.txt of image names, registered for one test."""

    def detect(path):
        return os.path.isfile(os.path.join(path, "manifest.txt"))

    def index(path):
        with open(os.path.join(path, "manifest.txt")) as f:
            names = [line.strip() for line in f if line.strip()]
        return DatasetIndex(make_frame([os.path.join(path, n) for n in names]), [], "unlabeled")

    layout = Layout("manifest", detect, index, "a folder with manifest.txt")
    yield layout
    if "manifest" in [entry.name for entry in LAYOUTS]:
        unregister_layout("manifest")


def test_register_layout_before_catch_alls(tmp_path, manifest_layout):
    _unlabeled(tmp_path)
    (tmp_path / "manifest.txt").write_text("images_001/1.png\n")
    assert detect_layout(tmp_path).name == "unlabeled"
    register_layout(manifest_layout)
    assert [layout.name for layout in LAYOUTS][-3:] == ["manifest", "table", "unlabeled"]
    assert detect_layout(tmp_path).name == "manifest" and len(index_any(tmp_path)) == 1
    assert unregister_layout("manifest") is manifest_layout
    assert detect_layout(tmp_path).name == "unlabeled"


def test_register_layout_with_priority_and_errors(tmp_path, manifest_layout):
    _labels_folder(tmp_path)
    (tmp_path / "manifest.txt").write_text("images/a.png\n")
    register_layout(manifest_layout, before="labels_csv")
    assert LAYOUTS[0] is manifest_layout and len(index_any(tmp_path)) == 1
    with pytest.raises(ValueError, match="'manifest' is already registered; call unregister_layout"):
        register_layout(manifest_layout)
    unregister_layout("manifest")
    with pytest.raises(ValueError, match=r"before='nih' names no layout; the table holds \['labels_csv'"):
        register_layout(manifest_layout, before="nih")
    with pytest.raises(ValueError, match="No layout named 'manifest'"):
        unregister_layout("manifest")
    with pytest.raises(TypeError, match="takes a Layout"):
        register_layout(("manifest", os.path.isdir))
    with pytest.raises(TypeError, match="detect must be a callable"):
        Layout("bad", "labels.csv", index_any)


def test_vindr_pcxr_pools_train_and_test_tables(tmp_path):
    from keras_cxr.data.layouts.vindr_pcxr import PEDICXR_6_CLASSES, index_vindr_pcxr

    _vindr(tmp_path)
    pooled = index_vindr_pcxr(tmp_path, split="all")
    assert len(pooled) == 3 and pooled.class_names == list(PEDICXR_6_CLASSES)
    assert pooled.frame["split"].tolist() == ["train", "train", "test"]
    assert pooled.frame["patient_id"].tolist() == ["a", "b", "c"]
    np.testing.assert_array_equal(pooled.labels[:, [0, 1, 4]], [[0, 0, 1], [1, 0, 0], [0, 1, 0]])
    raw = index_vindr_pcxr(tmp_path, split="all", six_class=False)
    assert len(raw) == 3 and "Pneumonia" in raw.class_names
    _write_vindr(tmp_path, "test", [_vindr_row("a", "R1", "Bronchitis")])  # an id in both tables
    with pytest.raises(DatasetLayoutError, match="both"):
        index_vindr_pcxr(tmp_path, split="all")
    with pytest.raises(ValueError, match="'all'"):
        index_vindr_pcxr(tmp_path, split="valid")


def test_chexpert_pools_official_tables_and_nih_test_list_alone(tmp_path):
    from keras_cxr.data.layouts.chexpert import index_chexpert
    from keras_cxr.data.layouts.nih_cxr14 import index_nih_cxr14

    root = _chexpert(tmp_path / "cx")
    train = pd.read_csv(root / "train.csv")
    valid = train.iloc[:1].copy()
    valid["Path"] = valid["Path"].str.replace("train/patient00000", "valid/patient64541")
    _png(root.parent / valid["Path"].iloc[0])
    valid.to_csv(root / "valid.csv", index=False)
    pooled = index_chexpert(root, csv="all")
    assert pooled.frame["split"].tolist() == ["train", "train", "val"]  # frontal views only
    assert pooled.frame["patient_id"].tolist() == ["patient00000", "patient00002", "patient64541"]
    assert len(index_chexpert(root)) == 2  # the default is still train.csv alone

    nih = tmp_path / "nih"
    nih.mkdir()
    _nih(nih)
    (nih / "test_list.txt").write_text("00000002_001.png\n")  # no train_val_list.txt: the rest is train
    assert index_nih_cxr14(nih).frame["split"].tolist() == ["train", "train", "test"]
