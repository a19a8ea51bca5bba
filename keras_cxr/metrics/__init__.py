"""keras_cxr.metrics."""
from keras_cxr.metrics.classification import METRIC_NAMES, UndefinedMetricWarning, classification_report, find_threshold
