import warnings

import numpy as np
import pytest
from sklearn import metrics as skm

from keras_cxr.metrics import METRIC_NAMES, UndefinedMetricWarning, classification_report, find_threshold

TOL = 1e-12


def _binary_data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = np.clip(0.35 * y + rng.random(n) * 0.65, 0, 1)
    return y, s


def _sklearn_binary(y, s, p):
    """Every metric of one binary problem from scikit-learn (y, p in {0, 1}; s scores of class 1)."""
    sens, spec = skm.recall_score(y, p), skm.recall_score(1 - y, 1 - p)
    return {
        "accuracy": skm.accuracy_score(y, p), "balanced_accuracy": skm.balanced_accuracy_score(y, p),
        "sensitivity": sens, "specificity": spec, "precision": skm.precision_score(y, p),
        "f1": skm.f1_score(y, p), "mcc": skm.matthews_corrcoef(y, p), "kappa": skm.cohen_kappa_score(y, p),
        "youden": sens + spec - 1, "fpr": 1 - spec, "fnr": 1 - sens,
        "auc_roc": skm.roc_auc_score(y, s), "auc_pr": skm.average_precision_score(y, s),
    }


def _assert_close(row, expected, tol=TOL):
    for name, value in expected.items():
        assert abs(row[name] - value) < tol, (name, row[name], value)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binary_parity_with_sklearn(seed):
    y, s = _binary_data(seed=seed)
    s = np.round(s, 2)  # ties in the scores
    threshold = [0.5, 0.4, 0.62][seed]
    report = classification_report(y, s, threshold=threshold)
    p = (s >= threshold).astype(int)
    assert report["task"] == "binary" and report["num_samples"] == len(y) and report["threshold"] == threshold
    _assert_close(report["binary"], _sklearn_binary(y, s, p))
    assert report["binary"] == report["per_class"]["positive"]
    _assert_close(report["per_class"]["negative"], _sklearn_binary(1 - y, 1 - s, 1 - p))
    counts = skm.confusion_matrix(y, p).ravel()
    assert [report["binary"][k] for k in ("tn", "fp", "fn", "tp")] == counts.tolist()
    assert report["binary"]["support"] == int(y.sum())
    assert report["confusion_matrix"] == skm.confusion_matrix(y, p).tolist()
    for name in METRIC_NAMES:
        assert report["macro"][name] == pytest.approx(
            (report["per_class"]["negative"][name] + report["per_class"]["positive"][name]) / 2, abs=TOL)
    # (N, 1) and (N, 2) softmax scores, one-hot and (N, 1) truth give the same numbers.
    for y_in, s_in in ((y, s[:, None]), (np.eye(2)[y], np.c_[1 - s, s]), (y[:, None], s)):
        assert classification_report(y_in, s_in, threshold=threshold)["binary"] == report["binary"]


@pytest.mark.parametrize("seed", [0, 1])
def test_multiclass_parity_with_sklearn(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, 240)
    logits = rng.normal(size=(240, 3)) + 1.5 * np.eye(3)[y]
    prob = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    report = classification_report(y, prob, class_names=["a", "b", "c"])
    assert report["task"] == "multiclass" and report["threshold"] is None
    pred = prob.argmax(1)
    for c, name in enumerate("abc"):
        _assert_close(report["per_class"][name],
                      _sklearn_binary((y == c).astype(int), prob[:, c], (pred == c).astype(int)))
    aucs = skm.roc_auc_score(y, prob, multi_class="ovr", average=None)
    np.testing.assert_allclose([report["per_class"][n]["auc_roc"] for n in "abc"], aucs, rtol=0, atol=TOL)
    macro, overall = report["macro"], report["overall"]
    assert abs(macro["sensitivity"] - skm.balanced_accuracy_score(y, pred)) < TOL
    assert abs(macro["precision"] - skm.precision_score(y, pred, average="macro")) < TOL
    assert abs(macro["f1"] - skm.f1_score(y, pred, average="macro")) < TOL
    assert abs(macro["auc_roc"] - skm.roc_auc_score(y, prob, multi_class="ovr")) < TOL
    _assert_close(overall, {"accuracy": skm.accuracy_score(y, pred),
                            "balanced_accuracy": skm.balanced_accuracy_score(y, pred),
                            "mcc": skm.matthews_corrcoef(y, pred), "kappa": skm.cohen_kappa_score(y, pred)})
    assert report["confusion_matrix"] == skm.confusion_matrix(y, pred).tolist()
    one_hot = classification_report(np.eye(3)[y], prob, class_names=["a", "b", "c"])
    assert one_hot["per_class"] == report["per_class"] and one_hot["overall"] == overall


