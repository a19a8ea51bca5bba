"""Dataset indexes: synthetic copies of each published layout (real column names, tiny PNGs) and the shared folders."""

import os

import cv2
import numpy as np
import pandas as pd
import pytest

from keras_cxr.data import (CHEXPERT_CLASSES, NIH_CXR14_CLASSES, PEDICXR_6_CLASSES, PEDICXR_RARE_FINDINGS, DatasetIndex,
                            DatasetLayoutError, index_any, index_chexpert, index_covidx, index_folder, index_kermany,
                            index_labels_csv, index_nih_cxr14, index_segmentation_pairs, index_unlabeled,
                            index_vindr_pcxr, kermany_patient_id, parse_age, read_mask)

# The official VinDr-PCXR 1.0.0 image_labels_{train,test}.csv header (note "Brocho-pneumonia", sic).
VINDR_COLUMNS = ["image_id", "rad_ID", "No finding", "Bronchitis", "Brocho-pneumonia", "Other disease", "Bronchiolitis",
                 "Situs inversus", "Pneumonia", "Pleuro-pneumonia", "Diagphramatic hernia", "Tuberculosis",
                 "Congenital emphysema", "CPAM", "Hyaline membrane disease", "Mediastinal tumor", "Lung tumor"]


def _png(path, value=0, size=12):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.full((size, size), value, np.uint8))
    return path


def _frame(n=4, **columns):
    base = {"path": [f"/x/{i}.png" for i in range(n)], "patient_id": [str(i) for i in range(n)], "age": np.nan,
            "sex": "", "view": "", "split": ""}
    base.update(columns)
    return pd.DataFrame(base)


# ----------------------------------------------------------------------------------------------- DatasetIndex
def test_dataset_index_contract():
    index = DatasetIndex(_frame(4, split=["train", "train", "test", ""], a=[1, 0, np.nan, 1], b=[0, 0, 1, 1]),
                         ["a", "b"], "multilabel")
    assert len(index) == 4 and index.paths.dtype.kind == "U" and index.labels.dtype == np.float32
    assert index.labels.shape == (4, 2) and np.isnan(index.labels[2, 0])
    assert len(index.split("train")) == 2 and len(index.split("")) == 1
    assert list(index.subset([3, 0]).frame["patient_id"]) == ["3", "0"]
    assert list(index.subset(np.array([True, False, False, True])).paths) == ["/x/0.png", "/x/3.png"]
    assert "4 images" in repr(index) and "test=1" in repr(index)
    with pytest.raises(ValueError, match="No rows in split 'val'.*'test', 'train'"):
        index.split("val")
    with pytest.raises(AttributeError, match="mask_path"):
        index.mask_paths
    assert DatasetIndex(_frame(2), [], "unlabeled").labels.shape == (2, 0)


@pytest.mark.parametrize("frame, names, task, message", [
    (_frame(2).drop(columns=["sex"]), [], "unlabeled", r"lacks columns \['sex'\]"),
    (_frame(2), ["y"], "binary", r"lacks columns \['y'\]"),
    (_frame(2, y=[0, 2]), ["y"], "binary", r"'y' must hold 0, 1 or NaN .*\['2'\]"),
    (_frame(2, y=["no", 1]), ["y"], "binary", r"'y' must hold 0, 1 or NaN"),
    (_frame(2), [], "segmentation", "mask_path"),
])
def test_dataset_index_rejects_bad_frames(frame, names, task, message):
    with pytest.raises(DatasetLayoutError, match=message):
        DatasetIndex(frame, names, task)


def test_dataset_index_rejects_bad_task_and_binary_width():
    with pytest.raises(ValueError, match="task must be one of"):
        DatasetIndex(_frame(2, y=[0, 1]), ["y"], "regression")
    with pytest.raises(ValueError, match="exactly one 0/1 class column"):
        DatasetIndex(_frame(2, a=[0, 1], b=[1, 0]), ["a", "b"], "binary")


