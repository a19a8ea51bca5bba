"""Classification metrics for binary, multi-class and multi-label CXR classifiers (numpy, scikit-learn).

`classification_report` returns one plain dict (JSON-serializable floats, ints and lists):

    {
      "task": "binary" | "multiclass" | "multilabel",
      "class_names": [name, ...],
      "num_samples": N,
      "threshold": float | [float per class] | None (multi-class: argmax, no threshold),
      "per_class": {name: {accuracy, balanced_accuracy, sensitivity, specificity, precision, f1, mcc,
                           kappa, youden, fpr, fnr, auc_roc, auc_pr, tp, fp, tn, fn, support}},
      "macro": {metric: unweighted mean over classes, NaN classes skipped},
      "confusion_matrix": rows = truth, columns = prediction (binary 2 × 2 [[tn, fp], [fn, tp]];
                          multi-class C × C; multi-label one 2 × 2 per class),
      "binary": {...}    # binary only: the positive class's metrics, the numbers paper 003 reports
      "overall": {...}   # multi-class only: accuracy, balanced_accuracy, mcc, kappa of the C-class problem
    }

Every per-class entry is the one-vs-rest binary problem of that class. scikit-learn computes MCC, kappa,
AUC-ROC (`roc_auc_score`), AUC-PR (`average_precision_score`) and the confusion matrices; the ratios are
the textbook count ratios (tested equal to scikit-learn's `recall_score`, `precision_score`, `f1_score`,
`balanced_accuracy_score` to 1e-12). Where a ratio has a zero denominator the metric is NaN (scikit-learn
would return 0 with a warning) and an `UndefinedMetricWarning` names it; MCC keeps scikit-learn's value
(0 when a row or column of the confusion matrix is empty).
"""

import warnings

import numpy as np
from sklearn import metrics as skm

METRIC_NAMES = ("accuracy", "balanced_accuracy", "sensitivity", "specificity", "precision", "f1", "mcc", "kappa",
                "youden", "fpr", "fnr", "auc_roc", "auc_pr")
COUNT_NAMES = ("tp", "fp", "tn", "fn", "support")
TASKS = ("binary", "multiclass", "multilabel")


class UndefinedMetricWarning(UserWarning):
    """A metric is undefined for the given labels (e.g. AUC with a single label value) and was set to NaN."""


def _ratio(numerator, denominator):
    return float(numerator) / float(denominator) if denominator else float("nan")


def _binary_metrics(truth, score, predicted, name):
    """All metrics of one binary (one-vs-rest) problem; truth and predicted are int arrays in {0, 1}."""
    tp = int(np.sum((truth == 1) & (predicted == 1)))
    tn = int(np.sum((truth == 0) & (predicted == 0)))
    fp = int(np.sum((truth == 0) & (predicted == 1)))
    fn = int(np.sum((truth == 1) & (predicted == 0)))
    sensitivity, specificity = _ratio(tp, tp + fn), _ratio(tn, tn + fp)
    both_labels = tp + fn > 0 and tn + fp > 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's own single-label warnings; ours follows below
        mcc = float(skm.matthews_corrcoef(truth, predicted)) if len(truth) else float("nan")
    result = {
        "accuracy": _ratio(tp + tn, len(truth)),
        "balanced_accuracy": (sensitivity + specificity) / 2,  # paper 003, Eq. 8
        "sensitivity": sensitivity,
        "specificity": specificity,
        "precision": _ratio(tp, tp + fp),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "mcc": mcc,
        # Kappa is 0/0 when truth and prediction hold one and the same single value.
        "kappa": float(skm.cohen_kappa_score(truth, predicted)) if len(np.unique(np.r_[truth, predicted])) > 1
        else float("nan"),
        "youden": sensitivity + specificity - 1,
        "fpr": _ratio(fp, fp + tn),
        "fnr": _ratio(fn, fn + tp),
        "auc_roc": float(skm.roc_auc_score(truth, score)) if both_labels else float("nan"),
        "auc_pr": float(skm.average_precision_score(truth, score)) if both_labels else float("nan"),
        "tp": tp, "fp": fp, "tn": tn, "fn": fn, "support": tp + fn,
    }
    undefined = [m for m in METRIC_NAMES if np.isnan(result[m])]
    if undefined:
        if not len(truth):
            reason = "no sample with a known label"
        elif not both_labels:
            reason = f"a single label value in y_true ({int(truth[0])})"
        else:
            reason = "no predicted positive"
        warnings.warn(f"Class {name!r}: {reason}; {', '.join(undefined)} undefined, set to NaN.",
                      UndefinedMetricWarning, stacklevel=3)
    return result


