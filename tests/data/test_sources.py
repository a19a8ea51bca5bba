"""Several sources in one run: DatasetIndex.concat, view filters and index_sources on small trees."""

import os

import numpy as np
import pandas as pd
import pytest
from test_index import _chexpert, _nih, _png

from keras_cxr.data import (CHEXPERT_CLASSES, FRONTAL_VIEWS, NIH_CXR14_CLASSES, DatasetIndex, DatasetLayoutError,
                            index_any, index_chexpert, index_covidx, index_labels_csv, index_nih_cxr14,
                            index_segmentation_pairs, index_sources, index_unlabeled, patient_split)


def _nih_at(root):
    root.mkdir(parents=True, exist_ok=True)
    _nih(root)
    return root


def _labels_folder(root, patients=("p1", "p2"), column="abnormal", values=(1, 0), views=None):
    names = [f"{i}.png" for i in range(len(patients))]
    for name in names:
        _png(root / "images" / name)
    table = {"filename": names, column: list(values), "patient_id": list(patients)}
    if views is not None:
        table["view"] = list(views)
    pd.DataFrame(table).to_csv(root / "labels.csv", index=False)
    return root


# ----------------------------------------------------------------------------------------------- concat
def test_concat_nih_and_chexpert_union_of_classes(tmp_path):
    _nih_at(tmp_path / "nih")
    nih, chexpert = index_nih_cxr14(tmp_path / "nih"), index_chexpert(_chexpert(tmp_path))
    index = DatasetIndex.concat({"nih": nih, "chexpert": chexpert})
    extra = [c for c in CHEXPERT_CLASSES if c not in NIH_CXR14_CLASSES]
    assert index.class_names == [*NIH_CXR14_CLASSES, *extra] and index.task == "multilabel"
    assert len(index) == len(nih) + len(chexpert) == 5
    # Reference: each source's own labels, NaN in the columns it lacks.
    reference = pd.concat([nih.frame[nih.class_names], chexpert.frame[chexpert.class_names]], ignore_index=True)
    np.testing.assert_array_equal(index.labels, reference[index.class_names].to_numpy(np.float32))
    assert np.isnan(index.frame.loc[:2, "No Finding"]).all() and np.isnan(index.frame.loc[3:, "Mass"]).all()
    assert not np.isnan(index.frame["Edema"]).any()  # a class both datasets have
    assert list(index.frame["source"]) == ["nih"] * 3 + ["chexpert"] * 2
    assert list(index.frame["patient_id"]) == ["nih:1", "nih:2", "nih:2", "chexpert:patient00000",
                                               "chexpert:patient00002"]
    assert list(index.paths) == [*nih.paths, *chexpert.paths]
    assert list(index.frame["view"]) == ["PA", "AP", "AP", "AP", "AP"]


def test_concat_makes_patient_ids_unique_per_source(tmp_path):
    a = index_labels_csv(_labels_folder(tmp_path / "a", patients=("p1", "p1")))
    b = index_labels_csv(_labels_folder(tmp_path / "b", patients=("p1", "")))
    index = DatasetIndex.concat([a, b], names=["a", "b"])
    assert list(index.frame["patient_id"]) == ["a:p1", "a:p1", "b:p1", ""]  # unknown ids stay unknown
    assert index.task == "binary" and index.class_names == ["abnormal"]
    for seed in range(4):  # "a:p1" and "b:p1" are two patients: each split keeps a patient's rows together
        split = patient_split(index, (0.5, 0.0, 0.5), stratify=False, seed=seed).frame
        assert split.loc[0, "split"] == split.loc[1, "split"]
        assert split.groupby("patient_id")["split"].nunique().drop("", errors="ignore").max() == 1
    assert index.frame["patient_id"].nunique() == 3


