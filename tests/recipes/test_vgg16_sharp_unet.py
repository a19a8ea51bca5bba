"""End-to-end smoke runs of the paper-003 recipe, tiny sizes, on the phantom and on real pediatric CXRs."""

import dataclasses
import json
import math

import pytest

from keras_cxr.models import read_card
from keras_cxr.recipes import vgg16_sharp_unet

TINY = dict(image_size=32, width_multiplier=0.0625, pretext_epochs=1, classifier_epochs=1, ensemble_epochs=1,
            num_cam_images=2, verbose=0, pretext_batch_size=16, classifier_batch_size=16)


def _check_output(folder, metrics):
    for name in ("config.json", "metrics.json", "report.md", "figures/metric_bars.png",
                 "figures/sensitivity_z_tests.png", "figures/denoising_examples.png", "figures/score_cam_Den-P.png",
                 "models/denoising.keras", "models/deblurring.keras", "models/A-F.keras"):
        assert (folder / name).exists(), f"missing {name}"
    assert set(metrics["table_3"]) == {"B", "Den-P", "Deb-P", "SA", "SLSQP-WA", "A-F"}
    for row in metrics["table_3"].values():
        assert 0.0 <= row["balanced_accuracy"] <= 1.0
    for task in ("denoising", "deblurring"):
        assert math.isfinite(metrics["table_2"][task]["psnr"]) and 0 < metrics["table_2"][task]["ssim"] <= 1
    assert len(metrics["sensitivity_z_tests"]) == 15  # all pairs of six models
    config = json.loads((folder / "config.json").read_text())
    assert config["_environment"]["keras_backend"] in ("tensorflow", "torch", "jax")
    report = (folder / "report.md").read_text()
    assert "| A-F |" in report
    if not config["baseline_weights"] or config["baseline_weights"] == "none":
        assert metrics["baseline"] == {"name": "B (random init)", "weights": None}
        assert "| B (random init) |" in report and "| B |" not in report


@pytest.mark.slow_on_tensorflow  # the vgg16_sharp_unet notebook runs this same configuration on TensorFlow
def test_quick_run_on_phantom_with_lung_cropping_writes_full_output(tmp_path, external_validation):
    config = vgg16_sharp_unet.Config.quick(output_dir=str(tmp_path), phantom_pretext_images=40,
                                           phantom_classify_images=60, lung_crop=True, segmentation_epochs=1,
                                           linear_probe=True, linprobe_epochs=2, label_fractions=(0.5, 1.0), **TINY)
    metrics = vgg16_sharp_unet.run(config)
    _check_output(tmp_path, metrics)
    assert read_card(tmp_path / "models/lung_segmenter.keras").task == "segmentation"
    assert read_card(tmp_path / "models/Den-P.keras").temperature > 0  # fitted on the validation split
    # the protocols (keras_cxr.recipes.protocols): frozen-encoder probes and the label-efficiency sweep
    assert set(metrics["linear_probe"]) == {"Den-P", "Deb-P"}
    assert (tmp_path / "models/Den-P_linprobe.keras").exists() and (tmp_path / "models/B_fraction50.keras").exists()
    assert set(metrics["label_efficiency"]) == {"B", "Den-P", "Deb-P"}
    assert metrics["label_efficiency"]["Den-P"][1.0][0] == pytest.approx(
        metrics["classification_reports"]["Den-P"]["binary"]["auc_roc"])  # fraction 1.0 is the main run
    report = (tmp_path / "report.md").read_text()
    assert "Linear probing of the pretext encoders" in report and "figures/label_efficiency.png" in report
    assert set(metrics["calibration"]) == set(metrics["table_3"])
    assert (tmp_path / "figures/reliability_Den-P.png").exists()
    # the saved classifier validates on a real folder from its file alone (its ModelCard: 32 px, normal/abnormal)
    external = external_validation(tmp_path / "models/Den-P.keras")
    assert external["num_images"] == 32 and set(external["classes"]) == {"normal", "abnormal"}


@pytest.mark.slow_on_tensorflow  # reading the real folder is the same numpy / OpenCV code on both backends
def test_quick_run_on_real_pediatric_folder(tmp_path, shared_data):
    """Kermany images lung-cropped (the default, §2.1) by a segmenter trained on JSRT/SCR's lung masks."""
    kermany = shared_data / "kermany_pediatric_224"
    config = vgg16_sharp_unet.Config.quick(output_dir=str(tmp_path), pretext_dir=str(kermany),
                                           classify_dir=str(kermany), max_images=60, segmentation_epochs=1,
                                           segmentation_dir=str(shared_data / "jsrt_scr_segmentation"), **TINY)
    assert config.lung_crop is True
    metrics = vgg16_sharp_unet.run(config)
    _check_output(tmp_path, metrics)
    assert (tmp_path / "models/lung_segmenter.keras").exists()
    assert len(list((tmp_path / "lung_crop/classify/test").glob("*.png"))) == metrics["split_sizes"]["classify"]["test"]


