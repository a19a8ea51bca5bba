"""Calibration error against torchmetrics 1.9.0 golden numbers and MONAI; adaptive bins against a direct
np.array_split computation; temperature scaling against a grid search; the bootstrap interval."""

import pathlib

import numpy as np
import pytest
from scipy import special

from keras_cxr.metrics import (
    apply_temperature,
    calibration_bins,
    calibration_error_ci,
    expected_calibration_error,
    fit_temperature,
)
from keras_cxr.stats import bootstrap_ci

GOLDEN = np.load(pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "calibration_golden.npz")
CASES = sorted({key.split("__")[0] for key in GOLDEN.files if "__" in key})
NUM_BINS = (15, 10, 4)
NORMS = ("l1", "l2", "max")


def _case(name):
    return str(GOLDEN[f"{name}__task"]), GOLDEN[f"{name}__y_true"], GOLDEN[f"{name}__y_prob"]


@pytest.mark.parametrize("name", [c for c in CASES if c != "binary_exact_one"])
def test_parity_with_torchmetrics_golden(name):
    task, y_true, y_prob = _case(name)
    # MulticlassCalibrationError computes in float32; the binary one (and so multi-label) in float64.
    tolerance = 1e-6 if task == "multiclass" else 1e-12
    for num_bins in NUM_BINS:
        for norm in NORMS:
            ours = expected_calibration_error(y_true, y_prob, num_bins, task=task, norm=norm)
            assert abs(ours - float(GOLDEN[f"{name}__{norm}_{num_bins}"])) < tolerance, (num_bins, norm)
    if task != "multilabel":  # the shapes alone give the same task
        assert expected_calibration_error(y_true, y_prob) == expected_calibration_error(y_true, y_prob, task=task)


def test_golden_edge_cases_hold_the_expected_values():
    assert float(GOLDEN["binary_perfect__l1_15"]) == 0 and float(GOLDEN["multiclass_perfect__max_15"]) == 0
    for name in ("binary_one_bin", "multiclass_one_bin"):  # one filled bin: ECE = MCE = RMS = |acc − conf|
        values = {float(GOLDEN[f"{name}__{norm}_{b}"]) for norm in NORMS for b in NUM_BINS}
        assert max(values) - min(values) < 1e-6
        task, y_true, y_prob = _case(name)
        assert (calibration_bins(y_true, y_prob, task=task)["count"] > 0).sum() == 1


def test_binary_two_columns_use_the_positive_column():
    _, y_true, y_prob = _case("binary_random")
    two = np.column_stack([1 - y_prob, y_prob])
    assert expected_calibration_error(y_true, two) == expected_calibration_error(y_true, y_prob)
    # Top-label on the same data differs: the binary convention is torchmetrics', not max(p, 1 − p).
    assert expected_calibration_error(y_true, two, task="multiclass") != expected_calibration_error(y_true, y_prob)


def _monai_error(y_true, y_prob, num_bins, reduction):
    """MONAI's per-channel binned error ([left, right) bins with right=True), averaged over classes."""
    torch = pytest.importorskip("torch")
    metrics = pytest.importorskip("monai.metrics")
    y_true, y_prob = y_true.reshape(len(y_true), -1), y_prob.reshape(len(y_prob), -1)
    values = []
    for c in range(y_prob.shape[1]):
        known = ~np.isnan(y_true[:, c])
        metric = metrics.CalibrationErrorMetric(num_bins=num_bins, calibration_reduction=reduction, right=True)
        metric(y_pred=torch.tensor(y_prob[known, c][None, None]), y=torch.tensor(y_true[known, c][None, None]))
        values.append(float(metric.aggregate()))
    return float(np.mean(values))


@pytest.mark.parametrize("name", ["binary_random", "binary_small", "binary_single_class", "multilabel_random"])
def test_parity_with_monai(name):
    pytest.importorskip("monai")
    task, y_true, y_prob = _case(name)
    for num_bins in (15, 4):
        for norm, reduction in (("l1", "expected"), ("max", "maximum")):
            ours = expected_calibration_error(y_true, y_prob, num_bins, task=task, norm=norm)
            assert abs(ours - _monai_error(y_true, y_prob, num_bins, reduction)) < 1e-6  # MONAI runs in float32