@pytest.mark.parametrize("tasks, expected", [
    (("binary", "unlabeled"), "binary"),  # unlabeled rows join with NaN labels
    (("unlabeled", "unlabeled"), "unlabeled"),
    (("binary", "binary-other"), "multilabel"),  # two different binary columns
    (("multiclass", "multiclass-other"), "multilabel"),  # different class sets are no longer one-hot
    (("multiclass", "multiclass"), "multiclass"),
])
def test_concat_task_rule(tmp_path, tasks, expected):
    def build(task, i):
        root = tmp_path / f"{task}{i}"
        if task == "unlabeled":
            _png(root / "x.png")
            return index_unlabeled(root)
        if task.startswith("binary"):
            return index_labels_csv(_labels_folder(root, column="abnormal" if task == "binary" else "other"),
                                    "abnormal" if task == "binary" else "other")
        classes = ("cat", "dog") if task == "multiclass" else ("cat", "cow")
        return index_labels_csv(_labels_folder(root, column="label", values=classes), "label")

    parts = [build(t, i) for i, t in enumerate(tasks)]
    index = DatasetIndex.concat(parts)
    assert index.task == expected and len(index) == sum(len(p) for p in parts)
    if expected == "binary":
        assert np.isnan(index.labels[-1, 0]) and index.labels[:2, 0].tolist() == [1, 0]


def test_concat_nests_existing_sources_and_fills_other_columns(tmp_path):
    (tmp_path / "covidx" / "train.txt").parent.mkdir()
    (tmp_path / "covidx" / "train.txt").write_text("p1 a.png positive rsna\np2 b.png negative\n")
    _png(tmp_path / "covidx" / "train" / "a.png")
    _png(tmp_path / "covidx" / "train" / "b.png")
    _png(tmp_path / "plain" / "x.png")
    index = DatasetIndex.concat([index_covidx(tmp_path / "covidx"), index_unlabeled(tmp_path / "plain")])
    assert list(index.frame["source"]) == ["train/rsna", "train", "plain"]  # default names: the image folders
    assert index.task == "multiclass" and np.isnan(index.labels[2]).all()
    again = DatasetIndex.concat({"all": index})
    assert list(again.frame["source"]) == ["all/train/rsna", "all/train", "all/plain"]
    index.to_csv(tmp_path / "index.csv")
    loaded = DatasetIndex.from_csv(tmp_path / "index.csv")
    np.testing.assert_array_equal(loaded.labels, index.labels)
    assert list(loaded.frame["source"]) == list(index.frame["source"])


def test_concat_segmentation_and_errors(tmp_path):
    for name in ("a", "b"):
        _png(tmp_path / name / "images" / "x.png")
        _png(tmp_path / name / "masks" / "x_mask.png", 255)
    segs = [index_segmentation_pairs(tmp_path / n / "images", tmp_path / n / "masks") for n in ("a", "b")]
    both = DatasetIndex.concat(segs)
    assert both.task == "segmentation" and len(both.mask_paths) == 2 and list(both.frame["source"]) == ["images",
                                                                                                      "images-2"]
    plain = index_unlabeled(tmp_path / "a" / "images")
    with pytest.raises(ValueError, match="Segmentation indexes can only be concatenated with segmentation"):
        DatasetIndex.concat([segs[0], plain])
    with pytest.raises(ValueError, match="at least one DatasetIndex"):
        DatasetIndex.concat([])
    with pytest.raises(TypeError, match="Wrap it in a list"):
        DatasetIndex.concat(plain)
    with pytest.raises(TypeError, match=r"received \['str'\]"):
        DatasetIndex.concat([plain, "b"])
    with pytest.raises(ValueError, match=r"2 unique non-empty strings.*\['x', 'x'\]"):
        DatasetIndex.concat([plain, plain], names=["x", "x"])
    with pytest.raises(ValueError, match="2 unique non-empty strings"):
        DatasetIndex.concat([plain, plain], names=["x"])
    with pytest.raises(ValueError, match="not both"):
        DatasetIndex.concat({"x": plain}, names=["y"])


# ----------------------------------------------------------------------------------------------- views
def test_filter_views_and_frontal_only(tmp_path):
    root = _labels_folder(tmp_path, patients=list("abcdef"), values=[1, 0, 1, 0, 1, 0],
                          views=["PA", "Lateral", "", "AP erect", "ll", "ap_supine"])
    index = index_labels_csv(root)
    assert FRONTAL_VIEWS == ("PA", "AP")
    assert list(index.frontal_only().frame["patient_id"]) == ["a", "c", "d", "f"]
    assert list(index.frontal_only(keep_unknown=False).frame["patient_id"]) == ["a", "d", "f"]
    assert list(index.filter_views("lateral").frame["patient_id"]) == ["b", "c"]
    assert list(index.filter_views(["LL", "Lateral"], keep_unknown=False).frame["patient_id"]) == ["b", "e"]
    kept = index.filter_views(("AP",))
    assert kept.class_names == index.class_names and kept.task == index.task
    with pytest.raises(ValueError, match="views is empty"):
        index.filter_views(())


