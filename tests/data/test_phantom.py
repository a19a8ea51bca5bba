import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_predict

from keras_cxr.data import make_phantom_dataset


@pytest.fixture(scope="module")
def phantom():
    return make_phantom_dataset(400, image_size=64, seed=3, progress=False)


def test_shapes_ranges_and_determinism(phantom):
    assert phantom.images.shape == (400, 64, 64, 1) and phantom.images.dtype == np.float32
    assert 0 <= phantom.images.min() and phantom.images.max() <= 1
    assert set(np.unique(phantom.masks)) <= {0.0, 1.0}
    assert phantom.labels.shape == (400, 5) and len(phantom.boxes) == 400
    assert ((0 <= phantom.ages) & (phantom.ages <= 18)).all()
    again = make_phantom_dataset(10, image_size=64, seed=3)
    np.testing.assert_array_equal(again.images, phantom.images[:10])  # per-index streams: prefix-stable
    other = make_phantom_dataset(10, image_size=64, seed=4)
    assert not np.array_equal(other.images, again.images)


def test_prevalence_and_boxes(phantom):
    rates = phantom.labels.mean(axis=0)
    assert np.all(np.abs(rates - np.array([0.15, 0.12, 0.15, 0.12, 0.12])) < 0.06)
    for labels, boxes in zip(phantom.labels, phantom.boxes):
        assert sorted(b[0] for b in boxes) == sorted(n for n, v in zip(phantom.class_names, labels) if v)
        for _, x0, y0, x1, y1 in boxes:
            assert 0 <= x0 < x1 <= 64 and 0 <= y0 < y1 <= 64
    assert 0.3 < phantom.abnormal.mean() < 0.7


def test_lungs_are_dark_inside_mask(phantom):
    inside = (phantom.images * phantom.masks).sum((1, 2, 3)) / phantom.masks.sum((1, 2, 3))
    center = phantom.images[:, 40:56, 24:40, 0].mean((1, 2))  # heart / abdomen region
    assert (inside < center).mean() > 0.95
    assert (phantom.masks.mean((1, 2, 3)) > 0.1).all()


def test_heart_relative_size_falls_with_age():
    ds = make_phantom_dataset(120, image_size=96, seed=0, prevalence=0.0)
    # Proxy for heart width: bright pixels in the row band just above the diaphragm, between the lungs.
    band = ds.images[:, 58:66, :, 0]
    row_profile = band.mean(axis=1)
    widths = (row_profile > (row_profile.max(axis=1, keepdims=True) * 0.55 + row_profile.min(axis=1, keepdims=True) * 0.45)).sum(1)
    rho, p = spearmanr(ds.ages, widths)
    assert rho < -0.2 and p < 0.05


def test_findings_are_visible_but_not_trivial(phantom):
    x = phantom.images[:, ::2, ::2, 0].reshape(len(phantom.images), -1)
    model = LogisticRegression(C=0.05, max_iter=300)
    aucs = {}
    for c, name in enumerate(phantom.class_names):
        score = cross_val_predict(model, x, phantom.labels[:, c], cv=3, method="predict_proba")[:, 1]
        aucs[name] = roc_auc_score(phantom.labels[:, c], score)
    assert aucs["cardiomegaly"] > 0.65, aucs
    assert np.mean(list(aucs.values())) > 0.6, aucs
    assert min(aucs["nodule"], aucs["interstitial"]) < 0.99, aucs


def test_save_writes_shared_layout(tmp_path):
    import pandas as pd

    ds = make_phantom_dataset(5, image_size=32, seed=0)
    ds.save(tmp_path)
    frame = pd.read_csv(tmp_path / "labels.csv")
    assert list(frame.columns[:7]) == ["filename", "label", "abnormal", "patient_id", "age", "sex", "view"]
    assert all((tmp_path / "images" / f).exists() and (tmp_path / "masks" / f).exists() for f in frame.filename)
    np.testing.assert_array_equal(frame["abnormal"].to_numpy(), ds.abnormal)


@pytest.mark.parametrize("kwargs", [dict(num_images=0), dict(num_images=2, image_size=16),
                                    dict(num_images=2, prevalence={"fracture": 0.2}),
                                    dict(num_images=2, age_range=(10, 5))])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        make_phantom_dataset(**kwargs)
