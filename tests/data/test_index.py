import cv2
import numpy as np
import pandas as pd
import pytest

from keras_cxr.data import (DatasetIndex, DatasetLayoutError, PEDICXR_6_CLASSES, index_any, index_chexpert,
                            index_covidx, index_kermany, index_labels_csv, index_nih_cxr14, index_segmentation_pairs,
                            index_unlabeled, index_vindr_pcxr, label_fraction_subsets, patient_split, read_mask)


def _png(path, value=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((12, 12), value, np.uint8))


def test_kermany_layout_binary_and_three_class(tmp_path):
    for split in ("train", "test"):
        _png(tmp_path / split / "NORMAL" / "IM-0115-0001.jpeg")
        _png(tmp_path / split / "PNEUMONIA" / "person1_bacteria_1.jpeg")
        _png(tmp_path / split / "PNEUMONIA" / "person1_virus_6.jpeg")
    binary = index_kermany(tmp_path)
    assert binary.class_names == ["PNEUMONIA"] and len(binary) == 6
    assert sorted(binary.frame["split"]) == ["test"] * 3 + ["train"] * 3
    three = index_kermany(tmp_path, num_classes=3)
    by_name = {p.split("/")[-1]: row for p, row in zip(three.paths, three.labels.tolist())}
    assert by_name["person1_virus_6.jpeg"] == [0, 0, 1] and by_name["IM-0115-0001.jpeg"] == [1, 0, 0]
    assert set(three.frame["patient_id"]) == {"person1", "0115"}
    assert index_any(tmp_path).class_names == ["PNEUMONIA"]


def test_vindr_pcxr_six_class_mapping_and_radiologist_merge(tmp_path):
    columns = ["image_id", "rad_ID", "No finding", "Bronchitis", "Brocho-pneumonia", "Bronchiolitis", "Pneumonia",
               "Situs inversus", "Tuberculosis"]
    rows = [["a", "R1", 0, 1, 0, 0, 0, 0, 0], ["a", "R2", 0, 0, 0, 0, 1, 0, 0],
            ["b", "R1", 1, 0, 0, 0, 0, 0, 0], ["c", "R3", 0, 0, 1, 0, 0, 0, 1]]
    pd.DataFrame(rows, columns=columns).to_csv(tmp_path / "image_labels_train.csv", index=False)
    for name in "abc":
        _png(tmp_path / "train" / f"{name}.png")
    index = index_vindr_pcxr(tmp_path)
    assert index.class_names == list(PEDICXR_6_CLASSES)
    np.testing.assert_array_equal(index.labels, [[0, 1, 0, 0, 1, 0], [1, 0, 0, 0, 0, 0], [0, 0, 1, 0, 0, 1]])
    binary = index_any(tmp_path / "image_labels_train.csv", binary=True)
    np.testing.assert_array_equal(binary.labels[:, 0], [1, 0, 1])


def test_nih_cxr14_layout(tmp_path):
    table = pd.DataFrame({"Image Index": ["1_000.png", "2_000.png"], "Finding Labels": ["Effusion|Mass", "No Finding"],
                          "Patient ID": [1, 2], "Patient Age": [50, 7], "Patient Gender": ["M", "F"],
                          "View Position": ["PA", "AP"]})
    table.to_csv(tmp_path / "Data_Entry_2017.csv", index=False)
    _png(tmp_path / "images_001" / "images" / "1_000.png")
    _png(tmp_path / "images_002" / "images" / "2_000.png")
    (tmp_path / "train_val_list.txt").write_text("1_000.png\n")
    (tmp_path / "test_list.txt").write_text("2_000.png\n")
    index = index_nih_cxr14(tmp_path)
    assert len(index.class_names) == 14 and index.labels[1].sum() == 0
    assert index.labels[0, index.class_names.index("Mass")] == 1 and list(index.frame["split"]) == ["train", "test"]
    table.loc[1, "Finding Labels"] = "Covid"
    table.to_csv(tmp_path / "Data_Entry_2017.csv", index=False)
    with pytest.raises(DatasetLayoutError, match="unknown findings"):
        index_nih_cxr14(tmp_path)


def test_chexpert_uncertainty_policies(tmp_path):
    from keras_cxr.data import CHEXPERT_CLASSES

    root = tmp_path / "CheXpert-v1.0-small"
    rows = []
    for i, (view, value) in enumerate([("Frontal", -1.0), ("Lateral", 1.0), ("Frontal", None)]):
        rel = f"CheXpert-v1.0-small/train/patient0000{i}/study1/view1.jpg"
        _png(tmp_path / rel)
        row = {"Path": rel, "Sex": "M", "Age": 60, "Frontal/Lateral": view, "AP/PA": "AP"}
        row.update({c: value for c in CHEXPERT_CLASSES})
        rows.append(row)
    pd.DataFrame(rows).to_csv(root / "train.csv", index=False)
    assert len(index_chexpert(root)) == 2 and len(index_chexpert(root, frontal_only=False)) == 3
    assert index_chexpert(root, uncertain="ones").labels[0, 0] == 1
    assert index_chexpert(root, uncertain="zeros").labels[0, 0] == 0
    assert np.isnan(index_chexpert(root, uncertain="ignore").labels[0, 0])
    assert index_chexpert(root).labels[1].sum() == 0  # blank → 0