@pytest.mark.parametrize("sidecar", [True, False])
def test_csv_round_trip(tmp_path, sidecar):
    index = DatasetIndex(_frame(3, patient_id=["007", "8", ""], age=[1.5, np.nan, 3], sex=["F", "", "M"],
                                split=["train", "", "test"], a=[1, 0, np.nan], b=[0, 1, 0]), ["a", "b"], "multiclass")
    index.to_csv(tmp_path / "index.csv")
    if not sidecar:
        os.remove(tmp_path / "index.csv.json")
    again = DatasetIndex.from_csv(tmp_path / "index.csv")
    assert again.class_names == ["a", "b"] and list(again.paths) == list(index.paths)
    assert again.task == ("multiclass" if sidecar else "multilabel")  # the NaN row is not one-hot: a guess
    np.testing.assert_array_equal(again.labels, index.labels)
    np.testing.assert_array_equal(again.frame["age"], index.frame["age"])
    assert list(again.frame["patient_id"]) == ["007", "8", ""] and list(again.frame["split"]) == ["train", "", "test"]


@pytest.mark.parametrize("value, years", [(7, 7.0), ("7.5", 7.5), ("058Y", 58.0), ("006M", 0.5), ("014D", 14 / 365.25),
                                          ("50+", 50.0), ("early 40s", 42.0), ("mid 50s", 55.0), ("late 30s", 38.0),
                                          ("", np.nan), (None, np.nan), ("adult", np.nan)])
def test_parse_age(value, years):
    np.testing.assert_allclose(parse_age(value), years)


# ----------------------------------------------------------------------------------------------- folders
def _kermany_v2(root):
    for split in ("train", "val", "test"):
        _png(root / split / "NORMAL" / "IM-0115-0001.jpeg")
        _png(root / split / "NORMAL" / "NORMAL2-IM-0027-0001.jpeg")
        _png(root / split / "PNEUMONIA" / "person1_bacteria_1.jpeg")
        _png(root / split / "PNEUMONIA" / "person1_virus_6.jpeg")
    _png(root / "__MACOSX" / "train" / "NORMAL" / "IM-0115-0001.jpeg")  # archive junk is skipped
    _png(root / "train" / "NORMAL" / "._IM-0115-0001.jpeg")
    (root / "train" / "NORMAL" / ".DS_Store").write_bytes(b"x")


def test_kermany_layout_binary_and_three_class(tmp_path):
    _kermany_v2(tmp_path)
    binary = index_kermany(tmp_path)
    assert binary.class_names == ["PNEUMONIA"] and binary.task == "binary" and len(binary) == 12
    assert sorted(set(binary.frame["split"])) == ["test", "train", "val"]
    assert binary.labels.sum() == 6
    three = index_kermany(tmp_path, num_classes=3)
    assert three.class_names == ["NORMAL", "BACTERIA", "VIRUS"] and three.task == "multiclass"
    by_name = {os.path.basename(p): row for p, row in zip(three.paths, three.labels.tolist())}
    assert by_name["person1_virus_6.jpeg"] == [0, 0, 1] and by_name["person1_bacteria_1.jpeg"] == [0, 1, 0]
    assert by_name["IM-0115-0001.jpeg"] == [1, 0, 0]
    assert set(three.frame["patient_id"]) == {"person1", "IM-0115", "NORMAL2-IM-0027"}
    assert index_any(tmp_path).class_names == ["PNEUMONIA"]
    np.testing.assert_array_equal(index_any(tmp_path, binary=True).labels, binary.labels)


def test_kermany_v3_names_and_errors(tmp_path):
    _png(tmp_path / "test" / "NORMAL" / "NORMAL-1008087-0001.jpeg")
    _png(tmp_path / "test" / "PNEUMONIA" / "BACTERIA-1008087-0002.jpeg")
    _png(tmp_path / "test" / "PNEUMONIA" / "VIRUS-95-0001.jpeg")
    three = index_kermany(tmp_path, 3)
    assert list(three.frame["patient_id"]) == ["1008087", "1008087", "95"]
    assert kermany_patient_id("odd.png") == "odd"
    with pytest.raises(ValueError, match="num_classes must be 2 or 3"):
        index_kermany(tmp_path, 4)
    _png(tmp_path / "test" / "PNEUMONIA" / "scan-7.jpeg")
    with pytest.raises(DatasetLayoutError, match="disagrees with their folder.*scan-7.jpeg"):
        index_kermany(tmp_path, 3)
    _png(tmp_path / "test" / "COVID" / "x.jpeg")
    with pytest.raises(DatasetLayoutError, match=r"Unknown class folders \['COVID'\]"):
        index_kermany(tmp_path)


