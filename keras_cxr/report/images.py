"""Image grids: original / degraded / restored, and activation maps with boxes."""

import numpy as np
from matplotlib.patches import Rectangle

from keras_cxr.report._figure import finish, new_figure


def _as_2d(image):
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 3 and image.shape[-1] in (1, 3):
        image = image[..., 0] if image.shape[-1] == 1 else image
    if image.ndim not in (2, 3):
        raise ValueError(f"Expected an image (H, W), (H, W, 1) or (H, W, 3); received shape {image.shape}.")
    return image


def plot_image_grid(columns, num_rows=None, title=None, path=None, cell_size=2.2):
    """Grid of images: one column per named set (e.g. original / degraded / restored), one row per sample.

    Args:
        columns: {column title: sequence of images (N, H, W[, 1])}; all columns need the same N.
        num_rows: number of samples to show (default: all).
        title: figure title.
        path: optional PNG path.
        cell_size: inches per cell.

    Returns:
        The matplotlib `Figure`.

    Example:
    >>> import numpy as np
    >>> x = np.random.rand(2, 8, 8, 1)
    >>> fig = plot_image_grid({"original": x, "degraded": x, "restored": x})
    >>> len(fig.axes)
    6
    """
    if not columns:
        raise ValueError("columns is empty: pass {title: images}.")
    counts = {name: len(images) for name, images in columns.items()}
    if len(set(counts.values())) != 1:
        raise ValueError(f"All columns need the same number of images; received {counts}.")
    rows = min(num_rows or min(counts.values()), min(counts.values()))
    fig = new_figure(cell_size * len(columns), cell_size * rows + (0.4 if title else 0))
    for c, (name, images) in enumerate(columns.items()):
        for r in range(rows):
            ax = fig.add_subplot(rows, len(columns), r * len(columns) + c + 1)
            ax.imshow(_as_2d(images[r]), cmap="gray", vmin=0, vmax=1)
            ax.set_axis_off()
            if r == 0:
                ax.set_title(name, fontsize=9)
    if title:
        fig.suptitle(title)
    return finish(fig, path)


def plot_activation_maps(images, maps, boxes=None, gt_boxes=None, titles=None, title=None, path=None, cell_size=2.5):
    """Overlays activation maps (e.g. Score-CAM) on images, with predicted (yellow) and true (green) boxes.

    Args:
        images: (N, H, W[, 1]) images in [0, 1].
        maps: (N, H, W) maps in [0, 1].
        boxes: optional per-image list of predicted boxes: `keras_cxr.data.Box`, `(label, x_min, y_min,
            x_max, y_max)` or `(x_min, y_min, x_max, y_max)` (see `keras_cxr.data.as_box`); None entries
            (a map with nothing above the threshold) are skipped.
        gt_boxes: optional per-image list of ground-truth boxes, same forms (e.g. the phantom's boxes).
        titles: optional per-image titles.
        title: figure title.
        path: optional PNG path.

    Returns:
        The matplotlib `Figure`.

    Example:
    >>> import numpy as np
    >>> fig = plot_activation_maps(np.zeros((1, 8, 8)), np.ones((1, 8, 8)), boxes=[[(1, 1, 5, 5)]])
    >>> len(fig.axes[0].patches)
    1
    """
    from keras_cxr.data.boxes import as_box  # here, so importing the report does not import the data package

    if len(images) != len(maps):
        raise ValueError(f"{len(images)} images but {len(maps)} maps.")
    n = len(images)
    fig = new_figure(cell_size * n, cell_size + (0.4 if title else 0))
    for i in range(n):
        ax = fig.add_subplot(1, n, i + 1)
        ax.imshow(_as_2d(images[i]), cmap="gray", vmin=0, vmax=1)
        ax.imshow(np.asarray(maps[i]), cmap="jet", alpha=0.4, vmin=0, vmax=1)
        for group, color in ((boxes, "yellow"), (gt_boxes, "lime")):
            for box in (group[i] if group is not None else []) or []:
                if box is None:
                    continue
                box = as_box(box)  # imshow centres pixel c at c, so the continuous edge c is drawn at c - 0.5
                ax.add_patch(Rectangle((float(box.x_min) - 0.5, float(box.y_min) - 0.5), float(box.width),
                                       float(box.height), fill=False, color=color, lw=1.5))
        ax.set_axis_off()
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
    if title:
        fig.suptitle(title)
    return finish(fig, path)


def plot_mask_outlines(images, true_masks, predicted, title=None, path=None, cell_size=2.5, threshold=0.5):
    """Outlines of true (green) and predicted (yellow) masks on the images, one column per model (paper 001
    Fig. 3: yellow = prediction, green = ground truth).

    Args:
        images: (N, H, W[, 1]) images in [0, 1].
        true_masks: (N, H, W[, 1]) 0/1 masks.
        predicted: {model name: (N, H, W[, 1]) probabilities or 0/1 masks}.
        threshold: probability above which a pixel is foreground.
        title, path, cell_size: as `plot_image_grid`.

    Returns:
        The matplotlib `Figure` (rows = images, columns = models).

    Example:
    >>> import numpy as np
    >>> mask = np.zeros((1, 16, 16)); mask[0, 4:12, 4:12] = 1
    >>> fig = plot_mask_outlines(np.zeros((1, 16, 16)), mask, {"unetr": mask})
    >>> len(fig.axes)
    1
    """
    if not predicted:
        raise ValueError("predicted must hold at least one model's masks.")
    n, names = len(images), list(predicted)
    fig = new_figure(cell_size * len(names), cell_size * n + (0.4 if title else 0))
    for row in range(n):
        truth = _as_2d(true_masks[row])
        for col, name in enumerate(names):
            ax = fig.add_subplot(n, len(names), row * len(names) + col + 1)
            ax.imshow(_as_2d(images[row]), cmap="gray", vmin=0, vmax=1)
            for mask, color in ((truth, "lime"), (_as_2d(predicted[name][row]), "yellow")):
                if mask.max() > threshold > mask.min():
                    ax.contour(mask, levels=[threshold], colors=color, linewidths=1.2)
            ax.set_axis_off()
            if row == 0:
                ax.set_title(name, fontsize=8)
    if title:
        fig.suptitle(title)
    return finish(fig, path)
