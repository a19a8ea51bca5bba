"""Reliability diagrams (Guo et al. 2017, §2, Fig. 1): accuracy per confidence bin against the diagonal.

Reference:
    Guo, Pleiss, Sun & Weinberger 2017, "On Calibration of Modern Neural Networks", ICML, arXiv:1706.04599.
"""

import numpy as np

from keras_cxr.metrics.calibration import (apply_temperature, calibration_bins, expected_calibration_error,
                                           fit_temperature)
from keras_cxr.report._figure import finish, new_figure


def _panels(y_true, y_prob, task, class_names):
    """(name, truth, probabilities, task) per panel: one per class for multi-label, else one."""
    if task != "multilabel":
        return [(None, y_true, y_prob, task)]
    y_true, y_prob = np.asarray(y_true, dtype=np.float64), np.asarray(y_prob, dtype=np.float64)
    names = list(class_names) if class_names is not None else [f"class {c}" for c in range(y_prob.shape[1])]
    if len(names) != y_prob.shape[1]:
        raise ValueError(f"{len(names)} class_names given for {y_prob.shape[1]} classes.")
    return [(name, y_true[:, c], y_prob[:, c], "binary") for c, name in enumerate(names)]


def _draw_bars(top, bottom, bins, ece):
    filled = bins["count"] > 0
    left, width = bins["edges"][:-1][filled], np.diff(bins["edges"])[filled]
    accuracy, confidence = bins["accuracy"][filled], bins["confidence"][filled]
    top.bar(left, accuracy, width=width, align="edge", color="C0", edgecolor="k", lw=0.5,
            label=f"outputs (ECE {ece:.4f})")
    top.bar(left, confidence - accuracy, bottom=accuracy, width=width, align="edge", color="C3", alpha=0.3,
            edgecolor="C3", lw=0.5, hatch="//", label="gap to mean confidence")
    bottom.bar(bins["edges"][:-1], bins["count"], width=np.diff(bins["edges"]), align="edge", color="C0",
               edgecolor="k", lw=0.5, label="outputs")


def _draw_calibrated(top, bottom, bins, ece):
    filled = bins["count"] > 0
    top.plot(bins["confidence"][filled], bins["accuracy"][filled], "o-", color="C2", ms=3,
             label=f"temperature-scaled (ECE {ece:.4f})")
    bottom.stairs(bins["count"], bins["edges"], color="C2", lw=1.2, label="temperature-scaled")