def _macro(per_class):
    macro = {}
    for metric in METRIC_NAMES:
        values = np.array([row[metric] for row in per_class.values()], dtype=np.float64)
        macro[metric] = float(np.mean(values[~np.isnan(values)])) if (~np.isnan(values)).any() else float("nan")
    return macro


def _infer_task(y_true, y_score):
    if y_score.ndim == 1 or y_score.shape[1] == 1:
        return "binary"
    one_hot_rows = y_true.ndim == 1 or y_true.shape[1] == 1 or np.allclose(y_true.sum(1), 1)
    if y_score.shape[1] == 2 and one_hot_rows:
        return "binary"
    if y_true.ndim == 2 and y_true.shape[1] > 1 and not one_hot_rows:
        return "multilabel"  # some row has zero, several, or unknown (NaN) labels
    if y_true.ndim == 2 and y_true.shape[1] > 1 and not np.allclose(y_score.sum(1), 1, atol=1e-3):
        return "multilabel"  # one label per row but independent (sigmoid) scores
    return "multiclass"


def _check_names(class_names, default):
    names = [str(n) for n in class_names] if class_names is not None else default
    if len(names) != len(default):
        raise ValueError(f"{len(names)} class_names given for {len(default)} classes: {names}.")
    if len(set(names)) != len(names):
        raise ValueError(f"class_names must be unique; received {names}.")
    return names


def classification_report(y_true, y_score, *, threshold=0.5, class_names=None, task=None):
    """Every metric the CXR papers report, per class and macro-averaged, from labels and scores.

    Binary (scores (N,) or (N, 1) of the positive class, or (N, 2) softmax): the positive class is class 1
    ("abnormal" in paper 003), predicted when its score ≥ `threshold` (paper 003 §2.5.2: 0.5); its metrics
    are also given at the top level under "binary".
    Multi-class (softmax (N, C); y_true integer labels or one-hot): predicted class = argmax (`threshold`
    unused); per-class metrics one-vs-rest; "overall" holds the C-class accuracy, balanced accuracy, MCC
    and kappa (scikit-learn's multi-class definitions).
    Multi-label (sigmoid (N, C), multi-hot truth; NaN truth = unknown, ignored for that class only): each
    class thresholded at `threshold` (a float or one per class, e.g. from `find_threshold`).

    Per class and macro (unweighted mean over classes, NaN ignored): accuracy, balanced_accuracy
    ((sensitivity + specificity) / 2, paper 003 Eq. 8), sensitivity, specificity, precision, f1, mcc,
    kappa, youden (sensitivity + specificity − 1), fpr, fnr, auc_roc, auc_pr (average precision), plus
    counts tp/fp/tn/fn/support. A class with a single label value gives NaN AUCs (and NaN for the other
    metrics that need both labels) with an `UndefinedMetricWarning`, never an exception. The dict layout
    is described in this module's docstring.

    Args:
        y_true: (N,) integer labels, (N, C) one-hot, or (N, C) multi-hot (NaN = unknown label).
        y_score: (N,), (N, 1) or (N, C) scores / probabilities (finite).
        threshold: decision threshold (binary: float; multi-label: float or (C,) per class).
        class_names: optional names, one per class (binary: negative, positive).
        task: "binary" | "multiclass" | "multilabel"; inferred when None (multi-hot rows, or one-hot rows
            with scores that do not sum to 1, mean multi-label). Pass it when the data are ambiguous.

    Returns:
        dict: task, class_names, num_samples, threshold, per_class, macro, confusion_matrix, and
        "binary" (binary) or "overall" (multi-class).

    Raises:
        ValueError: on mismatched shapes, non-finite scores, labels outside the task's range, a threshold
            of the wrong length, or an unknown task.

    Example:
    >>> report = classification_report([0, 1, 1, 0], [0.2, 0.8, 0.4, 0.1])
    >>> report["binary"]["sensitivity"], report["binary"]["specificity"], report["binary"]["auc_roc"]
    (0.5, 1.0, 1.0)
    >>> report["confusion_matrix"]
    [[2, 0], [1, 1]]
    """
    y_true = np.asarray(y_true, dtype=np.float64)
    y_score = np.asarray(y_score, dtype=np.float64)
    if y_score.ndim not in (1, 2) or y_true.ndim not in (1, 2):
        raise ValueError(f"y_true and y_score must be 1-D or 2-D; received shapes {y_true.shape}, {y_score.shape}.")
    if len(y_true) != len(y_score):
        raise ValueError(f"y_true has {len(y_true)} samples but y_score has {len(y_score)}.")
    if len(y_true) == 0:
        raise ValueError("classification_report needs at least one sample.")
    if not np.all(np.isfinite(y_score)):
        raise ValueError("y_score contains NaN or inf; check the model's outputs.")
    task = task or _infer_task(y_true, y_score)
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}; received {task!r}.")
    if task == "binary":
        return _binary_report(y_true, y_score, threshold, class_names)
    if y_score.ndim != 2:
        raise ValueError(f"{task} y_score must be 2-D (N, C); received shape {y_score.shape}.")
    num_classes = y_score.shape[1]
    names = _check_names(class_names, [str(c) for c in range(num_classes)])
    if task == "multiclass":
        return _multiclass_report(y_true, y_score, names)
    return _multilabel_report(y_true, y_score, threshold, names)


