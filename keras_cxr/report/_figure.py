"""Figure creation and saving without pyplot (no GUI backend, safe in notebooks, CI and threads)."""

import os

from matplotlib.figure import Figure


def new_figure(width=6.0, height=4.5):
    """Returns a matplotlib `Figure` not attached to any GUI backend (rendered with Agg on save)."""
    return Figure(figsize=(width, height), layout="constrained")


def finish(fig, path=None, dpi=120):
    """Saves `fig` as PNG when `path` is given (creating the folder) and returns it."""
    if path is not None:
        folder = os.path.dirname(os.fspath(path))
        if folder:
            os.makedirs(folder, exist_ok=True)
        fig.savefig(path, dpi=dpi)
    return fig
