"""Words for degenerate models: a report says "this classifier is constant" instead of printing its metrics.

A short or badly tuned run can end with a classifier that gives every image the same class, or a
restoration network whose output is further from the clean image than its degraded input. The metrics of
such a model are still numbers (balanced accuracy 0.5, a tiny p between two constant predictors) and read
like results; these functions turn them into sentences for the top of a run report. Each returns a list
of sentences, empty when nothing is wrong.
"""

import numpy as np


def _positive_scores(y_score):
    """(N,) scores of the positive class from (N,), (N, 1) or (N, 2) binary scores."""
    y_score = np.asarray(y_score, dtype=np.float64)
    if y_score.ndim == 2 and y_score.shape[1] == 2:
        return y_score[:, 1]
    if y_score.ndim == 2 and y_score.shape[1] == 1:
        return y_score[:, 0]
    if y_score.ndim == 1:
        return y_score
    raise ValueError(f"binary scores must have shape (N,), (N, 1) or (N, 2); received {y_score.shape}.")


def _auc(y_true, score):
    """ROC AUC (ties counted half), or None when one label value is missing."""
    positive, negative = score[y_true == 1], score[y_true == 0]
    if len(positive) == 0 or len(negative) == 0:
        return None
    greater = (positive[:, None] > negative[None, :]).mean()
    ties = (positive[:, None] == negative[None, :]).mean()
    return float(greater + 0.5 * ties)


NEARLY_CONSTANT_FRACTION = 0.02  # a class predicted for fewer than 2 % of the images is "almost never predicted"


def _chance(auc):
    return "below chance (0.5)" if auc < 0.45 else "at or near chance (0.5)"


def _count_warnings(label, predicted_positive, total, threshold, negative, positive):
    """A class never (or almost never) predicted, from the number of positive predictions."""
    if not total:
        return []
    rare = min(predicted_positive, total - predicted_positive)
    always, never = (positive, negative) if predicted_positive > total / 2 else (negative, positive)
    if rare == 0:
        return [f"{label} predicts '{always}' for every image at threshold {threshold:g} ('{never}' is never "
                "predicted): its sensitivity, specificity and balanced accuracy are those of a constant predictor."]
    if rare < NEARLY_CONSTANT_FRACTION * total:
        return [f"{label} predicts '{never}' for only {rare} of {total} images at threshold {threshold:g}: it is "
                "almost a constant predictor."]
    return []


def _score_warnings(y_true, score, label, threshold, class_names, min_auc, score_tolerance):
    found = []
    spread = float(np.max(score) - np.min(score))
    if spread <= score_tolerance:
        found.append(f"{label} gives every image the same score ({float(np.mean(score)):.4g}): it is a constant "
                     "predictor, and its metrics describe no learned signal.")
    else:
        predicted = score >= threshold
        negative, positive = class_names
        found += _count_warnings(label, int(predicted.sum()), len(predicted), threshold, negative, positive)
    auc = _auc(y_true, score)
    if auc is not None and auc <= min_auc and spread > score_tolerance:
        found.append(f"{label} has AUC {auc:.3f}, {_chance(auc)}: it has not learned to rank the positive images "
                     "above the negative ones.")
    return found


