"""Degenerate-model warnings on hand-made cases: constant scores, a class never predicted, chance AUC,
restoration worse than its input."""

import numpy as np
import pytest

from keras_cxr.report import classifier_warnings, comparison_note, restoration_warnings

Y = np.array([0, 1] * 20)


def test_a_learned_binary_classifier_gets_no_warning():
    score = np.where(Y == 1, 0.8, 0.2) + np.linspace(-0.1, 0.1, len(Y))
    assert classifier_warnings(Y, score, "B") == []
    assert classifier_warnings(Y, np.stack([1 - score, score], 1), "B") == []


@pytest.mark.parametrize("shape", ["softmax", "column", "flat"])
def test_constant_scores_are_named_once(shape):
    score = np.full(len(Y), 0.51)
    value = {"softmax": np.stack([1 - score, score], 1), "column": score[:, None], "flat": score}[shape]
    found = classifier_warnings(Y, value, "Den-P")
    assert len(found) == 1 and "same score" in found[0] and found[0].startswith("Den-P")


def test_a_class_never_predicted_is_named_with_the_class_names():
    score = np.where(Y == 1, 0.45, 0.3)  # ranks perfectly but never crosses 0.5
    found = classifier_warnings(Y, score, "SA", class_names=["normal", "abnormal"])
    assert len(found) == 1
    assert "'normal' for every image" in found[0] and "'abnormal' is never predicted" in found[0]
    assert classifier_warnings(Y, score, "SA", threshold=0.4) == []


def test_chance_auc_is_reported():
    rng = np.random.default_rng(0)
    score = rng.uniform(size=len(Y))
    score[Y == 1] = score[Y == 0]  # the same scores for both classes: AUC 0.5
    found = classifier_warnings(Y, score, "A-F")
    assert any("AUC 0.500" in s for s in found)
    inverted = classifier_warnings(Y, 1 - np.where(Y == 1, 0.8, 0.2), "A-F", threshold=0.5)
    assert inverted[-1].startswith("A-F has AUC 0.000, below chance")


def test_multilabel_checks_each_class_and_ignores_unknown_labels():
    y = np.stack([Y, 1 - Y], 1).astype(float)
    score = np.stack([np.where(Y == 1, 0.9, 0.1), np.full(len(Y), 0.3)], 1)
    found = classifier_warnings(y, score, "mae", class_names=["nodule", "effusion"], task="multilabel")
    assert len(found) == 1 and found[0].startswith("mae (effusion) gives every image the same score")
    y[0, 0] = np.nan
    assert len(classifier_warnings(y, score, "mae", task="multilabel", threshold=[0.5, 0.2])) == 1
    all_constant = classifier_warnings(y, np.full_like(score, 0.2), "vit", task="multilabel")
    assert len(all_constant) == 1 and "every image and class" in all_constant[0]


def test_bad_inputs_name_the_received_value():
    with pytest.raises(ValueError, match="task must be"):
        classifier_warnings(Y, Y, "B", task="multiclass")
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        classifier_warnings(Y, Y, "B", task="multilabel")
    with pytest.raises(ValueError, match="shape"):
        classifier_warnings(Y, np.zeros((len(Y), 3)), "B")


@pytest.mark.parametrize("restored, degraded, ssim_pair, count", [
    (13.1, 25.6, (None, None), 1),  # the denoising numbers
    (25.6, 25.6, (0.5, 0.5), 2),  # equal is not better
    (28.0, 25.6, (0.5, 0.7), 1),  # PSNR better, SSIM worse
    (28.0, 25.6, (0.8, 0.7), 0),
])
def test_restoration_worse_than_its_input(restored, degraded, ssim_pair, count):
    assert len(restoration_warnings("denoising", restored, degraded, *ssim_pair)) == count


def test_comparison_note():
    assert comparison_note("B", "SA", ["B", "SA"]) == "compares degenerate B and SA: not evidence about the method"
    assert comparison_note("B", "SA", ("Den-P",)) is None


def test_report_warnings_read_a_saved_classification_report():
    from keras_cxr.metrics import classification_report
    from keras_cxr.report import report_warnings

    names = ["normal", "abnormal"]
    learned = classification_report(Y, np.where(Y == 1, 0.8, 0.2), class_names=names)
    assert report_warnings(learned, "B") == []
    with pytest.warns(Warning):
        constant = classification_report(Y, np.full((len(Y), 2), 0.5) * [1.0, 0.9], class_names=names)
    found = report_warnings(constant, "B")
    assert "'normal' for every image" in found[0] and "AUC 0.500" in found[1]
    y = np.stack([Y, 1 - Y], 1).astype(float)
    multilabel = classification_report(y, np.stack([np.where(Y == 1, 0.9, 0.1), np.full(len(Y), 0.3)], 1),
                                       threshold=[0.5, 0.5], class_names=["nodule", "effusion"], task="multilabel")
    found = report_warnings(multilabel, "mae")
    assert len(found) == 2 and all(s.startswith("mae (effusion)") for s in found)


def test_a_class_almost_never_predicted_is_named():
    y = np.array([0, 1] * 60)
    score = np.where(y == 1, 0.4, 0.2)
    score[1] = 0.9  # one positive prediction in 120
    found = classifier_warnings(y, score, "A-F", class_names=["normal", "abnormal"])
    assert len(found) == 1 and "'abnormal' for only 1 of 120" in found[0]
