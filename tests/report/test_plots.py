import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from keras_cxr import report


def test_roc_and_pr_legends_carry_sklearn_values(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, (60, 3))
    s = np.clip(y * 0.3 + rng.random((60, 3)) * 0.7, 0, 1)
    names = ["a", "b", "c"]
    fig = report.plot_roc_curves(y, s, names, path=tmp_path / "roc.png")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == [f"{n} (AUC {roc_auc_score(y[:, i], s[:, i]):.3f})" for i, n in enumerate(names)]
    fig = report.plot_pr_curves(y, s, names, path=tmp_path / "pr.png")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == [f"{n} (AP {average_precision_score(y[:, i], s[:, i]):.3f})" for i, n in enumerate(names)]
    assert (tmp_path / "roc.png").stat().st_size > 1000 and (tmp_path / "pr.png").stat().st_size > 1000


def test_curves_skip_single_valued_class_and_reject_bad_shapes():
    y = np.array([[0, 1], [0, 0], [0, 1]])
    fig = report.plot_roc_curves(y, np.random.rand(3, 2), ["constant", "ok"])
    assert [t.get_text().split()[0] for t in fig.axes[0].get_legend().get_texts()] == ["ok"]
    with pytest.raises(ValueError, match="does not match"):
        report.plot_roc_curves(np.zeros((3, 3)), np.zeros((3, 2)))


def test_confusion_matrix_cells_show_counts(tmp_path):
    fig = report.plot_confusion_matrix([[5, 1], [2, 7]], ["normal", "abnormal"], path=tmp_path / "cm.png")
    assert sorted(t.get_text() for t in fig.axes[0].texts) == ["1", "2", "5", "7"]
    fig = report.plot_confusion_matrix([[5, 1], [2, 8]], normalize=True)
    assert "0.80" in [t.get_text() for t in fig.axes[0].texts]
    with pytest.raises(ValueError, match="square"):
        report.plot_confusion_matrix([[1, 2, 3]])


def test_metric_bars_and_sensitivity_differences(tmp_path):
    results = {"B": {"f1": 0.6, "mcc": 0.3}, "Den-P": {"f1": 0.65, "mcc": 0.35}, "SA": {"f1": 0.7, "mcc": 0.4}}
    fig = report.plot_metric_bars(results, metrics=("f1", "mcc"), path=tmp_path / "bars.png")
    heights = sorted(round(p.get_height(), 6) for p in fig.axes[0].patches)
    assert heights == sorted([0.6, 0.3, 0.65, 0.35, 0.7, 0.4])
    with pytest.raises(ValueError, match="missing"):
        report.plot_metric_bars(results, metrics=("auc",))
    rows = [dict(model_a="B", model_b="SA", delta_sensitivity=0.1, delta_se=0.04, z=2.5, p=0.012),
            dict(model_a="B", model_b="Den-P", delta_sensitivity=-0.02, delta_se=0.04, z=-0.5, p=0.62)]
    fig = report.plot_sensitivity_differences(rows, path=tmp_path / "z.png")
    colors = [p.get_facecolor()[:3] for p in fig.axes[0].patches]
    assert colors[0] != colors[1]  # significant and non-significant pairs differ


def test_image_grid_and_activation_maps(tmp_path):
    x = np.random.rand(3, 8, 8, 1)
    fig = report.plot_image_grid({"original": x, "degraded": x}, num_rows=2, path=tmp_path / "g.png")
    assert len(fig.axes) == 4
    with pytest.raises(ValueError, match="same number"):
        report.plot_image_grid({"a": x, "b": x[:2]})
    fig = report.plot_activation_maps(x[:2], np.random.rand(2, 8, 8), boxes=[[(1, 1, 4, 4)], []],
                                      gt_boxes=[[("nodule", 0, 0, 3, 3)], []], path=tmp_path / "cam.png")
    assert len(fig.axes[0].patches) == 2


def test_activation_map_boxes_cover_their_pixels():
    from keras_cxr.data import Box
    from keras_cxr.explain import boxes_from_maps

    heat = np.zeros((1, 8, 8))
    heat[0, 2:5, 3:7] = 1.0  # rows 2..4, columns 3..6
    fig = report.plot_activation_maps(np.zeros((1, 8, 8)), heat, boxes=[boxes_from_maps(heat) + [None]],
                                      gt_boxes=[[Box("nodule", 3, 2, 7, 5), ("mass", 3, 2, 7, 5)]])
    patches = fig.axes[0].patches
    assert len(patches) == 3  # None (nothing above the threshold) is skipped
    for patch in patches:  # imshow centres pixel c at c: the box's edges are the pixels' outer edges
        assert (patch.get_x(), patch.get_y(), patch.get_width(), patch.get_height()) == (2.5, 1.5, 4.0, 3.0)


def test_training_curves():
    fig = report.plot_training_curves({"loss": [1, 0.5], "val_loss": [1.2, 0.8], "mse": [0.1, 0.05]})
    assert len(fig.axes) == 2
    with pytest.raises(ValueError):
        report.plot_training_curves({})
