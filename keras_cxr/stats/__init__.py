"""Statistics on saved predictions (numpy / scipy): intervals, z-tests, DeLong, bootstrap, McNemar."""

from keras_cxr.stats.bootstrap import bootstrap_ci
from keras_cxr.stats.confidence_intervals import proportion_ci
from keras_cxr.stats.delong import delong_test
from keras_cxr.stats.mcnemar import mcnemar_test
from keras_cxr.stats.z_test import compare_sensitivities, sensitivity_z_test
