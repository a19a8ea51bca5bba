"""The Kaggle mirrors' layouts (issue 17): `index_any` recognises each one as mounted under /kaggle/input/<slug>.

Each test builds, in a temporary folder, a small tree with the folder names, table names and file names of one
mirror, then indexes it from the mount point a notebook user would pass. The trees were taken from public
code that reads these mirrors (found with the project's code search, 2026-12-03), not from the mirrors
themselves (nothing downloads here):

- Kermany `paultimothymooney/chest-xray-pneumonia`: `chest_xray/{train,val,test}/{NORMAL,PNEUMONIA}/`, the
  whole set again in `chest_xray/chest_xray/`, and `chest_xray/__MACOSX/` (several notebooks read
  `../input/chest-xray-pneumonia/chest_xray/chest_xray/train`; a write-up removes "__MACOSX/ and a fully
  duplicated nested chest_xray/chest_xray/").
- ChestX-ray14 `nih-chest-xrays/data`: `/kaggle/input/data/Data_Entry_2017.csv`, `images_001/images/` …
  `images_012/images/`, `test_list.txt`, `train_val_list.txt`, `BBox_List_2017.csv`.
- CheXpert `ashery/chexpert`: `/kaggle/input/chexpert/{train.csv,valid.csv,train/,valid/}` with the CSVs'
  paths still starting `CheXpert-v1.0-small/`; and `chexpert-v10-small/CheXpert-v1.0-small/train.csv` with
  paths relative to the mount.
- COVIDx `andyczhao/covidx-cxr2`: `train.txt` / `val.txt` / `test.txt` + `train/` `val/` `test/`
  (positive / negative); CXR-3's `train_COVIDx9A.txt` / `test_COVIDx9A.txt` (normal / pneumonia / COVID-19).
- Montgomery + Shenzhen `kmader/pulmonary-chest-xray-abnormalities`: `Montgomery/MontgomerySet/{CXR_png,
  ManualMask/leftMask,ManualMask/rightMask,ClinicalReadings}` and `ChinaSet_AllFiles/ChinaSet_AllFiles/
  {CXR_png,ClinicalReadings}`; `nikhilpandey360/chest-xray-masks-and-labels`: `[data/]Lung Segmentation/
  {CXR_png,masks,ClinicalReadings}` (masks `CHNCXR_0001_0_mask.png`, `MCUCXR_0001_0.png`);
  `yoctoman/shcxr-lung-mask`: `mask/CHNCXR_*_mask.png` (Shenzhen masks only).
- VinDr-PCXR: no Kaggle mirror was found; PhysioNet's `wget -r` download nests it in
  `physionet.org/files/vindr-pcxr/1.0.0/` beside `physionet.org/robots.txt`.
"""

import warnings

import cv2
import numpy as np
import pandas as pd
import pytest
from test_index import _kermany_v2, _nih, _png, _vindr_row, _write_vindr

from keras_cxr.data import (CHEXPERT_CLASSES, detect_layout, index_any, index_kermany, index_segmentation,
                            index_segmentation_pairs, read_mask)


