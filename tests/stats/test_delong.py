import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from keras_cxr.stats import delong_test


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
    return out[0][0], out[1][0], np.sqrt(var), (out[1][0] - out[0][0]) / np.sqrt(var)


def test_delong_hand_computed_example():
    # 3 positives, 2 negatives. Kernel matrices (rows: positives, columns: negatives):
    #   A: pos [0.9, 0.6, 0.4] vs neg [0.5, 0.1] → [[1, 1], [1, 1], [0, 1]]   → AUC_A = 5/6
    #   B: pos [0.8, 0.3, 0.7] vs neg [0.3, 0.6] → [[1, 1], [½, 0], [1, 1]]   → AUC_B = 3/4
    # V10_A = [1, 1, ½], V10_B = [1, ¼, 1] → S10 = [[1/12, −1/16], [−1/16, 3/16]]
    # V01_A = [2/3, 1], V01_B = [5/6, 2/3] → S01 = [[1/18, −1/36], [−1/36, 1/72]]
    # S = S10/3 + S01/2 = [[1/18, −5/144], [−5/144, 5/72]]; var(B − A) = 1/18 + 5/72 + 10/144 = 7/36
    # z = (3/4 − 5/6) / sqrt(7/36) = −1 / (2·sqrt(7)) = −0.1889822...; p = 2Φ(−|z|) = 0.8501...
    y = np.array([1, 1, 1, 0, 0])
    a = np.array([0.9, 0.6, 0.4, 0.5, 0.1])
    b = np.array([0.8, 0.3, 0.7, 0.3, 0.6])
    r = delong_test(y, a, b)
    assert abs(r["auc_a"] - 5 / 6) < 1e-15 and abs(r["auc_b"] - 3 / 4) < 1e-15
    assert abs(r["delta"] + 1 / 12) < 1e-15 and abs(r["se"] - np.sqrt(7 / 36)) < 1e-15
    assert abs(r["z"] + 1 / (2 * np.sqrt(7))) < 1e-14
    assert abs(r["p"] - 2 * stats.norm.cdf(-1 / (2 * np.sqrt(7)))) < 1e-14
    assert abs(r["p"] - 0.850106) < 1e-6


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_delong_matches_definition_and_sklearn(seed):
    rng = np.random.default_rng(seed)
    n = 150 + 50 * seed
    y = rng.integers(0, 2, n)
    a = np.round(y + rng.normal(0, 1.2, n), 1)  # rounding creates ties within and across classes
    b = np.round(y + rng.normal(0, 0.8, n), 1)
    result = delong_test(y, a, b)
    auc_a, auc_b, se, z = _delong_bruteforce(y, a, b)
    assert abs(result["auc_a"] - roc_auc_score(y, a)) < 1e-12 and abs(result["auc_a"] - auc_a) < 1e-12
    assert abs(result["auc_b"] - roc_auc_score(y, b)) < 1e-12 and abs(result["auc_b"] - auc_b) < 1e-12
    assert abs(result["se"] - se) < 1e-12
    assert abs(result["z"] - z) < 1e-9
    assert abs(result["p"] - 2 * stats.norm.sf(abs(z))) < 1e-12


def test_delong_identical_and_degenerate_scores():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 80)
    a = y + rng.normal(0, 1, 80)
    same = delong_test(y, a, a)
    assert same["z"] == 0.0 and same["p"] == 1.0 and same["auc_a"] == same["auc_b"]
    # Both perfectly separating: zero variance and zero difference → p = 1, no division by zero.
    perfect = delong_test(y, y + 0.1 * rng.random(80), 2 * y + rng.random(80) * 0.5)
    assert perfect["auc_a"] == perfect["auc_b"] == 1.0 and perfect["p"] == 1.0 and perfect["z"] == 0.0
    # Antisymmetric in the order of the models.
    b = y + rng.normal(0, 2, 80)
    forward, backward = delong_test(y, a, b), delong_test(y, b, a)
    assert forward["z"] == pytest.approx(-backward["z"], abs=1e-12) and forward["p"] == pytest.approx(backward["p"])


@pytest.mark.parametrize("y, match", [(np.ones(5), "both classes"), (np.array([1, 0, 0, 0, 0]), "two positive"),
                                      (np.array([0, 1, 2, 1, 0]), "0/1")])
def test_delong_bad_inputs(y, match):
    with pytest.raises(ValueError, match=match):
        delong_test(y, np.arange(5.0), np.arange(5.0))
    with pytest.raises(ValueError, match="samples"):
        delong_test(np.array([0, 1, 0, 1]), np.arange(5.0), np.arange(5.0))
