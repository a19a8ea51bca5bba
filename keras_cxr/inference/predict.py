"""Predictions of a saved model on new images: `predict_images` and `keras-cxr predict`.

The images are read as every keras_cxr loader reads them (PNG, JPEG, 16-bit PNG, DICOM alike:
`keras_cxr.data.read_image`) and preprocessed as the model's `ModelCard` says. The result is one row per image:
the path, one probability column per class, and the decision (the positive classes at the card's threshold;
multi-class: the argmax). Score-CAM overlays (paper 003's explanation) are drawn for convolutional classifiers on
request.
"""

import os

import numpy as np
import pandas as pd

from keras_cxr.data import index_unlabeled, load_images, normalize_imagenet
from keras_cxr.data.index import DatasetIndex, make_frame
from keras_cxr.explain import score_cam
from keras_cxr.metrics.calibration import apply_temperature
from keras_cxr.inference.evaluate import predict_index
from keras_cxr.models import deepest_conv_layer_name
from keras_cxr.models.model_card import CLASSIFIER_TASKS, ModelCardError, load_model
from keras_cxr.report import plot_activation_maps


def _index(inputs):
    """A `DatasetIndex` of image files from files and folders (folders searched recursively)."""
    inputs = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    files, folders = [], []
    for item in map(os.fspath, inputs):
        if os.path.isdir(item):
            folders.append(item)
        elif os.path.isfile(item):
            files.append(os.path.abspath(item))
        else:
            raise FileNotFoundError(f"{item!r} is neither an image file nor a folder.")
    paths = files + (list(index_unlabeled(folders).frame["path"]) if folders else [])
    return DatasetIndex(make_frame(paths, check_files=False), [], "unlabeled")


def decisions(card, probabilities):
    """The decision per image: the argmax class (multi-class), else the classes at or above the threshold
    (0.5 without one), joined by "|" ("" when none)."""
    if card.task == "multiclass":
        return [card.class_names[c] for c in np.argmax(probabilities, 1)]
    threshold = np.broadcast_to(np.asarray(0.5 if card.threshold is None else card.threshold, float),
                                (probabilities.shape[1],))
    return ["|".join(n for n, hit in zip(card.class_names, row >= threshold) if hit) for row in probabilities]


def predict_images(model, inputs, output_csv=None, *, batch_size=32, score_cam_dir=None):
    """Class probabilities of a saved classifier for image files and folders.

    Args:
        model: a `.keras` path saved by keras_cxr (with its `ModelCard`), or a `keras.Model` with `model.card`.
        inputs: an image file, a folder, or a list of them (PNG, JPEG, DICOM ...; folders recursively).
        output_csv: optional path of the CSV to write.
        batch_size: images per batch.
        score_cam_dir: optional folder for Score-CAM overlays of the predicted class (convolutional classifiers
            with a softmax head; one PNG per 16 images).

    Returns:
        pandas DataFrame: path, one column per class (probability), prediction; disease + age models add
        `age_years`; a card with a temperature (`ModelCard.temperature`) adds `<class>_calibrated` columns.

    Raises:
        ModelCardError: a model without a card, or one that does not classify.
    """
    model = load_model(model, compile=False) if isinstance(model, (str, os.PathLike)) else model
    card = getattr(model, "card", None)
    if card is None or card.task not in CLASSIFIER_TASKS:
        raise ModelCardError(f"{getattr(model, 'name', model)} has no classifier ModelCard (task "
                             f"{getattr(card, 'task', None)!r}); predict needs a classifier saved by keras_cxr.")
    index = _index(inputs)
    outputs = predict_index(model, card, index, batch_size)
    probabilities = np.asarray(outputs["disease"] if isinstance(outputs, dict) else outputs).reshape(len(index), -1)
    table = pd.DataFrame({"path": index.frame["path"].to_numpy()})
    for c, name in enumerate(card.class_names):
        table[name] = probabilities[:, c]
    if card.temperature:  # calibrated probabilities beside the raw ones (the decision stays on the raw ones)
        task = "multiclass" if card.task in ("multiclass", "disease_age") else "multilabel"
        calibrated = np.asarray(apply_temperature(probabilities, card.temperature, task=task)).reshape(len(index), -1)
        for c, name in enumerate(card.class_names):
            table[f"{name}_calibrated"] = calibrated[:, c]
    table["prediction"] = decisions(card, probabilities)
    if isinstance(outputs, dict) and "age" in outputs:
        table["age_years"] = np.asarray(outputs["age"]).reshape(-1)
    if output_csv is not None:
        os.makedirs(os.path.dirname(os.path.abspath(output_csv)), exist_ok=True)
        table.to_csv(output_csv, index=False)
    if score_cam_dir is not None:
        _score_cam_overlays(model, card, index, table, score_cam_dir, batch_size)
    return table


def _score_cam_overlays(model, card, index, table, folder, batch_size, per_figure=16):
    try:
        layer = deepest_conv_layer_name(model)
    except ValueError as error:
        raise ModelCardError(f"Score-CAM needs a convolutional classifier: {error}") from error
    images = load_images(index.frame["path"], card.input_size[0], progress=False)
    inputs = images if card.normalization == "none" else normalize_imagenet(images)
    os.makedirs(folder, exist_ok=True)
    for start in range(0, len(images), per_figure):
        rows = slice(start, start + per_figure)
        maps = score_cam(model, inputs[rows], layer_name=layer, batch_size=batch_size)
        titles = [f"{os.path.basename(p)}\n{d}" for p, d in zip(table["path"][rows], table["prediction"][rows])]
        plot_activation_maps(images[rows], maps, titles=titles, path=os.path.join(folder, f"score_cam_{start:05d}.png"))
