"""A run report as a list of sections: the one markdown layer every recipe and `keras-cxr evaluate` writes through.

A recipe's report reads like its paper: a title, a short preamble (data, settings, readings of the paper),
warnings when a model learned nothing, then one section per table or figure of the paper, ours beside the
paper's, and at the end the learning curves and the figures the run drew (`FigureLog`). `Report` keeps that
order; `table`, `mean_sd` and `beside` write the cells the same way in every report, so a reader meets one
format for "ours ± sd [paper]" whichever paper they read.

Markdown is written by hand (a few lines): no well-kept library writes GitHub tables without pulling in a
dependency (pandas' `to_markdown` needs `tabulate`), and the cells here mix numbers, CIs and images.

>>> report = Report("# Demo — run report", preamble=["Data: phantom."])
>>> report.section("Table 1: accuracy", table(["model", "accuracy"], [["A", mean_sd((0.81, 0.02))]]))
>>> print(report.markdown())
# Demo — run report
<BLANKLINE>
Data: phantom.
<BLANKLINE>
## Table 1: accuracy
<BLANKLINE>
| model | accuracy |
|---|---|
| A | 0.810 ± 0.020 |
<BLANKLINE>
"""

import numbers

WARNINGS_SHOWN = 40  # a report lists at most this many warnings, then how many more there are


def mean_sd(value, digits=3):
    """'0.812 ± 0.010' for a (mean, sd) pair over seeds, '0.812' for a number, '—' for None or NaN.

    >>> mean_sd((0.8123, 0.0101)), mean_sd(0.5, 2), mean_sd(None)
    ('0.812 ± 0.010', '0.50', '—')
    """
    if isinstance(value, (tuple, list)):
        return f"{value[0]:.{digits}f} ± {value[1]:.{digits}f}" if _finite(value[0]) else "—"
    return f"{value:.{digits}f}" if _finite(value) else "—"


def beside(ours, paper, digits=4, style="slash"):
    """One cell with the paper's number beside ours: 'ours / paper' (style "slash") or 'ours [paper]'
    ("brackets"); '—' stands for a number the paper does not give. `ours` may be a (mean, sd) pair.

    >>> beside(0.81234, 0.805), beside((0.8, 0.01), None, 3, "brackets"), beside(0.8, "n/a")
    ('0.8123 / 0.8050', '0.800 ± 0.010', '0.8000 / n/a')
    """
    text = mean_sd(ours, digits)
    if style == "brackets":
        return text if paper is None else f"{text} [{mean_sd(paper, digits)}]"
    return f"{text} / {mean_sd(paper, digits) if isinstance(paper, numbers.Number) else (paper or '—')}"


def table(header, rows):
    """GitHub-markdown table lines: `header` names the columns, each row a list of cells (str or numbers,
    numbers written with 4 decimals).

    >>> table(["a", "b"], [[1, "x"]])
    ['| a | b |', '|---|---|', '| 1.0000 | x |']
    """
    header = [str(h) for h in header]
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"table: a row has {len(row)} cells for {len(header)} columns {header}: {list(row)}.")
        lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return lines


def image_row(images):
    """A one-row table of images side by side: {caption: relative path}.

    >>> image_row({"denoising": "figures/a.png"})
    ['| denoising |', '|---|', '| ![](figures/a.png) |']
    """
    return table(list(images), [[f"![]({path})" for path in images.values()]])


def warning_lines(found, intro="These models did not learn; their numbers below are not results (train longer, "
                                "or tune the learning rates):"):
    """The warnings block (`keras_cxr.report.degenerate`'s sentences as a list), [] when there are none;
    repeated sentences once, at most `WARNINGS_SHOWN` of them, then how many more.

    >>> warning_lines(["B is constant.", "B is constant."], "Not results:")
    ['Not results:', '', '- B is constant.']
    """
    found = list(dict.fromkeys(found))
    if not found:
        return []
    shown = [f"- {w}" for w in found[:WARNINGS_SHOWN]]
    more = [f"- ... and {len(found) - WARNINGS_SHOWN} more"] if len(found) > WARNINGS_SHOWN else []
    return [intro, "", *shown, *more]


class Report:
    """A markdown report: title, preamble lines, then sections (heading + blocks) in the order added.

    Args:
        title: the first line (with its `#`).
        preamble: lines under the title (data, settings, the paper's readings).
        warnings: degenerate-model sentences; shown as a "Warnings" section right after the preamble.
        tail: lines at the end (e.g. `engine.learning_curves(config)` and the run's `FigureLog.markdown()`).
    """

    def __init__(self, title, preamble=(), warnings=(), tail=()):
        self.title = title
        self.preamble = [line for line in preamble if line is not None]
        self.sections = []
        self.tail = list(tail)
        if warnings:
            self.section("Warnings — degenerate models", warning_lines(warnings))

    def section(self, heading, *blocks, level=2):
        """Adds a section: `heading` (no `#`) and blocks, each a string (a paragraph) or a list of lines; empty
        blocks are skipped, so an optional part of a section can be passed as `[]`."""
        body = []
        for block in blocks:
            block = [block] if isinstance(block, str) else list(block or ())
            while block and block[-1] == "":
                block.pop()
            if block:
                body += block + [""]
        self.sections.append(("#" * level + " " + heading, body))

    def markdown(self):
        """The whole report as one string ending with a newline."""
        lines = [self.title, ""]
        if self.preamble:
            lines += _paragraphs(self.preamble)
        for heading, body in self.sections:
            lines += [heading, "", *body]
        if self.tail:
            lines += self.tail
        while lines and lines[-1] == "":
            lines.pop()
        return "\n".join(lines) + "\n"


def _paragraphs(lines):
    """Preamble lines: each a paragraph, except list items (`- ...`), which stay together as one list."""
    out = []
    for i, line in enumerate(lines):
        out.append(line)
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if not (line.startswith("- ") and following.startswith("- ")) and line != "":
            out.append("")
    return out


def _finite(value):
    return value is not None and isinstance(value, numbers.Number) and value == value and abs(value) != float("inf")


def _cell(value):
    if isinstance(value, bool) or not isinstance(value, numbers.Number):
        return str(value)
    return f"{value:.4f}" if _finite(value) else "—"
