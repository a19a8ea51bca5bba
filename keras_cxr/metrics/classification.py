"""Classification metrics for binary, multi-class and multi-label CXR classifiers (numpy, scikit-learn)."""

import warnings

import numpy as np
from sklearn import metrics as skm

METRIC_NAMES = ("accuracy", "balanced_accuracy", "sensitivity", "specificity", "precision", "f1", "mcc", "kappa",
                "youden", "fpr", "fnr", "auc_roc", "auc_pr")


class UndefinedMetricWarning(UserWarning):
    """A metric is undefined for the given labels (e.g. AUC with a single label value) and was set to NaN."""


def _safe_ratio(numerator, denominator):
    return float(numerator) / float(denominator) if denominator else float("nan")


def _binary_metrics(truth, score, predicted, name):
    """All metrics of one binary (one-vs-rest) problem; truth/predicted in {0, 1}."""
    tp = int(np.sum((truth == 1) & (predicted == 1)))
    tn = int(np.sum((truth == 0) & (predicted == 0)))
    fp = int(np.sum((truth == 0) & (predicted == 1)))
    fn = int(np.sum((truth == 1) & (predicted == 0)))
    sensitivity, specificity = _safe_ratio(tp, tp + fn), _safe_ratio(tn, tn + fp)
    result = {
        "accuracy": _safe_ratio(tp + tn, len(truth)),
        "balanced_accuracy": (sensitivity + specificity) / 2,  # paper 003, Eq. 8
        "sensitivity": sensitivity,
        "specificity": specificity,
        "precision": _safe_ratio(tp, tp + fp),
        "f1": _safe_ratio(2 * tp, 2 * tp + fp + fn),
        "mcc": float(skm.matthews_corrcoef(truth, predicted)),
        "kappa": float(skm.cohen_kappa_score(truth, predicted)) if len(np.unique(np.r_[truth, predicted])) > 1
        else float("nan"),
        "youden": sensitivity + specificity - 1,
        "fpr": 1 - specificity,
        "fnr": 1 - sensitivity,
        "tp": tp, "fp": fp, "tn": tn, "fn": fn, "support": int(tp + fn),
    }
    if len(np.unique(truth)) < 2:
        warnings.warn(f"Class {name!r} has a single label value in y_true ({int(truth[0])}); AUC-ROC, AUC-PR and "
                      "the metrics needing both classes are NaN.", UndefinedMetricWarning, stacklevel=3)
        result["auc_roc"] = result["auc_pr"] = float("nan")
    else:
        result["auc_roc"] = float(skm.roc_auc_score(truth, score))
        result["auc_pr"] = float(skm.average_precision_score(truth, score))
    return result


def _macro(per_class):
    return {m: float(np.nanmean([row[m] for row in per_class.values()])) if any(
        np.isfinite(row[m]) for row in per_class.values()) else float("nan") for m in METRIC_NAMES}


def _infer_task(y_true, y_score):
    if y_score.ndim == 1:
        return "binary"
    if y_score.shape[1] == 2 and (y_true.ndim == 1 or y_true.shape[1] == 1 or np.allclose(y_true.sum(1), 1)):
        return "binary"
    if y_true.ndim == 2 and y_true.shape == y_score.shape and not np.allclose(np.nansum(y_true, 1), 1):
        return "multilabel"
    if y_true.ndim == 2 and y_true.shape == y_score.shape and np.allclose(y_score.sum(1), 1, atol=1e-3):
        return "multiclass"
    return "multilabel" if y_true.ndim == 2 else "multiclass"


