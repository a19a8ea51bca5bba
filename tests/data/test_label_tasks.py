"""Paper 001's classification tasks from each dataset's own class names; lung-mask layouts found by folder names."""

import os

import cv2
import numpy as np
import pandas as pd
import pytest

from keras_cxr.data import (CLASSIFICATION_TASKS, DatasetIndex, canonical_label, canonical_labels,
                            find_segmentation_folders, index_segmentation, phantom_canonical_labels, task_index)


def _index(class_names, rows, task="multiclass"):
    frame = pd.DataFrame({"path": [f"/{i}.png" for i in range(len(rows))], "patient_id": list(map(str, range(len(rows)))),
                          "age": 1.0, "sex": "", "view": "", "split": ""})
    for c, name in enumerate(class_names):
        frame[name] = [r[c] for r in rows]
    return DatasetIndex(frame, class_names, task)


@pytest.mark.parametrize("name, canonical", [("NORMAL", "healthy"), ("No Finding", "healthy"), ("COVID-19", "covid"),
                                             ("positive", "covid"), ("negative", "non-covid"), ("VIRUS", "pneumonia"),
                                             ("Bacteria", "pneumonia"), ("abnormal", "pathology"), ("Nodule", None)])
def test_canonical_names(name, canonical):
    assert canonical_label(name) == canonical


def test_every_task_by_hand_on_a_kermany_covid_table():
    nan = float("nan")
    index = _index(["NORMAL", "BACTERIA", "VIRUS", "COVID-19"],
                   [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [nan] * 4])
    assert list(canonical_labels(index)) == ["healthy", "pneumonia", "pneumonia", "covid", None]
    expected = {  # rows kept → column per row
        "covid_vs_noncovid": ([0, 1, 2, 3], [0, 0, 0, 1]),
        "healthy_vs_pathology": ([0, 1, 2, 3], [0, 1, 1, 1]),
        "pneumonia_vs_healthy": ([0, 1, 2], [0, 1, 1]),
        "pneumonia_vs_covid": ([1, 2, 3], [0, 0, 1]),
        "pneumonia_vs_nonpneumonia": ([0, 1, 2, 3], [0, 1, 1, 0]),  # COVID-19 among the negatives (Table 3 right)
        "healthy_pneumonia_covid": ([0, 1, 2, 3], [0, 1, 1, 2]),
    }
    assert set(expected) == set(CLASSIFICATION_TASKS)
    for task, (rows, columns) in expected.items():
        with pytest.warns(UserWarning, match="leaves out"):
            found = task_index(index, task)
        assert found.class_names == list(CLASSIFICATION_TASKS[task][0])
        assert list(found.paths) == [f"/{r}.png" for r in rows]
        np.testing.assert_array_equal(found.labels.argmax(1), columns)
        assert found.labels.sum() == len(rows)
    with pytest.raises(ValueError, match="Unknown task"):
        task_index(index, "covid_vs_everything")
    no_covid = index.subset([0, 1, 2])  # a class of the task without an image: an error for training data
    with pytest.raises(ValueError, match=r"no image of class\(es\) \['covid'\]"):
        task_index(no_covid, "pneumonia_vs_covid")
    with pytest.warns(UserWarning, match="leaves out"):
        assert len(task_index(no_covid, "pneumonia_vs_covid", require_all_classes=False)) == 2


def test_binary_columns_and_the_phantom_stand_ins():
    kermany = _index(["PNEUMONIA"], [[1], [0], [float("nan")]], task="binary")
    assert list(canonical_labels(kermany)) == ["pneumonia", "healthy", None]
    covid = _index(["COVID-19"], [[1], [0]], task="binary")
    assert list(canonical_labels(covid)) == ["covid", "non-covid"]
    names = ["consolidation", "interstitial", "cardiomegaly", "effusion", "nodule"]
    phantom = _index(names, [[0, 0, 0, 0, 0], [1, 0, 1, 0, 0], [0, 1, 0, 0, 0], [1, 1, 0, 0, 0], [0, 0, 0, 1, 0]],
                     task="multilabel")
    assert list(phantom_canonical_labels(phantom)) == ["healthy", "pneumonia", "covid", None, None]


def _write(path, value=255, size=16):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    cv2.imwrite(str(path), np.full((size, size), value, np.uint8))


@pytest.mark.parametrize("layout", ["montgomery", "shenzhen", "scr", "generic"])
def test_segmentation_layouts_are_found_and_masks_merged(tmp_path, layout):
    root = tmp_path / "data"
    if layout == "montgomery":  # MontgomerySet/CXR_png + ManualMask/{left,right}Mask
        base = root / "MontgomerySet"
        _write(base / "CXR_png" / "MCUCXR_0001_0.png", 100)
        left, right = np.zeros((16, 16), np.uint8), np.zeros((16, 16), np.uint8)
        left[:, :4], right[:, 12:] = 255, 255
        os.makedirs(base / "ManualMask" / "leftMask"), os.makedirs(base / "ManualMask" / "rightMask")
        cv2.imwrite(str(base / "ManualMask" / "leftMask" / "MCUCXR_0001_0.png"), left)
        cv2.imwrite(str(base / "ManualMask" / "rightMask" / "MCUCXR_0001_0.png"), right)
        expected = 2 * 4 * 16
    elif layout == "shenzhen":  # CXR_png + mask/*_mask.png; an image without a mask is dropped
        _write(root / "CXR_png" / "CHNCXR_0001_0.png", 100)
        _write(root / "CXR_png" / "CHNCXR_0002_0.png", 100)
        _write(root / "mask" / "CHNCXR_0001_0_mask.png")
        expected = 256
    elif layout == "scr":  # images + masks/left lung + masks/right lung (gif in the original; png here)
        _write(root / "images" / "JPCLN001.png", 100)
        _write(root / "masks" / "left lung" / "JPCLN001.png")
        _write(root / "masks" / "right lung" / "JPCLN001.png", 0)
        expected = 256
    else:
        _write(root / "images" / "a.png", 100)
        _write(root / "masks" / "a.png")
        expected = 256
    index = index_segmentation(root)
    assert len(index) == 1 and index.task == "segmentation"
    from keras_cxr.data import read_mask

    assert read_mask(index.mask_paths[0]).sum() == expected
    assert find_segmentation_folders(tmp_path / "nothing") is None
    os.makedirs(tmp_path / "empty" / "images")  # images but no mask folder
    with pytest.raises(ValueError, match="Montgomery"):
        index_segmentation(tmp_path / "empty")
