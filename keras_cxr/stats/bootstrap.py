"""Bootstrap confidence intervals of any metric computed on saved predictions (percentile or BCa)."""

import warnings

import numpy as np
from scipy import special

METHODS = ("percentile", "BCa")


def _resample_indices(keys, n_resamples, rng, chunk_elements=1 << 22):
    """Yield resamples' case indices, drawn with replacement within each stratum, in chunks of rows.

    One stratum: exactly the draws of scipy.stats.bootstrap(paired=True) for the same Generator (numpy's
    `integers` stream does not depend on how the rows are chunked; tested against scipy).
    """
    n = len(keys)
    strata = [np.flatnonzero(keys == k) for k in np.unique(keys)]
    rows = max(1, chunk_elements // n)
    for start in range(0, n_resamples, rows):
        count = min(rows, n_resamples - start)
        if len(strata) == 1:
            yield from rng.integers(0, n, (count, n))
        else:
            yield from np.concatenate([m[rng.integers(0, len(m), (count, len(m)))] for m in strata], axis=1)


def _bca_levels(estimate, values, jackknife, alpha):
    """Adjusted percentile levels of the BCa interval (Efron & Tibshirani 1993, §14.3, Eq. 14.14-14.15).

    z0 from the share of resamples below the estimate (ties count half, as scipy), acceleration from the
    jackknife's third and second moments. Mirrors scipy.stats.bootstrap(method="BCa").
    """
    z0 = special.ndtri((np.count_nonzero(values < estimate) + np.count_nonzero(values <= estimate))
                       / (2 * len(values)))
    u = jackknife.mean() - jackknife
    acceleration = np.sum(u ** 3) / (6 * np.sum(u ** 2) ** 1.5)
    z = special.ndtri(np.array([alpha, 1 - alpha]))
    return special.ndtr(z0 + (z0 + z) / (1 - acceleration * (z0 + z)))


def bootstrap_ci(metric_fn, y_true, y_score, n_resamples=2000, confidence=0.95, seed=0, method="percentile",
                 stratified=True):
    """Bootstrap confidence interval of `metric_fn(y_true, y_score)`, resampling cases with replacement.

    Resampling: cases (rows of y_true and y_score together, i.e. paired) are drawn with replacement. With
    `stratified=True` (default) they are drawn within each stratum of y_true (each label, or each distinct
    multi-hot row), so every resample keeps the class counts and an AUC stays defined; scipy's
    `scipy.stats.bootstrap` cannot stratify, so resampling is done here. With `stratified=False` the draws
    are exactly those of `scipy.stats.bootstrap(..., paired=True)` for the same seed.

    Intervals: "percentile" takes the α/2 and 1 − α/2 quantiles (linear interpolation) of the resampled
    metric; "BCa" (bias-corrected and accelerated) shifts those levels by the bias z0 (share of resamples
    below the estimate) and the jackknife acceleration, with scipy's formulas. Non-stratified percentile and
    BCa intervals equal `scipy.stats.bootstrap`'s to rounding (tested). Stratified BCa uses the same
    formulas on the stratified resamples (jackknife over all cases) — Efron's BCa, not verified against
    an outside implementation because none stratifies.

    A resample on which the metric is NaN (e.g. a rare class vanished from an unstratified resample) is
    dropped with a warning; `n_valid` reports how many remained.

    Args:
        metric_fn: callable(y_true, y_score) -> float, e.g. `sklearn.metrics.roc_auc_score`.
        y_true: (N,) or (N, C) truth; the strata are its distinct rows.
        y_score: (N, ...) scores or predictions.
        n_resamples: number of bootstrap resamples.
        confidence: interval level in (0, 1).
        seed: seed of numpy's default_rng.
        method: "percentile" or "BCa".
        stratified: resample within strata of y_true.

    Returns:
        dict: estimate (metric on the full data), low, high, method, confidence, n_resamples, n_valid,
        stratified.

    Example:
    >>> from sklearn.metrics import roc_auc_score
    >>> import numpy as np
    >>> rng = np.random.default_rng(0); y = rng.integers(0, 2, 200); s = y + rng.normal(0, 1, 200)
    >>> r = bootstrap_ci(roc_auc_score, y, s, n_resamples=200)
    >>> bool(r["low"] < r["estimate"] < r["high"]), r["n_valid"]
    (True, 200)
    """
    y_true, y_score = np.asarray(y_true), np.asarray(y_score)
    if len(y_true) != len(y_score):
        raise ValueError(f"y_true has {len(y_true)} samples, y_score {len(y_score)}.")
    if len(y_true) < 2:
        raise ValueError("bootstrap_ci needs at least two cases.")
    if method not in METHODS:
        raise ValueError(f"method must be 'percentile' or 'BCa'; received {method!r}.")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); received {confidence}.")
    if int(n_resamples) < 1:
        raise ValueError(f"n_resamples must be ≥ 1; received {n_resamples}.")
    n_resamples = int(n_resamples)
    estimate = float(metric_fn(y_true, y_score))
    rng = np.random.default_rng(seed)
    if stratified:
        flat = np.ascontiguousarray(y_true.reshape(len(y_true), -1))
        keys = np.unique(flat, axis=0, return_inverse=True)[1].ravel()
    else:
        keys = np.zeros(len(y_true), dtype=int)
    indices = _resample_indices(keys, n_resamples, rng)
    values = np.array([metric_fn(y_true[i], y_score[i]) for i in indices], dtype=np.float64)
    valid = ~np.isnan(values)
    if not valid.all():
        warnings.warn(f"bootstrap_ci: the metric was NaN on {int((~valid).sum())} of {n_resamples} resamples; "
                      "they were dropped.", RuntimeWarning, stacklevel=2)
    values = values[valid]
    alpha = (1 - confidence) / 2
    if not len(values):
        low = high = float("nan")
    elif method == "percentile":
        low, high = np.quantile(values, [alpha, 1 - alpha])
    else:
        everyone = np.arange(len(y_true))
        jackknife = np.array([metric_fn(y_true[everyone != i], y_score[everyone != i]) for i in everyone],
                             dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            levels = _bca_levels(estimate, values, jackknife, alpha)
        if np.isnan(levels).any():
            warnings.warn("bootstrap_ci: the BCa interval is undefined here (degenerate bootstrap or jackknife "
                          "distribution); use method='percentile'.", RuntimeWarning, stacklevel=2)
            low = high = float("nan")
        else:
            low, high = np.quantile(values, levels)
    return {"estimate": estimate, "low": float(low), "high": float(high), "method": method,
            "confidence": float(confidence), "n_resamples": n_resamples, "n_valid": int(valid.sum()),
            "stratified": bool(stratified)}