def _binary_report(y_true, y_score, threshold, class_names):
    if y_score.ndim == 2 and y_score.shape[1] not in (1, 2):
        raise ValueError(f"binary y_score must be (N,), (N, 1) or (N, 2); received shape {y_score.shape}.")
    if y_true.ndim == 2 and y_true.shape[1] not in (1, 2):
        raise ValueError(f"binary y_true must be (N,), (N, 1) or one-hot (N, 2); received shape {y_true.shape}.")
    score = y_score if y_score.ndim == 1 else y_score[:, -1]
    truth = y_true if y_true.ndim == 1 else y_true[:, -1]
    if not np.isin(truth, (0, 1)).all():
        raise ValueError(f"binary y_true must hold 0/1; received values {np.unique(truth)[:10]}.")
    threshold = np.asarray(threshold, dtype=np.float64)
    if threshold.size != 1:
        raise ValueError(f"binary tasks take one threshold; received {threshold.tolist()}.")
    threshold = float(threshold)
    names = _check_names(class_names, ["negative", "positive"])
    truth = truth.astype(int)
    predicted = (score >= threshold).astype(int)
    negative_score = 1 - score if y_score.ndim == 1 or y_score.shape[1] == 1 else y_score[:, 0]
    negative = _binary_metrics(1 - truth, negative_score, 1 - predicted, names[0])
    positive = _binary_metrics(truth, score, predicted, names[1])
    per_class = {names[0]: negative, names[1]: positive}
    return {"task": "binary", "class_names": names, "num_samples": len(truth), "threshold": threshold,
            "per_class": per_class, "macro": _macro(per_class),
            "confusion_matrix": skm.confusion_matrix(truth, predicted, labels=[0, 1]).tolist(),
            "binary": dict(positive)}


