"""Z-test on the difference of two sensitivities from their confidence intervals (paper 003, §2.6)."""

import itertools

import numpy as np
from scipy import stats

from keras_cxr.stats.confidence_intervals import proportion_ci


def sensitivity_z_test(sens_a, ci_a, sens_b, ci_b, z_critical=1.96):
    """Z-score and two-tailed p-value of sensitivity B − sensitivity A, exactly as paper 003 Eq. 9–12.

    SE_i = (CI_upper − CI_lower) / (2 · 1.96) (Eq. 9); ΔSensitivity = Sensitivity_2 − Sensitivity_1
    (Eq. 10); ΔSE = sqrt(SE_1² + SE_2²) (Eq. 11); Z = ΔSensitivity / ΔSE (Eq. 12); p = 2 · (1 − Φ(|Z|)).
    The test treats the two sensitivities as independent, as the paper does (for paired predictions on
    one test set, McNemar's test is the stricter alternative: `mcnemar_test`).

    Args:
        sens_a, sens_b: sensitivities of models A (1) and B (2).
        ci_a, ci_b: their (low, high) confidence intervals.
        z_critical: the z of the intervals' confidence level (1.96 for 95%, as in Eq. 9).

    Returns:
        (z, p). When both SEs are zero: z = 0, p = 1 if the sensitivities are equal, else ±inf, p = 0.

    Example:
    >>> z, p = sensitivity_z_test(0.2, (0.15, 0.25), 0.3, (0.25, 0.35))
    >>> round(z, 3), round(p, 4)
    (2.772, 0.0056)

    Reference:
        Rajaraman et al., Frontiers in AI 2024, doi:10.3389/frai.2024.1419638, §2.6, Eq. 9–12.
    """
    se_a = (float(ci_a[1]) - float(ci_a[0])) / (2 * z_critical)
    se_b = (float(ci_b[1]) - float(ci_b[0])) / (2 * z_critical)
    if se_a < 0 or se_b < 0:
        raise ValueError(f"Confidence intervals must be (low, high) with low <= high; received {ci_a}, {ci_b}.")
    delta = float(sens_b) - float(sens_a)
    delta_se = float(np.hypot(se_a, se_b))
    if delta_se == 0:
        return (0.0, 1.0) if delta == 0 else (float(np.sign(delta) * np.inf), 0.0)
    z = delta / delta_se
    return float(z), float(2 * stats.norm.sf(abs(z)))


def compare_sensitivities(predictions, confidence=0.95, method="wilson"):
    """Pairwise sensitivity Z-tests between models (paper 003, §2.6 and Fig. 7).

    For each model: sensitivity = TP / (TP + FN) and its `proportion_ci` at `confidence`; for each pair
    (A, B) in insertion order, `sensitivity_z_test` with z = 1.96 at 95% (Eq. 9; the exact normal quantile
    at other levels). Models may be scored on different test sets (each brings its own y_true).

    Args:
        predictions: {model name: (y_true, y_pred)} with 0/1 labels and 0/1 predictions (1 = positive).
        confidence: level of each sensitivity's confidence interval (and 1 − α of the test).
        method: interval method of `proportion_ci` (the paper does not name one; Wilson by default).

    Returns:
        pandas DataFrame, one row per pair (in insertion order): model_a, model_b, sensitivity_a,
        sensitivity_b, ci_a, ci_b, delta_sensitivity (b − a), delta_se, z, p, significant (p < 1 − confidence).

    Example:
    >>> import numpy as np
    >>> y = np.array([1] * 50 + [0] * 50)
    >>> table = compare_sensitivities({"A": (y, np.r_[np.ones(20), np.zeros(80)]), "B": (y, np.r_[np.ones(40), np.zeros(60)])})
    >>> row = table.iloc[0]
    >>> row["model_a"], row["model_b"], round(float(row["delta_sensitivity"]), 2)
    ('A', 'B', 0.4)
    """
    import pandas as pd

    if len(predictions) < 2:
        raise ValueError(f"compare_sensitivities needs at least two models; received {list(predictions)}.")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); received {confidence}.")
    # Eq. 9 writes 1.96 for the 95% intervals; other levels use their exact normal quantile.
    z_critical = 1.96 if np.isclose(confidence, 0.95) else float(stats.norm.ppf(0.5 + confidence / 2))
    summary = {}
    for name, (y_true, y_pred) in predictions.items():
        y_true, y_pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
        if y_true.shape != y_pred.shape:
            raise ValueError(f"Model {name!r}: y_true {y_true.shape} and y_pred {y_pred.shape} differ in shape.")
        if not (np.isin(y_true, (0, 1)).all() and np.isin(y_pred, (0, 1)).all()):
            raise ValueError(f"Model {name!r}: y_true and y_pred must be 0/1 labels (threshold the scores first); "
                             f"received values {np.unique(np.r_[y_true, y_pred])[:10]}.")
        positives = int(np.sum(y_true == 1))
        if positives == 0:
            raise ValueError(f"Model {name!r}: y_true has no positive case, so sensitivity is undefined.")
        tp = int(np.sum((y_true == 1) & (y_pred == 1)))
        summary[name] = (tp / positives, proportion_ci(tp, positives, confidence, method))
    rows = []
    for a, b in itertools.combinations(summary, 2):
        (sens_a, ci_a), (sens_b, ci_b) = summary[a], summary[b]
        z, p = sensitivity_z_test(sens_a, ci_a, sens_b, ci_b, z_critical=z_critical)
        rows.append({"model_a": a, "model_b": b, "sensitivity_a": sens_a, "sensitivity_b": sens_b,
                     "ci_a": ci_a, "ci_b": ci_b, "delta_sensitivity": sens_b - sens_a,
                     "delta_se": float(np.hypot((ci_a[1] - ci_a[0]) / (2 * z_critical),
                                                (ci_b[1] - ci_b[0]) / (2 * z_critical))),
                     "z": z, "p": p, "significant": bool(p < 1 - confidence)})
    return pd.DataFrame(rows)
