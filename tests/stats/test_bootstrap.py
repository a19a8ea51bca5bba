import warnings

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import accuracy_score, roc_auc_score

from keras_cxr.stats import bootstrap_ci


def _data(n=300, seed=1):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return y, y + rng.normal(0, 1.0, n)


@pytest.mark.parametrize("method", ["percentile", "BCa"])
def test_unstratified_equals_scipy_bootstrap(method):
    y, s = _data(n=120)
    ours = bootstrap_ci(roc_auc_score, y, s, n_resamples=400, seed=3, method=method, stratified=False)
    reference = stats.bootstrap((y, s), roc_auc_score, paired=True, vectorized=False, n_resamples=400,
                                method=method, rng=np.random.default_rng(3)).confidence_interval
    assert abs(ours["low"] - reference.low) < 1e-12 and abs(ours["high"] - reference.high) < 1e-12
    assert ours["estimate"] == roc_auc_score(y, s) and ours["n_valid"] == 400 and ours["method"] == method


def test_stratified_percentile_against_hand_resampling():
    y, s = _data()
    perc = bootstrap_ci(roc_auc_score, y, s, n_resamples=300, seed=0)
    assert perc["low"] < perc["estimate"] < perc["high"] and perc["stratified"]
    # Independent reference: every resample keeps the class counts, percentile by np.quantile.
    rng = np.random.default_rng(0)
    groups = [np.flatnonzero(y == k) for k in (0, 1)]
    draws = np.concatenate([g[rng.integers(0, len(g), (300, len(g)))] for g in groups], axis=1)
    values = [roc_auc_score(y[i], s[i]) for i in draws]
    np.testing.assert_allclose([perc["low"], perc["high"]], np.quantile(values, [0.025, 0.975]), rtol=0, atol=1e-12)


def test_stratified_bca_is_close_to_percentile_and_scipy():
    y, s = _data()
    bca = bootstrap_ci(roc_auc_score, y, s, n_resamples=1000, method="BCa")
    perc = bootstrap_ci(roc_auc_score, y, s, n_resamples=1000)
    scipy_bca = stats.bootstrap((y, s), roc_auc_score, paired=True, vectorized=False, n_resamples=1000,
                                method="BCa", rng=np.random.default_rng(0)).confidence_interval
    assert bca["low"] < bca["estimate"] < bca["high"]
    # Same estimator, different resampling schemes: Monte-Carlo-level agreement only.
    assert abs(bca["low"] - perc["low"]) < 0.02 and abs(bca["high"] - perc["high"]) < 0.02
    assert abs(bca["low"] - scipy_bca.low) < 0.02 and abs(bca["high"] - scipy_bca.high) < 0.02


def test_multilabel_strata_and_nan_resamples():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, (150, 2))
    y[:3, 1] = 1
    y[3:, 1] = 0  # a rare label: 3 positives
    s = y + rng.normal(0, 1, (150, 2))

    def mean_auc(t, p):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(np.mean([roc_auc_score(t[:, c], p[:, c]) for c in range(2)]))

    stratified = bootstrap_ci(mean_auc, y, s, n_resamples=200)
    assert stratified["n_valid"] == 200  # strata = distinct label rows: the rare label never vanishes
    with pytest.warns(RuntimeWarning, match="NaN on"):
        free = bootstrap_ci(mean_auc, y, s, n_resamples=200, stratified=False)
    assert 0 < free["n_valid"] < 200 and free["low"] <= free["high"]


def test_degenerate_bca_warns_and_gives_nan():
    y = np.array([0, 1] * 10)
    with pytest.warns(RuntimeWarning, match="BCa"):
        r = bootstrap_ci(accuracy_score, y, y, n_resamples=50, method="BCa")
    assert r["estimate"] == 1.0 and np.isnan(r["low"]) and np.isnan(r["high"])
    assert bootstrap_ci(accuracy_score, y, y, n_resamples=50)["low"] == 1.0


@pytest.mark.parametrize("kwargs, match", [({"method": "basic"}, "method"), ({"confidence": 1.5}, "confidence"),
                                           ({"n_resamples": 0}, "n_resamples")])
def test_bootstrap_bad_inputs(kwargs, match):
    y, s = _data(n=20)
    with pytest.raises(ValueError, match=match):
        bootstrap_ci(roc_auc_score, y, s, **kwargs)
    with pytest.raises(ValueError, match="samples"):
        bootstrap_ci(roc_auc_score, y, s[:-1])