def classifier_warnings(y_true, y_score, name, *, threshold=0.5, class_names=None, task="binary", min_auc=0.55,
                        score_tolerance=1e-4):
    """Sentences that say why a classifier's test metrics are not results: constant scores, a class never
    predicted at the decision threshold, an AUC at or near chance.

    Args:
        y_true: binary: (N,) 0/1 labels; multi-label: (N, C) multi-hot (NaN = unknown, ignored).
        y_score: binary: (N,), (N, 1) or (N, 2) softmax scores; multi-label: (N, C) sigmoid scores.
        name: the model's name, used in the sentences.
        threshold: decision threshold (multi-label: a float or one per class).
        class_names: binary: (negative, positive) names, default ("negative", "positive"); multi-label: one
            name per class, default "class 0", "class 1", ...
        task: "binary" or "multilabel" (each class is checked on its own).
        min_auc: an AUC at or below this is reported as chance level.
        score_tolerance: scores whose range (max − min) is at most this count as constant.

    Returns:
        list of str, empty when the classifier looks like it learned something.

    Example:
    >>> import numpy as np
    >>> y = np.array([0, 1, 0, 1])
    >>> classifier_warnings(y, np.full((4, 2), 0.5), "B")[0][:37]
    'B gives every image the same score (0'
    >>> classifier_warnings(y, [0.1, 0.9, 0.2, 0.8], "B")
    []
    """
    y_true = np.asarray(y_true, dtype=np.float64)
    if task == "binary":
        score = _positive_scores(y_score)
        if len(score) != len(y_true.reshape(-1)):
            raise ValueError(f"y_true has {len(y_true.reshape(-1))} labels but y_score has {len(score)} rows.")
        names = tuple(class_names) if class_names is not None else ("negative", "positive")
        return _score_warnings(y_true.reshape(-1), score, name, float(threshold), names, min_auc, score_tolerance)
    if task != "multilabel":
        raise ValueError(f"task must be 'binary' or 'multilabel'; received {task!r}.")
    y_score = np.asarray(y_score, dtype=np.float64)
    if y_score.shape != y_true.shape or y_score.ndim != 2:
        raise ValueError(f"multi-label y_true and y_score must both be (N, C); received {y_true.shape}, "
                         f"{y_score.shape}.")
    num_classes = y_score.shape[1]
    names = list(class_names) if class_names is not None else [f"class {c}" for c in range(num_classes)]
    thresholds = np.broadcast_to(np.asarray(threshold, dtype=np.float64), (num_classes,))
    if np.ptp(y_score) <= score_tolerance:
        return [f"{name} gives every image and class the same score ({float(y_score.mean()):.4g}): it is a "
                "constant predictor, and its metrics describe no learned signal."]
    found = []
    for c in range(num_classes):
        known = ~np.isnan(y_true[:, c])
        found += _score_warnings(y_true[known, c], y_score[known, c], f"{name} ({names[c]})", float(thresholds[c]),
                                 (f"not {names[c]}", names[c]), min_auc, score_tolerance)
    return found


def report_warnings(report, name, *, min_auc=0.55):
    """`classifier_warnings` from a saved `keras_cxr.metrics.classification_report` (binary or multi-label),
    for recipes that keep the report rather than the scores: a class never predicted (from the counts) and
    an AUC at or near chance. A constant predictor shows as a class never predicted.

    Args:
        report: the dict `classification_report` returns.
        name: the model's name, used in the sentences.
        min_auc: an AUC at or below this is reported as chance level.

    Returns:
        list of str, empty when the classifier looks like it learned something.

    Example:
    >>> from keras_cxr.metrics import classification_report
    >>> report = classification_report([0, 1, 1, 0], [0.2, 0.4, 0.3, 0.1], class_names=["normal", "abnormal"])
    >>> report_warnings(report, "B")[0][:40]
    "B predicts 'normal' for every image at t"
    """
    found = []
    if report.get("task") == "multiclass":
        return _multiclass_warnings(report, name, min_auc)
    if report.get("task") == "binary" or "binary" in report:
        negative, positive = report.get("class_names") or ("negative", "positive")
        classes = [(name, report["binary"], negative, positive, report.get("threshold", 0.5))]
    else:
        thresholds = np.broadcast_to(np.asarray(report.get("threshold", 0.5), dtype=np.float64),
                                     (len(report["per_class"]),))
        classes = [(f"{name} ({c})", row, f"not {c}", c, float(t))
                   for (c, row), t in zip(report["per_class"].items(), thresholds)]
    for label, row, negative, positive, threshold in classes:
        predicted_positive, total = row["tp"] + row["fp"], row["tp"] + row["fp"] + row["tn"] + row["fn"]
        found += _count_warnings(label, int(predicted_positive), int(total), float(threshold), negative, positive)
        auc = row.get("auc_roc")
        if auc is not None and np.isfinite(auc) and auc <= min_auc:
            found.append(f"{label} has AUC {float(auc):.3f}, {_chance(auc)}: it has not learned to rank the positive "
                         "images above the negative ones.")
    return found


def _multiclass_warnings(report, name, min_auc):
    """A multi-class (argmax) report: classes never predicted, a single class for every image, chance macro AUC."""
    rows = report["per_class"]
    never = [c for c, row in rows.items() if row["tp"] + row["fp"] == 0]
    found = []
    if len(never) == len(rows) - 1:
        always = next(c for c in rows if c not in never)
        found.append(f"{name} predicts '{always}' for every image (argmax): its accuracy and per-class rates are those "
                     "of a constant predictor.")
    elif never:
        found.append(f"{name} never predicts {', '.join(repr(c) for c in never)} (argmax): its per-class rates are "
                     "those of a classifier that ignores those classes.")
    aucs = [row["auc_roc"] for row in rows.values() if row.get("auc_roc") is not None and np.isfinite(row["auc_roc"])]
    if aucs and np.mean(aucs) <= min_auc:
        found.append(f"{name} has macro AUC {np.mean(aucs):.3f}, {_chance(np.mean(aucs))}: it has not learned to "
                     "tell the classes apart.")
    return found


