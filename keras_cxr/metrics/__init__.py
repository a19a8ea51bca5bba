"""keras_cxr.metrics."""
from keras_cxr.metrics.classification import METRIC_NAMES, UndefinedMetricWarning, classification_report, find_threshold
from keras_cxr.metrics.image_quality import haarpsi, ms_ssim, psnr, ssim
from keras_cxr.metrics.image_quality_metrics import PSNR, SSIM, HaarPSI
from keras_cxr.metrics.segmentation import Dice, IoU, dice, hausdorff_distance, iou
from keras_cxr.metrics.calibration import (apply_temperature, calibration_bins, calibration_error_ci,
                                           expected_calibration_error, fit_temperature)
