import numpy as np
import pytest
from scipy import stats

from keras_cxr.stats import mcnemar_test


def test_mcnemar_chi_square_with_continuity_correction():
    y = np.ones(60, int)
    a = np.r_[np.ones(30), np.zeros(30)].astype(int)
    b = np.r_[np.ones(10), np.zeros(20), np.ones(5), np.zeros(25)].astype(int)
    r = mcnemar_test(y, a, b)  # b = 20 (A right, B wrong), c = 5: b + c = 25 → chi-square
    assert (r["b"], r["c"], r["exact"]) == (20, 5, False)
    # By hand: (|20 - 5| - 1)² / 25 = 196 / 25 = 7.84; P(χ²₁ > 7.84) = 0.005110...
    assert abs(r["statistic"] - 7.84) < 1e-12
    assert abs(r["p"] - stats.chi2.sf(7.84, 1)) < 1e-12 and abs(r["p"] - 0.0051098) < 1e-6


def test_mcnemar_exact_binomial():
    y = np.ones(60, int)
    a = np.r_[np.ones(30), np.zeros(30)].astype(int)
    b = np.r_[np.ones(10), np.zeros(20), np.ones(5), np.zeros(25)].astype(int)
    exact = mcnemar_test(y, a, b, exact=True)
    assert abs(exact["p"] - stats.binomtest(20, 25).pvalue) < 1e-12 and exact["statistic"] == 5.0
    # b + c < 25 switches to the exact test by default. By hand, b = 3, c = 1:
    # p = 2 · P(X ≤ 1 | n = 4, ½) = 2 · (1 + 4) / 16 = 0.625.
    small = mcnemar_test([1, 1, 1, 1, 0, 0], [1, 1, 1, 0, 0, 0], [0, 0, 1, 1, 0, 1])
    assert (small["b"], small["c"], small["exact"]) == (3, 1, True) and abs(small["p"] - 0.625) < 1e-12
    forced = mcnemar_test([1, 1, 1, 1, 0, 0], [1, 1, 1, 0, 0, 0], [0, 0, 1, 1, 0, 1], exact=False)
    assert abs(forced["statistic"] - 1 / 4) < 1e-12 and not forced["exact"]


def test_mcnemar_multiclass_and_degenerate():
    y = np.array([0, 1, 2, 2, 1, 0, 2])
    a = np.array([0, 1, 2, 1, 1, 0, 0])  # wrong on cases 3 and 6
    b = np.array([0, 2, 2, 2, 1, 1, 2])  # wrong on cases 1 and 5
    r = mcnemar_test(y, a, b)
    assert (r["b"], r["c"]) == (2, 2) and r["p"] == 1.0
    assert mcnemar_test(y, a, a) == {"statistic": 0.0, "p": 1.0, "b": 0, "c": 0, "exact": True}
    with pytest.raises(ValueError, match="one shape"):
        mcnemar_test(y, a, b[:-1])
