"""Confusion-matrix plots."""

import numpy as np

from keras_cxr.report._figure import finish, new_figure


def plot_confusion_matrix(confusion_matrix, class_names=None, normalize=False, title="Confusion matrix", path=None):
    """Draws a confusion matrix (rows = truth, columns = prediction) with counts in each cell.

    Args:
        confusion_matrix: (C, C) counts, e.g. `sklearn.metrics.confusion_matrix` or
            `keras_cxr.metrics.classification_report(...)["confusion_matrix"]`.
        class_names: optional C names.
        normalize: divide each row by its total (per-class recall on the diagonal).
        title: axes title.
        path: optional PNG path.

    Returns:
        The matplotlib `Figure`.

    Example:
    >>> fig = plot_confusion_matrix([[5, 1], [2, 7]], ["normal", "abnormal"])
    >>> fig.axes[0].get_ylabel()
    'True label'
    """
    matrix = np.asarray(confusion_matrix, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"confusion_matrix must be square (C, C); received shape {matrix.shape}.")
    names = list(class_names) if class_names is not None else [str(i) for i in range(matrix.shape[0])]
    shown = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1) if normalize else matrix
    fig = new_figure(1.2 + 1.1 * len(names), 1.0 + 1.0 * len(names))
    ax = fig.add_subplot()
    image = ax.imshow(shown, cmap="Blues")
    fig.colorbar(image, ax=ax, shrink=0.8)
    threshold = shown.max() / 2 if shown.size else 0
    for (i, j), value in np.ndenumerate(shown):
        text = f"{value:.2f}" if normalize else f"{int(matrix[i, j])}"
        ax.text(j, i, text, ha="center", va="center", color="white" if value > threshold else "black")
    ax.set(xticks=range(len(names)), yticks=range(len(names)), xticklabels=names, yticklabels=names,
           xlabel="Predicted label", ylabel="True label", title=title)
    return finish(fig, path)
