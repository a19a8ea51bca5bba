"""DeLong's test for two correlated ROC AUCs (fast midrank algorithm)."""

import numpy as np
from scipy import stats


def _midranks(x):
    """Midranks (1-based; ties get their average rank), as scipy.stats.rankdata(method='average')."""
    return stats.rankdata(x, method="average")


def _structural_components(y_true, scores):
    """AUCs and DeLong's placement values V10 (positives) and V01 (negatives) for k score vectors (Sun & Xu 2014)."""
    positive, negative = scores[:, y_true == 1], scores[:, y_true == 0]
    m, n = positive.shape[1], negative.shape[1]
    aucs, v10, v01 = [], [], []
    for k in range(scores.shape[0]):
        tx, ty = _midranks(positive[k]), _midranks(negative[k])
        tz = _midranks(np.r_[positive[k], negative[k]])
        aucs.append((tz[:m].sum() - m * (m + 1) / 2) / (m * n))
        v10.append((tz[:m] - tx) / n)
        v01.append(1.0 - (tz[m:] - ty) / m)
    return np.array(aucs), np.array(v10), np.array(v01)


def delong_test(y_true, score_a, score_b):
    """Paired DeLong test of H0: AUC_a = AUC_b for two classifiers scored on the same cases.

    Uses the O(N log N) midrank formulation of Sun & Xu (2014) of DeLong et al. (1988)'s variance: with
    m positives and n negatives, placement values V10 (share of negatives below each positive, ties ½) and
    V01 (share of positives above each negative), S = cov(V10)/m + cov(V01)/n (sample covariances,
    denominators m − 1 and n − 1), var(AUC_b − AUC_a) = S_aa + S_bb − 2 S_ab, z = (AUC_b − AUC_a) / sqrt(var),
    p = 2 (1 − Φ(|z|)). AUCs equal scikit-learn's `roc_auc_score`; the variance equals the O(m·n)
    definition (tested), the same test as R's `pROC::roc.test(method="delong", paired=TRUE)`.

    Args:
        y_true: (N,) 0/1 truth with at least two cases of each class.
        score_a, score_b: (N,) scores of the two models.

    Returns:
        dict: auc_a, auc_b, delta (auc_b − auc_a), se, z, p (two-sided). Identical scores give z = 0, p = 1.

    Example:
    >>> result = delong_test([0, 0, 1, 1, 0, 1], [0.1, 0.4, 0.35, 0.8, 0.2, 0.9], [0.2, 0.3, 0.5, 0.6, 0.1, 0.7])
    >>> round(result["auc_a"], 4), round(result["auc_b"], 4)
    (0.8889, 1.0)

    Reference:
        DeLong, DeLong & Clarke-Pearson, Biometrics 44(3):837-845 (1988);
        Sun & Xu, IEEE Signal Processing Letters 21(11):1389-1393 (2014).
    """
    y_true = np.asarray(y_true).ravel()
    scores = np.vstack([np.asarray(score_a, dtype=np.float64).ravel(), np.asarray(score_b, dtype=np.float64).ravel()])
    if scores.shape[1] != len(y_true):
        raise ValueError(f"y_true has {len(y_true)} samples, the scores {scores.shape[1]}.")
    if not np.isin(y_true, (0, 1)).all() or len(np.unique(y_true)) < 2:
        raise ValueError("y_true must be binary (0/1) with both classes present for an AUC comparison.")
    if min(np.sum(y_true == 1), np.sum(y_true == 0)) < 2:
        raise ValueError("DeLong's variance needs at least two positive and two negative cases.")
    if not np.all(np.isfinite(scores)):
        raise ValueError("score_a and score_b must be finite.")
    aucs, v10, v01 = _structural_components(y_true, scores)
    m, n = v10.shape[1], v01.shape[1]
    covariance = np.cov(v10) / m + np.cov(v01) / n
    variance = covariance[0, 0] + covariance[1, 1] - 2 * covariance[0, 1]
    delta = aucs[1] - aucs[0]
    if variance <= 1e-15:
        z, p = (0.0, 1.0) if abs(delta) < 1e-15 else (float(np.sign(delta) * np.inf), 0.0)
        se = 0.0
    else:
        se = float(np.sqrt(variance))
        z = float(delta / se)
        p = float(2 * stats.norm.sf(abs(z)))
    return {"auc_a": float(aucs[0]), "auc_b": float(aucs[1]), "delta": float(delta), "se": se, "z": z, "p": p}
