import re

import numpy as np
import pytest
from scipy import special

from keras_cxr import report
from keras_cxr.metrics import apply_temperature, expected_calibration_error, fit_temperature


def _legend_ece(ax):
    """{entry name: ECE} read from the axes' legend texts such as "outputs (ECE 0.1234)"."""
    found = [re.fullmatch(r"(.+) \(ECE ([0-9.]+)\)", t.get_text()) for t in ax.get_legend().get_texts()]
    return {m.group(1): float(m.group(2)) for m in found if m}


def _binary(n=800, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 2, n)
    return (rng.random(n) < special.expit(z)).astype(int), special.expit(3 * z)


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_png_axes_and_legend_ece(tmp_path, strategy):
    y, p = _binary()
    fig = report.plot_reliability_diagram(y, p, num_bins=10, strategy=strategy, path=tmp_path / "rel.png")
    assert (tmp_path / "rel.png").stat().st_size > 1000
    top, bottom = fig.axes
    assert top.get_ylabel() == "Fraction of positives" and bottom.get_ylabel() == "Count"
    assert bottom.get_xlabel() == "Predicted probability" and top.get_xlim() == (0, 1)
    assert _legend_ece(top) == {"outputs": round(expected_calibration_error(y, p, 10, strategy), 4)}
    bars = [patch.get_height() for patch in bottom.patches]
    assert sum(bars) == len(y) and len(bars) == 10
    diagonal = [line for line in top.get_lines() if line.get_label() == "perfect calibration"]
    assert len(diagonal) == 1 and list(diagonal[0].get_xdata()) == [0, 1]


def test_temperature_scaled_curve_carries_its_own_ece(tmp_path):
    y, p = _binary()
    temperature = fit_temperature(p, y)
    after = apply_temperature(p, temperature)
    fig = report.plot_reliability_diagram(y, p, y_prob_calibrated=after, path=tmp_path / "ts.png")
    legend = _legend_ece(fig.axes[0])
    assert legend == {"outputs": round(expected_calibration_error(y, p), 4),
                      "temperature-scaled": round(expected_calibration_error(y, after), 4)}
    assert legend["temperature-scaled"] < legend["outputs"]
    assert any(line.get_label().startswith("temperature-scaled") for line in fig.axes[0].get_lines())


def test_multiclass_top_label_and_multilabel_panels(tmp_path):
    rng = np.random.default_rng(1)
    probs = special.softmax(rng.normal(0, 2, (300, 4)), axis=1)
    labels = rng.integers(0, 4, 300)
    fig = report.plot_reliability_diagram(labels, probs)
    assert fig.axes[0].get_ylabel() == "Accuracy"
    assert _legend_ece(fig.axes[0]) == {"outputs": round(expected_calibration_error(labels, probs), 4)}
    truth = (rng.random((300, 3)) < 0.4).astype(float)
    truth[:10, 0] = np.nan
    scores = rng.random((300, 3))
    fig = report.plot_reliability_diagram(truth, scores, class_names=["a", "b", "c"], path=tmp_path / "ml.png")
    assert len(fig.axes) == 6 and [fig.axes[i].get_title() for i in (0, 2, 4)] == ["a", "b", "c"]
    for c in range(3):
        expected = round(expected_calibration_error(truth[:, c], scores[:, c]), 4)
        assert _legend_ece(fig.axes[2 * c]) == {"outputs": expected}
    with pytest.raises(ValueError, match="2 class_names given for 3 classes"):
        report.plot_reliability_diagram(truth, scores, class_names=["a", "b"])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        report.plot_reliability_diagram([0, 1], [0.5, 1.5])