def test_index_folder_generic(tmp_path):
    for cls in ("a", "b", "c"):
        _png(tmp_path / "data" / "validation" / cls / f"p1-{cls}.png")
    _png(tmp_path / "data" / "validation" / "stray.png")  # no class folder: ignored
    index = index_folder(tmp_path / "data", patient_id=lambda name: name.split("-")[0])
    assert index.class_names == ["a", "b", "c"] and index.task == "multiclass"
    np.testing.assert_array_equal(index.labels, np.eye(3))
    assert set(index.frame["split"]) == {"val"} and set(index.frame["patient_id"]) == {"p1"}
    assert all(os.path.isabs(p) for p in index.paths)
    _png(tmp_path / "copy" / "train" / "a" / "x.png")
    _png(tmp_path / "copy" / "nested" / "train" / "a" / "x.png")
    with pytest.warns(UserWarning, match="1 duplicate images skipped"):
        assert len(index_folder(tmp_path / "copy")) == 1
    with pytest.raises(DatasetLayoutError, match="No class folders"):
        index_folder(tmp_path / "data" / "validation" / "a")
    with pytest.raises(DatasetLayoutError, match="does not exist"):
        index_folder(tmp_path / "nowhere")


def test_unlabeled_folder_glob_and_list(tmp_path):
    _png(tmp_path / "a" / "1.png")
    _png(tmp_path / "a" / "deep" / "2.jpg")
    (tmp_path / "a" / "notes.txt").write_text("not an image")
    _png(tmp_path / "b" / "3.png")
    assert len(index_unlabeled(tmp_path / "a")) == 2
    assert len(index_unlabeled(str(tmp_path / "*" / "*.png"))) == 2
    assert len(index_unlabeled(str(tmp_path / "**" / "*.jpg"))) == 1
    index = index_unlabeled([tmp_path / "a", tmp_path / "b"])
    assert index.task == "unlabeled" and index.class_names == [] and len(index) == 3
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetLayoutError, match="No image files"):
        index_unlabeled(tmp_path / "empty")
    with pytest.raises(DatasetLayoutError, match="No image files"):
        index_unlabeled(str(tmp_path / "*.dcm"))
    with pytest.raises(DatasetLayoutError, match="does not exist"):
        index_unlabeled(tmp_path / "missing")


# ----------------------------------------------------------------------------------------------- VinDr-PCXR
def _vindr_row(image_id, rad, *positives):
    row = {c: 0 for c in VINDR_COLUMNS[2:]}
    row.update({"image_id": image_id, "rad_ID": rad})
    row.update({p: 1 for p in positives})
    return row


def _write_vindr(root, split, rows, extension=".dicom"):
    pd.DataFrame(rows, columns=VINDR_COLUMNS).to_csv(root / f"image_labels_{split}.csv", index=False)
    for image_id in {r["image_id"] for r in rows}:
        (root / split).mkdir(parents=True, exist_ok=True)
        (root / split / f"{image_id}{extension}").write_bytes(b"\0" * 200)


def test_vindr_pcxr_six_class_mapping_and_radiologist_merge(tmp_path):
    _write_vindr(tmp_path, "train", [
        _vindr_row("a", "R1", "Bronchitis"), _vindr_row("a", "R2", "Pneumonia"),  # two readers → union
        _vindr_row("b", "R3", "No finding"),
        _vindr_row("c", "R1", "Brocho-pneumonia", "Tuberculosis"),
        _vindr_row("d", "R2", "Other disease"), _vindr_row("e", "R2", "Bronchiolitis", "CPAM")])
    index = index_vindr_pcxr(tmp_path)  # no test CSV: the fixed rare list
    assert index.class_names == list(PEDICXR_6_CLASSES) and index.task == "multilabel"
    np.testing.assert_array_equal(index.labels, [[0, 1, 0, 0, 1, 0], [1, 0, 0, 0, 0, 0], [0, 0, 1, 0, 0, 1],
                                                 [0, 0, 0, 0, 0, 1], [0, 0, 0, 1, 0, 1]])
    assert list(index.frame["patient_id"]) == list("abcde") and set(index.frame["split"]) == {"train"}
    assert all(p.endswith(".dicom") for p in index.paths)
    raw = index_vindr_pcxr(tmp_path, six_class=False)
    assert raw.class_names == VINDR_COLUMNS[2:] and raw.labels.shape == (5, 15)
    binary = index_any(tmp_path / "image_labels_train.csv", binary=True)
    np.testing.assert_array_equal(binary.labels[:, 0], [1, 0, 1, 1, 1])


