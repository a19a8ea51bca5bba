"""Label-efficiency curves: a metric against the number of labelled images, pretrained beside from scratch."""

import numpy as np

from keras_cxr.report._figure import finish, new_figure


def plot_label_efficiency(results, num_labelled, paper=None, metric="mean AUC", title="Label efficiency", path=None):
    """One line per method: `metric` (mean ± sd over seeds as a band) against the labelled training images,
    on a log x axis; the paper's points, where given, as hollow markers of the same colour.

    This is the central figure of the self-supervised CXR papers (paper 000's Tables 5-6, paper 001's
    pediatric results): the gap between a pretrained model and its from-scratch twin where labels are few.

    Args:
        results: {method: {fraction: (mean, sd) or value}}.
        num_labelled: images in the full (fraction 1.0) labelled training set; x = fraction × num_labelled.
        paper: {method: {fraction: value}} from the paper, or None.
        metric, title: axis label and figure title.
        path: PNG path, or None.

    Returns:
        The matplotlib Figure.

    Example:
    >>> fig = plot_label_efficiency({"mae": {0.1: (0.6, 0.02), 1.0: (0.7, 0.01)}}, 1000, {"mae": {1.0: 0.735}})
    >>> fig.axes[0].get_xscale()
    'log'
    """
    if not results:
        raise ValueError("plot_label_efficiency: results is empty; pass {method: {fraction: (mean, sd)}}.")
    fig = new_figure(6.0, 4.0)
    ax = fig.add_subplot(1, 1, 1)
    for method, row in results.items():
        fractions = sorted(row)
        values = [row[f] if isinstance(row[f], (tuple, list)) else (row[f], 0.0) for f in fractions]
        x = np.array(fractions, float) * float(num_labelled)
        mean, sd = np.array([v[0] for v in values], float), np.array([v[1] for v in values], float)
        (line,) = ax.plot(x, mean, "-o", label=method)
        ax.fill_between(x, mean - sd, mean + sd, color=line.get_color(), alpha=0.15, lw=0)
        points = (paper or {}).get(method, {})
        if points:
            px = np.array(sorted(points), float)
            ax.plot(px * float(num_labelled), [points[f] for f in sorted(points)], "o", mfc="none",
                    color=line.get_color(), label=f"{method} (paper)")
    ax.set(xscale="log", xlabel="labelled training images", ylabel=metric, title=title)
    ax.legend(fontsize="small")
    return finish(fig, path)
