"""keras_cxr.inference: a saved model on new images, outside any recipe.

`evaluate_model` validates a `.keras` file on a labelled folder (metrics with CIs, calibration, subgroups,
report); `predict_images` writes class probabilities for image files. Both read the model's `ModelCard`
(`keras_cxr.models.model_card`) for its preprocessing and the meaning of its outputs. The command line is
`keras-cxr evaluate` / `keras-cxr predict`.
"""
from keras_cxr.inference.evaluate import evaluate_model, match_classes, read_labelled_folder
from keras_cxr.inference.predict import predict_images
