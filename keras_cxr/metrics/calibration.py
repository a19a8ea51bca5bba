"""Calibration of predicted probabilities: binned calibration error (equal-width or adaptive bins), its
bootstrap interval, and temperature scaling fitted on a validation split (numpy / scipy, no Keras).

Conventions (the same for the error, its interval and `keras_cxr.report.plot_reliability_diagram`):

- binary, `y_prob` (N,) = P(positive) or (N, 2): as torchmetrics' `BinaryCalibrationError`, the
  "confidence" is the positive-class probability and the "accuracy" is the label itself, so a bin compares
  the mean predicted probability with the fraction of positives (not the top-label max(p, 1 - p)).
- multi-class, `y_prob` (N, C) softmax and (N,) integer labels: top-label, as torchmetrics'
  `MulticlassCalibrationError`: confidence = max probability, accuracy = argmax == label.
- multi-label, `y_prob` (N, C) sigmoid and (N, C) 0/1 truth: the binary error of each class, averaged
  over classes (as MONAI's `CalibrationErrorMetric` with its "mean" reduction).
- NaN truth means unknown: those cases (multi-label: those entries) are left out.
- Equal-width ("uniform") bins are [k / M, (k + 1) / M), the last one closed at 1, as torchmetrics
  except at exactly 1.0: torchmetrics 1.9 gives a confidence of exactly 1.0 a bin of its own, here it joins
  the last bin (as Guo et al., MONAI and scikit-learn's `calibration_curve`). The two agree unless the
  last bin mixes confidences of exactly 1.0 with smaller ones (tests/metrics/test_calibration.py pins it).
- Adaptive ("quantile") bins hold (nearly) equal counts: the confidences sorted (stable) and cut as
  `np.array_split` cuts, so the first N mod M bins hold one more case. torchmetrics has none.

Reference:
    Guo, Pleiss, Sun & Weinberger 2017, "On Calibration of Modern Neural Networks", ICML,
    arXiv:1706.04599: reliability diagrams, ECE and MCE (§2, Eq. 3 and 5), temperature scaling fitted by
    NLL on the validation set (§4.2).
    Nixon, Dusenberry, Zhang, Jerfel & Tran 2019, "Measuring Calibration in Deep Learning", CVPR Workshops,
    arXiv:1904.01685: adaptive (equal-mass) bins.
"""

import functools
import warnings

import numpy as np
from scipy import optimize, special

from keras_cxr.stats.bootstrap import bootstrap_ci

TASKS = ("binary", "multiclass", "multilabel")
STRATEGIES = ("uniform", "quantile")
NORMS = ("l1", "l2", "max")
PROBABILITY_EPSILON = 1e-7  # probabilities are clipped to [ε, 1 − ε] before log / logit (float32's resolution)


def _check_options(num_bins, strategy, norm="l1"):
    if isinstance(num_bins, bool) or not isinstance(num_bins, (int, np.integer)) or num_bins < 1:
        raise ValueError(f"num_bins must be an integer ≥ 1 (15 is the usual choice); received {num_bins!r}.")
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be 'uniform' (equal width) or 'quantile' (equal counts); "
                         f"received {strategy!r}.")
    if norm not in NORMS:
        raise ValueError(f"norm must be 'l1' (ECE), 'l2' (RMS) or 'max' (MCE); received {norm!r}.")


_SHAPES = {"binary": "y_true (N,) and y_prob (N,) or (N, 2)", "multiclass": "y_true (N,) and y_prob (N, C)",
           "multilabel": "y_true and y_prob of the same shape (N, C)"}


def _shapes_fit(y_true, values, task):
    if task == "multilabel":
        return values.ndim == 2 and y_true.shape == values.shape
    if y_true.ndim != 1:
        return False
    if task == "binary":
        return values.ndim == 1 or values.shape[1] == 2
    return values.ndim == 2 and values.shape[1] >= 2