def test_lung_cropping_is_the_default_and_needs_a_segmenter(tmp_path, shared_data):
    assert vgg16_sharp_unet.Config().lung_crop is True and vgg16_sharp_unet.Config.quick().lung_crop is True
    kermany = shared_data / "kermany_pediatric_224"
    config = vgg16_sharp_unet.Config.quick(output_dir=str(tmp_path), pretext_dir=str(kermany),
                                           classify_dir=str(kermany), max_images=20, **TINY)
    with pytest.raises(ValueError, match="--lung-crop false"):
        vgg16_sharp_unet.load_data(config)
    uncropped = vgg16_sharp_unet.load_data(dataclasses.replace(config, lung_crop=False))
    assert "lung_crop" not in str(uncropped["classify"]["train"].paths[0])


def test_command_line_flags_map_to_config():
    from keras_cxr.recipes._cli import parse_config

    config = parse_config(vgg16_sharp_unet.Config, ["--quick", "--image-size", "48", "--lung-crop", "true",
                                                    "--noise-variance-factors", "0.05", "0.1"])
    assert config.image_size == 48 and config.lung_crop is True
    assert config.noise_variance_factors == (0.05, 0.1)
    assert config.pretext_epochs == vgg16_sharp_unet.Config.quick().pretext_epochs
    assert vgg16_sharp_unet.Config().pretext_learning_rate == 1e-3  # §2.3.1


def test_vindr_layout_boxes_are_scaled_to_the_model_input(tmp_path):
    import cv2
    import numpy as np
    import pandas as pd

    columns = ["image_id", "rad_ID", "No finding", "Bronchitis", "Brocho-pneumonia", "Bronchiolitis", "Pneumonia"]
    rows = [[f"img{i}", "R1", int(i % 2 == 0), 0, 0, 0, int(i % 2 == 1)] for i in range(6)]
    pd.DataFrame(rows, columns=columns).to_csv(tmp_path / "image_labels_train.csv", index=False)
    (tmp_path / "train").mkdir()
    for i in range(6):
        cv2.imwrite(str(tmp_path / "train" / f"img{i}.png"), np.zeros((40, 50), np.uint8))
    pd.DataFrame([["img1", "R1", "Pneumonia", 10, 4, 30, 20], ["img0", "R1", "No finding", None, None, None, None]],
                 columns=["image_id", "rad_id", "class_name", "x_min", "y_min", "x_max", "y_max"]
                 ).to_csv(tmp_path / "annotations_train.csv", index=False)
    config = vgg16_sharp_unet.Config.quick(classify_dir=str(tmp_path), image_size=20)
    index = vgg16_sharp_unet._classify_index(config)
    labels, boxes = vgg16_sharp_unet.labels_of(index), vgg16_sharp_unet.boxes_of(index)
    assert len(index) == 6 and labels.tolist() == [0, 1, 0, 1, 0, 1]
    assert boxes[1] == [("Pneumonia", 4.0, 2.0, 12.0, 10.0)] and boxes[0] == []  # x * 20/50, y * 20/40

    # Table 1: with the official test table beside it, both tables are pooled (then re-split 70/10/20).
    test_rows = [[f"t{i}", "R2", int(i == 0), int(i == 1), 0, 0, 0] for i in range(3)]
    pd.DataFrame(test_rows, columns=columns).to_csv(tmp_path / "image_labels_test.csv", index=False)
    (tmp_path / "test").mkdir()
    for i in range(3):
        cv2.imwrite(str(tmp_path / "test" / f"t{i}.png"), np.zeros((40, 50), np.uint8))
    pd.DataFrame([["t1", "R2", "Bronchitis", 0, 0, 25, 20]],
                 columns=["image_id", "rad_id", "class_name", "x_min", "y_min", "x_max", "y_max"]
                 ).to_csv(tmp_path / "annotations_test.csv", index=False)
    pooled = vgg16_sharp_unet._classify_index(config)
    assert len(pooled) == 9 and pooled.frame["split"].tolist() == ["train"] * 6 + ["test"] * 3
    assert vgg16_sharp_unet.labels_of(pooled).tolist() == [0, 1, 0, 1, 0, 1, 0, 1, 1]
    assert vgg16_sharp_unet.boxes_of(pooled)[7] == [("Bronchitis", 0.0, 0.0, 10.0, 10.0)]
    only_train = vgg16_sharp_unet._classify_index(dataclasses.replace(
        config, classify_dir=None, classify_csv=str(tmp_path / "image_labels_train.csv")))
    assert len(only_train) == 6
    splits = vgg16_sharp_unet.split_index(pooled, (0.7, 0.1, 0.2), 0)
    assert sum(len(v) for v in splits.values()) == 9 and len(splits["test"]) >= 1