def test_vindr_pcxr_rare_findings_from_test_csv(tmp_path):
    train = [_vindr_row("t1", "R1", "Situs inversus"), _vindr_row("t2", "R1", "Pneumonia")]
    test = [_vindr_row(f"s{i}", "R9", "Situs inversus" if i < 5 else "Bronchitis") for i in range(8)]
    _write_vindr(tmp_path, "train", train)
    _write_vindr(tmp_path, "test", test)
    assert "Situs inversus" in PEDICXR_RARE_FINDINGS
    with pytest.warns(UserWarning, match=r"\['Situs inversus'\] have 5 or more positives in image_labels_test.csv"):
        index = index_vindr_pcxr(tmp_path, "train")
    assert index.labels[0, -1] == 1  # still counted as "Other diseases" (the 6 classes are fixed)
    with pytest.warns(UserWarning):
        assert len(index_vindr_pcxr(tmp_path, "test")) == 8


def test_vindr_pcxr_spellings_and_errors(tmp_path):
    columns = ["image_id", "rad_ID", "No finding", "Bronchitis", "Broncho-pneumonia", "Bronchiolitis", "Pneumonia"]
    pd.DataFrame([["a", "R1", 0, 0, 1, 0, 0]], columns=columns).to_csv(tmp_path / "image_labels_train.csv", index=False)
    _png(tmp_path / "train" / "a.png")
    index = index_vindr_pcxr(tmp_path)
    np.testing.assert_array_equal(index.labels, [[0, 0, 1, 0, 0, 0]])  # no rare column: Other diseases = 0
    pd.DataFrame([["a", "R1", 0, 2, 1, 0, 0]], columns=columns).to_csv(tmp_path / "image_labels_train.csv", index=False)
    with pytest.raises(DatasetLayoutError, match=r"\['Bronchitis'\] hold values other than 0/1"):
        index_vindr_pcxr(tmp_path)
    pd.DataFrame([["a", "R1", 0, 1]], columns=columns[:4]).to_csv(tmp_path / "image_labels_train.csv", index=False)
    with pytest.raises(DatasetLayoutError,
                       match=r"lacks findings \['Broncho-pneumonia', 'Bronchiolitis', 'Pneumonia'\]"):
        index_vindr_pcxr(tmp_path)
    pd.DataFrame({"id": ["a"], "Pneumonia": [1]}).to_csv(tmp_path / "image_labels_train.csv", index=False)
    with pytest.raises(DatasetLayoutError, match=r"lacks columns \['image_id'\]"):
        index_vindr_pcxr(tmp_path)
    with pytest.raises(DatasetLayoutError, match="image_labels_test.csv"):
        index_vindr_pcxr(tmp_path, "test")
    with pytest.raises(ValueError, match="split must be"):
        index_vindr_pcxr(tmp_path, "val")


def test_vindr_pcxr_missing_images_listed(tmp_path):
    _write_vindr(tmp_path, "train", [_vindr_row(f"img{i:02d}", "R1", "Pneumonia") for i in range(14)])
    for i in range(12):
        os.remove(tmp_path / "train" / f"img{i:02d}.dicom")
    with pytest.raises(DatasetLayoutError,
                       match=r"12 missing image files: .*img00.dicom.*img09.dicom \.\.\. and 2 more"):
        index_vindr_pcxr(tmp_path)
    assert len(index_vindr_pcxr(tmp_path, missing_images="drop")) == 2