def _resolve_task(y_true, values, task):
    """The task named, or the one the shapes imply: (N, C) truth is multi-label, (N,) or (N, 2) scores with
    (N,) truth binary, (N, C > 2) multi-class."""
    if values.ndim not in (1, 2):
        raise ValueError(f"y_prob must have shape (N,) or (N, C); received shape {values.shape}.")
    if len(y_true) != len(values):
        raise ValueError(f"y_true has {len(y_true)} samples but y_prob has {len(values)}; pass the same cases.")
    if task is None:
        if y_true.ndim == 2:
            task = "multilabel"
        else:
            task = "binary" if values.ndim == 1 or values.shape[1] == 2 else "multiclass"
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS} or None (inferred from the shapes); received {task!r}.")
    if not _shapes_fit(y_true, values, task):
        raise ValueError(f"task {task!r} takes {_SHAPES[task]}; received shapes {y_true.shape} and {values.shape}.")
    known = y_true[~np.isnan(y_true)]
    if task == "multiclass":
        if np.any((known < 0) | (known >= values.shape[1]) | (known != np.round(known))):
            raise ValueError(f"multi-class labels must be integers in [0, {values.shape[1]}); received values "
                             f"{np.unique(known)[:10]}.")
    elif np.any((known != 0) & (known != 1)):
        raise ValueError(f"{task} truth must be 0, 1 or NaN (unknown); received values {np.unique(known)[:10]}.")
    return task


def _check_probabilities(y_prob):
    if not np.all((y_prob >= 0) & (y_prob <= 1)):
        raise ValueError(f"y_prob must hold probabilities in [0, 1]; received values in "
                         f"[{np.nanmin(y_prob):.4g}, {np.nanmax(y_prob):.4g}]"
                         f"{' with NaN' if np.isnan(y_prob).any() else ''}. Apply a sigmoid (binary, multi-label) "
                         "or softmax (multi-class) to logits first, e.g. apply_temperature(logits, 1.0, "
                         "from_logits=True).")


def _prepare(y_true, y_prob, task):
    y_true = np.asarray(y_true, dtype=np.float64)
    y_prob = np.asarray(y_prob, dtype=np.float64)
    task = _resolve_task(y_true, y_prob, task)
    _check_probabilities(y_prob)
    return y_true, y_prob, task


def _confidences(y_true, y_prob, task):
    """(confidence, accuracy) pairs, one for a binary or multi-class task, one per class for multi-label."""
    if task == "multilabel":
        return [pair for c in range(y_prob.shape[1]) for pair in _confidences(y_true[:, c], y_prob[:, c], "binary")]
    known = ~np.isnan(y_true)
    y_true, y_prob = y_true[known], y_prob[known]
    if task == "binary":
        return [(y_prob[:, 1] if y_prob.ndim == 2 else y_prob, y_true)]
    return [(y_prob.max(axis=1), (y_prob.argmax(axis=1) == y_true).astype(np.float64))]