def test_exact_one_joins_the_last_bin_unlike_torchmetrics():
    """torchmetrics 1.9 bins a confidence of exactly 1.0 alone; here (and in MONAI) it joins the last bin."""
    _, y_true, y_prob = _case("binary_exact_one")
    ours = expected_calibration_error(y_true, y_prob, 15)
    last = y_prob >= 14 / 15
    merged = (abs(y_true[last].mean() - y_prob[last].mean()) * last.sum()
              + sum(abs(y_true[i] - y_prob[i]) for i in np.flatnonzero(~last))) / len(y_prob)
    assert abs(ours - merged) < 1e-12
    assert abs(ours - float(GOLDEN["binary_exact_one__l1_15"])) > 0.01
    assert abs(ours - _monai_error(y_true, y_prob, 15, "expected")) < 1e-6


def _adaptive_reference(confidence, accuracy, num_bins):
    """Equal-count bins written out directly: sort, np.array_split, weighted |mean acc − mean conf|."""
    order = np.argsort(confidence, kind="stable")
    total = 0.0
    for c, a in zip(np.array_split(confidence[order], num_bins), np.array_split(accuracy[order], num_bins)):
        if len(c):
            total += len(c) * abs(a.mean() - c.mean())
    return total / len(confidence)


@pytest.mark.parametrize("name,num_bins", [("binary_random", 15), ("binary_random", 7), ("binary_small", 200),
                                           ("multiclass_random", 15), ("multiclass_under", 11)])
def test_quantile_bins_match_array_split(name, num_bins):
    task, y_true, y_prob = _case(name)
    if task == "binary":
        confidence, accuracy = y_prob, y_true
    else:
        confidence, accuracy = y_prob.max(axis=1), (y_prob.argmax(axis=1) == y_true).astype(float)
    ours = expected_calibration_error(y_true, y_prob, num_bins, strategy="quantile", task=task)
    assert abs(ours - _adaptive_reference(confidence, accuracy, num_bins)) < 1e-12
    counts = calibration_bins(y_true, y_prob, num_bins, "quantile", task)["count"]
    assert counts.sum() == len(y_true) and counts.max() - counts[counts > 0].min() <= 1


def test_quantile_equals_uniform_on_evenly_spread_confidences():
    rng = np.random.default_rng(3)
    confidence = (np.arange(300) + 0.5) / 300  # 20 per equal-width bin
    y_true = (rng.random(300) < confidence ** 2).astype(int)
    uniform = calibration_bins(y_true, confidence, 15, "uniform")
    quantile = calibration_bins(y_true, confidence, 15, "quantile")
    assert uniform["count"].tolist() == [20.0] * 15 == quantile["count"].tolist()
    np.testing.assert_allclose(quantile["edges"][1:-1], uniform["edges"][1:-1], atol=1 / 600 + 1e-12)
    for norm in NORMS:
        assert abs(expected_calibration_error(y_true, confidence, 15, "uniform", norm=norm)
                   - expected_calibration_error(y_true, confidence, 15, "quantile", norm=norm)) < 1e-12


def test_bins_carry_the_error_and_a_class_axis_for_multilabel():
    task, y_true, y_prob = _case("multilabel_random")
    bins = calibration_bins(y_true, y_prob, 10)
    assert bins["task"] == "multilabel" and bins["count"].shape == (3, 10) and bins["edges"].shape == (3, 11)
    np.testing.assert_array_equal(bins["count"].sum(axis=1), (~np.isnan(y_true)).sum(axis=0))
    filled = bins["count"] > 0
    gaps = np.where(filled, np.abs(bins["accuracy"] - bins["confidence"]), 0) * bins["count"]
    per_class = gaps.sum(axis=1) / bins["count"].sum(axis=1)
    assert abs(per_class.mean() - expected_calibration_error(y_true, y_prob, 10)) < 1e-12
    assert np.isnan(bins["accuracy"][~filled]).all()


