import warnings

import numpy as np
import pytest
from sklearn import metrics as skm

from keras_cxr.metrics import UndefinedMetricWarning, classification_report, find_threshold


def _binary_data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = np.clip(0.35 * y + rng.random(n) * 0.65, 0, 1)
    return y, s


def test_binary_parity_with_sklearn():
    y, s = _binary_data()
    report = classification_report(y, s, threshold=0.5)
    p = (s >= 0.5).astype(int)
    b = report["binary"]
    expected = {
        "accuracy": skm.accuracy_score(y, p), "balanced_accuracy": skm.balanced_accuracy_score(y, p),
        "sensitivity": skm.recall_score(y, p), "specificity": skm.recall_score(1 - y, 1 - p),
        "precision": skm.precision_score(y, p), "f1": skm.f1_score(y, p), "mcc": skm.matthews_corrcoef(y, p),
        "kappa": skm.cohen_kappa_score(y, p), "auc_roc": skm.roc_auc_score(y, s),
        "auc_pr": skm.average_precision_score(y, s),
    }
    for name, value in expected.items():
        assert abs(b[name] - value) < 1e-12, name
    assert abs(b["youden"] - (expected["sensitivity"] + expected["specificity"] - 1)) < 1e-12
    assert report["confusion_matrix"] == skm.confusion_matrix(y, p).tolist()
    # (N, 2) softmax input and one-hot truth give the same numbers.
    two = classification_report(np.eye(2)[y], np.c_[1 - s, s])
    assert two["binary"] == b


def test_multiclass_parity_with_sklearn():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 240)
    logits = rng.normal(size=(240, 3)) + 1.5 * np.eye(3)[y]
    prob = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    report = classification_report(y, prob, class_names=["a", "b", "c"])
    assert report["task"] == "multiclass"
    pred = prob.argmax(1)
    recalls = skm.recall_score(y, pred, average=None)
    aucs = skm.roc_auc_score(y, prob, multi_class="ovr", average=None)
    for c, name in enumerate("abc"):
        assert abs(report["per_class"][name]["sensitivity"] - recalls[c]) < 1e-12
        assert abs(report["per_class"][name]["auc_roc"] - aucs[c]) < 1e-12
    assert abs(report["macro"]["sensitivity"] - skm.balanced_accuracy_score(y, pred)) < 1e-12
    assert report["confusion_matrix"] == skm.confusion_matrix(y, pred).tolist()


def test_multilabel_parity_and_nan_truth():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, (200, 4)).astype(float)
    s = np.clip(0.3 * y + 0.7 * rng.random((200, 4)), 0, 1)
    report = classification_report(y, s, threshold=[0.5, 0.4, 0.6, 0.5])
    assert report["task"] == "multilabel"
    aucs = skm.roc_auc_score(y, s, average=None)
    f1s = skm.f1_score(y, s >= np.array([0.5, 0.4, 0.6, 0.5]), average=None)
    for c in range(4):
        assert abs(report["per_class"][str(c)]["auc_roc"] - aucs[c]) < 1e-12
        assert abs(report["per_class"][str(c)]["f1"] - f1s[c]) < 1e-12
    assert abs(report["macro"]["auc_roc"] - skm.roc_auc_score(y, s, average="macro")) < 1e-12
    y[:10, 0] = np.nan  # unknown labels are ignored for that class only
    partial = classification_report(y, s)
    assert abs(partial["per_class"]["0"]["auc_roc"] - skm.roc_auc_score(y[10:, 0], s[10:, 0])) < 1e-12


def test_single_class_gives_nan_with_warning():
    with pytest.warns(UndefinedMetricWarning):
        report = classification_report(np.ones(6), np.linspace(0.1, 0.9, 6))
    assert np.isnan(report["binary"]["auc_roc"]) and report["binary"]["sensitivity"] == 0.5
    assert np.isnan(report["binary"]["specificity"])


def test_ties_and_perfect_scores():
    y = np.array([0, 0, 1, 1])
    tied = classification_report(y, np.full(4, 0.5))
    assert tied["binary"]["auc_roc"] == 0.5 and tied["binary"]["sensitivity"] == 1.0
    perfect = classification_report(y, np.array([0.0, 0.1, 0.9, 1.0]))
    assert perfect["binary"]["mcc"] == 1.0 and perfect["binary"]["kappa"] == 1.0


@pytest.mark.parametrize("args, match", [((np.zeros(3), np.zeros(4)), "samples"),
                                         ((np.zeros(3), np.array([0.1, np.nan, 0.2])), "NaN"),
                                         ((np.array([0, 2, 1]), np.array([0.1, 0.3, 0.2])), "0/1")])
def test_bad_inputs(args, match):
    with pytest.raises(ValueError, match=match):
        classification_report(*args)


def test_find_threshold_rules():
    y, s = _binary_data(seed=3)
    t = find_threshold(y, s, "youden")
    fpr, tpr, th = skm.roc_curve(y, s)
    assert t == th[np.argmax(tpr - fpr)]
    t_f1 = find_threshold(y, s, "f1")
    best = max(skm.f1_score(y, s >= c) for c in np.unique(s))
    assert abs(skm.f1_score(y, s >= t_f1) - best) < 1e-12
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert find_threshold(np.ones(4), np.ones(4)) == 0.5
