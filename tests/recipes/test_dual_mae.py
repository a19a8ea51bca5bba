"""Smoke runs of the paper-000 recipe at tiny sizes, and resumption of an interrupted pretraining."""

import dataclasses
import json

import keras
import numpy as np
import pytest

from keras_cxr.recipes import dual_mae

TINY = dict(phantom_pretrain_images=48, phantom_finetune_images=90, image_size=32, resize_to=36, patch_size=8,
            embed_dim=32, depth=1, num_heads=2, mlp_dim=64, decoder_dim=16, decoder_depth=1, decoder_num_heads=2,
            pretrain_batch_size=16, finetune_batch_size=16, pretrain_epochs=1, finetune_epochs=1, linear_probe=True,
            linprobe_epochs=1, seeds=(0,), bootstrap_resamples=50, verbose=0)


# TensorFlow: the dual_mae notebook trains this recipe (DualMAE method); PyTorch: the quick preset's learning test runs
# this configuration at full preset size and the NIH real-folder test checks the linear-probe rows (CI budget).
@pytest.mark.slow_on_tensorflow
@pytest.mark.slow_on_torch
def test_quick_run_writes_full_output(tmp_path):
    metrics = dual_mae.run(dual_mae.Config.quick(output_dir=str(tmp_path), **TINY))
    probes = {f"{m}_linprobe" for m in ("mae", "dual_mae")}  # linear probing of the self-supervised encoders
    assert set(metrics["table_3_4"]) == set(dual_mae.QUICK_METHODS) | probes  # quick: 3 of the 8, and it says so
    assert set(metrics["methods_not_requested"]) == set(dual_mae.METHODS) - set(dual_mae.QUICK_METHODS)
    assert "Not requested in this run" in (tmp_path / "report.md").read_text()
    for method, row in metrics["table_3_4"].items():
        assert 0.0 <= row["mean_auc"][0] <= 1.0 and len(row["auc_per_class"]) == 6
    assert "delong_vs_dual_mae" in metrics["table_3_4"]["mae"]
    for name in ("config.json", "metrics.json", "report.md", "figures/reconstruction_dual_mae.png",
                 "models/dual_mae_mask75.keras", "models/mae_mask85.keras"):
        assert (tmp_path / name).exists(), name
    assert json.loads((tmp_path / "config.json").read_text())["tau"] == 0.99
    reloaded = keras.saving.load_model(tmp_path / "models/dual_mae_mask75.keras")
    assert reloaded.target.trainable is False
    assert reloaded.optimizer.skip_weight_decay_1d is True  # MAE's no-decay group: biases, norms, tokens


class _Kill(keras.callbacks.Callback):
    """Simulates a crash in the middle of the second epoch."""

    def on_train_batch_end(self, batch, logs=None):
        if int(keras.ops.convert_to_numpy(self.model.optimizer.iterations)) == 4:
            raise RuntimeError("killed")


def test_killed_pretraining_resumes_from_last_epoch(tmp_path):
    config = dual_mae.Config.quick(output_dir=str(tmp_path), **{**TINY, "pretrain_epochs": 3})
    data = dual_mae.load_data(config)  # 48 images / batch 16 = 3 steps per epoch; crash at step 4 (epoch 2)
    with pytest.raises(RuntimeError, match="killed"):
        dual_mae.pretrain(config, data, "dual_mae", 0.75, callbacks=[_Kill()])
    assert (tmp_path / "backup").exists() and not (tmp_path / "models/dual_mae_mask75.keras").exists()
    model, history = dual_mae.pretrain(config, data, "dual_mae", 0.75)
    # the stage's history covers all 3 epochs: epoch 1 from before the kill (restored, not repeated), 2-3 after it
    assert len(history["loss"]) == 3
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 9
    assert np.isfinite(history["loss"]).all()