def test_unknown_truth_is_left_out():
    task, y_true, y_prob = _case("multilabel_random")
    for c in range(3):
        known = ~np.isnan(y_true[:, c])
        assert expected_calibration_error(y_true[:, c], y_prob[:, c]) == \
            expected_calibration_error(y_true[known, c], y_prob[known, c])
    y_true[:, 1] = np.nan  # a class with no known truth drops out of the mean
    expected = np.mean([expected_calibration_error(y_true[:, c], y_prob[:, c]) for c in (0, 2)])
    assert abs(expected_calibration_error(y_true, y_prob) - expected) < 1e-12
    assert np.isnan(expected_calibration_error(np.full(4, np.nan), np.full(4, 0.5)))


@pytest.mark.parametrize("args,kwargs,match", [
    (([0, 1, 1], [0.2, 0.4]), {}, "y_true has 3 samples but y_prob has 2"),
    (([0, 1], [0.2, 1.3]), {}, r"in \[0.2, 1.3\].*sigmoid"),
    (([0, 1], [0.2, np.nan]), {}, "with NaN"),
    (([0, 1], [0.2, 0.4]), {"num_bins": 0}, "num_bins must be an integer ≥ 1.*received 0"),
    (([0, 1], [0.2, 0.4]), {"strategy": "equal"}, "received 'equal'"),
    (([0, 1], [0.2, 0.4]), {"norm": "l3"}, "received 'l3'"),
    (([0, 2], [0.2, 0.4]), {}, r"0, 1 or NaN.*\[0. 2.\]"),
    (([0, 3], np.full((2, 3), 1 / 3)), {}, r"integers in \[0, 3\)"),
    (([0, 1], np.full((2, 3), 1 / 3)), {"task": "binary"}, r"y_prob \(N,\) or \(N, 2\); received shapes"),
    (([0, 1], [0.2, 0.4]), {"task": "ordinal"}, "received 'ordinal'"),
])
def test_errors_name_the_value_and_the_fix(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        expected_calibration_error(*args, **kwargs)


def _binary_nll(z, y):
    return float(np.mean(np.logaddexp(0, z) - y * z))


def _binary_data(n, seed, scale=2.0):
    rng = np.random.default_rng(seed)
    z = rng.normal(0, scale, n)
    return z, (rng.random(n) < special.expit(z)).astype(int)


def test_temperature_undoes_overconfidence_and_helps_held_out_data():
    z, y = _binary_data(40000, 0)
    validation, test = slice(0, 20000), slice(20000, None)
    temperature = fit_temperature(3 * z[validation], y[validation], from_logits=True)
    assert abs(temperature - 3) < 0.1
    before = special.expit(3 * z[test])
    after = apply_temperature(3 * z[test], temperature, from_logits=True)
    assert _binary_nll(3 * z[test] / temperature, y[test]) < _binary_nll(3 * z[test], y[test])
    assert expected_calibration_error(y[test], after) < 0.5 * expected_calibration_error(y[test], before)


def test_temperature_for_multiclass_overconfidence():
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 2, (20000, 5))
    y = (special.softmax(logits, axis=1).cumsum(axis=1) > rng.random((20000, 1))).argmax(axis=1)
    assert abs(fit_temperature(3 * logits, y, from_logits=True) - 3) < 0.1
    assert abs(fit_temperature(logits, y, from_logits=True) - 1) < 0.05
    probs = special.softmax(3 * logits, axis=1)  # probabilities in: log p are the logits up to a shift,
    # but for the ~1% of probabilities below the 1e-7 clip
    assert abs(fit_temperature(probs, y) - fit_temperature(3 * logits, y, from_logits=True)) < 0.05
    calibrated = apply_temperature(3 * logits, 3.0, task="multiclass", from_logits=True)
    np.testing.assert_allclose(calibrated, special.softmax(logits, axis=1))
    unclipped = probs.min(axis=1) > 1e-6
    np.testing.assert_allclose(apply_temperature(probs[unclipped], 3.0), special.softmax(logits[unclipped], axis=1),
                               atol=1e-9)
    assert expected_calibration_error(y, calibrated) < expected_calibration_error(y, probs)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_temperature_is_one_for_calibrated_outputs(seed):
    z, y = _binary_data(20000, seed)
    assert abs(fit_temperature(z, y, from_logits=True) - 1) < 0.05
    assert abs(fit_temperature(special.expit(z), y) - 1) < 0.05  # the same from probabilities