def test_covidx_and_missing_files(tmp_path):
    (tmp_path / "train.txt").write_text("p1 a.png positive rsna\np2 b.png negative rsna\n")
    _png(tmp_path / "train" / "a.png")
    with pytest.raises(DatasetLayoutError, match="1 missing image files: .*b.png"):
        index_covidx(tmp_path)
    _png(tmp_path / "train" / "b.png")
    index = index_covidx(tmp_path)
    assert index.class_names == ["negative", "positive"] and index.labels.tolist() == [[0, 1], [1, 0]]


def test_labels_csv_errors(tmp_path):
    pd.DataFrame({"filename": ["x.png"], "abnormal": ["maybe"]}).to_csv(tmp_path / "labels.csv", index=False)
    _png(tmp_path / "images" / "x.png")
    with pytest.raises(DatasetLayoutError, match="0/1"):
        index_labels_csv(tmp_path)
    pd.DataFrame({"file": ["x.png"]}).to_csv(tmp_path / "labels.csv", index=False)
    with pytest.raises(DatasetLayoutError, match=r"lacks columns \['filename', 'abnormal'\]"):
        index_labels_csv(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetLayoutError, match="No image files"):
        index_unlabeled(tmp_path / "empty")
    with pytest.raises(DatasetLayoutError, match="does not exist"):
        index_unlabeled(tmp_path / "missing")


def test_segmentation_pairs_union(tmp_path):
    _png(tmp_path / "img" / "MCUCXR_0001_0.png")
    left, right = np.zeros((12, 12), np.uint8), np.zeros((12, 12), np.uint8)
    left[:, :4], right[:, 8:] = 255, 255
    (tmp_path / "leftMask").mkdir()
    (tmp_path / "rightMask").mkdir()
    cv2.imwrite(str(tmp_path / "leftMask" / "MCUCXR_0001_0.png"), left)
    cv2.imwrite(str(tmp_path / "rightMask" / "MCUCXR_0001_0.png"), right)
    index = index_segmentation_pairs(tmp_path / "img", [tmp_path / "leftMask", tmp_path / "rightMask"])
    merged = read_mask(index.frame["mask_path"][0])
    assert merged.sum() == 12 * 8 and merged[:, 4:8].sum() == 0
    _png(tmp_path / "img" / "orphan.png")
    with pytest.raises(DatasetLayoutError, match="without a mask.*orphan.png"):
        index_segmentation_pairs(tmp_path / "img", tmp_path / "leftMask")


def test_real_shared_folders(shared_data):
    for name in ("kermany_pediatric_224", "jsrt_scr_segmentation", "nih_cxr14_64px", "actualmed_covid", "figure1_covid"):
        table = pd.read_csv(shared_data / name / "labels.csv")
        index = index_any(shared_data / name)
        assert len(index) == len(table) and index.class_names == ["abnormal"]
        np.testing.assert_array_equal(np.nan_to_num(index.labels[:, 0], nan=-1),
                                      table["abnormal"].fillna(-1).to_numpy())
    pairs = index_segmentation_pairs(shared_data / "jsrt_scr_segmentation/images", shared_data / "jsrt_scr_segmentation/masks")
    assert len(pairs) == 148


def test_patient_split_and_nested_fractions(shared_data):
    index = patient_split(index_any(shared_data / "kermany_pediatric_224"), (0.7, 0.1, 0.2), seed=0)
    parts = {s: set(index.split(s).frame["patient_id"]) for s in ("train", "val", "test")}
    assert not (parts["train"] & parts["val"] or parts["train"] & parts["test"] or parts["val"] & parts["test"])
    sizes = {s: len(index.split(s)) / len(index) for s in parts}
    assert abs(sizes["train"] - 0.7) < 0.05 and abs(sizes["test"] - 0.2) < 0.05
    rates = {s: np.nanmean(index.split(s).labels) for s in parts}
    assert max(rates.values()) - min(rates.values()) < 0.08  # stratified
    subsets = label_fraction_subsets(index.split("train"), (0.01, 0.1, 0.5, 1.0), seed=0)
    previous = set()
    for fraction, subset in subsets.items():
        current = set(subset.paths)
        assert previous <= current
        previous = current
    assert len(subsets[1.0]) == len(index.split("train"))
    assert 0 < np.nanmean(subsets[0.1].labels) < 1


def test_index_round_trip_csv(tmp_path, shared_data):
    index = index_any(shared_data / "actualmed_covid")
    index.to_csv(tmp_path / "index.csv")
    again = DatasetIndex.from_csv(tmp_path / "index.csv")
    np.testing.assert_array_equal(np.isnan(again.labels), np.isnan(index.labels))
    assert list(again.paths) == list(index.paths)