# ----------------------------------------------------------------------------------------------- ChestX-ray14
def _nih(root, findings=("Effusion|Mass", "No Finding", "Hernia")):
    table = pd.DataFrame({"Image Index": ["00000001_000.png", "00000002_000.png", "00000002_001.png"],
                          "Finding Labels": list(findings), "Follow-up #": [0, 0, 1], "Patient ID": [1, 2, 2],
                          "Patient Age": ["058Y", 7, 8], "Patient Gender": ["M", "F", "F"],
                          "View Position": ["PA", "AP", "AP"], "OriginalImage[Width": 2500, "Height]": 2048})
    table.to_csv(root / "Data_Entry_2017.csv", index=False)
    _png(root / "images_001" / "images" / "00000001_000.png")
    _png(root / "images_002" / "images" / "00000002_000.png")
    _png(root / "images_002" / "images" / "00000002_001.png")


def test_nih_cxr14_layout(tmp_path):
    _nih(tmp_path)
    (tmp_path / "train_val_list.txt").write_text("00000001_000.png\n")
    (tmp_path / "test_list.txt").write_text("00000002_000.png\n00000002_001.png\n")
    index = index_nih_cxr14(tmp_path)
    assert index.class_names == list(NIH_CXR14_CLASSES) and index.task == "multilabel"
    assert index.labels[1].sum() == 0 and index.labels[2, NIH_CXR14_CLASSES.index("Hernia")] == 1
    assert index.labels[0, [NIH_CXR14_CLASSES.index("Effusion"), NIH_CXR14_CLASSES.index("Mass")]].tolist() == [1, 1]
    assert list(index.frame["split"]) == ["train", "test", "test"]
    assert list(index.frame["patient_id"]) == ["1", "2", "2"]
    assert list(index.frame["age"]) == [58, 7, 8] and list(index.frame["view"]) == ["PA", "AP", "AP"]
    assert index_any(tmp_path).class_names == list(NIH_CXR14_CLASSES)
    np.testing.assert_array_equal(index_any(tmp_path, binary=True).labels[:, 0], [1, 0, 1])


def test_nih_cxr14_errors(tmp_path):
    _nih(tmp_path, ("Effusion", "Covid", "Hernia|Flu"))
    with pytest.raises(DatasetLayoutError, match=r"2 unknown findings .*: Covid, Flu"):
        index_nih_cxr14(tmp_path)
    _nih(tmp_path)
    os.remove(tmp_path / "images_002" / "images" / "00000002_001.png")
    with pytest.raises(DatasetLayoutError, match="1 missing image files: .*00000002_001.png"):
        index_nih_cxr14(tmp_path)
    assert len(index_nih_cxr14(tmp_path, missing_images="drop")) == 2
    pd.DataFrame({"Image Index": ["a.png"], "Labels": ["Mass"]}).to_csv(tmp_path / "Data_Entry_2017.csv", index=False)
    with pytest.raises(DatasetLayoutError, match=r"lacks columns \['Finding Labels', 'Patient ID'\]"):
        index_nih_cxr14(tmp_path)


# ----------------------------------------------------------------------------------------------- CheXpert
def _chexpert(tmp_path, values=(-1.0, 1.0, None)):
    root = tmp_path / "CheXpert-v1.0-small"
    rows = []
    for i, (view, value) in enumerate(zip(("Frontal", "Lateral", "Frontal"), values)):
        rel = f"CheXpert-v1.0-small/train/patient0000{i}/study1/view1_{view.lower()}.jpg"
        _png(tmp_path / rel)
        row = {"Path": rel, "Sex": ["Male", "Female", "Unknown"][i], "Age": 60 + i, "Frontal/Lateral": view,
               "AP/PA": "AP" if view == "Frontal" else None}
        row.update({c: value for c in CHEXPERT_CLASSES})
        rows.append(row)
    pd.DataFrame(rows).to_csv(root / "train.csv", index=False)
    return root