@pytest.mark.parametrize("seed", [0, 1])
def test_multilabel_parity_with_sklearn(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, (200, 4)).astype(float)
    s = np.clip(0.3 * y + 0.7 * rng.random((200, 4)), 0, 1)
    thresholds = np.array([0.5, 0.4, 0.6, 0.5])
    report = classification_report(y, s, threshold=thresholds, class_names=list("wxyz"))
    assert report["task"] == "multilabel" and report["threshold"] == thresholds.tolist()
    pred = (s >= thresholds).astype(int)
    for c, name in enumerate("wxyz"):
        _assert_close(report["per_class"][name], _sklearn_binary(y[:, c].astype(int), s[:, c], pred[:, c]))
    assert abs(report["macro"]["auc_roc"] - skm.roc_auc_score(y, s, average="macro")) < TOL
    assert abs(report["macro"]["auc_pr"] - skm.average_precision_score(y, s, average="macro")) < TOL
    assert abs(report["macro"]["f1"] - skm.f1_score(y, pred, average="macro")) < TOL
    assert report["confusion_matrix"] == skm.multilabel_confusion_matrix(y, pred).tolist()


def test_multilabel_nan_truth_is_ignored_per_class():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, (120, 3)).astype(float)
    s = rng.random((120, 3))
    y[:10, 0] = np.nan
    report = classification_report(y, s)
    assert abs(report["per_class"]["0"]["auc_roc"] - skm.roc_auc_score(y[10:, 0], s[10:, 0])) < TOL
    assert report["per_class"]["0"]["tp"] + report["per_class"]["0"]["fn"] == int(np.nansum(y[:, 0]))
    assert abs(report["per_class"]["1"]["auc_roc"] - skm.roc_auc_score(y[:, 1], s[:, 1])) < TOL
    y[:, 2] = np.nan  # a class with no known label at all: NaN metrics, zero counts, a warning
    with pytest.warns(UndefinedMetricWarning, match="'2'"):
        empty = classification_report(y, s)
    assert all(np.isnan(empty["per_class"]["2"][m]) for m in METRIC_NAMES)
    assert empty["confusion_matrix"][2] == [[0, 0], [0, 0]]
    assert abs(empty["macro"]["auc_roc"] - np.mean([empty["per_class"][c]["auc_roc"] for c in "01"])) < TOL


def test_single_label_class_gives_nan_with_warning():
    with pytest.warns(UndefinedMetricWarning, match="single label value"):
        report = classification_report(np.ones(6), np.linspace(0.1, 0.9, 6))
    b = report["binary"]
    assert np.isnan(b["auc_roc"]) and np.isnan(b["auc_pr"]) and np.isnan(b["specificity"])
    assert b["sensitivity"] == 0.5 and b["precision"] == 1.0 and np.isnan(b["balanced_accuracy"])
    # Multi-label: the all-positive class is NaN, the others are untouched and the macro skips it.
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, (50, 3)).astype(float)
    y[:, 1] = 1
    s = rng.random((50, 3))
    with pytest.warns(UndefinedMetricWarning, match="'1'"):
        multi = classification_report(y, s)
    assert np.isnan(multi["per_class"]["1"]["auc_roc"]) and np.isfinite(multi["per_class"]["0"]["auc_roc"])
    assert abs(multi["macro"]["auc_roc"] - np.mean([skm.roc_auc_score(y[:, c], s[:, c]) for c in (0, 2)])) < TOL
    # Multi-class: a class absent from y_true.
    prob = np.full((4, 3), 0.2)
    prob[np.arange(4), [0, 1, 0, 1]] = 0.6
    with pytest.warns(UndefinedMetricWarning, match="'2'"):
        absent = classification_report(np.array([0, 1, 0, 1]), prob)
    assert np.isnan(absent["per_class"]["2"]["auc_roc"]) and absent["overall"]["accuracy"] == 1.0


def test_no_predicted_positive_warns_and_gives_nan_precision():
    y = np.array([0, 1, 0, 1])
    with pytest.warns(UndefinedMetricWarning, match="no predicted positive"):
        report = classification_report(y, np.array([0.1, 0.2, 0.3, 0.4]))
    b = report["binary"]
    assert np.isnan(b["precision"]) and b["f1"] == 0.0 and b["sensitivity"] == 0.0
    assert b["mcc"] == skm.matthews_corrcoef(y, np.zeros(4, int)) == 0.0