def _multiclass_report(y_true, y_score, names):
    num_classes = len(names)
    if y_true.ndim == 2 and y_true.shape[1] == 1:
        y_true = y_true[:, 0]
    if y_true.ndim == 2:
        if y_true.shape != y_score.shape:
            raise ValueError(f"one-hot y_true shape {y_true.shape} must equal y_score shape {y_score.shape}.")
        if not (np.isin(y_true, (0, 1)).all() and np.all(y_true.sum(1) == 1)):
            raise ValueError("multi-class 2-D y_true must be one-hot (one 1 per row); pass task='multilabel' "
                             "for multi-hot labels.")
        labels = np.argmax(y_true, axis=1)
    else:
        labels = y_true
    if not np.isin(labels, np.arange(num_classes)).all():
        raise ValueError(f"multi-class y_true must hold ids in [0, {num_classes}); received {np.unique(labels)[:10]}.")
    labels = labels.astype(int)
    predicted = np.argmax(y_score, axis=1)
    per_class = {name: _binary_metrics((labels == c).astype(int), y_score[:, c], (predicted == c).astype(int), name)
                 for c, name in enumerate(names)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a class absent from y_true: already reported per class above
        overall = {"accuracy": float(skm.accuracy_score(labels, predicted)),
                   "balanced_accuracy": float(skm.balanced_accuracy_score(labels, predicted)),
                   "mcc": float(skm.matthews_corrcoef(labels, predicted)),
                   "kappa": float(skm.cohen_kappa_score(labels, predicted))}
    return {"task": "multiclass", "class_names": names, "num_samples": len(labels), "threshold": None,
            "per_class": per_class, "macro": _macro(per_class),
            "confusion_matrix": skm.confusion_matrix(labels, predicted, labels=list(range(num_classes))).tolist(),
            "overall": overall}


def _multilabel_report(y_true, y_score, threshold, names):
    if y_true.shape != y_score.shape:
        raise ValueError(f"multi-label y_true shape {y_true.shape} must equal y_score shape {y_score.shape}.")
    num_classes = len(names)
    thresholds = np.asarray(threshold, dtype=np.float64)
    if thresholds.size == 1:
        thresholds = np.full(num_classes, float(thresholds))
    elif thresholds.shape != (num_classes,):
        raise ValueError(f"threshold must be a float or one per class ({num_classes}); received shape "
                         f"{thresholds.shape}.")
    per_class, matrices = {}, []
    for c, name in enumerate(names):
        keep = ~np.isnan(y_true[:, c])
        truth = y_true[keep, c]
        if not np.isin(truth, (0, 1)).all():
            raise ValueError(f"multi-label y_true must hold 0/1 (or NaN); class {name!r} has {np.unique(truth)[:10]}.")
        truth = truth.astype(int)
        predicted = (y_score[keep, c] >= thresholds[c]).astype(int)
        per_class[name] = _binary_metrics(truth, y_score[keep, c], predicted, name)
        matrices.append(skm.confusion_matrix(truth, predicted, labels=[0, 1]).tolist() if len(truth)
                        else [[0, 0], [0, 0]])
    return {"task": "multilabel", "class_names": names, "num_samples": len(y_true),
            "threshold": thresholds.tolist(), "per_class": per_class, "macro": _macro(per_class),
            "confusion_matrix": matrices}


def find_threshold(y_true, y_score, rule="youden"):
    """Per-class decision threshold chosen on validation data.

    Rules: "youden" maximizes sensitivity + specificity − 1 over the ROC curve's thresholds
    (`sklearn.metrics.roc_curve`, all points kept, the infinite first threshold excluded); "f1" maximizes F1
    over the precision-recall curve's thresholds (`precision_recall_curve`). Ties go to the first maximum
    (Youden: the highest threshold; F1: the lowest). Multi-label papers (e.g. paper 000, Table 4) report
    sensitivity / precision / F1 at an unstated threshold; fitting it on the validation split with one of
    these rules, then passing it to `classification_report(..., threshold=...)` on the test split, is the
    documented choice here. A class whose validation labels hold a single value gets 0.5 with an
    `UndefinedMetricWarning`.

    Args:
        y_true: (N,) or (N, C) binary truth (NaN = unknown, ignored).
        y_score: same shape, scores.
        rule: "youden" or "f1".

    Returns:
        float (1-D input) or (C,) array of thresholds.

    Example:
    >>> find_threshold([0, 0, 1, 1], [0.1, 0.3, 0.35, 0.8])
    0.35
    """
    y_true, y_score = np.asarray(y_true, dtype=np.float64), np.asarray(y_score, dtype=np.float64)
    if y_true.shape != y_score.shape or y_true.ndim not in (1, 2):
        raise ValueError(f"y_true shape {y_true.shape} must equal y_score shape {y_score.shape} (1-D or 2-D).")
    if rule not in ("youden", "f1"):
        raise ValueError(f"rule must be 'youden' or 'f1'; received {rule!r}.")
    if y_true.ndim == 2:
        return np.array([find_threshold(y_true[:, c], y_score[:, c], rule) for c in range(y_true.shape[1])])
    keep = ~np.isnan(y_true)
    truth, score = y_true[keep], y_score[keep]
    if not np.isin(truth, (0, 1)).all():
        raise ValueError(f"y_true must hold 0/1 (or NaN); received {np.unique(truth)[:10]}.")
    if len(np.unique(truth)) < 2:
        warnings.warn("find_threshold: a single label value; returning 0.5.", UndefinedMetricWarning, stacklevel=2)
        return 0.5
    if rule == "youden":
        fpr, tpr, thresholds = skm.roc_curve(truth, score, drop_intermediate=False)
        finite = np.isfinite(thresholds)
        return float(thresholds[finite][np.argmax((tpr - fpr)[finite])])
    precision, recall, thresholds = skm.precision_recall_curve(truth, score)
    f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-300)
    return float(thresholds[np.argmax(f1)])