@pytest.mark.slow  # ~50 s on TensorFlow (CI budget); `pytest -m slow` runs it; the dual_mae bf16 test covers the policy scope.
def test_quick_run_under_mixed_bfloat16_restores_the_global_policy(tmp_path):
    import keras

    config = vgg16_sharp_unet.Config.quick(output_dir=str(tmp_path), phantom_pretext_images=40,
                                           phantom_classify_images=60, dtype_policy="mixed_bfloat16", lung_crop=False,
                                           **TINY)
    metrics = vgg16_sharp_unet.run(config)
    _check_output(tmp_path, metrics)
    assert keras.config.dtype_policy().name == "float32"
    model = keras.saving.load_model(tmp_path / "models/denoising.keras")
    conv = next(layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D))
    assert conv.dtype_policy.name == "mixed_bfloat16" and conv.kernel.dtype == "float32"


def test_baseline_weights_never_fall_back_to_random_silently(tmp_path, monkeypatch):
    import keras

    assert vgg16_sharp_unet.Config().baseline_weights == "imagenet"
    for value in (None, "none", "None", "random"):
        config = vgg16_sharp_unet.Config.quick(baseline_weights=value)
        assert vgg16_sharp_unet.baseline_weights(config) is None
        assert vgg16_sharp_unet.baseline_name(config) == "B (random init)"
    with pytest.raises(ValueError, match="width_multiplier=1.0.*--baseline-weights none"):
        vgg16_sharp_unet.baseline_weights(vgg16_sharp_unet.Config.quick(baseline_weights="imagenet"))
    with pytest.raises(ValueError, match="existing file.*--baseline-weights none"):
        vgg16_sharp_unet.baseline_weights(vgg16_sharp_unet.Config(baseline_weights=str(tmp_path / "no.h5")))
    config = vgg16_sharp_unet.Config.quick(output_dir=str(tmp_path), baseline_weights="imagenet",
                                           **{**TINY, "width_multiplier": 1.0})
    assert vgg16_sharp_unet.baseline_name(config) == "B"

    def offline(*args, **kwargs):
        raise ConnectionError("no network")

    monkeypatch.setattr(keras.applications, "VGG16", offline)
    with pytest.raises(OSError, match="vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5.*--baseline-weights none"):
        vgg16_sharp_unet.run(config)  # at the start: nothing trained
    assert not (tmp_path / "models").exists() or not list((tmp_path / "models").iterdir())


def test_images_without_a_predicted_lung_are_kept_whole_and_counted(tmp_path):
    import keras
    import numpy as np

    inputs = keras.Input((32, 32, 1))
    outputs = keras.layers.Conv2D(1, 1, activation="sigmoid", kernel_initializer="zeros",
                                  bias_initializer=keras.initializers.Constant(-10.0))(inputs)
    keras.Model(inputs, outputs).save(tmp_path / "blind.keras")  # a segmenter that never finds a lung
    config = vgg16_sharp_unet.Config.quick(output_dir=str(tmp_path / "run"), phantom_pretext_images=20,
                                           phantom_classify_images=20, segmentation_model=str(tmp_path / "blind.keras"),
                                           **TINY)
    with pytest.warns(RuntimeWarning, match="found no lung"):
        data = vgg16_sharp_unet.load_data(config)
    counts = data["lung_crop_uncropped"]
    assert sum(counts.values()) == 40 and counts["classify/test"] == len(data["classify"]["test"])
    original = vgg16_sharp_unet.load_data(dataclasses.replace(config, lung_crop=False))
    kept = vgg16_sharp_unet._read(config, data["classify"]["test"], [0])
    np.testing.assert_allclose(kept, vgg16_sharp_unet._read(config, original["classify"]["test"], [0]), atol=1e-4)
