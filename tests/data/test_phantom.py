"""The synthetic CXR phantom: contract, determinism, anatomy invariants, and findings visible but not trivial."""

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_predict

from keras_cxr.data import (DEFAULT_PREVALENCE, FINDINGS, PhantomDataset, make_phantom_dataset,
                            normal_cardiothoracic_ratio)

N, S = 400, 64


@pytest.fixture(scope="module")
def phantom():
    return make_phantom_dataset(N, image_size=S, seed=3, progress=False)


@pytest.fixture(scope="module")
def enriched():
    """Every finding at 30 %: enough positives of each for the visibility checks."""
    return make_phantom_dataset(N, image_size=S, seed=11, prevalence=0.3, progress=False)


def _ctr(mask):
    """Cardiothoracic ratio read off a lung mask: the gap between the lungs just above the domes (median
    over rows 62-74 % down the lung fields) over the widest extent of the lungs."""
    rows, cols = np.nonzero(mask.any(1))[0], np.nonzero(mask.any(0))[0]
    top, bottom = rows[0], rows[-1]
    gaps = []
    for r in range(top + (bottom - top) * 62 // 100, top + (bottom - top) * 74 // 100 + 1):
        xs = np.nonzero(mask[r])[0]
        if len(xs) >= 2:
            gaps.append(np.diff(xs).max() - 1)
    return np.median(gaps) / (cols[-1] - cols[0] + 1)


def test_contract_shapes_dtypes_ranges(phantom):
    assert isinstance(phantom, PhantomDataset) and len(phantom) == N
    assert phantom.images.shape == (N, S, S, 1) and phantom.images.dtype == np.float32
    assert 0.0 <= phantom.images.min() and phantom.images.max() <= 1.0
    assert phantom.masks.shape == (N, S, S, 1) and phantom.masks.dtype == np.float32
    assert set(np.unique(phantom.masks)) == {0.0, 1.0}
    assert phantom.labels.shape == (N, len(FINDINGS)) and phantom.labels.dtype == np.float32
    assert set(np.unique(phantom.labels)) <= {0.0, 1.0}
    assert phantom.class_names == ["consolidation", "interstitial", "cardiomegaly", "effusion", "nodule"]
    assert phantom.ages.shape == (N,) and phantom.ages.dtype == np.float32
    assert ((0 <= phantom.ages) & (phantom.ages <= 18)).all() and phantom.ages.std() > 4
    assert set(phantom.sexes) == {"M", "F"}
    assert len(phantom.boxes) == N and len(set(phantom.patient_ids)) == N
    np.testing.assert_array_equal(phantom.abnormal, (phantom.labels.sum(1) > 0).astype(np.int64))
    with pytest.raises(Exception):
        phantom.images = None  # frozen


def test_same_seed_same_data_other_seed_other_data(phantom):
    again = make_phantom_dataset(12, image_size=S, seed=3)
    for field in ("images", "labels", "ages", "sexes", "masks", "patient_ids"):
        np.testing.assert_array_equal(getattr(again, field), getattr(phantom, field)[:12])  # prefix-stable
    assert again.boxes == phantom.boxes[:12]
    other = make_phantom_dataset(12, image_size=S, seed=4)
    assert not np.array_equal(other.images, again.images)
    assert not np.array_equal(other.ages, again.ages)


@pytest.mark.parametrize("size", [32, 47, 160])
def test_any_size_and_adult_ages(size):
    ds = make_phantom_dataset(3, image_size=size, seed=0, age_range=(18.0, 90.0), noise_level=0.0)
    assert ds.images.shape == (3, size, size, 1) and ds.masks.shape == (3, size, size, 1)
    assert ((18 <= ds.ages) & (ds.ages <= 90)).all()
    assert 0.1 < ds.masks.mean() < 0.5


def test_prevalence_close_to_requested(phantom):
    rates = phantom.labels.mean(axis=0)
    expected = np.array([DEFAULT_PREVALENCE[name] for name in FINDINGS])
    assert np.all(np.abs(rates - expected) < 0.06), rates
    assert 0.4 < 1 - phantom.abnormal.mean() < 0.6  # about half the images show no finding
    custom = make_phantom_dataset(300, image_size=32, seed=1, prevalence={"nodule": 0.5}, progress=False)
    assert abs(custom.labels[:, 4].mean() - 0.5) < 0.08 and custom.labels[:, :4].sum() == 0
    assert make_phantom_dataset(20, image_size=32, prevalence=0.0).labels.sum() == 0
    assert (make_phantom_dataset(5, image_size=32, prevalence=1.0).labels == 1).all()


def test_lung_masks_cover_dark_lung_fields(phantom):
    import cv2

    images, masks = phantom.images[..., 0], phantom.masks[..., 0]
    inside = (images * masks).sum((1, 2)) / masks.sum((1, 2))
    # Soft tissue: pixels of the middle rows outside the lungs but within the body (brighter than the
    # background air at the image borders).
    rows = slice(S // 3, 2 * S // 3)
    body = (images[:, rows] > 0.25) & (masks[:, rows] == 0)
    outside = (images[:, rows] * body).sum((1, 2)) / body.sum((1, 2))
    assert (inside < outside - 0.1).mean() > 0.97
    assert ((0.12 < masks.mean((1, 2))) & (masks.mean((1, 2)) < 0.45)).all()
    for mask in masks:  # two lungs, each one piece, one on each side of the midline
        count, _, stats, centroids = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=4)
        assert count - 1 == 2
        assert sorted(centroids[1:, 0] < S / 2) == [False, True]


def test_heart_relative_size_falls_with_age_and_cardiomegaly_exceeds_it(enriched):
    ctr = np.array([_ctr(m[..., 0] > 0.5) for m in enriched.masks])
    cardiomegaly = enriched.labels[:, 2] == 1
    rho, p = spearmanr(enriched.ages[~cardiomegaly], ctr[~cardiomegaly])
    assert rho < -0.4 and p < 1e-6, (rho, p)
    infants, adolescents = ~cardiomegaly & (enriched.ages < 3), ~cardiomegaly & (enriched.ages > 14)
    assert ctr[infants].mean() > ctr[adolescents].mean() + 0.04
    # Enlarged beyond the age norm: separable once age is accounted for, not from the raw ratio alone.
    assert roc_auc_score(cardiomegaly, ctr - normal_cardiothoracic_ratio(enriched.ages)) > 0.95
    assert roc_auc_score(cardiomegaly, ctr) < 0.995
    assert float(normal_cardiothoracic_ratio(0)) == pytest.approx(0.57)
    assert float(normal_cardiothoracic_ratio(18)) == pytest.approx(0.45, abs=0.01)


def test_boxes_lie_inside_the_image_and_on_their_findings(enriched):
    masks = enriched.masks[..., 0]
    for labels, boxes, mask in zip(enriched.labels, enriched.boxes, masks):
        assert sorted(b[0] for b in boxes) == sorted(n for n, v in zip(enriched.class_names, labels) if v)
        rows = np.nonzero(mask.any(1))[0]
        for name, x0, y0, x1, y1 in boxes:
            assert 0 <= x0 < x1 <= S and 0 <= y0 < y1 <= S
            region = mask[int(y0):int(np.ceil(y1)), int(x0):int(np.ceil(x1))]
            if name in ("consolidation", "interstitial"):
                assert region.mean() > 0.3, (name, region.mean())  # within the lung fields
            elif name == "effusion":  # a crescent over one lung base, down to the costophrenic angle
                assert region.mean() > 0.08 and y1 > rows[0] + 0.85 * (rows[-1] - rows[0])
            elif name == "cardiomegaly":  # the heart sits between the lungs, just off the midline
                assert x0 < S / 2 < x1 and region.mean() < 0.6
            else:  # the nodule lies in a lung (its box may reach the lung edge)
                cx, cy = int((x0 + x1) / 2), int((y0 + y1) / 2)
                assert mask[max(cy - 2, 0):cy + 3, max(cx - 2, 0):cx + 3].any()


def test_findings_are_visible_but_not_trivial(enriched):
    """Linear models on raw (downsampled) pixels see the large findings, not the small ones; simple local
    features see the small ones."""
    import cv2

    x = enriched.images[:, ::2, ::2, 0].reshape(N, -1)
    x = x - x.mean(axis=0)
    labels = dict(zip(enriched.class_names, enriched.labels.T))
    aucs = {}
    for name in enriched.class_names:
        score = cross_val_predict(LogisticRegression(C=0.1, max_iter=500), x, labels[name], cv=3,
                                  method="predict_proba")[:, 1]
        aucs[name] = roc_auc_score(labels[name], score)
    for name in ("consolidation", "cardiomegaly", "effusion"):
        assert 0.7 < aucs[name] < 0.999, aucs
    assert aucs["interstitial"] < 0.9 and aucs["nodule"] < 0.9, aucs

    # Interstitial pattern: fine-scale texture energy inside the lungs (a fine pattern: needs >= 128 px).
    fine = make_phantom_dataset(240, image_size=128, seed=12, prevalence={"interstitial": 0.5}, progress=False)
    energy = []
    for image, mask in zip(fine.images[..., 0], fine.masks[..., 0]):
        band = cv2.GaussianBlur(image, (0, 0), 0.5) - cv2.GaussianBlur(image, (0, 0), 1.0)
        inner = cv2.erode(mask, np.ones((5, 5), np.uint8)) > 0
        energy.append(np.abs(band[inner]).mean())
    assert 0.7 < roc_auc_score(fine.labels[:, 1], energy) < 0.999

    # Nodule: centre-minus-surround contrast at the nodule boxes vs at random lung points of other images.
    def contrast(image, x, y, r):
        yy, xx = np.mgrid[:S, :S]
        d2 = (xx - x) ** 2 + (yy - y) ** 2
        return image[d2 <= r * r].mean() - image[(d2 > (1.5 * r) ** 2) & (d2 <= (2.5 * r) ** 2)].mean()

    rng = np.random.default_rng(0)
    positive, negative = [], []
    for i, boxes in enumerate(enriched.boxes):
        image = enriched.images[i, ..., 0]
        nodules = [b for b in boxes if b[0] == "nodule"]
        if nodules:
            _, x0, y0, x1, y1 = nodules[0]
            positive.append(contrast(image, (x0 + x1) / 2, (y0 + y1) / 2, max((x1 - x0) / 2, 1.0)))
        else:
            ys, xs = np.nonzero(enriched.masks[i, ..., 0])
            k = rng.integers(len(xs))
            negative.append(contrast(image, xs[k], ys[k], 1.5))
    assert roc_auc_score([1] * len(positive) + [0] * len(negative), positive + negative) > 0.8


def test_progress_bar_default_and_switch(capsys):
    make_phantom_dataset(3, image_size=32)
    assert "phantom" not in capsys.readouterr().err
    make_phantom_dataset(3, image_size=32, progress=True)
    assert "drawing phantom CXRs" in capsys.readouterr().err


def test_save_writes_shared_layout_and_reads_back(tmp_path):
    import pandas as pd

    from keras_cxr.data import index_labels_csv, read_image

    ds = make_phantom_dataset(6, image_size=32, seed=0, prevalence=0.5)
    assert ds.save(tmp_path, progress=False) == tmp_path
    frame = pd.read_csv(tmp_path / "labels.csv")
    assert list(frame.columns) == ["filename", "label", "abnormal", "patient_id", "age", "sex", "view",
                                   *FINDINGS, "boxes"]
    np.testing.assert_array_equal(frame["abnormal"].to_numpy(), ds.abnormal)
    np.testing.assert_array_equal(frame[list(FINDINGS)].to_numpy(), ds.labels)
    for i, name in enumerate(frame["filename"]):
        np.testing.assert_allclose(read_image(tmp_path / "images" / name), ds.images[i, ..., 0], atol=0.5 / 255 + 1e-6)
        np.testing.assert_array_equal(read_image(tmp_path / "masks" / name), ds.masks[i, ..., 0])
    index = index_labels_csv(tmp_path)
    np.testing.assert_array_equal(index.labels[:, 0], ds.abnormal)
    multilabel = index_labels_csv(tmp_path, label_column="label")
    present = [n for n in FINDINGS if n in multilabel.class_names]
    np.testing.assert_array_equal(multilabel.labels[:, [multilabel.class_names.index(n) for n in present]],
                                  ds.labels[:, [FINDINGS.index(n) for n in present]])


@pytest.mark.parametrize("kwargs", [dict(num_images=0), dict(num_images=2, image_size=16),
                                    dict(num_images=2, prevalence={"fracture": 0.2}),
                                    dict(num_images=2, prevalence=1.5), dict(num_images=2, seed=-1),
                                    dict(num_images=2, noise_level=-0.1),
                                    dict(num_images=2, age_range=(10, 5))])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        make_phantom_dataset(**kwargs)