@pytest.mark.slow_on_tensorflow  # reading the real folder is the same numpy / OpenCV code on both backends
def test_quick_run_on_real_adult_folder_with_nih_findings(tmp_path, shared_data, external_validation):
    """Pretraining on a real unlabeled folder, fine-tuning on NIH's 14 findings from a labels.csv folder."""
    folder = shared_data / "nih_cxr14_64px"
    if not folder.exists():
        pytest.skip(f"{folder} is absent")
    config = dual_mae.Config.quick(output_dir=str(tmp_path), pretrain_dir=str(folder), finetune_dir=str(folder),
                                   finetune_label_column="finding_labels", max_images=160,
                                   methods=("vit_scratch", "dual_mae"), **TINY)
    metrics = dual_mae.run(config)
    rows = metrics["table_3_4"]
    assert set(rows) == {"vit_scratch", "dual_mae", "dual_mae_linprobe"}  # the frozen encoder probed too
    assert len(rows["dual_mae"]["auc_per_class"]) == 14  # ChestX-ray14's findings, not the binary column
    assert (tmp_path / "report.md").exists() and (tmp_path / "models/dual_mae_mask75.keras").exists()
    assert json.loads((tmp_path / "config.json").read_text())["finetune_label_column"] == "finding_labels"
    # the fine-tuned model, saved with its 14 classes and Youden thresholds, validates from its file alone
    external = external_validation(tmp_path / "models/finetune_dual_mae_seed0_fraction100.keras", "nih_cxr14_64px",
                                   label_column="finding_labels")
    assert len(external["classes"]) == 14 and external["num_images"] == 600


def test_label_column_needs_a_labels_csv_folder(tmp_path):
    config = dual_mae.Config.quick(output_dir=str(tmp_path), finetune_dir=str(tmp_path),
                                   finetune_label_column="finding_labels", **TINY)
    with pytest.raises(ValueError, match="labels.csv"):
        dual_mae.load_data(config)


def test_mixed_bfloat16_run_trains_in_bf16_and_restores_the_global_policy(tmp_path):
    config = dual_mae.Config.quick(output_dir=str(tmp_path), dtype_policy="mixed_bfloat16", methods=("mae",), **TINY)
    metrics = dual_mae.run(config)
    assert keras.config.dtype_policy().name == "float32"  # the caller's policy is back
    assert 0.0 <= metrics["table_3_4"]["mae"]["mean_auc"][0] <= 1.0
    model = keras.saving.load_model(tmp_path / "models/mae_mask85.keras")
    assert model.dtype_policy.name == "mixed_bfloat16" and model.encoder.get_layer("patch_embed").weights[0].dtype == "float32"
    with pytest.raises(ValueError, match="dtype_policy"):
        dual_mae.run(dual_mae.Config.quick(output_dir=str(tmp_path), dtype_policy="bfloat16", **TINY))


@pytest.mark.slow  # ~75 s on TensorFlow (CI budget); `pytest -m slow` runs it.
def test_quick_run_with_both_sweeps_writes_their_tables(tmp_path):
    """Table 2 (masking ratios) and Tables 5-6 (label fractions) set together: the report is written."""
    config = dual_mae.Config.quick(output_dir=str(tmp_path), mask_ratio_sweep=(0.75,), label_fractions=(0.5, 1.0),
                                   table_6_fractions=(0.5, 1.0), methods=("vit_scratch", "mae", "dual_mae"), **TINY)
    metrics = dual_mae.run(config)
    assert set(metrics["table_2"]) == {"mae", "dual_mae"}
    assert set(metrics["table_2"]["mae"]) == {0.75}
    # Table 5: dual-MAE per fraction, AUC / sensitivity / precision / F1 as (mean, sd); 100 % is Table 3-4's run.
    assert set(metrics["table_5"]) == {0.5, 1.0}
    assert set(metrics["table_5"][0.5]) == {"mean_auc", "sensitivity", "precision", "f1"}
    assert all(len(v) == 2 for v in metrics["table_5"][0.5].values())
    assert metrics["table_5"][1.0]["mean_auc"] == metrics["table_3_4"]["dual_mae"]["mean_auc"]
    # Table 6: every method x fraction.
    assert set(metrics["table_6"]) == {"vit_scratch", "mae", "dual_mae"}
    assert all(set(row) == {0.5, 1.0} for row in metrics["table_6"].values())
    assert metrics["table_6"]["dual_mae"][0.5] == metrics["table_5"][0.5]["mean_auc"]
    assert (tmp_path / "results/finetune_vit_scratch_seed0_fraction50.npz").exists()
    assert (tmp_path / "figures/label_efficiency.png").exists()  # issue 28: metric vs labelled images
    assert "figures/label_efficiency.png" in (tmp_path / "report.md").read_text()
    report = (tmp_path / "report.md").read_text()
    assert "## Table 2" in report and "## Table 5" in report and "## Table 6" in report and " ± " in report
    assert "| 50% | " in report and "[0.733]" in report  # Table 5's paper AUC at 50 %
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert set(saved["table_5"]) == {"0.5", "1.0"}