def _quietly(function, *args, **kwargs):
    """Calls `function`, failing on any warning (a duplicate image skipped, a layout fallback)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return function(*args, **kwargs)


def _mask(path, columns):
    mask = np.zeros((12, 12), np.uint8)
    mask[:, columns] = 255
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), mask)


def test_kermany_mount_with_nested_copy_and_macosx(tmp_path):
    mount = tmp_path / "chest-xray-pneumonia"
    _kermany_v2(mount / "chest_xray")  # 12 images in train/ val/ test/ (+ __MACOSX junk)
    _kermany_v2(mount / "chest_xray" / "chest_xray")  # the archive's second, complete copy
    _png(mount / "chest_xray" / "__MACOSX" / "chest_xray" / "train" / "NORMAL" / "._IM-0115-0001.jpeg")
    for path in (mount, mount / "chest_xray"):
        assert detect_layout(path).name == "kermany"
        index = _quietly(index_any, path)
        assert len(index) == 12 and index.class_names == ["PNEUMONIA"]
        assert not any("chest_xray/chest_xray" in p or "__MACOSX" in p for p in index.paths)
        assert sorted(set(index.frame["split"])) == ["test", "train", "val"]
    three = _quietly(index_kermany, mount, num_classes=3)
    assert three.class_names == ["NORMAL", "BACTERIA", "VIRUS"] and three.labels.sum(0).tolist() == [6, 3, 3]


def test_nih_mount_reads_every_images_folder_and_the_split_lists(tmp_path):
    mount = tmp_path / "data"
    mount.mkdir()
    _nih(mount)  # Data_Entry_2017.csv, images_001/images/, images_002/images/
    (mount / "BBox_List_2017.csv").write_text("Image Index,Finding Label,Bbox [x,y,w,h]\n")
    (mount / "FAQ_CHESTXRAY.pdf").write_bytes(b"%PDF")
    (mount / "test_list.txt").write_text("00000002_001.png\n")
    (mount / "train_val_list.txt").write_text("00000001_000.png\n00000002_000.png\n")
    index = _quietly(index_any, mount)
    assert detect_layout(mount).name == "nih_cxr14" and len(index) == 3
    assert all(p.endswith(f"images/{n}") for p, n in zip(index.paths, ["00000001_000.png", "00000002_000.png",
                                                                        "00000002_001.png"]))
    assert index.frame["split"].tolist() == ["train", "train", "test"]


def _chexpert_rows(root, prefix, rel_root):
    """train.csv / valid.csv whose Path column starts with `prefix`; images under `rel_root`."""
    for table, split in (("train.csv", "train"), ("valid.csv", "valid")):
        rows = []
        for i, view in enumerate(("frontal", "lateral")):
            rel = f"{split}/patient0000{i}/study1/view1_{view}.jpg"
            _png(rel_root / rel)
            row = {"Path": prefix + rel, "Sex": "Female", "Age": 50 + i, "Frontal/Lateral": view.title(),
                   "AP/PA": "PA" if view == "frontal" else None}
            row.update({c: 0.0 for c in CHEXPERT_CLASSES})
            rows.append(row)
        pd.DataFrame(rows).to_csv(root / table, index=False)


@pytest.mark.parametrize("mirror", ["ashery/chexpert", "chexpert-v10-small"])
def test_chexpert_mirrors(tmp_path, mirror):
    if mirror == "ashery/chexpert":  # tables and folders at the mount, paths still name CheXpert-v1.0-small/
        mount = root = tmp_path / "chexpert"
        root.mkdir()
        _chexpert_rows(root, "CheXpert-v1.0-small/", root)
    else:  # the original folder inside the mount, paths relative to the mount
        mount, root = tmp_path / "chexpert-v10-small", tmp_path / "chexpert-v10-small" / "CheXpert-v1.0-small"
        root.mkdir(parents=True)
        _chexpert_rows(root, "CheXpert-v1.0-small/", root)
    assert detect_layout(mount).name == "chexpert"
    index = _quietly(index_any, mount)  # missing_images="error": every path resolved to a file
    assert len(index) == 1 and index.paths[0].endswith("CheXpert-v1.0-small/train/patient00000/study1/view1_frontal.jpg"
                                                         if mirror != "ashery/chexpert" else
                                                         "chexpert/train/patient00000/study1/view1_frontal.jpg")
    assert index.frame["view"].tolist() == ["PA"] and index.frame["patient_id"].tolist() == ["patient00000"]


@pytest.mark.parametrize("version", ["CXR-2", "CXR-3", "CXR-4"])
def test_covidx_mirror_versions(tmp_path, version):
    mount = tmp_path / "covidx-cxr2"
    if version == "CXR-3":  # the COVID-Net repository's versioned label files, three classes
        tables = {"train_COVIDx9A.txt": ["p1 a.png normal rsna", "p2 b.jpg COVID-19 cohen", "p3 c.png pneumonia rsna"],
                  "test_COVIDx9A.txt": ["p4 d.png COVID-19 ricord"]}
        expected = (["normal", "pneumonia", "COVID-19"], [[1, 0, 0], [0, 0, 1], [0, 1, 0]])
    else:  # positive / negative; CXR-4 adds val.txt
        tables = {"train.txt": ["p1 a.png positive rsna", "p2 b.jpg negative sirm", "p3 c.png negative rsna"],
                  "test.txt": ["p4 d.png positive bimcv"]}
        if version == "CXR-4":
            tables["val.txt"] = ["p5 e.png negative rsna"]
        expected = (["negative", "positive"], [[0, 1], [1, 0], [1, 0]])
    for name, lines in tables.items():
        split = name.split("_")[0].split(".")[0]
        mount.mkdir(exist_ok=True)
        (mount / name).write_text("\n".join(lines) + "\n")
        for line in lines:
            _png(mount / split / line.split()[1])
    assert detect_layout(mount).name == "covidx"
    index = _quietly(index_any, mount)
    assert index.class_names == expected[0] and index.labels.tolist() == expected[1]
    assert index.frame["split"].tolist() == ["train"] * 3 and index.frame["source"].tolist()[1] in ("cohen", "sirm")
    binary = index_any(mount, binary=True)  # paper 003's normal vs abnormal from either class set
    assert binary.labels[:, 0].tolist() == ([0.0, 1.0, 1.0] if version == "CXR-3" else [1.0, 0.0, 0.0])
    test_table = "test_COVIDx9A.txt" if version == "CXR-3" else "test.txt"
    assert index_any(mount / test_table).frame["split"].tolist() == ["test"]


def _pulmonary_abnormalities(mount):
    """kmader/pulmonary-chest-xray-abnormalities: Montgomery with left/right masks, Shenzhen without."""
    montgomery = mount / "Montgomery" / "MontgomerySet"
    for name, sex, age, reading in (("MCUCXR_0001_0", "F", "045Y", "normal"),
                                    ("MCUCXR_0104_1", "M", "009Y", "right upper lobe cavity")):
        _png(montgomery / "CXR_png" / f"{name}.png")
        _mask(montgomery / "ManualMask" / "leftMask" / f"{name}.png", slice(0, 4))
        _mask(montgomery / "ManualMask" / "rightMask" / f"{name}.png", slice(8, 12))
        (montgomery / "ClinicalReadings").mkdir(exist_ok=True)
        (montgomery / "ClinicalReadings" / f"{name}.txt").write_text(
            f"Patient's Sex: {sex}\nPatient's Age: {age}\n\n{reading}\n")
    (montgomery / "NLM-MontgomeryCXRSet-ReadMe.pdf").write_bytes(b"%PDF")
    shenzhen = mount / "ChinaSet_AllFiles" / "ChinaSet_AllFiles"
    for name, text in (("CHNCXR_0001_0", "male 45yrs\nnormal"), ("CHNCXR_0327_1", "female 8month\nSTB,ATB right")):
        _png(shenzhen / "CXR_png" / f"{name}.png")
        (shenzhen / "ClinicalReadings").mkdir(exist_ok=True)
        (shenzhen / "ClinicalReadings" / f"{name}.txt").write_text(text + "\n")
    (shenzhen / "CXR_png" / "Thumbs.db").write_bytes(b"x")
    return shenzhen


def test_montgomery_shenzhen_mount_tuberculosis_labels_and_readings(tmp_path):
    mount = tmp_path / "pulmonary-chest-xray-abnormalities"
    _pulmonary_abnormalities(mount)
    assert detect_layout(mount).name == "tuberculosis"
    index = _quietly(index_any, mount)
    frame = index.frame
    assert index.class_names == ["tuberculosis"] and index.task == "binary"
    assert frame["patient_id"].tolist() == ["CHNCXR_0001", "CHNCXR_0327", "MCUCXR_0001", "MCUCXR_0104"]
    assert index.labels[:, 0].tolist() == [0.0, 1.0, 0.0, 1.0]
    assert frame["source"].tolist() == ["shenzhen", "shenzhen", "montgomery", "montgomery"]
    assert frame["sex"].tolist() == ["M", "F", "F", "M"]
    np.testing.assert_allclose(frame["age"], [45.0, 8 / 12, 45.0, 9.0])
    assert frame["reading"].tolist() == ["normal", "STB,ATB right", "normal", "right upper lobe cavity"]
    assert index_any(mount, binary=True).labels[:, 0].tolist() == [0.0, 1.0, 0.0, 1.0]


def test_segmentation_from_the_kaggle_mounts(tmp_path):
    # Montgomery's masks two folders below the mount; Shenzhen's images there have no masks.
    mount = tmp_path / "pulmonary-chest-xray-abnormalities"
    shenzhen = _pulmonary_abnormalities(mount)
    pairs = index_segmentation(mount)
    assert [p.rsplit("/", 1)[1] for p in pairs.paths] == ["MCUCXR_0001_0.png", "MCUCXR_0104_1.png"]
    assert read_mask(pairs.mask_paths[0]).sum() == 8 * 12  # left (4 columns) ∪ right (4 columns)

    # Shenzhen masks come as their own dataset (yoctoman/shcxr-lung-mask), paired with the images above.
    masks = tmp_path / "shcxr-lung-mask" / "mask"
    _mask(masks / "CHNCXR_0001_0_mask.png", slice(2, 10))
    shenzhen_pairs = index_segmentation_pairs(shenzhen / "CXR_png", masks, require_all=False)
    assert shenzhen_pairs.frame["patient_id"].tolist() == ["CHNCXR_0001_0"]

    # chest-xray-masks-and-labels: both sets in one CXR_png/, one masks/ folder, not every image masked.
    other = tmp_path / "chest-xray-masks-and-labels"
    folder = other / "data" / "Lung Segmentation"
    for name in ("CHNCXR_0001_0", "CHNCXR_0002_1", "MCUCXR_0001_0"):
        _png(folder / "CXR_png" / f"{name}.png")
    _mask(folder / "masks" / "CHNCXR_0001_0_mask.png", slice(0, 6))
    _mask(folder / "masks" / "MCUCXR_0001_0.png", slice(6, 12))
    _png(folder / "test" / "CHNCXR_0003_0.png")
    pairs = index_segmentation(other)
    assert pairs.frame["patient_id"].tolist() == ["CHNCXR_0001_0", "MCUCXR_0001_0"]
    assert detect_layout(other).name == "tuberculosis" and len(index_any(other)) == 3


def test_vindr_pcxr_physionet_download_folders(tmp_path):
    download = tmp_path / "physionet.org"
    root = download / "files" / "vindr-pcxr" / "1.0.0"
    root.mkdir(parents=True)
    _write_vindr(root, "train", [_vindr_row("a", "R1", "Pneumonia"), _vindr_row("b", "R1", "No finding")])
    _write_vindr(root, "test", [_vindr_row("c", "R1", "Bronchitis")])
    (download / "robots.txt").write_text("User-agent: *\n")
    assert detect_layout(download).name == "vindr_pcxr"
    assert _quietly(index_any, download).frame["patient_id"].tolist() == ["a", "b"]


def test_wrapper_folders_are_looked_through_only_when_nothing_else_matches(tmp_path):
    # A folder with its own images is a dataset, not a wrapper, even beside one subfolder.
    _png(tmp_path / "outer" / "a.png")
    _kermany_v2(tmp_path / "outer" / "inner")
    assert detect_layout(tmp_path / "outer").name == "unlabeled"
    # Three wrappers are looked through, a fourth is not.
    _kermany_v2(tmp_path / "w0" / "w1" / "w2" / "w3" / "dataset")
    assert detect_layout(tmp_path / "w0" / "w1").name == "kermany"
    assert detect_layout(tmp_path / "w0").name == "unlabeled"
