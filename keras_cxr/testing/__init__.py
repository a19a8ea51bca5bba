"""Test helpers on the public Keras API (used by keras_cxr's own tests and by users' extensions)."""

from keras_cxr.testing.layer_checks import assert_config_round_trip
from keras_cxr.testing.layer_checks import assert_keras_round_trip
from keras_cxr.testing.layer_checks import assert_training_step_changes_weights
from keras_cxr.testing.model_checks import run_layer_test, run_model_test