def segmentation_warnings(name, y_true, y_pred, threshold=0.5, min_gain=0.02):
    """Sentences for a segmenter whose masks are no better than a constant one: empty or full masks for every
    image, or a mean Dice no higher than that of predicting the training-free "whole image" mask.

    Args:
        name: the model's name.
        y_true, y_pred: (N, H, W[, 1]) true 0/1 masks and predicted probabilities.
        threshold: binarization threshold of the prediction.
        min_gain: Dice points the model must gain over the whole-image mask.

    Example:
    >>> import numpy as np
    >>> truth = np.zeros((2, 8, 8)); truth[:, 2:6, 2:6] = 1
    >>> segmentation_warnings("UNETR", truth, np.zeros((2, 8, 8)))[0][:38]
    'UNETR predicts an empty mask for every'
    >>> segmentation_warnings("UNETR", truth, truth)
    []
    """
    truth = np.asarray(y_true, dtype=np.float64).reshape(len(y_true), -1) > 0.5
    predicted = np.asarray(y_pred, dtype=np.float64).reshape(len(y_pred), -1) >= threshold
    if not predicted.any():
        return [f"{name} predicts an empty mask for every image: its Dice and IoU are those of a constant predictor."]
    if predicted.all():
        return [f"{name} predicts the whole image as foreground for every image: a constant predictor."]

    def dice(a, b):
        return float(np.mean(2 * (a & b).sum(1) / np.maximum(a.sum(1) + b.sum(1), 1)))

    ours, whole = dice(truth, predicted), dice(truth, np.ones_like(truth))
    if ours <= whole + min_gain:
        return [f"{name} has mean Dice {ours:.3f}, no better than marking the whole image ({whole:.3f}): it has not "
                "learned the structure's shape."]
    return []


def regression_warnings(name, y_true, y_pred, train_mean, unit=""):
    """Sentences for a regressor (e.g. the age head of paper 002) no better than predicting the training mean:
    its mean absolute error is not below that of the constant `train_mean`, or its predictions are constant.

    Example:
    >>> regression_warnings("age", [1.0, 5.0, 9.0], [5.0, 5.0, 5.0], 5.0, "years")[0][:40]
    'age predicts the same value for every im'
    >>> regression_warnings("age", [1.0, 5.0, 9.0], [1.5, 5.0, 8.0], 5.0)
    []
    """
    y_true, y_pred = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    if np.ptp(y_pred) <= 1e-6 * max(1.0, float(np.abs(y_pred).max())):
        return [f"{name} predicts the same value for every image: a constant predictor."]
    ours, constant = float(np.mean(np.abs(y_true - y_pred))), float(np.mean(np.abs(y_true - train_mean)))
    if ours >= constant:
        return [f"{name} has MAE {ours:.3g} {unit}, no better than predicting the training mean ({constant:.3g} "
                f"{unit}): it has not learned the quantity.".replace("  ", " ")]
    return []


def restoration_warnings(name, restored_psnr, degraded_psnr, restored_ssim=None, degraded_ssim=None):
    """Sentences for a restoration model (denoising, deblurring, reconstruction) whose output is not closer
    to the clean image than the degraded input it was given: it made the images worse.

    Args:
        name: the model or task name, used in the sentences.
        restored_psnr, degraded_psnr: mean PSNR (dB) of the restored and of the degraded images.
        restored_ssim, degraded_ssim: optional mean SSIM of the same.

    Returns:
        list of str, empty when the restoration improves every given measure.

    Example:
    >>> restoration_warnings("denoising", 13.1, 25.6)[0][:52]
    'denoising: the restored images (PSNR 13.10 dB) are n'
    >>> restoration_warnings("denoising", 28.0, 25.6, 0.8, 0.6)
    []
    """
    found = []
    if not restored_psnr > degraded_psnr:
        found.append(f"{name}: the restored images (PSNR {restored_psnr:.2f} dB) are no closer to the clean images "
                     f"than the degraded input ({degraded_psnr:.2f} dB): the model makes them worse.")
    if restored_ssim is not None and degraded_ssim is not None and not restored_ssim > degraded_ssim:
        found.append(f"{name}: the restored images' SSIM ({restored_ssim:.4f}) is not above the degraded input's "
                     f"({degraded_ssim:.4f}).")
    return found


def comparison_note(model_a, model_b, degenerate):
    """A sentence for a statistical test between two models when either is degenerate (else None).

    Example:
    >>> comparison_note("B", "SA", ["B"])
    'compares degenerate B: not evidence about the method'
    >>> comparison_note("B", "SA", []) is None
    True
    """
    involved = [m for m in (model_a, model_b) if m in set(degenerate)]
    if not involved:
        return None
    return f"compares degenerate {' and '.join(involved)}: not evidence about the method"