def _bin_indices(confidence, num_bins, strategy):
    """Each confidence's bin, and the (num_bins + 1,) edges."""
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, num_bins + 1)
        return np.clip(np.searchsorted(edges, confidence, side="right") - 1, 0, num_bins - 1), edges
    order = np.argsort(confidence, kind="stable")
    sizes = np.full(num_bins, len(confidence) // num_bins) + (np.arange(num_bins) < len(confidence) % num_bins)
    index = np.empty(len(confidence), dtype=np.int64)
    index[order] = np.repeat(np.arange(num_bins), sizes)
    starts = np.cumsum(sizes)[:-1]
    lower = np.append(confidence[order], 1.0)[starts]  # a bin's lowest confidence (1 for an empty bin)
    return index, np.concatenate([[0.0], lower, [1.0]])


def _bin_statistics(confidence, accuracy, num_bins, strategy):
    index, edges = _bin_indices(confidence, num_bins, strategy)
    count = np.bincount(index, minlength=num_bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.bincount(index, confidence, minlength=num_bins) / count
        mean_accuracy = np.bincount(index, accuracy, minlength=num_bins) / count
    return {"edges": edges, "confidence": mean_confidence, "accuracy": mean_accuracy, "count": count}


def _error(statistics, norm):
    """Calibration error of one set of bins (NaN when every bin is empty)."""
    count = statistics["count"]
    filled = count > 0
    if not filled.any():
        return float("nan")
    gap = np.abs(statistics["accuracy"][filled] - statistics["confidence"][filled])
    weight = count[filled] / count.sum()
    if norm == "l1":
        return float(np.sum(weight * gap))
    if norm == "l2":
        return float(np.sqrt(np.sum(weight * gap ** 2)))
    return float(gap.max())


def calibration_bins(y_true, y_prob, num_bins=15, strategy="uniform", task=None):
    """Per-bin mean confidence, accuracy and count: the data of a reliability diagram and of the ECE.

    Args:
        y_true: (N,) labels (binary 0/1 or multi-class ids) or (N, C) multi-label 0/1 truth; NaN = unknown.
        y_prob: (N,) positive-class probabilities, (N, 2) binary, or (N, C) softmax / sigmoid probabilities.
        num_bins: number of bins M ≥ 1.
        strategy: "uniform" (M equal-width bins on [0, 1]) or "quantile" (M bins of (nearly) equal counts).
        task: "binary", "multiclass", "multilabel", or None to infer it from the shapes (see the module).

    Returns:
        dict with `edges` (M + 1,), `confidence` (mean confidence per bin, NaN when empty), `accuracy`
        (fraction correct, or of positives for binary / multi-label, NaN when empty), `count` (M,) and `task`.
        Multi-label arrays carry a leading class axis: (C, M + 1) and (C, M).

    Raises:
        ValueError: mismatched shapes, probabilities outside [0, 1], labels out of range, num_bins < 1, or
            an unknown strategy or task.

    Example:
    >>> bins = calibration_bins([0, 1, 1, 0], [0.1, 0.8, 0.7, 0.3], num_bins=2)
    >>> bins["count"].tolist(), bins["accuracy"].tolist()
    ([2.0, 2.0], [0.0, 1.0])
    """
    _check_options(num_bins, strategy)
    y_true, y_prob, task = _prepare(y_true, y_prob, task)
    per_class = [_bin_statistics(c, a, num_bins, strategy) for c, a in _confidences(y_true, y_prob, task)]
    if task == "multilabel":
        bins = {key: np.stack([s[key] for s in per_class]) for key in per_class[0]}
    else:
        bins = per_class[0]
    return {**bins, "task": task}


def expected_calibration_error(y_true, y_prob, num_bins=15, strategy="uniform", task=None, norm="l1"):
    """Binned calibration error: Σ_m |B_m| / n · |acc(B_m) − conf(B_m)| (Guo et al. 2017, Eq. 3).

    Binary: the positive-class probability against the label, exactly torchmetrics'
    `BinaryCalibrationError` (its convention; not the top-label max(p, 1 − p)). Multi-class: top-label, as
    `MulticlassCalibrationError`. Multi-label: the mean over classes of each class's binary error (a class
    whose truth is all unknown is left out of the mean). Uniform bins equal torchmetrics' bins but for a
    confidence of exactly 1.0 (see the module docstring).

    Args:
        y_true, y_prob, num_bins, strategy, task: as `calibration_bins`.
        norm: "l1" (expected calibration error, ECE), "l2" (root mean square, torchmetrics' l2 without
            debiasing) or "max" (maximum calibration error over non-empty bins, MCE, Eq. 5).

    Returns:
        float in [0, 1]; NaN when no case has known truth.

    Raises:
        ValueError: as `calibration_bins`, or an unknown norm.

    Example:
    >>> round(expected_calibration_error([0, 0, 1, 1, 1], [0.25, 0.25, 0.55, 0.75, 0.75], num_bins=2), 4)
    0.29
    """
    _check_options(num_bins, strategy, norm)
    y_true, y_prob, task = _prepare(y_true, y_prob, task)
    errors = [_error(_bin_statistics(c, a, num_bins, strategy), norm) for c, a in _confidences(y_true, y_prob, task)]
    if np.all(np.isnan(errors)):
        return float("nan")
    return float(np.nanmean(errors))


def calibration_error_ci(y_true, y_prob, num_bins=15, strategy="uniform", task=None, norm="l1",
                         num_resamples=1000, confidence=0.95, seed=0, method="percentile", stratified=False):
    """Bootstrap interval of `expected_calibration_error`, resampling cases with `keras_cxr.stats.bootstrap_ci`.

    Cases (rows) are drawn with replacement; by default not stratified by label (the error depends on the
    label mix, and a stratum per distinct multi-label row would be tiny), so the draws are those of
    `scipy.stats.bootstrap(paired=True)` for the same seed.

    Args:
        y_true, y_prob, num_bins, strategy, task, norm: as `expected_calibration_error`.
        num_resamples: number of bootstrap resamples.
        confidence: interval level in (0, 1).
        seed: seed of numpy's default_rng.
        method: "percentile" or "BCa" (see `bootstrap_ci`).
        stratified: resample within each label (each distinct truth row).

    Returns:
        dict: estimate, low, high, method, confidence, n_resamples, n_valid, stratified (from `bootstrap_ci`).

    Raises:
        ValueError: as `expected_calibration_error`, or bad bootstrap settings.

    Example:
    >>> rng = np.random.default_rng(0); p = rng.random(300); y = (rng.random(300) < p).astype(int)
    >>> r = calibration_error_ci(y, p, num_bins=10, num_resamples=200)
    >>> bool(r["low"] <= r["estimate"] <= r["high"])
    True
    """
    _check_options(num_bins, strategy, norm)
    y_true, y_prob, task = _prepare(y_true, y_prob, task)
    metric = functools.partial(expected_calibration_error, num_bins=num_bins, strategy=strategy, task=task, norm=norm)
    return bootstrap_ci(metric, y_true, y_prob, n_resamples=num_resamples, confidence=confidence, seed=seed,
                        method=method, stratified=stratified)


def _logits(values, task, from_logits):
    """Logits whose sigmoid (binary, multi-label: (N,) or (N, C)) or softmax (multi-class) gives the input."""
    if from_logits:
        if not np.all(np.isfinite(values)):
            raise ValueError("logits must be finite; received NaN or infinite values.")
        return values[:, 1] - values[:, 0] if task == "binary" and values.ndim == 2 else values
    _check_probabilities(values)
    p = np.clip(values[:, 1] if task == "binary" and values.ndim == 2 else values,
                PROBABILITY_EPSILON, 1 - PROBABILITY_EPSILON)
    return np.log(p) if task == "multiclass" else np.log(p) - np.log1p(-p)


def _negative_log_likelihood(logits, y_true, task, temperature):
    scaled = logits / temperature
    if task == "multiclass":
        return float(np.mean(special.logsumexp(scaled, axis=1) - scaled[np.arange(len(y_true)), y_true.astype(int)]))
    known = ~np.isnan(y_true)
    return float(np.mean(np.logaddexp(0.0, scaled[known]) - y_true[known] * scaled[known]))


def fit_temperature(logits_or_probs, y_true, task=None, from_logits=False, bounds=(1e-2, 1e2)):
    """Temperature T > 0 minimising the validation negative log-likelihood (Guo et al. 2017, §4.2).

    Probabilities become logits first (binary / multi-label: logit(p); multi-class: log p, which softmax
    maps back to p), clipped to [1e-7, 1 − 1e-7]. The NLL is minimised over log T by bounded Brent search
    (`scipy.optimize.minimize_scalar`): it is convex in 1 / T, so the minimum found is the global one.
    Multi-label: one temperature shared by every class, as the paper's single T; NaN truth is left out.

    Args:
        logits_or_probs: (N,) or (N, 2) binary, (N, C) multi-class or multi-label, validation outputs.
        y_true: (N,) labels or (N, C) multi-label truth (NaN = unknown).
        task: "binary", "multiclass", "multilabel", or None to infer it as `calibration_bins` does.
        from_logits: True when the outputs are logits (pre-sigmoid / pre-softmax), False for probabilities.
        bounds: (low, high) range searched for T; a T at a bound (e.g. separable data) warns.

    Returns:
        float T: T > 1 softens over-confident outputs, T < 1 sharpens under-confident ones.

    Raises:
        ValueError: as `calibration_bins`, non-finite logits, or bad bounds.

    Example:
    >>> rng = np.random.default_rng(0); z = rng.normal(0, 2, 2000)
    >>> y = (rng.random(2000) < 1 / (1 + np.exp(-z))).astype(int)
    >>> t = fit_temperature(3 * z, y, from_logits=True)  # logits 3x too large: T near 3
    >>> bool(2.5 < t < 3.5)
    True
    """
    low, high = bounds
    if not 0 < low < high:
        raise ValueError(f"bounds must be (low, high) with 0 < low < high; received {bounds!r}.")
    values = np.asarray(logits_or_probs, dtype=np.float64)
    y_true = np.asarray(y_true, dtype=np.float64)
    task = _resolve_task(y_true, values, task)
    logits = _logits(values, task, from_logits)
    if task != "multilabel":
        known = ~np.isnan(y_true)
        logits, y_true = logits[known], y_true[known]
    if not np.any(~np.isnan(y_true)):
        raise ValueError("fit_temperature needs at least one case with known truth; all of y_true is NaN.")
    result = optimize.minimize_scalar(lambda log_t: _negative_log_likelihood(logits, y_true, task, np.exp(log_t)),
                                      bounds=(np.log(low), np.log(high)), method="bounded", options={"xatol": 1e-8})
    temperature = float(np.exp(result.x))
    if min(temperature / low, high / temperature) < 1.001:
        warnings.warn(f"fit_temperature: T = {temperature:.4g} is at the edge of bounds={bounds} (outputs that "
                      "separate the classes perfectly, or too few cases); widen bounds or check the split.",
                      RuntimeWarning, stacklevel=2)
    return temperature


def apply_temperature(logits_or_probs, temperature, task=None, from_logits=False):
    """Calibrated probabilities: sigmoid(z / T) (binary, multi-label) or softmax(z / T) (multi-class).

    Args:
        logits_or_probs: (N,) or (N, 2) binary, or (N, C) outputs; logits or probabilities (see `from_logits`).
        temperature: T > 0, e.g. from `fit_temperature` on a validation split.
        task: "binary", "multiclass" or "multilabel". None: (N,) is binary; (N, C) probabilities whose rows
            sum to 1 are multi-class (equal to binary for C = 2); other (N, C) input must name its task.
        from_logits: True when the outputs are logits, False for probabilities.

    Returns:
        Probabilities of the input's shape ((N, 2) binary input gives (N, 2) [1 − p, p]).

    Raises:
        ValueError: T ≤ 0, probabilities outside [0, 1], or an (N, C) input whose task cannot be inferred.

    Example:
    >>> apply_temperature(np.array([0.0, 2.0]), 2.0, from_logits=True).round(4).tolist()
    [0.5, 0.7311]
    """
    if not np.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be a finite number > 0 (from fit_temperature); received {temperature!r}.")
    values = np.asarray(logits_or_probs, dtype=np.float64)
    task = _apply_task(values, task, from_logits)
    logits = _logits(values, task, from_logits)
    if task == "multiclass":
        return special.softmax(logits / temperature, axis=1)
    p = special.expit(logits / temperature)
    return np.stack([1 - p, p], axis=1) if task == "binary" and values.ndim == 2 else p


def _apply_task(values, task, from_logits):
    if task is not None:
        truth = np.zeros(values.shape[:1] if task != "multilabel" else values.shape)
        return _resolve_task(truth, values, task)
    if values.ndim == 1:
        return "binary"
    if values.ndim == 2 and not from_logits and np.allclose(values.sum(axis=1), 1.0, atol=1e-4):
        return "multiclass"
    raise ValueError(f"apply_temperature cannot tell the task of (N, C) input of shape {values.shape} "
                     f"(from_logits={from_logits}); pass task='multiclass' (softmax) or task='multilabel' (sigmoid).")
