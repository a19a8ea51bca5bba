"""Plots and run reports (matplotlib, no GUI backend). Every plot returns its Figure and saves PNG with `path=`."""

from keras_cxr.report.comparison import plot_metric_bars, plot_metric_lines, plot_sensitivity_differences
from keras_cxr.report.confusion import plot_confusion_matrix
from keras_cxr.report.curves import plot_pr_curves, plot_roc_curves, plot_training_curves
from keras_cxr.report.label_efficiency import plot_label_efficiency
from keras_cxr.report.images import plot_activation_maps, plot_image_grid, plot_mask_outlines
from keras_cxr.report.degenerate import (classifier_warnings, comparison_note, regression_warnings, report_warnings,
                                        restoration_warnings, segmentation_warnings)
from keras_cxr.report.calibration import calibration_summary, calibration_table, plot_reliability_diagram
from keras_cxr.report.figure_log import FigureLog
from keras_cxr.report.document import Report, beside, image_row, mean_sd, table, warning_lines