def test_chexpert_uncertainty_policies(tmp_path):
    root = _chexpert(tmp_path)
    index = index_chexpert(root)
    assert len(index) == 2 and len(index_chexpert(root, frontal_only=False)) == 3
    assert index.class_names == list(CHEXPERT_CLASSES) and set(index.frame["split"]) == {"train"}
    assert list(index.frame["patient_id"]) == ["patient00000", "patient00002"]
    assert list(index.frame["sex"]) == ["Male", ""] and list(index.frame["view"]) == ["AP", "AP"]
    assert list(index_chexpert(root, frontal_only=False).frame["view"]) == ["AP", "Lateral", "AP"]
    assert (index_chexpert(root, uncertain="ones").labels[0] == 1).all()
    assert (index_chexpert(root, uncertain="zeros").labels[0] == 0).all()
    assert np.isnan(index_chexpert(root, uncertain="ignore").labels[0]).all()
    assert (index.labels[1] == 0).all()  # blank → 0
    assert len(index_any(root)) == 2
    with pytest.raises(ValueError, match="uncertain must be"):
        index_chexpert(root, uncertain="maybe")


def test_chexpert_errors(tmp_path):
    root = _chexpert(tmp_path, values=(1.0, 2.0, 0.0))
    with pytest.raises(DatasetLayoutError, match="hold values other than 1, 0, -1 or blank"):
        index_chexpert(root, frontal_only=False)
    pd.DataFrame({"Path": ["x.jpg"], "Frontal/Lateral": ["Frontal"]}).to_csv(root / "valid.csv", index=False)
    with pytest.raises(DatasetLayoutError, match=r"lacks columns \['No Finding'"):
        index_chexpert(root, csv="valid.csv")
    with pytest.raises(DatasetLayoutError, match="test.csv' not found"):
        index_chexpert(root, csv="test.csv")


# ----------------------------------------------------------------------------------------------- COVIDx
def test_covidx_layouts(tmp_path):
    (tmp_path / "train.txt").write_text("p1 a.png positive rsna\np2 b b.png negative sirm\n\n")
    _png(tmp_path / "train" / "a.png")
    with pytest.raises(DatasetLayoutError, match="1 missing image files: .*b b.png"):
        index_covidx(tmp_path)
    _png(tmp_path / "train" / "b b.png")
    index = index_covidx(tmp_path)
    assert index.class_names == ["negative", "positive"] and index.task == "multiclass"
    assert index.labels.tolist() == [[0, 1], [1, 0]] and list(index.frame["source"]) == ["rsna", "sirm"]
    assert set(index.frame["split"]) == {"train"}
    np.testing.assert_array_equal(index_any(tmp_path, binary=True).labels[:, 0], [1, 0])
    (tmp_path / "test_COVIDx5.txt").write_text("7 c.png COVID-19\n8 d.png normal\n")  # older 3-column release
    _png(tmp_path / "test" / "c.png")
    _png(tmp_path / "test" / "d.png")
    old = index_covidx(tmp_path, "test_COVIDx5.txt")
    assert old.class_names == ["normal", "pneumonia", "COVID-19"] and old.labels.tolist() == [[0, 0, 1], [1, 0, 0]]
    with pytest.raises(DatasetLayoutError, match=r"1 unknown classes .*: COVID-19"):
        index_covidx(tmp_path, "test_COVIDx5.txt", class_names=["normal", "pneumonia"])
    (tmp_path / "val.txt").write_text("p1 a.png\n")
    with pytest.raises(DatasetLayoutError, match="fewer than 3 fields"):
        index_covidx(tmp_path, "val.txt")


