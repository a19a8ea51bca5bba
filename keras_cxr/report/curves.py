"""ROC and precision-recall curves per class, and training curves."""

import numpy as np
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

from keras_cxr.report._figure import finish, new_figure


def _per_class(y_true, y_score, class_names):
    y_true = np.asarray(y_true)
    y_score = np.asarray(y_score, dtype=np.float64)
    if y_score.ndim == 1:
        y_score = np.stack([1 - y_score, y_score], axis=1)
    if y_score.ndim != 2:
        raise ValueError(f"y_score must have shape (N,) or (N, C); received {y_score.shape}.")
    num_classes = y_score.shape[1]
    if y_true.ndim == 1:
        if y_true.shape[0] != y_score.shape[0]:
            raise ValueError(f"y_true has {y_true.shape[0]} samples, y_score {y_score.shape[0]}.")
        y_true = np.eye(num_classes)[y_true.astype(int)]
    if y_true.shape != y_score.shape:
        raise ValueError(f"y_true shape {y_true.shape} does not match y_score shape {y_score.shape}.")
    names = list(class_names) if class_names is not None else [f"class {c}" for c in range(num_classes)]
    if len(names) != num_classes:
        raise ValueError(f"{len(names)} class_names given for {num_classes} classes.")
    # Binary problems: the negative class's curve mirrors the positive one, so draw the positive only.
    indices = [1] if num_classes == 2 and class_names is None else range(num_classes)
    for c in indices:
        truth = y_true[:, c]
        if len(np.unique(truth[~np.isnan(truth)])) < 2:
            continue  # undefined curve: a single label value
        keep = ~np.isnan(truth)
        yield names[c], truth[keep], y_score[keep, c]


def plot_roc_curves(y_true, y_score, class_names=None, title="ROC curves", path=None):
    """Plots one ROC curve per class (one-vs-rest) with its AUC in the legend.

    Args:
        y_true: (N,) class ids or (N, C) one-hot / multi-hot truth (NaN = unknown, ignored).
        y_score: (N,) positive-class scores or (N, C) scores.
        class_names: optional names; for a binary problem without names only the positive class is drawn.
        title: axes title.
        path: optional PNG path to save to.

    Returns:
        The matplotlib `Figure`.

    Example:
    >>> fig = plot_roc_curves([0, 1, 1, 0], [0.2, 0.7, 0.9, 0.4])
    >>> fig.axes[0].get_xlabel()
    'False positive rate'
    """
    fig = new_figure()
    ax = fig.add_subplot()
    for name, truth, score in _per_class(y_true, y_score, class_names):
        fpr, tpr, _ = roc_curve(truth, score)
        ax.plot(fpr, tpr, label=f"{name} (AUC {auc(fpr, tpr):.3f})")
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set(xlabel="False positive rate", ylabel="True positive rate", title=title, xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower right", fontsize="small")
    return finish(fig, path)


def plot_pr_curves(y_true, y_score, class_names=None, title="Precision-recall curves", path=None):
    """Plots one precision-recall curve per class with its average precision in the legend.

    Args and Returns as for `plot_roc_curves`.

    Example:
    >>> fig = plot_pr_curves([0, 1, 1, 0], [0.2, 0.7, 0.9, 0.4])
    >>> fig.axes[0].get_ylabel()
    'Precision'
    """
    fig = new_figure()
    ax = fig.add_subplot()
    for name, truth, score in _per_class(y_true, y_score, class_names):
        precision, recall, _ = precision_recall_curve(truth, score)
        ax.step(recall, precision, where="post", label=f"{name} (AP {average_precision_score(truth, score):.3f})")
    ax.set(xlabel="Recall", ylabel="Precision", title=title, xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower left", fontsize="small")
    return finish(fig, path)


def plot_training_curves(history, metrics=None, title="Training curves", path=None):
    """Plots training/validation curves from a Keras `History`, its `history` dict, or a recipe stage's
    saved history (`keras_cxr.recipes.engine`: entries that are not per-epoch lists are ignored, and its
    `best_epoch`, the epoch the stage kept, is marked with a dotted line; its `probe_at_start`, the feature
    probes' scores on the initial weights, is drawn at epoch 0 of each probe curve).

    Each metric gets a panel with its `val_` twin when present (training solid, validation dashed).

    Example:
    >>> fig = plot_training_curves({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "best_epoch": 1})
    >>> len(fig.axes)
    1
    """
    history = getattr(history, "history", history)
    if not isinstance(history, dict) or not history:
        raise ValueError(f"history must be a non-empty dict of metric lists or a keras History; received {history!r}.")
    best = history.get("best_epoch")
    at_start = history.get("probe_at_start") or {}
    curves = {k: v for k, v in history.items() if isinstance(v, (list, tuple, np.ndarray)) and len(v)}
    names = metrics or [k for k in curves if not k.startswith("val_") and k != "learning_rate"]
    names = [n for n in names if n in curves] or list(curves)[:1]
    fig = new_figure(4.0 * len(names), 3.2)
    for i, name in enumerate(names):
        ax = fig.add_subplot(1, len(names), i + 1)
        values = np.asarray(curves[name], dtype=np.float64)
        epochs = np.arange(1, len(values) + 1)
        if at_start.get(name) is not None:  # the probe of the initial weights: epoch 0
            values, epochs = np.concatenate([[at_start[name]], values]), np.arange(len(values) + 1)
        shown = np.isfinite(values)  # a probe logged every N epochs is NaN in between: join the probed epochs
        ax.plot(epochs[shown], values[shown], "-", marker="." if shown.sum() < 30 else None,
                label="probe" if name.endswith(("knn_auc", "knn_accuracy", "linear_auc", "linear_accuracy"))
                else "train")
        if f"val_{name}" in curves:
            ax.plot(epochs, np.asarray(curves[f"val_{name}"], dtype=np.float64), "--",
                    marker="." if len(values) < 30 else None, label="validation")
        if best is not None:
            ax.axvline(best + 1, color="k", ls=":", lw=0.8, label="kept")
        ax.set(xlabel="epoch", title=name)
        ax.legend(fontsize="small")
    fig.suptitle(title)
    return finish(fig, path)