def _vindr_tree(root, num_train=20, num_test=6):
    import pandas as pd

    root.mkdir()
    columns = ["image_id", "rad_ID", "No finding", "Bronchitis", "Brocho-pneumonia", "Bronchiolitis", "Pneumonia",
               "Other disease"]
    for split, count in (("train", num_train), ("test", num_test)):
        rows = [[f"{split}{i}", "R1", int(i % 3 == 0), int(i % 3 == 1), int(i % 3 == 2), int(i % 2), int(i % 4 == 1),
                 int(i % 5 == 0)] for i in range(count)]
        pd.DataFrame(rows, columns=columns).to_csv(root / f"image_labels_{split}.csv", index=False)
        (root / split).mkdir()
        for i in range(count):
            (root / split / f"{split}{i}.dicom").write_bytes(b"\0" * 200)
    return root


def test_official_test_split_is_used_when_the_layout_has_one(tmp_path):
    folder = _vindr_tree(tmp_path / "pedicxr")
    config = dual_mae.Config.quick(output_dir=str(tmp_path / "run"), finetune_dir=str(folder), **TINY)
    data = dual_mae.load_data(config)
    splits = data["splits"]
    assert sorted(splits["test"].frame["patient_id"]) == sorted(f"test{i}" for i in range(6))
    assert len(splits["train"]) + len(splits["val"]) == 20
    assert set(splits["train"].frame["split"]) == {"train"} == set(splits["val"].frame["split"])
    assert 2 <= len(splits["val"]) <= 6  # 20 % of the official training images (§IV.A)
    assert data["test_split"].startswith("the official test split, 6 images")

    phantom = dual_mae.load_data(dual_mae.Config.quick(output_dir=str(tmp_path / "run2"), **TINY))
    assert phantom["test_split"].startswith("no official test split")
    assert len(phantom["splits"]["test"]) > 0 and sum(len(v) for v in phantom["splits"].values()) == 90


def test_phantom_findings_left_out_are_neither_drawn_nor_classified(tmp_path):
    from keras_cxr.data import FINDINGS, make_phantom_dataset

    config = dual_mae.Config.quick(output_dir=str(tmp_path / "run"), cache_dir=str(tmp_path / "cache"), **TINY)
    assert config.phantom_findings == FINDINGS[:4]  # the quick preset leaves out the 2-3 px nodule
    data = dual_mae.load_data(config)
    assert data["class_names"] == ["no finding", *FINDINGS[:4]]
    frame = np.concatenate([split.labels for split in data["splits"].values()])
    assert frame.shape == (90, 5) and (frame[:, 0] == (frame[:, 1:].sum(1) == 0)).all()
    # the images are those of the phantom drawn with no nodule (same seed): its labels, in the same files
    reference = make_phantom_dataset(90, 36, seed=config.seed + 20, prevalence=dual_mae._phantom_prevalence(config))
    assert reference.labels[:, FINDINGS.index("nodule")].sum() == 0
    assert sorted(map(tuple, frame[:, 1:])) == sorted(map(tuple, reference.labels[:, :4]))

    full = dual_mae.load_data(dataclasses.replace(config, phantom_findings=FINDINGS))
    assert full["class_names"] == ["no finding", *FINDINGS]
    with pytest.raises(ValueError, match="phantom_findings must be a non-empty subset"):
        dual_mae.load_data(dataclasses.replace(config, phantom_findings=("nodules",)))


def test_report_names_the_test_split(tmp_path):
    (tmp_path / "figures").mkdir()
    text = dual_mae.write_report(dual_mae.Config.quick(output_dir=str(tmp_path)), {
        "table_3_4": {}, "class_names": ["a"], "split_sizes": {"train": 3, "val": 1, "test": 2},
        "test_split": "the official test split, 2 images"})
    assert "Test split: the official test split, 2 images" in text


