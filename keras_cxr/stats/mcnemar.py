"""McNemar's test for paired correctness of two classifiers."""

import numpy as np
from scipy import stats


def mcnemar_test(y_true, pred_a, pred_b, exact=None):
    """McNemar's test of H0: the two classifiers have the same error rate on the same cases.

    b = cases A gets right and B wrong, c = the reverse. Exact two-sided binomial test on b of b + c
    (scipy `binomtest`) when `exact` is True, or when None and b + c < 25; otherwise the chi-square
    statistic with continuity correction (|b − c| − 1)² / (b + c), 1 degree of freedom.

    Args:
        y_true: (N,) labels.
        pred_a, pred_b: (N,) predicted labels of the two models.
        exact: force the exact (True) or chi-square (False) version.

    Returns:
        dict: statistic, p, b, c, exact.

    Example:
    >>> r = mcnemar_test([1, 1, 1, 1, 0, 0], [1, 1, 1, 0, 0, 0], [0, 0, 1, 1, 0, 1])
    >>> r["b"], r["c"], round(r["p"], 4)
    (3, 1, 0.625)
    """
    y_true, a, b_pred = (np.asarray(v).ravel() for v in (y_true, pred_a, pred_b))
    if not (y_true.shape == a.shape == b_pred.shape):
        raise ValueError(f"y_true, pred_a, pred_b must have one shape; received {y_true.shape}, {a.shape}, {b_pred.shape}.")
    right_a, right_b = a == y_true, b_pred == y_true
    b = int(np.sum(right_a & ~right_b))
    c = int(np.sum(~right_a & right_b))
    exact = (b + c) < 25 if exact is None else bool(exact)
    if b + c == 0:
        return {"statistic": 0.0, "p": 1.0, "b": b, "c": c, "exact": exact}
    if exact:
        return {"statistic": float(min(b, c)), "p": float(stats.binomtest(b, b + c, 0.5).pvalue), "b": b, "c": c,
                "exact": True}
    statistic = (abs(b - c) - 1) ** 2 / (b + c)
    return {"statistic": float(statistic), "p": float(stats.chi2.sf(statistic, 1)), "b": b, "c": c, "exact": False}
