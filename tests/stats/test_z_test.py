import itertools

import numpy as np
import pytest
from scipy import stats

from keras_cxr.stats import compare_sensitivities, proportion_ci, sensitivity_z_test


def test_sensitivity_z_test_equations_9_to_12_by_hand():
    # Sensitivity 0.80 (CI 0.70-0.90) vs 0.90 (CI 0.84-0.96):
    # Eq. 9: SE1 = 0.20 / 3.92 = 0.0510204..., SE2 = 0.12 / 3.92 = 0.0306122...
    # Eq. 10: ΔSens = 0.90 - 0.80 = 0.10
    # Eq. 11: ΔSE = sqrt(SE1² + SE2²) = sqrt(0.04 + 0.0144) / 3.92 = 0.0594995...
    # Eq. 12: Z = 0.10 / ΔSE = 0.392 / sqrt(0.0544) = 1.6806861...; p = 2 (1 - Φ(1.6806861)) = 0.0928239...
    z, p = sensitivity_z_test(0.80, (0.70, 0.90), 0.90, (0.84, 0.96))
    assert abs(z - 0.392 / np.sqrt(0.0544)) < 1e-12 and abs(z - 1.6806861) < 1e-7
    assert abs(p - 2 * (1 - stats.norm.cdf(z))) < 1e-12 and abs(p - 0.0928239) < 1e-7
    # Direction: Eq. 10 is Sensitivity2 - Sensitivity1, so swapping the models flips the sign only.
    z_swapped, p_swapped = sensitivity_z_test(0.90, (0.84, 0.96), 0.80, (0.70, 0.90))
    assert z_swapped == -z and p_swapped == p


def test_sensitivity_z_test_degenerate_and_bad_intervals():
    assert sensitivity_z_test(0.3, (0.3, 0.3), 0.3, (0.3, 0.3)) == (0.0, 1.0)
    assert sensitivity_z_test(0.3, (0.3, 0.3), 0.5, (0.5, 0.5)) == (np.inf, 0.0)
    with pytest.raises(ValueError, match="low <= high"):
        sensitivity_z_test(0.3, (0.4, 0.2), 0.5, (0.4, 0.6))


def test_compare_sensitivities_table():
    y = np.array([1] * 60 + [0] * 40)
    rng = np.random.default_rng(0)
    preds = {name: (y, (rng.random(100) < rate).astype(int) * (y == 1)) for name, rate in
             (("B", 0.2), ("Den-P", 0.3), ("A-F", 0.6))}
    table = compare_sensitivities(preds)
    assert list(table.columns) == ["model_a", "model_b", "sensitivity_a", "sensitivity_b", "ci_a", "ci_b",
                                   "delta_sensitivity", "delta_se", "z", "p", "significant"]
    assert [tuple(r) for r in table[["model_a", "model_b"]].to_numpy()] == list(itertools.combinations(preds, 2))
    for row in table.itertuples():
        tp_a, tp_b = (int(preds[m][1][y == 1].sum()) for m in (row.model_a, row.model_b))
        assert abs(row.sensitivity_a - tp_a / 60) < 1e-12 and abs(row.sensitivity_b - tp_b / 60) < 1e-12
        assert row.ci_a == proportion_ci(tp_a, 60) and row.ci_b == proportion_ci(tp_b, 60)
        se_a, se_b = ((ci[1] - ci[0]) / (2 * 1.96) for ci in (row.ci_a, row.ci_b))
        assert abs(row.delta_se - np.hypot(se_a, se_b)) < 1e-12
        assert abs(row.delta_sensitivity - (tp_b - tp_a) / 60) < 1e-12
        z, p = sensitivity_z_test(row.sensitivity_a, row.ci_a, row.sensitivity_b, row.ci_b)
        assert row.z == z and row.p == p and row.significant == (p < 0.05)
    assert table["significant"].any() and not table["significant"].all()


def test_compare_sensitivities_other_level_and_errors():
    y = np.array([1] * 30 + [0] * 30)
    preds = {"a": (y, np.r_[np.ones(10), np.zeros(50)]), "b": (y, np.r_[np.ones(20), np.zeros(40)])}
    row = compare_sensitivities(preds, confidence=0.9, method="clopper-pearson").iloc[0]
    z_90 = stats.norm.ppf(0.95)
    assert row.ci_a == proportion_ci(10, 30, 0.9, "clopper-pearson")
    assert abs(row.z - sensitivity_z_test(row.sensitivity_a, row.ci_a, row.sensitivity_b, row.ci_b, z_90)[0]) < 1e-12
    assert row.significant == (row.p < 0.1)
    with pytest.raises(ValueError, match="no positive"):
        compare_sensitivities({"a": (np.zeros(3), np.zeros(3)), "b": (np.zeros(3), np.zeros(3))})
    with pytest.raises(ValueError, match="0/1"):
        compare_sensitivities({"a": (y, np.linspace(0, 1, 60)), "b": preds["b"]})
    with pytest.raises(ValueError, match="at least two"):
        compare_sensitivities({"a": preds["a"]})