def test_ties_and_perfect_scores():
    y = np.array([0, 0, 1, 1])
    with pytest.warns(UndefinedMetricWarning, match="'negative': no predicted positive"):
        tied = classification_report(y, np.full(4, 0.5))
    assert tied["binary"]["auc_roc"] == 0.5 and tied["binary"]["auc_pr"] == 0.5
    assert tied["binary"]["sensitivity"] == 1.0  # score ≥ threshold is positive
    partly = np.array([0.3, 0.6, 0.6, 0.9])
    assert classification_report(y, partly)["binary"]["auc_roc"] == skm.roc_auc_score(y, partly) == 0.875
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        perfect = classification_report(y, np.array([0.0, 0.1, 0.9, 1.0]))["binary"]
    for name in ("accuracy", "balanced_accuracy", "sensitivity", "specificity", "precision", "f1", "mcc",
                 "kappa", "youden", "auc_roc", "auc_pr"):
        assert perfect[name] == 1.0, name
    assert perfect["fpr"] == perfect["fnr"] == 0.0


def test_task_inference():
    rng = np.random.default_rng(0)
    softmax = rng.dirichlet(np.ones(3), 30)
    sigmoid = rng.random((30, 3))
    labels = rng.integers(0, 3, 30)
    assert classification_report(labels, softmax)["task"] == "multiclass"
    assert classification_report(np.eye(3)[labels], softmax)["task"] == "multiclass"
    assert classification_report(labels[:, None], softmax)["per_class"] == \
        classification_report(labels, softmax)["per_class"]
    multi_hot = (rng.random((30, 3)) < 0.5).astype(float)
    multi_hot[0] = [1, 1, 0]
    assert classification_report(multi_hot, sigmoid)["task"] == "multilabel"
    # One label per row but independent sigmoid scores: multi-label; `task` overrides inference.
    assert classification_report(np.eye(3)[labels], sigmoid)["task"] == "multilabel"
    assert classification_report(np.eye(3)[labels], sigmoid, task="multiclass")["task"] == "multiclass"


@pytest.mark.parametrize("args, kwargs, match", [
    ((np.zeros(3), np.zeros(4)), {}, "samples"),
    ((np.zeros(3), np.array([0.1, np.nan, 0.2])), {}, "NaN"),
    ((np.array([0, 2, 1]), np.array([0.1, 0.3, 0.2])), {}, "0/1"),
    ((np.array([0, 1, 0]), np.array([0.1, 0.3, 0.2])), {"threshold": [0.5, 0.5]}, "one threshold"),
    ((np.array([0, 1, 0]), np.array([0.1, 0.3, 0.2])), {"class_names": ["a"]}, "class_names"),
    ((np.eye(3), np.eye(3) * 0.8), {"threshold": [0.5, 0.5]}, "one per class"),
    ((np.eye(3), np.eye(3) * 0.8), {"class_names": ["a", "a", "b"]}, "unique"),
    ((np.array([0, 3, 1]), np.eye(3)), {}, r"\[0, 3\)"),
    ((np.eye(3)[:, :2], np.eye(3)), {"task": "multiclass"}, "shape"),
    ((np.eye(3), np.eye(3)), {"task": "regression"}, "task"),
    ((np.zeros((2, 2, 2)), np.zeros((2, 2))), {}, "1-D or 2-D"),
])
def test_bad_inputs(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        classification_report(*args, **kwargs)


def test_find_threshold_rules():
    y, s = _binary_data(seed=3)
    t = find_threshold(y, s, "youden")
    fpr, tpr, th = skm.roc_curve(y, s)
    assert t == th[np.argmax(tpr - fpr)]
    t_f1 = find_threshold(y, s, "f1")
    best = max(skm.f1_score(y, s >= c) for c in np.unique(s))
    assert abs(skm.f1_score(y, s >= t_f1) - best) < TOL
    # Per class for (N, C) input; NaN truth ignored.
    y2 = np.c_[y, 1 - y].astype(float)
    y2[:5, 1] = np.nan
    both = find_threshold(y2, np.c_[s, 1 - s])
    assert both.shape == (2,) and both[0] == t
    # Worse-than-chance scores still give a finite threshold (the infinite ROC start is excluded).
    assert np.isfinite(find_threshold(y, -s))
    with pytest.warns(UndefinedMetricWarning):
        assert find_threshold(np.ones(4), np.ones(4)) == 0.5
    with pytest.raises(ValueError, match="rule"):
        find_threshold(y, s, "accuracy")
