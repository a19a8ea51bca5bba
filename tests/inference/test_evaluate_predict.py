"""External validation and prediction of a saved model, checked against scikit-learn on the same images."""

import json
import os

import keras
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from keras_cxr.data import load_images, make_phantom_dataset
from keras_cxr.inference import evaluate_model, predict_images
from keras_cxr.models import ModelCard, ModelCardError, create_model, load_model, read_card, save_model

SIZE = 32


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A labelled phantom folder (labels.csv layout, column "abnormal")."""
    return make_phantom_dataset(80, image_size=SIZE, seed=3).save(str(tmp_path_factory.mktemp("phantom")))


def _brightness_model(task="binary", class_names=("abnormal",)):
    """A fixed (untrained) model whose score is sigmoid(20 · mean − 10) of the image's mean (for two softmax
    classes the same probability of "abnormal"): a deterministic scorer, so the reference needs no training."""
    inputs = keras.Input((SIZE, SIZE, 1))
    mean = keras.layers.GlobalAveragePooling2D()(inputs)
    units = 1 if task == "binary" else 2
    dense = keras.layers.Dense(units, activation="sigmoid" if task == "binary" else "softmax",
                               kernel_initializer=keras.initializers.Constant([[20.0]] if task == "binary"
                                                                              else [[-10.0, 10.0]]),
                               bias_initializer=keras.initializers.Constant([-10.0] if task == "binary" else [5.0, -5.0]))
    model = keras.Model(inputs, dense(mean))
    model.card = ModelCard(task=task, class_names=list(class_names), input_size=(SIZE, SIZE), threshold=0.5
                           if task == "binary" else None)
    return model


def test_card_survives_a_keras_round_trip_and_a_second_save(tmp_path):
    model = create_model("resnet34", input_shape=(SIZE, SIZE, 1), num_classes=1, head_activation="sigmoid")
    assert (model.card.task, model.card.input_size, model.card.model_name) == ("binary", (SIZE, SIZE), "resnet34")
    model.card = model.card.replace(class_names=["pneumonia"], threshold=0.37)
    first, second = str(tmp_path / "a.keras"), str(tmp_path / "b.keras")
    save_model(model, first)
    loaded = load_model(first)
    save_model(loaded, second)
    assert read_card(second) == model.card
    images = np.random.default_rng(0).random((2, SIZE, SIZE, 1)).astype("float32")
    np.testing.assert_allclose(load_model(second).predict(images, verbose=0), model.predict(images, verbose=0),
                               atol=1e-5)
    assert keras.saving.load_model(second) is not None  # still an ordinary .keras file


def test_a_file_without_a_card_is_refused_with_the_fix(tmp_path, folder):
    path = str(tmp_path / "plain.keras")
    _brightness_model().save(path)
    with pytest.raises(ModelCardError, match="plain.keras has no keras_cxr_card.json.*save_model"):
        read_card(path)
    with pytest.raises(ModelCardError, match="carries no ModelCard"):
        evaluate_model(path, folder)


def test_evaluate_matches_scikit_learn_on_the_same_images(tmp_path, folder):
    path = str(tmp_path / "m.keras")
    model = _brightness_model()
    save_model(model, path)
    metrics = evaluate_model(path, folder, str(tmp_path / "report"), num_resamples=200)
    frame = pd.read_csv(os.path.join(folder, "labels.csv"))
    images = load_images([os.path.join(folder, "images", f) for f in frame["filename"]], SIZE, progress=False)
    scores = model.predict(images, verbose=0)[:, 0]
    truth = frame["abnormal"].to_numpy()
    row = metrics["classes"]["abnormal"]
    assert row["auc"] == pytest.approx(roc_auc_score(truth, scores), abs=1e-6)
    assert row["auc_ci"][0] <= row["auc"] <= row["auc_ci"][1]
    predicted = scores >= 0.5
    assert row["sensitivity"] == pytest.approx(predicted[truth == 1].mean())
    assert row["specificity"] == pytest.approx((~predicted[truth == 0]).mean())
    assert metrics["calibration"]["ece_uniform"]["estimate"] >= 0
    assert set(metrics["subgroups"]) >= {"sex"}
    report = open(tmp_path / "report" / "report.md").read()
    assert "## Calibration" in report and "figures/reliability.png" in report
    for figure in ("roc", "pr", "confusion", "reliability"):
        assert os.path.getsize(tmp_path / "report" / "figures" / f"{figure}.png") > 1000
    assert json.load(open(tmp_path / "report" / "metrics.json"))["num_images"] == 80


def test_a_two_class_softmax_model_reads_a_binary_folder(tmp_path, folder):
    model = _brightness_model("multiclass", ("normal", "abnormal"))
    metrics = evaluate_model(model, folder, num_resamples=50)
    binary = evaluate_model(_brightness_model(), folder, num_resamples=50)
    assert metrics["classes"]["abnormal"]["auc"] == pytest.approx(binary["classes"]["abnormal"]["auc"], abs=1e-6)


def test_classes_that_do_not_match_name_both_lists(folder):
    model = _brightness_model(class_names=("tuberculosis",))
    with pytest.raises(ModelCardError, match=r"predicts classes \['tuberculosis'\].*has \['abnormal'\]"):
        evaluate_model(model, folder)


def test_predict_writes_one_row_per_image_with_the_models_probabilities(tmp_path, folder):
    model = _brightness_model()
    csv = str(tmp_path / "out" / "predictions.csv")
    table = predict_images(model, [os.path.join(folder, "images")], csv)
    written = pd.read_csv(csv)
    assert len(written) == len(table) == 80 and list(written.columns) == ["path", "abnormal", "prediction"]
    images = load_images(written["path"], SIZE, progress=False)
    np.testing.assert_allclose(written["abnormal"], model.predict(images, verbose=0)[:, 0], atol=1e-5)
    assert set(written["prediction"].fillna("")) <= {"abnormal", ""}


def test_predict_reads_dicom_and_png_alike(tmp_path, originals_dir):
    files = [os.path.join(originals_dir, name) for name in sorted(os.listdir(originals_dir))
             if name.endswith((".dcm", ".png"))][:3]
    table = predict_images(_brightness_model(), files)
    assert len(table) == len(files) and np.isfinite(table["abnormal"]).all()


def test_cli_evaluate_and_predict(tmp_path, folder):
    from keras_cxr.cli import main

    path = str(tmp_path / "m.keras")
    save_model(_brightness_model(), path)
    assert main(["evaluate", "--model", path, "--data-dir", folder, "--output-dir", str(tmp_path / "e"),
                 "--num-resamples", "50"]) == 0
    assert os.path.exists(tmp_path / "e" / "report.md")
    assert main(["predict", "--model", path, os.path.join(folder, "images"), "--output", str(tmp_path / "p.csv")]) == 0
    assert len(pd.read_csv(tmp_path / "p.csv")) == 80


def test_a_cards_temperature_calibrates_predict_and_evaluate(tmp_path, folder):
    """The temperature a recipe records (`ModelCard.temperature`) survives saving, gives `predict` calibrated
    columns equal to sigmoid(logit(p) / T), and is what `evaluate` scales by when none is passed."""
    from keras_cxr.metrics import expected_calibration_error

    model = _brightness_model()
    model.card = model.card.replace(temperature=2.5)
    path = str(tmp_path / "t.keras")
    save_model(model, path)
    assert read_card(path).temperature == 2.5
    table = predict_images(path, [os.path.join(folder, "images")])
    p = table["abnormal"].to_numpy(float)
    expected = 1 / (1 + np.exp(-np.log(p / (1 - p)) / 2.5))
    np.testing.assert_allclose(table["abnormal_calibrated"], expected, atol=1e-5)
    metrics = evaluate_model(path, folder, num_resamples=20)
    truth = pd.read_csv(os.path.join(folder, "labels.csv"))["abnormal"].to_numpy()
    scores = dict(zip(table["path"].map(os.path.basename), expected))
    order = [scores[name] for name in pd.read_csv(os.path.join(folder, "labels.csv"))["filename"]]
    assert metrics["calibration"]["temperature"] == 2.5
    assert metrics["calibration"]["ece_uniform_after_temperature"] == pytest.approx(
        expected_calibration_error(truth, np.asarray(order)), abs=1e-5)
    with pytest.raises(ModelCardError, match="temperature must be > 0"):
        model.card.replace(temperature=0.0)