def _torchvision_resnet34_file(path, seed=0):
    """A state dict in torchvision's ResNet-34 layout (random numbers), as resnet34-b627a593.pth is."""
    import torch

    from keras_cxr.models import create_model
    from keras_cxr.models.resnet.resnet import _torchvision_names

    model = create_model("resnet34", input_shape=(32, 32, 3))
    rng = np.random.default_rng(seed)
    state, names = {}, {layer.name for layer in model.layers}
    for ours, theirs in _torchvision_names().items():
        if ours == "head":
            state.update({"fc.weight": rng.normal(size=(1000, 512)), "fc.bias": rng.normal(size=1000)})
            continue
        if ours not in names:
            continue  # no downsampling in stage 1
        layer = model.get_layer(ours)
        if isinstance(layer, keras.layers.BatchNormalization):
            for key in ("weight", "bias", "running_mean"):
                state[f"{theirs}.{key}"] = rng.normal(size=layer.gamma.shape)
            state[f"{theirs}.running_var"] = rng.uniform(0.5, 2.0, size=layer.gamma.shape)
        else:
            state[f"{theirs}.weight"] = rng.normal(size=tuple(layer.kernel.shape)).transpose(3, 2, 0, 1) * 0.05
    torch.save({k: torch.tensor(v, dtype=torch.float32) for k, v in state.items()}, path)
    return state


def _eight_method_config(tmp_path):
    state = _torchvision_resnet34_file(tmp_path / "resnet34.pth")
    config = dual_mae.Config.quick(output_dir=str(tmp_path / "run"), methods=dual_mae.METHODS,
                                   resnet34_imagenet_weights=str(tmp_path / "resnet34.pth"), xray_pretrain_epochs=1,
                                   **TINY)
    return config, state


@pytest.mark.slow  # 2 minutes on a 2-core CPU: seven fine-tunings and two supervised pretrainings
def test_eight_methods_run_end_to_end_or_are_left_out_with_the_reason(tmp_path):
    config, _ = _eight_method_config(tmp_path)
    metrics = dual_mae.run(config)
    ran = set(dual_mae.METHODS) - {"vit_imagenet"}
    assert set(metrics["table_3_4"]) == ran == set(metrics["methods_run"])
    assert "converter" in metrics["methods_left_out"]["vit_imagenet"]
    assert (tmp_path / "run/models/resnet34_xray_pretrain.keras").exists()
    assert (tmp_path / "run/models/vit_xray_pretrain.keras").exists()
    assert set(metrics["table_6"]) == ran
    report = (tmp_path / "run/report.md").read_text()
    assert "**vit_imagenet left out**" in report and "| resnet34_imagenet |" in report
    assert "| vit_imagenet |" not in report
    saved = json.loads((tmp_path / "run/metrics.json").read_text())
    assert "vit_imagenet" in saved["methods_left_out"]


def test_methods_are_resolved_before_training(tmp_path, monkeypatch):
    config, state = _eight_method_config(tmp_path)
    classifier = dual_mae.build_classifier(config, "resnet34_imagenet", config.resnet34_imagenet_weights, 6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(classifier.get_layer("stem_conv").kernel)[..., 0, :],
                               state["conv1.weight"].transpose(2, 3, 1, 0).sum(axis=2), rtol=1e-5, atol=1e-6)
    data = dual_mae.load_data(config)
    run, left_out = dual_mae.resolve_methods(config, data)
    assert set(run) == set(dual_mae.METHODS) - {"vit_imagenet"} and set(left_out) == {"vit_imagenet"}
    assert run["resnet34_imagenet"] == config.resnet34_imagenet_weights and run["vit_xray"] == "xray"

    # Offline: "imagenet" cannot be fetched, so ResNet-34(IN) is left out (never a random "pretrained" model).
    def offline(*args, **kwargs):
        raise ConnectionError("no network")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    run, left_out = dual_mae.resolve_methods(dataclasses.replace(config, resnet34_imagenet_weights="imagenet"), data)
    assert "resnet34_imagenet" not in run and "resnet34-b627a593.pth" in left_out["resnet34_imagenet"]
    with pytest.raises(ValueError, match="does not exist"):
        dual_mae.resolve_methods(dataclasses.replace(config, vit_imagenet_weights=str(tmp_path / "no.keras")), data)
    with pytest.raises(ValueError, match="unknown methods"):
        dual_mae.resolve_methods(dataclasses.replace(config, methods=("resnet50",)), data)
    unlabeled = {**data, "pretrain": data["pretrain"].subset(np.arange(4))}
    unlabeled["pretrain"] = type(unlabeled["pretrain"])(unlabeled["pretrain"].frame.drop(
        columns=unlabeled["pretrain"].class_names), [], "unlabeled")
    _, left_out = dual_mae.resolve_methods(config, unlabeled)
    assert "no labels" in left_out["resnet34_xray"] and "no labels" in left_out["vit_xray"]
