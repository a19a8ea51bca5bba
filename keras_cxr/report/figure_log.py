"""Figures recorded as they are drawn, so a run report lists what the run drew, not what a folder holds.

A recipe draws every figure through one `FigureLog`; the report then shows exactly those figures, in the order
drawn, with their captions, and `metrics.json` keeps the list (`FigureLog.entries`), so a report written again
from saved metrics finds them too. Listing the `figures/` folder instead would show stale files of an earlier run
with other settings, and lose the captions.
"""

import os


class FigureLog:
    """Draws figures into `output_dir/figures/` and records (caption, relative path) for the report.

    Example:
    >>> import tempfile
    >>> from keras_cxr.report import plot_metric_bars
    >>> log = FigureLog(tempfile.mkdtemp())
    >>> log.draw(plot_metric_bars, "bars", {"B": {"f1": 0.5}}, metrics=("f1",), caption="F1 of B")
    'figures/bars.png'
    >>> log.markdown()
    ['![F1 of B](figures/bars.png)', '']
    """

    def __init__(self, output_dir, entries=()):
        self.output_dir = os.fspath(output_dir)
        self.entries = [list(entry) for entry in entries]

    def draw(self, plot, name, *args, caption=None, **kwargs):
        """Calls `plot(*args, path=<output_dir>/figures/<name>.png, **kwargs)` (any `keras_cxr.report.plot_*`)
        and records it; returns the path relative to `output_dir`."""
        plot(*args, path=self.record(name, caption), **kwargs)
        return f"figures/{name}.png"

    def record(self, name, caption=None):
        """Records `figures/<name>.png` drawn elsewhere (e.g. by `calibration_summary(path=...)`); returns the
        absolute path to draw it at."""
        relative = f"figures/{name}.png"
        self.entries = [entry for entry in self.entries if entry[1] != relative] + [[caption or name, relative]]
        return os.path.join(self.output_dir, relative)

    def markdown(self, prefix=""):
        """Markdown image lines of the recorded figures whose name starts with `figures/<prefix>`."""
        lines = []
        for caption, relative in self.entries:
            if relative.startswith(f"figures/{prefix}"):
                lines += [f"![{caption}]({relative})", ""]
        return lines