def test_temperature_equals_the_grid_search_minimum():
    z, y = _binary_data(3000, 4, scale=3.0)
    z = 1.7 * z
    grid = np.exp(np.linspace(np.log(0.2), np.log(10), 4001))
    best = grid[np.argmin([_binary_nll(z / t, y) for t in grid])]
    temperature = fit_temperature(z, y, from_logits=True)
    assert abs(temperature - best) <= best * (np.log(10 / 0.2) / 4000)
    assert _binary_nll(z / temperature, y) <= _binary_nll(z / best, y) + 1e-12


def test_multilabel_temperature_is_shared_and_skips_unknown_truth():
    rng = np.random.default_rng(5)
    logits = rng.normal(0, 2, (8000, 3))
    y = (rng.random((8000, 3)) < special.expit(logits)).astype(float)
    y[rng.random((8000, 3)) < 0.1] = np.nan
    temperature = fit_temperature(2 * logits, y, from_logits=True)
    assert abs(temperature - 2) < 0.1
    scaled = apply_temperature(2 * logits, temperature, task="multilabel", from_logits=True)
    np.testing.assert_allclose(scaled, special.expit(2 * logits / temperature))


def test_apply_temperature_shapes_and_errors():
    z = np.array([-1.0, 0.5, 3.0])
    two = np.column_stack([np.zeros(3), z])  # binary logits as two columns: softmax = sigmoid(z1 − z0)
    np.testing.assert_allclose(apply_temperature(two, 2.0, task="binary", from_logits=True)[:, 1],
                               special.expit(z / 2))
    np.testing.assert_allclose(apply_temperature(special.softmax(two, axis=1), 2.0), special.softmax(two / 2, axis=1))
    np.testing.assert_allclose(apply_temperature(special.expit(z), 1.0), special.expit(z))
    with pytest.raises(ValueError, match="temperature must be a finite number > 0.*received 0"):
        apply_temperature(z, 0)
    with pytest.raises(ValueError, match="task='multiclass'.*task='multilabel'"):
        apply_temperature(two, 2.0, from_logits=True)
    with pytest.raises(ValueError, match="from_logits=True"):
        apply_temperature(z, 2.0)
    with pytest.raises(ValueError, match="bounds"):
        fit_temperature(z, [0, 1, 1], from_logits=True, bounds=(2, 1))


def test_separable_data_warns_at_the_bound():
    with pytest.warns(RuntimeWarning, match="edge of bounds"):
        fit_temperature(np.array([-3.0, -2.0, 2.0, 3.0]), [0, 0, 1, 1], from_logits=True)


def test_bootstrap_interval_reuses_bootstrap_ci_and_narrows_with_more_cases():
    rng = np.random.default_rng(6)
    p = rng.random(4000)
    y = (rng.random(4000) < p ** 1.3).astype(int)
    small = calibration_error_ci(y[:200], p[:200], num_bins=10, num_resamples=300)
    large = calibration_error_ci(y, p, num_bins=10, num_resamples=300)
    for r in (small, large):
        assert r["low"] <= r["estimate"] <= r["high"] and r["n_valid"] == 300
    assert large["estimate"] == expected_calibration_error(y, p, 10)
    assert large["high"] - large["low"] < 0.5 * (small["high"] - small["low"])
    direct = bootstrap_ci(lambda t, s: expected_calibration_error(t, s, 10), y[:200], p[:200], n_resamples=300,
                          stratified=False)
    assert (direct["low"], direct["high"]) == (small["low"], small["high"])
    multilabel = calibration_error_ci(*_case("multilabel_random")[1:], num_resamples=100, strategy="quantile")
    assert multilabel["low"] <= multilabel["estimate"] <= multilabel["high"]
