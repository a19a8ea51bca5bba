import numpy as np
import pytest
from scipy import stats

from keras_cxr.stats import proportion_ci


@pytest.mark.parametrize("k, n, confidence", [(37, 52, 0.95), (1, 40, 0.95), (19, 20, 0.9), (250, 400, 0.99)])
def test_proportion_ci_against_formulas(k, n, confidence):
    z = stats.norm.ppf(0.5 + confidence / 2)
    p = k / n
    # Wilson score interval (Wilson 1927), written out.
    center = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    np.testing.assert_allclose(proportion_ci(k, n, confidence, "wilson"), (center - half, center + half),
                               rtol=0, atol=1e-12)
    wald = z * np.sqrt(p * (1 - p) / n)
    np.testing.assert_allclose(proportion_ci(k, n, confidence, "normal"), (max(p - wald, 0), min(p + wald, 1)),
                               rtol=0, atol=1e-12)
    # Clopper-Pearson: beta quantiles.
    a = 1 - confidence
    exact = (stats.beta.ppf(a / 2, k, n - k + 1), stats.beta.ppf(1 - a / 2, k + 1, n - k))
    np.testing.assert_allclose(proportion_ci(k, n, confidence, "clopper-pearson"), exact, rtol=0, atol=1e-10)


def test_proportion_ci_edges():
    assert proportion_ci(0, 10, method="normal") == (0.0, 0.0)
    low, high = proportion_ci(0, 10, method="clopper-pearson")
    assert low == 0.0 and abs(high - (1 - 0.025 ** (1 / 10))) < 1e-12  # closed form at k = 0
    low, high = proportion_ci(10, 10, method="wilson")
    assert high == pytest.approx(1.0) and 0.6 < low < 1
    assert proportion_ci(np.int64(3), 10.0) == proportion_ci(3, 10)


@pytest.mark.parametrize("args, kwargs, match", [
    ((11, 10), {}, "successes"), ((1, 0), {}, "total"), ((2.5, 10), {}, "whole"),
    ((1, 10), {"method": "agresti"}, "method"), ((1, 10), {"confidence": 95}, "confidence"),
])
def test_proportion_ci_bad_inputs(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        proportion_ci(*args, **kwargs)