# ----------------------------------------------------------------------------------------------- labels.csv
def test_labels_csv_options(tmp_path):
    for i in range(4):
        _png(tmp_path / "images" / f"{i}.png")
    pd.DataFrame({"filename": [f"{i}.png" for i in range(4)], "label": ["abnormal", "normal", "abnormal", "normal"],
                  "abnormal": [1, 0, 1, ""], "finding_labels": ["Mass|Nodule", "No Finding", "Hernia", "No Finding"],
                  "patient_id": ["p1", "p1", "p2", "p3"], "age": ["60", "", "006M", "50+"], "sex": ["M", "M", "F", ""],
                  "view": "PA", "orig_split": ["train", "valid", "test", "other"]}).to_csv(tmp_path / "labels.csv",
                                                                                       index=False)
    index = index_labels_csv(tmp_path, split_column="orig_split")
    assert index.task == "binary" and np.isnan(index.labels[3, 0])
    assert list(index.frame["split"]) == ["train", "val", "test", ""]
    np.testing.assert_array_equal(index.frame["age"], [60, np.nan, 0.5, 50])
    multi = index_labels_csv(tmp_path, "finding_labels")
    assert multi.class_names == list(NIH_CXR14_CLASSES) and multi.labels.sum(1).tolist() == [2, 0, 1, 0]
    with pytest.raises(DatasetLayoutError, match=r"unknown labels in column 'label'.*abnormal.*expected \['normal'\]"):
        index_labels_csv(tmp_path, "label", class_names=["normal"])
    with pytest.raises(DatasetLayoutError, match=r"1 unknown labels in column 'finding_labels'.*: Nodule"):
        index_labels_csv(tmp_path, "finding_labels", class_names=["Mass", "Hernia"])
    with pytest.raises(DatasetLayoutError, match=r"lacks columns \['split'\]"):
        index_labels_csv(tmp_path, split_column="split")


def test_labels_csv_errors(tmp_path):
    pd.DataFrame({"filename": ["x.png"], "abnormal": ["maybe"]}).to_csv(tmp_path / "labels.csv", index=False)
    _png(tmp_path / "images" / "x.png")
    with pytest.raises(DatasetLayoutError, match=r"unknown labels in column 'abnormal'.*0/1.*: maybe"):
        index_labels_csv(tmp_path)
    pd.DataFrame({"file": ["x.png"]}).to_csv(tmp_path / "labels.csv", index=False)
    with pytest.raises(DatasetLayoutError, match=r"lacks columns \['filename', 'abnormal'\]"):
        index_labels_csv(tmp_path)
    pd.DataFrame({"filename": ["x.png", "y.png"], "abnormal": [1, 0]}).to_csv(tmp_path / "labels.csv", index=False)
    with pytest.raises(DatasetLayoutError, match="1 missing image files: .*y.png"):
        index_labels_csv(tmp_path)
    with pytest.raises(DatasetLayoutError, match="not found"):
        index_labels_csv(tmp_path / "images")


# ----------------------------------------------------------------------------------------------- segmentation
def _montgomery(root):
    _png(root / "CXR_png" / "MCUCXR_0001_0.png")
    left, right = np.zeros((12, 12), np.uint8), np.zeros((12, 12), np.uint8)
    left[:, :4], right[:, 8:] = 255, 255
    for name, mask in (("leftMask", left), ("rightMask", right)):
        (root / "ManualMask" / name).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / "ManualMask" / name / "MCUCXR_0001_0.png"), mask)
    return root / "CXR_png", [root / "ManualMask" / "leftMask", root / "ManualMask" / "rightMask"]


