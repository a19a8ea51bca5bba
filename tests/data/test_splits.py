"""Patient-level stratified splits and nested label-fraction subsets."""

import numpy as np
import pandas as pd
import pytest

from keras_cxr.data import DatasetIndex, index_any, index_labels_csv, label_fraction_subsets, patient_split
from keras_cxr.data import patient_split_indices


def _index(num_patients=300, images_per_patient=(1, 4), num_classes=4, seed=0, task="multilabel"):
    """Synthetic multi-label index: several images per patient, skewed class prevalence, rare last class."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(images_per_patient[0], images_per_patient[1] + 1, num_patients)
    patients = np.repeat([f"P{i:04d}" for i in range(num_patients)], counts)
    prevalence = np.array([0.4, 0.2, 0.1, 0.02][:num_classes])
    patient_labels = (rng.random((num_patients, num_classes)) < prevalence).astype(float)
    labels = np.repeat(patient_labels, counts, axis=0)
    frame = pd.DataFrame({"path": [f"/img/{i}.png" for i in range(len(patients))], "patient_id": patients,
                          "age": 5.0, "sex": "F", "view": "AP", "split": ""})
    names = [f"c{c}" for c in range(num_classes)]
    for c, name in enumerate(names):
        frame[name] = labels[:, c]
    return DatasetIndex(frame, names, task)


def _patients(index, split):
    return set(index.frame.loc[index.frame["split"] == split, "patient_id"])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_patient_split_no_overlap_fractions_and_stratification(seed):
    index = _index(seed=seed)
    split = patient_split(index, (0.7, 0.1, 0.2), seed=seed)
    assert list(split.paths) == list(index.paths) and set(split.frame["split"]) == {"train", "val", "test"}
    parts = {s: _patients(split, s) for s in ("train", "val", "test")}
    assert not (parts["train"] & parts["val"] or parts["train"] & parts["test"] or parts["val"] & parts["test"])
    sizes = split.frame["split"].value_counts(normalize=True)
    assert abs(sizes["train"] - 0.7) < 0.04 and abs(sizes["val"] - 0.1) < 0.04 and abs(sizes["test"] - 0.2) < 0.04
    overall = index.labels.mean(0)
    for name in ("train", "val", "test"):
        prevalence = split.split(name).labels.mean(0)
        np.testing.assert_allclose(prevalence[:3], overall[:3], atol=0.04)
        if name != "val":
            assert prevalence[3] > 0  # the rare class (3-8 patients) reaches train and test


def test_patient_split_is_seeded_and_index_unchanged():
    index = _index()
    a, b, c = (patient_split(index, seed=s) for s in (5, 5, 6))
    assert list(a.frame["split"]) == list(b.frame["split"]) != list(c.frame["split"])
    assert set(index.frame["split"]) == {""}  # the input index is not modified


def test_patient_split_zero_fraction_and_official_test():
    index = _index()
    index.frame.loc[index.frame["patient_id"] < "P0060", "split"] = "test"
    train = index.split("")
    split = patient_split(train, (0.8, 0.2, 0.0), seed=0)
    assert set(split.frame["split"]) == {"train", "val"}
    assert abs((split.frame["split"] == "val").mean() - 0.2) < 0.04


def test_patient_split_indices_edge_cases():
    parts = patient_split_indices(9, (0.5, 0.3, 0.2), groups=["a"] * 9)
    assert sorted(len(v) for v in parts.values()) == [0, 0, 9]  # one patient cannot be split
    parts = patient_split_indices(3, (0.7, 0.1, 0.2), groups=["", None, np.nan], seed=0)
    assert sorted(len(v) for v in parts.values()) == [1, 1, 1]  # blank ids: one patient per sample, no empty part
    tiny = patient_split_indices(4, (0.7, 0.1, 0.2), stratify=[0, 1, 0, 1], seed=3)
    assert all(len(v) > 0 for v in tiny.values())
    assert sum(len(v) for v in patient_split_indices(0, (0.5, 0.5), names=("a", "b")).values()) == 0
    for bad in [(0.5, 0.5), (0.7, -0.1, 0.4), (0, 0, 0), (np.nan, 0.5, 0.5)]:
        with pytest.raises(ValueError, match="fractions must be 3 non-negative numbers"):
            patient_split_indices(10, bad)
    with pytest.raises(ValueError, match="groups has 2 entries for 3 samples"):
        patient_split_indices(3, groups=[1, 2])


def test_singleton_strata_reach_small_parts():
    """Many strata with a single patient each: each lands in a part with probability = its fraction."""
    labels = np.eye(200)
    parts = patient_split_indices(200, (0.7, 0.1, 0.2), stratify=labels, seed=0)
    shares = {k: len(v) / 200 for k, v in parts.items()}
    assert 0.6 < shares["train"] < 0.8 and 0.03 < shares["val"] < 0.17 and 0.12 < shares["test"] < 0.28


def test_label_fraction_subsets_nested_by_patient_and_covering():
    index = _index(num_patients=400)
    subsets = label_fraction_subsets(index, (0.5, 0.01, 0.1, 1.0), seed=0)
    assert list(subsets) == [0.01, 0.1, 0.5, 1.0]
    previous = set()
    for fraction, subset in subsets.items():
        current = set(subset.paths)
        assert previous <= current
        previous = current
        if fraction > 0.01:
            assert abs(len(subset) / len(index) - fraction) < 0.01
        whole = index.frame[index.frame["patient_id"].isin(set(subset.frame["patient_id"]))]
        assert len(whole) == len(subset)  # patients are never cut
        assert (subset.labels.sum(0) > 0).all()  # every class, including the 2 % one
        assert (subset.labels.sum(1) == 0).any()  # and an image without findings
    assert len(subsets[1.0]) == len(index)
    np.testing.assert_allclose(subsets[0.5].labels.mean(0)[:3], index.labels.mean(0)[:3], atol=0.05)
    again = label_fraction_subsets(index, (0.01, 0.1, 0.5, 1.0), seed=0)
    assert all(list(again[f].paths) == list(subsets[f].paths) for f in again)
    other = label_fraction_subsets(index, (0.1,), seed=1)
    assert list(other[0.1].paths) != list(subsets[0.1].paths)


def test_label_fraction_subsets_multiclass_and_arguments():
    index = _index(num_patients=100, num_classes=3, images_per_patient=(1, 1))
    labels = np.zeros((100, 3))
    labels[np.arange(100), np.r_[np.zeros(90, int), np.ones(8, int), [2, 2]]] = 1
    index.frame[index.class_names] = labels
    index = DatasetIndex(index.frame, index.class_names, "multiclass")
    subset = label_fraction_subsets(index, (0.01,), seed=0)[0.01]
    assert len(subset) == 3 and (subset.labels.sum(0) == 1).all()  # one per class beats the 1 image of 1 %
    assert len(label_fraction_subsets(index, (0.01,), min_per_class=False)[0.01]) == 1
    for bad in [(), (0.0, 0.5), (0.5, 1.5)]:
        with pytest.raises(ValueError, match="fractions must lie in"):
            label_fraction_subsets(index, bad)


def test_real_shared_splits(shared_data):
    for name, tolerance in (("kermany_pediatric_224", 0.06), ("nih_cxr14_64px", 0.1)):
        index = patient_split(index_any(shared_data / name), (0.7, 0.1, 0.2), seed=0)
        parts = {s: _patients(index, s) for s in ("train", "val", "test")}
        assert not (parts["train"] & parts["val"] or parts["train"] & parts["test"] or parts["val"] & parts["test"])
        sizes = index.frame["split"].value_counts(normalize=True)
        assert abs(sizes["train"] - 0.7) < tolerance and abs(sizes["test"] - 0.2) < tolerance
        rates = [np.nanmean(index.split(s).labels) for s in parts]
        assert max(rates) - min(rates) < 0.1  # stratified
        subsets = label_fraction_subsets(index.split("train"), (0.01, 0.1, 0.5, 1.0), seed=0)
        previous = set()
        for subset in subsets.values():
            assert previous <= set(subset.paths) and 0 < np.nanmean(subset.labels) < 1
            previous = set(subset.paths)
        assert len(subsets[1.0]) == len(index.split("train"))
    multi = patient_split(index_labels_csv(shared_data / "nih_cxr14_64px", "finding_labels"), seed=0)
    assert not _patients(multi, "train") & _patients(multi, "test")