def test_chexpert_laterals_are_dropped_by_the_frontal_filter(tmp_path):
    everything = index_chexpert(_chexpert(tmp_path), frontal_only=False)
    assert len(everything) == 3 and len(everything.frontal_only()) == 2  # the same rows as frontal_only=True
    assert list(everything.frontal_only().paths) == list(index_chexpert(_chexpert(tmp_path)).paths)


# ----------------------------------------------------------------------------------------------- index_sources
def test_index_sources_nih_plus_chexpert(tmp_path):
    _nih_at(tmp_path / "nih")
    chexpert_root = _chexpert(tmp_path)
    index = index_sources([tmp_path / "nih", chexpert_root], view_filter="frontal")
    assert len(index) == 5 and list(index.frame["source"]) == ["nih"] * 3 + ["CheXpert-v1.0-small"] * 2
    only_ap = index_sources([str(tmp_path / "nih"), chexpert_root / "train.csv"], view_filter=["AP"],
                            names=["nih", "chexpert"])
    assert list(only_ap.frame["source"]) == ["nih"] * 2 + ["chexpert"] * 2  # NIH's PA image is dropped
    assert list(only_ap.frame["patient_id"]) == ["nih:2", "nih:2", "chexpert:patient00000", "chexpert:patient00002"]
    single = index_sources(str(tmp_path / "nih"))
    assert len(single) == 3 and set(single.frame["source"]) == {"nih"}
    reference = index_any(tmp_path / "nih")
    np.testing.assert_array_equal(single.labels, reference.labels)


def test_index_sources_names_tables_and_duplicates(tmp_path):
    root = _chexpert(tmp_path)
    pd.read_csv(root / "train.csv").to_csv(root / "valid.csv", index=False)
    index = index_sources([root / "train.csv", root / "valid.csv", root])
    assert list(dict.fromkeys(index.frame["source"])) == ["CheXpert-v1.0-small-train", "CheXpert-v1.0-small-valid",
                                                          "CheXpert-v1.0-small"]
    assert set(index.frame["split"]) == {"train", "val"}


def test_index_sources_errors(tmp_path):
    _nih_at(tmp_path / "nih")
    missing = tmp_path / "chexpert"
    with pytest.raises(DatasetLayoutError, match=r"source 2 of 2, '.*chexpert', does not exist.*remove it"):
        index_sources([tmp_path / "nih", missing])
    with pytest.raises(DatasetLayoutError, match=r"No image of source '.*nih' has a view in \['Lateral'\] \(its "
                                                 r"views: \['AP', 'PA'\]\)\. Pass view_filter=None"):
        index_sources([tmp_path / "nih"], view_filter=("Lateral",), keep_unknown_views=False)
    with pytest.raises(ValueError, match="at least one dataset path"):
        index_sources([])
    with pytest.raises(ValueError, match="view_filter must be None, 'frontal'"):
        index_sources([tmp_path / "nih"], view_filter=[1])
    with pytest.raises(ValueError, match="1 entries for 2 paths"):
        index_sources([tmp_path / "nih", tmp_path / "nih"], names=["a"])
    assert os.path.isdir(tmp_path / "nih")


def test_real_shared_folders_as_sources(shared_data):
    names = ["nih_cxr14_64px", "kermany_pediatric_224", "figure1_covid"]
    index = index_sources([shared_data / n for n in names], view_filter="frontal")
    parts = [index_any(shared_data / n) for n in names]
    # figure1_covid has 19 rows without a view (kept) and "AP erect" rows (frontal): nothing is dropped.
    assert len(index) == sum(len(p) for p in parts) and index.class_names == ["abnormal"]
    assert list(dict.fromkeys(index.frame["source"])) == names
    np.testing.assert_array_equal(index.labels[:, 0], np.concatenate([p.labels[:, 0] for p in parts]))