def test_segmentation_pairs_union(tmp_path):
    images, masks = _montgomery(tmp_path)
    index = index_segmentation_pairs(images, masks)
    assert index.task == "segmentation" and index.mask_paths[0].count("|") == 1
    merged = read_mask(index.mask_paths[0])
    assert merged.dtype == np.float32 and merged.sum() == 12 * 8 and merged[:, 4:8].sum() == 0
    written = index_segmentation_pairs(images, masks, merged_dir=tmp_path / "merged")
    assert "|" not in written.mask_paths[0] and os.path.isfile(written.mask_paths[0])
    np.testing.assert_array_equal(cv2.imread(written.mask_paths[0], cv2.IMREAD_UNCHANGED) // 255, merged)
    _png(images / "orphan.png")
    with pytest.raises(DatasetLayoutError, match="1 images .* without a mask.*orphan.png"):
        index_segmentation_pairs(images, masks)
    assert len(index_segmentation_pairs(images, masks, require_all=False)) == 1
    with pytest.raises(ValueError, match="merge must be"):
        index_segmentation_pairs(images, masks, merge="intersection")


def test_segmentation_pairs_suffixes_gif_and_binary_values(tmp_path):
    from PIL import Image

    _png(tmp_path / "img" / "CHNCXR_0001_0.png")
    _png(tmp_path / "img" / "JPCLN001.IMG.png")
    (tmp_path / "mask").mkdir()
    one = np.zeros((12, 12), np.uint8)
    one[2:5, 2:5] = 1  # 0/1 PNG: any non-zero pixel is foreground
    cv2.imwrite(str(tmp_path / "mask" / "CHNCXR_0001_0_mask.png"), one)
    Image.fromarray(one * 255).convert("P").save(tmp_path / "mask" / "JPCLN001.gif")
    index = index_segmentation_pairs(tmp_path / "img", tmp_path / "mask")
    assert list(index.frame["patient_id"]) == ["CHNCXR_0001_0", "JPCLN001"]
    assert [read_mask(p).sum() for p in index.mask_paths] == [9, 9]
    cv2.imwrite(str(tmp_path / "mask" / "big.png"), np.ones((20, 20), np.uint8))
    with pytest.raises(DatasetLayoutError, match="differ in size"):
        read_mask(f"{index.mask_paths[0]}|{tmp_path / 'mask' / 'big.png'}")
    with pytest.raises(DatasetLayoutError, match="does not exist"):
        read_mask(tmp_path / "mask" / "none.png")


def test_index_any_rejects_unknown_paths(tmp_path):
    with pytest.raises(DatasetLayoutError, match="neither a dataset folder nor a label table"):
        index_any(tmp_path / "missing")


# ----------------------------------------------------------------------------------------------- shared data
SHARED_FOLDERS = ("kermany_pediatric_224", "jsrt_scr_segmentation", "nih_cxr14_64px", "actualmed_covid",
                  "figure1_covid")


@pytest.mark.parametrize("name", SHARED_FOLDERS)
def test_real_shared_folders(shared_data, name):
    table = pd.read_csv(shared_data / name / "labels.csv", dtype=str, keep_default_na=False)
    index = index_any(shared_data / name)
    assert len(index) == len(table) and index.class_names == ["abnormal"] and index.task == "binary"
    expected = pd.to_numeric(table["abnormal"].replace("", np.nan)).to_numpy(float)
    np.testing.assert_array_equal(index.labels[:, 0], expected)
    assert list(index.frame["patient_id"]) == list(table["patient_id"])
    assert all(os.path.isfile(p) for p in index.paths[:20])
    by_label = index_labels_csv(shared_data / name, "label")
    counts = table["label"].value_counts()
    for c, cls in enumerate(by_label.class_names):
        assert np.nansum(by_label.labels[:, c]) == counts[cls]
    assert np.isnan(by_label.labels).all(1).sum() == counts.get("unknown", 0)


def test_real_shared_special_columns(shared_data):
    kermany = index_labels_csv(shared_data / "kermany_pediatric_224", "label_detail", split_column="orig_split")
    assert dict(zip(kermany.class_names, kermany.labels.sum(0))) == {"BACTERIA": 182, "NORMAL": 240, "VIRUS": 181}
    assert set(kermany.frame["split"]) == {"train", "test"}
    nih = index_labels_csv(shared_data / "nih_cxr14_64px", "finding_labels")
    abnormal = index_labels_csv(shared_data / "nih_cxr14_64px").labels[:, 0]
    assert nih.class_names == list(NIH_CXR14_CLASSES)
    np.testing.assert_array_equal(nih.labels.sum(1) > 0, abnormal == 1)
    assert nih.frame["age"].between(18, 100).all() and set(nih.frame["sex"]) == {"M", "F"}
    figure1 = index_labels_csv(shared_data / "figure1_covid")
    assert figure1.frame["age"].notna().sum() > 10  # free-text ages ("50+", "early 40s") parsed
    pairs = index_segmentation_pairs(shared_data / "jsrt_scr_segmentation" / "images",
                                     [shared_data / "jsrt_scr_segmentation" / "masks"])
    assert len(pairs) == 148
    fraction = read_mask(pairs.mask_paths[0]).mean()
    lung_fraction = pd.read_csv(shared_data / "jsrt_scr_segmentation" / "labels.csv")["lung_fraction"][0]
    assert abs(fraction - lung_fraction) < 0.01