def classification_report(y_true, y_score, *, threshold=0.5, class_names=None, task=None):
    """Every metric the CXR papers report, per class and macro-averaged, from labels and scores.

    Binary (scores (N,) of the positive class, or (N, 2) softmax): the positive class is class 1
    ("abnormal" in paper 003), predicted when its score ≥ `threshold` (§2.5.2: 0.5); metrics are those of
    the positive class and are also given at the top level under "binary".
    Multi-class (softmax (N, C)): predicted class = argmax; per-class metrics one-vs-rest.
    Multi-label (sigmoid (N, C), multi-hot truth; NaN truth = unknown, ignored per class): each class
    thresholded at `threshold` (a float or one per class).

    Per class and macro (unweighted mean over classes, NaN ignored): accuracy, balanced_accuracy
    (paper 003, Eq. 8), sensitivity, specificity, precision, f1, mcc, kappa, youden
    (sensitivity + specificity − 1), fpr, fnr, auc_roc, auc_pr (average precision), plus tp/fp/tn/fn and
    support. A class with a single label value gives NaN AUCs with an `UndefinedMetricWarning`.

    Args:
        y_true: (N,) integer labels, (N, C) one-hot, or (N, C) multi-hot.
        y_score: (N,) or (N, C) scores / probabilities.
        threshold: decision threshold (binary, multi-label).
        class_names: optional names, one per class.
        task: "binary" | "multiclass" | "multilabel"; inferred when None.

    Returns:
        dict with "task", "class_names", "per_class" {name: metrics}, "macro" metrics, "confusion_matrix"
        (list of lists; multi-label: per class 2 × 2), "num_samples", and for binary "binary" (positive class).

    Raises:
        ValueError: on mismatched shapes, non-finite scores, or unknown labels.

    Example:
    >>> report = classification_report([0, 1, 1, 0], [0.2, 0.8, 0.4, 0.1])
    >>> report["binary"]["sensitivity"], report["binary"]["specificity"], report["binary"]["auc_roc"]
    (0.5, 1.0, 1.0)
    """
    y_true = np.asarray(y_true, dtype=np.float64)
    y_score = np.asarray(y_score, dtype=np.float64)
    if y_score.ndim not in (1, 2) or y_true.ndim not in (1, 2):
        raise ValueError(f"y_true and y_score must be 1-D or 2-D; received shapes {y_true.shape}, {y_score.shape}.")
    if len(y_true) != len(y_score):
        raise ValueError(f"y_true has {len(y_true)} samples but y_score has {len(y_score)}.")
    if not np.all(np.isfinite(y_score)):
        raise ValueError("y_score contains NaN or inf; check the model's outputs.")
    task = task or _infer_task(y_true, y_score)
    if task == "binary":
        score = y_score if y_score.ndim == 1 else y_score[:, -1]
        truth = y_true if y_true.ndim == 1 else (y_true[:, -1] if y_true.shape[1] == 2 else y_true[:, 0])
        if not np.isin(truth, (0, 1)).all():
            raise ValueError(f"binary y_true must hold 0/1; received values {np.unique(truth)[:10]}.")
        names = list(class_names) if class_names is not None else ["negative", "positive"]
        if len(names) != 2:
            raise ValueError(f"binary tasks take 2 class_names (negative, positive); received {names}.")
        truth = truth.astype(int)
        predicted = (score >= threshold).astype(int)
        positive = _binary_metrics(truth, score, predicted, names[1])
        negative = _binary_metrics(1 - truth, 1 - score, 1 - predicted, names[0])
        per_class = {names[0]: negative, names[1]: positive}
        return {"task": task, "class_names": names, "per_class": per_class, "macro": _macro(per_class),
                "binary": positive, "num_samples": len(truth),
                "confusion_matrix": skm.confusion_matrix(truth, predicted, labels=[0, 1]).tolist()}
    num_classes = y_score.shape[1]
    names = list(class_names) if class_names is not None else [str(c) for c in range(num_classes)]
    if len(names) != num_classes:
        raise ValueError(f"{len(names)} class_names given for {num_classes} score columns.")
    per_class, matrices = {}, []
    if task == "multiclass":
        labels = np.argmax(y_true, axis=1) if y_true.ndim == 2 else y_true
        if not np.isin(labels, np.arange(num_classes)).all():
            raise ValueError(f"multi-class y_true must hold ids in [0, {num_classes}); received {np.unique(labels)[:10]}.")
        labels = labels.astype(int)
        predicted = np.argmax(y_score, axis=1)
        for c, name in enumerate(names):
            per_class[name] = _binary_metrics((labels == c).astype(int), y_score[:, c],
                                              (predicted == c).astype(int), name)
        matrix = skm.confusion_matrix(labels, predicted, labels=list(range(num_classes))).tolist()
    elif task == "multilabel":
        if y_true.shape != y_score.shape:
            raise ValueError(f"multi-label y_true shape {y_true.shape} must equal y_score shape {y_score.shape}.")
        thresholds = np.broadcast_to(np.asarray(threshold, dtype=np.float64), (num_classes,))
        for c, name in enumerate(names):
            keep = ~np.isnan(y_true[:, c])
            truth = y_true[keep, c]
            if not np.isin(truth, (0, 1)).all():
                raise ValueError(f"multi-label y_true must hold 0/1 (or NaN); class {name!r} has {np.unique(truth)[:10]}.")
            predicted = (y_score[keep, c] >= thresholds[c]).astype(int)
            per_class[name] = _binary_metrics(truth.astype(int), y_score[keep, c], predicted, name)
            matrices.append(skm.confusion_matrix(truth.astype(int), predicted, labels=[0, 1]).tolist())
        matrix = matrices
    else:
        raise ValueError(f"task must be 'binary', 'multiclass' or 'multilabel'; received {task!r}.")
    return {"task": task, "class_names": names, "per_class": per_class, "macro": _macro(per_class),
            "confusion_matrix": matrix, "num_samples": len(y_true)}


def find_threshold(y_true, y_score, rule="youden"):
    """Per-class decision threshold from validation data.

    Rules: "youden" maximizes sensitivity + specificity − 1 on the ROC curve; "f1" maximizes F1 on the
    precision-recall curve. Multi-label papers (e.g. paper 000, Table 4) report sensitivity/precision/F1 at
    an unstated threshold; fitting it on the validation split with one of these rules is the usual choice.

    Args:
        y_true: (N,) or (N, C) binary truth.
        y_score: same shape, scores.
        rule: "youden" or "f1".

    Returns:
        float (1-D input) or (C,) array of thresholds.

    Example:
    >>> find_threshold([0, 0, 1, 1], [0.1, 0.3, 0.35, 0.8])
    0.35
    """
    y_true, y_score = np.asarray(y_true, dtype=np.float64), np.asarray(y_score, dtype=np.float64)
    if y_true.shape != y_score.shape:
        raise ValueError(f"y_true shape {y_true.shape} must equal y_score shape {y_score.shape}.")
    if rule not in ("youden", "f1"):
        raise ValueError(f"rule must be 'youden' or 'f1'; received {rule!r}.")
    if y_true.ndim == 2:
        return np.array([find_threshold(y_true[:, c], y_score[:, c], rule) for c in range(y_true.shape[1])])
    keep = ~np.isnan(y_true)
    truth, score = y_true[keep], y_score[keep]
    if len(np.unique(truth)) < 2:
        warnings.warn("find_threshold: a single label value; returning 0.5.", UndefinedMetricWarning, stacklevel=2)
        return 0.5
    if rule == "youden":
        fpr, tpr, thresholds = skm.roc_curve(truth, score)
        return float(thresholds[np.argmax(tpr - fpr)])
    precision, recall, thresholds = skm.precision_recall_curve(truth, score)
    f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
    return float(thresholds[np.argmax(f1)])
