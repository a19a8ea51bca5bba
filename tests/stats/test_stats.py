import itertools

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from keras_cxr.stats import (bootstrap_ci, compare_sensitivities, delong_test, mcnemar_test, proportion_ci,
                             sensitivity_z_test)


def test_proportion_ci_against_formulas():
    k, n, z = 37, 52, stats.norm.ppf(0.975)
    p = k / n
    center = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    np.testing.assert_allclose(proportion_ci(k, n, method="wilson"), (center - half, center + half), atol=1e-12)
    wald = z * np.sqrt(p * (1 - p) / n)
    np.testing.assert_allclose(proportion_ci(k, n, method="normal"), (p - wald, p + wald), atol=1e-12)
    exact = (stats.beta.ppf(0.025, k, n - k + 1), stats.beta.ppf(0.975, k + 1, n - k))
    np.testing.assert_allclose(proportion_ci(k, n, method="clopper-pearson"), exact, atol=1e-10)
    assert proportion_ci(0, 10, method="normal")[0] == 0.0
    with pytest.raises(ValueError):
        proportion_ci(11, 10)
    with pytest.raises(ValueError, match="method"):
        proportion_ci(1, 10, method="agresti")


def test_sensitivity_z_test_equations_9_to_12():
    ci_a, ci_b = (0.1583, 0.2453), (0.4515, 0.5467)
    se_a, se_b = (ci_a[1] - ci_a[0]) / 3.92, (ci_b[1] - ci_b[0]) / 3.92
    z_expected = (0.4991 - 0.1983) / np.sqrt(se_a ** 2 + se_b ** 2)
    z, p = sensitivity_z_test(0.1983, ci_a, 0.4991, ci_b)
    assert abs(z - z_expected) < 1e-12
    assert abs(p - 2 * (1 - stats.norm.cdf(abs(z_expected)))) < 1e-12
    assert sensitivity_z_test(0.3, (0.3, 0.3), 0.3, (0.3, 0.3)) == (0.0, 1.0)


def test_compare_sensitivities_table():
    y = np.array([1] * 60 + [0] * 40)
    rng = np.random.default_rng(0)
    preds = {name: (y, (rng.random(100) < rate).astype(int) * (y == 1)) for name, rate in
             (("B", 0.2), ("Den-P", 0.3), ("A-F", 0.6))}
    table = compare_sensitivities(preds)
    assert [tuple(r) for r in table[["model_a", "model_b"]].to_numpy()] == list(itertools.combinations(preds, 2))
    for row in table.itertuples():
        sens_a = preds[row.model_a][1][y == 1].mean()
        assert abs(row.sensitivity_a - sens_a) < 1e-12
        z, p = sensitivity_z_test(row.sensitivity_a, row.ci_a, row.sensitivity_b, row.ci_b)
        assert abs(row.z - z) < 1e-9 and row.significant == (p < 0.05)
    with pytest.raises(ValueError, match="no positive"):
        compare_sensitivities({"a": (np.zeros(3), np.zeros(3)), "b": (np.zeros(3), np.zeros(3))})


def _delong_bruteforce(y, a, b):
    """DeLong's variance from its definition: O(m·n) kernel ψ(x, y) = 1[x > y] + ½·1[x = y]."""
    pos, neg = y == 1, y == 0
    out = []
    for s in (a, b):
        psi = (s[pos][:, None] > s[neg][None, :]) + 0.5 * (s[pos][:, None] == s[neg][None, :])
        out.append((psi.mean(), psi.mean(axis=1), psi.mean(axis=0)))
    m, n = pos.sum(), neg.sum()
    s10 = np.cov(np.vstack([out[0][1], out[1][1]]))
    s01 = np.cov(np.vstack([out[0][2], out[1][2]]))
    cov = s10 / m + s01 / n
    var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    return out[0][0], out[1][0], (out[1][0] - out[0][0]) / np.sqrt(var)


def test_delong_matches_definition_and_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 150)
    a = np.round(y + rng.normal(0, 1.2, 150), 1)  # rounding creates ties
    b = np.round(y + rng.normal(0, 0.8, 150), 1)
    result = delong_test(y, a, b)
    auc_a, auc_b, z = _delong_bruteforce(y, a, b)
    assert abs(result["auc_a"] - roc_auc_score(y, a)) < 1e-12 and abs(result["auc_a"] - auc_a) < 1e-12
    assert abs(result["auc_b"] - auc_b) < 1e-12
    assert abs(result["z"] - z) < 1e-9
    assert abs(result["p"] - 2 * stats.norm.sf(abs(z))) < 1e-12
    same = delong_test(y, a, a)
    assert same["z"] == 0.0 and same["p"] == 1.0
    with pytest.raises(ValueError, match="both classes"):
        delong_test(np.ones(5), a[:5], b[:5])


def test_mcnemar_exact_and_chi_square():
    y = np.ones(60, int)
    a = np.r_[np.ones(30), np.zeros(30)].astype(int)
    b = np.r_[np.ones(10), np.zeros(20), np.ones(5), np.zeros(25)].astype(int)
    r = mcnemar_test(y, a, b)  # b = 20 (A right, B wrong), c = 5
    assert (r["b"], r["c"], r["exact"]) == (20, 5, False)
    assert abs(r["statistic"] - (15 - 1) ** 2 / 25) < 1e-12
    assert abs(r["p"] - stats.chi2.sf((15 - 1) ** 2 / 25, 1)) < 1e-12
    exact = mcnemar_test(y, a, b, exact=True)
    assert abs(exact["p"] - stats.binomtest(20, 25).pvalue) < 1e-12
    assert mcnemar_test(y, a, a)["p"] == 1.0


def test_bootstrap_percentile_and_bca():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    s = y + rng.normal(0, 1.0, 300)
    perc = bootstrap_ci(roc_auc_score, y, s, n_resamples=300, seed=0)
    assert perc["low"] < perc["estimate"] < perc["high"]
    # Independent reference: the same stratified resamples drawn by hand.
    rng2 = np.random.default_rng(0)
    groups = [np.flatnonzero(y == k) for k in (0, 1)]
    values = [roc_auc_score(y[i], s[i]) for i in
              (np.concatenate([rng2.choice(g, len(g)) for g in groups]) for _ in range(300))]
    np.testing.assert_allclose([perc["low"], perc["high"]], np.quantile(values, [0.025, 0.975]), atol=1e-12)
    bca = bootstrap_ci(roc_auc_score, y, s, n_resamples=300, method="BCa")
    assert bca["low"] < bca["estimate"] < bca["high"]
    assert abs(bca["high"] - bca["low"] - (perc["high"] - perc["low"])) < 0.05