def plot_reliability_diagram(y_true, y_prob, num_bins=15, strategy="uniform", class_names=None,
                             title="Reliability diagram", path=None, y_prob_calibrated=None, task=None):
    """Draws accuracy per confidence bin against the diagonal, the gap shaded, and the bin counts below.

    Bins, confidence and accuracy follow `keras_cxr.metrics.calibration_bins` (binary: the positive-class
    probability against the fraction of positives; multi-class: top-label; multi-label: one column of panels
    per class) and the legend's ECE is `keras_cxr.metrics.expected_calibration_error` of the same bins.

    Args:
        y_true: (N,) labels or (N, C) multi-label truth (NaN = unknown, left out).
        y_prob: (N,), (N, 2) or (N, C) probabilities.
        num_bins: number of bins.
        strategy: "uniform" (equal width) or "quantile" (equal counts).
        class_names: names of the multi-label panels (default "class 0", ...); unused otherwise.
        title: figure title.
        path: optional PNG path.
        y_prob_calibrated: optional probabilities of the same cases after temperature scaling
            (`keras_cxr.metrics.apply_temperature`), drawn as a line over the bars with its own ECE.
        task: "binary", "multiclass", "multilabel" or None (inferred from the shapes).

    Returns:
        The matplotlib `Figure`: per panel a reliability axes above a count axes (`fig.axes` alternate).

    Raises:
        ValueError: as `calibration_bins`, or class_names of the wrong length.

    Example:
    >>> fig = plot_reliability_diagram([0, 1, 1, 0, 1], [0.2, 0.7, 0.9, 0.4, 0.6], num_bins=5)
    >>> len(fig.axes), fig.axes[1].get_ylabel()
    (2, 'Count')
    """
    task = calibration_bins(y_true, y_prob, num_bins, strategy, task)["task"]  # validates, infers the task
    panels = _panels(y_true, y_prob, task, class_names)
    calibrated = [None] * len(panels) if y_prob_calibrated is None else \
        [p for _, _, p, _ in _panels(y_true, y_prob_calibrated, task, class_names)]
    fig = new_figure(4.2 * len(panels), 5.2)
    grid = fig.add_gridspec(2, len(panels), height_ratios=(3, 1))
    for column, ((name, truth, prob, panel_task), prob_after) in enumerate(zip(panels, calibrated)):
        top = fig.add_subplot(grid[0, column])
        bottom = fig.add_subplot(grid[1, column], sharex=top)
        bins = calibration_bins(truth, prob, num_bins, strategy, panel_task)
        _draw_bars(top, bottom, bins, expected_calibration_error(truth, prob, num_bins, strategy, panel_task))
        if prob_after is not None:
            _draw_calibrated(top, bottom, calibration_bins(truth, prob_after, num_bins, strategy, panel_task),
                             expected_calibration_error(truth, prob_after, num_bins, strategy, panel_task))
        top.plot([0, 1], [0, 1], "k--", lw=0.8, label="perfect calibration")
        top_label = "Accuracy" if panel_task == "multiclass" else "Fraction of positives"
        top.set(ylabel=top_label, title=name if name is not None else title, xlim=(0, 1), ylim=(0, 1))
        top.tick_params(labelbottom=False)
        top.legend(loc="upper left", fontsize="small")
        x_label = "Confidence (top-label probability)" if panel_task == "multiclass" else "Predicted probability"
        bottom.set(xlabel=x_label, ylabel="Count")
    if task == "multilabel":
        fig.suptitle(title)
    return finish(fig, path)


def calibration_summary(y_val, p_val, y_test, p_test, task=None, num_bins=15, path=None, title="Reliability"):
    """Calibration of a classifier's test probabilities, before and after temperature scaling fitted on its
    validation split (Guo et al. 2017, §4.2), with the reliability diagram saved at `path`.

    Args:
        y_val, p_val: validation truth and probabilities (the temperature is fitted there).
        y_test, p_test: test truth and probabilities (the ECEs are measured there).
        task: "binary", "multiclass" or "multilabel" (None: inferred as `calibration_bins` does).
        num_bins: equal-width bins of the ECE (15, as Guo et al.).
        path: optional PNG of the reliability diagram.

    Returns:
        dict: ece (equal-width), ece_adaptive (equal-count bins), temperature, ece_after_temperature.
    """
    temperature = fit_temperature(p_val, y_val, task=task)
    calibrated = apply_temperature(p_test, temperature, task=task)
    result = {"ece": expected_calibration_error(y_test, p_test, num_bins, task=task),
              "ece_adaptive": expected_calibration_error(y_test, p_test, num_bins, strategy="quantile", task=task),
              "temperature": float(temperature),
              "ece_after_temperature": expected_calibration_error(y_test, calibrated, num_bins, task=task)}
    if path is not None:
        plot_reliability_diagram(y_test, p_test, num_bins, task=task, title=title, path=path,
                                 y_prob_calibrated=calibrated)
    return result


def calibration_table(results):
    """Markdown lines of `{model: calibration_summary(...)}`: ECE (equal-width, adaptive), temperature, ECE after."""
    lines = ["| model | ECE (15 equal-width bins) | ECE (adaptive bins) | temperature (fitted on validation) | "
             "ECE after temperature scaling |", "|---|---|---|---|---|"]
    for name, row in results.items():
        lines.append(f"| {name} | {row['ece']:.4f} | {row['ece_adaptive']:.4f} | {row['temperature']:.3f} | "
                     f"{row['ece_after_temperature']:.4f} |")
    return lines
