"""Model comparison figures: metric bar chart (paper 003 Fig. 6) and sensitivity z-tests (Fig. 7)."""

import numpy as np

from keras_cxr.report._figure import finish, new_figure


def plot_metric_bars(results, metrics=("balanced_accuracy", "sensitivity", "specificity", "f1", "mcc", "kappa",
                                       "youden"), title="Classification performance", path=None):
    """Grouped bar chart of several metrics for several models (paper 003, Fig. 6).

    Args:
        results: {model name: {metric name: value}}.
        metrics: metric names to draw, in order.
        title: axes title.
        path: optional PNG path.

    Returns:
        The matplotlib `Figure`.

    Example:
    >>> fig = plot_metric_bars({"B": {"f1": 0.6, "mcc": 0.3}, "SA": {"f1": 0.7, "mcc": 0.4}}, metrics=("f1", "mcc"))
    >>> len(fig.axes[0].patches)
    4
    """
    if not results:
        raise ValueError("results is empty: pass {model name: {metric: value}}.")
    models = list(results)
    missing = sorted({m for name in models for m in metrics if m not in results[name]})
    if missing:
        raise ValueError(f"metrics {missing} are missing from some models' results; available: {sorted(results[models[0]])}.")
    width = 0.8 / len(models)
    fig = new_figure(max(6.0, 1.1 * len(metrics) + 2), 4.0)
    ax = fig.add_subplot()
    x = np.arange(len(metrics))
    for i, name in enumerate(models):
        values = [float(results[name][m]) for m in metrics]
        bars = ax.bar(x + (i - (len(models) - 1) / 2) * width, values, width, label=name)
        ax.bar_label(bars, fmt="%.2f", fontsize=6, rotation=90, padding=2)
    ax.set_xticks(x, [m.replace("_", " ") for m in metrics], rotation=20)
    ax.set(ylabel="value", title=title, ylim=(min(0.0, ax.get_ylim()[0]), 1.1))
    ax.axhline(0, color="k", lw=0.6)
    ax.legend(fontsize="small", ncols=min(len(models), 6), loc="upper center")
    return finish(fig, path)


def plot_sensitivity_differences(table, alpha=0.05, title="Pairwise sensitivity differences", path=None):
    """Horizontal bars of Δsensitivity ± 1.96·ΔSE per model pair, annotated with z and p (paper 003, Fig. 7).

    Args:
        table: records or a pandas DataFrame with columns model_a, model_b, delta_sensitivity, delta_se, z, p
            (the output of `keras_cxr.stats.compare_sensitivities`).
        alpha: significance level; significant pairs are drawn in a strong colour.
        title: axes title.
        path: optional PNG path.

    Returns:
        The matplotlib `Figure`.

    Example:
    >>> rows = [dict(model_a="B", model_b="SA", delta_sensitivity=0.1, delta_se=0.04, z=2.5, p=0.012)]
    >>> fig = plot_sensitivity_differences(rows)
    >>> len(fig.axes[0].patches)
    1
    """
    records = table.to_dict("records") if hasattr(table, "to_dict") else list(table)
    required = {"model_a", "model_b", "delta_sensitivity", "delta_se", "z", "p"}
    if not records or not required <= set(records[0]):
        raise ValueError(f"table needs rows with columns {sorted(required)}; received {records[:1]}.")
    fig = new_figure(7.0, 0.5 + 0.45 * len(records))
    ax = fig.add_subplot()
    y = np.arange(len(records))
    deltas = np.array([r["delta_sensitivity"] for r in records], dtype=float)
    errors = 1.96 * np.array([r["delta_se"] for r in records], dtype=float)
    colors = ["tab:red" if r["p"] < alpha else "tab:gray" for r in records]
    ax.barh(y, deltas, xerr=errors, color=colors, capsize=3)
    for yi, r, d in zip(y, records, deltas):
        ax.annotate(f"z={r['z']:.2f}, p={r['p']:.3g}", (d, yi), xytext=(4 if d >= 0 else -4, 0),
                    textcoords="offset points", ha="left" if d >= 0 else "right", va="center", fontsize=7)
    ax.set_yticks(y, [f"{r['model_b']} − {r['model_a']}" for r in records])
    ax.axvline(0, color="k", lw=0.8)
    ax.set(xlabel="Δ sensitivity (bars: 95% CI of the difference)", title=f"{title} (red: p < {alpha})")
    return finish(fig, path)


def plot_metric_lines(results, metrics=("accuracy", "recall", "precision", "f1"), errors=None,
                      title="Performance by network", path=None):
    """One line per metric across models in order (paper 002, Fig. 7), with optional ± error bars.

    Args:
        results: {model name: {metric: value}}, drawn left to right in this order.
        metrics: metric names, one line each.
        errors: optional {model name: {metric: sd}}.
        title, path: axes title, optional PNG path.

    Returns:
        The matplotlib `Figure`.

    Example:
    >>> fig = plot_metric_lines({"vgg19": {"accuracy": 0.8}, "resnet50": {"accuracy": 0.82}}, metrics=("accuracy",))
    >>> len(fig.axes[0].lines)
    1
    """
    if not results:
        raise ValueError("results is empty: pass {model name: {metric: value}}.")
    models = list(results)
    fig = new_figure(max(6.0, 0.9 * len(models) + 2), 4.0)
    ax = fig.add_subplot()
    x = np.arange(len(models))
    for metric in metrics:
        values = [float(results[m][metric]) for m in models]
        if errors:
            ax.errorbar(x, values, yerr=[float(errors[m][metric]) for m in models], marker="o", capsize=3,
                        label=metric.replace("_", " "))
        else:
            ax.plot(x, values, marker="o", label=metric.replace("_", " "))
    ax.set_xticks(x, models, rotation=25)
    ax.set(ylabel="value", title=title)
    ax.legend(fontsize="small")
    return finish(fig, path)
