"""Bootstrap confidence intervals of any metric computed on saved predictions."""

import numpy as np
from scipy import stats


def bootstrap_ci(metric_fn, y_true, y_score, n_resamples=2000, confidence=0.95, seed=0, method="percentile",
                 stratified=True):
    """Bootstrap confidence interval of `metric_fn(y_true, y_score)`, resampling cases with replacement.

    "percentile" resamples within each class when `stratified` (so every resample keeps the class counts and
    AUCs stay defined) and takes the percentile interval. "BCa" delegates to `scipy.stats.bootstrap`
    (paired resampling, bias-corrected and accelerated); scipy does not stratify, so BCa resamples freely.

    Args:
        metric_fn: callable(y_true, y_score) -> float, e.g. `sklearn.metrics.roc_auc_score`.
        y_true: (N,) or (N, C) truth; stratification uses y_true (rows) as the stratum key.
        y_score: (N, ...) scores or predictions.
        n_resamples: number of bootstrap resamples.
        confidence: interval level.
        seed: random seed.
        method: "percentile" or "BCa".
        stratified: resample within strata of y_true (percentile method).

    Returns:
        dict: estimate (on the full data), low, high, method, n_resamples.

    Example:
    >>> from sklearn.metrics import roc_auc_score
    >>> import numpy as np
    >>> rng = np.random.default_rng(0); y = rng.integers(0, 2, 200); s = y + rng.normal(0, 1, 200)
    >>> r = bootstrap_ci(roc_auc_score, y, s, n_resamples=200)
    >>> r["low"] < r["estimate"] < r["high"]
    True
    """
    y_true, y_score = np.asarray(y_true), np.asarray(y_score)
    if len(y_true) != len(y_score):
        raise ValueError(f"y_true has {len(y_true)} samples, y_score {len(y_score)}.")
    if method not in ("percentile", "BCa"):
        raise ValueError(f"method must be 'percentile' or 'BCa'; received {method!r}.")
    estimate = float(metric_fn(y_true, y_score))
    if method == "BCa":
        result = stats.bootstrap((y_true, y_score), lambda t, s: metric_fn(t, s), paired=True, vectorized=False,
                                 n_resamples=n_resamples, confidence_level=confidence, method="BCa",
                                 random_state=np.random.default_rng(seed))
        low, high = result.confidence_interval
        return {"estimate": estimate, "low": float(low), "high": float(high), "method": method,
                "n_resamples": n_resamples}
    rng = np.random.default_rng(seed)
    keys = np.unique(y_true.reshape(len(y_true), -1), axis=0, return_inverse=True)[1].ravel() if stratified \
        else np.zeros(len(y_true), int)
    groups = [np.flatnonzero(keys == k) for k in np.unique(keys)]
    values = np.empty(n_resamples)
    for r in range(n_resamples):
        index = np.concatenate([rng.choice(g, size=len(g), replace=True) for g in groups])
        values[r] = metric_fn(y_true[index], y_score[index])
    alpha = (1 - confidence) / 2
    low, high = np.nanquantile(values, [alpha, 1 - alpha])
    return {"estimate": estimate, "low": float(low), "high": float(high), "method": method, "n_resamples": n_resamples}
