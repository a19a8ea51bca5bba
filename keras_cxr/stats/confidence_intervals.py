"""Confidence intervals for proportions (sensitivity, specificity, accuracy ...)."""

import numpy as np
from scipy import stats


def proportion_ci(successes, total, confidence=0.95, method="wilson"):
    """Two-sided confidence interval of a binomial proportion successes / total.

    Methods: "wilson" (score interval without continuity correction, scipy's
    `binomtest(k, n).proportion_ci(method="wilson")`), "normal" (Wald, p ± z·sqrt(p(1−p)/n) with
    z = Φ⁻¹(1 − α/2), clipped to [0, 1]; zero width at p = 0 or 1), "clopper-pearson" (exact beta-quantile
    interval, scipy's "exact"). The paper behind `sensitivity_z_test` (003) does not name its method; Wilson
    is the default because it stays inside [0, 1] and keeps its coverage near p = 0 or 1.

    Args:
        successes: number of successes k (0 ≤ k ≤ n), e.g. true positives for a sensitivity.
        total: number of trials n (> 0), e.g. TP + FN.
        confidence: confidence level in (0, 1).
        method: "wilson" | "normal" | "clopper-pearson".

    Returns:
        (low, high) floats.

    Example:
    >>> [round(v, 4) for v in proportion_ci(8, 10)]
    [0.4902, 0.9433]
    """
    if float(successes) != int(successes) or float(total) != int(total):
        raise ValueError(f"successes and total must be whole counts; received {successes}, {total}.")
    k, n = int(successes), int(total)
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"Need 0 <= successes <= total and total > 0; received successes={successes}, total={total}.")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); received {confidence}.")
    if method == "normal":
        p = k / n
        half = stats.norm.ppf(0.5 + confidence / 2) * np.sqrt(p * (1 - p) / n)
        return float(max(p - half, 0.0)), float(min(p + half, 1.0))
    scipy_method = {"wilson": "wilson", "clopper-pearson": "exact"}.get(method)
    if scipy_method is None:
        raise ValueError(f"method must be 'wilson', 'normal' or 'clopper-pearson'; received {method!r}.")
    interval = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method=scipy_method)
    return float(interval.low), float(interval.high)
