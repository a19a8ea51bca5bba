"""The quick presets demonstrate their method on the phantom, not only exercise it (issue 26, point 3).

Each test runs one recipe's `Config.quick()` exactly as `--quick` does (one test per recipe, so pytest-xdist
never runs a preset twice on two workers) and checks the targets of the issue on what the run reports, listing
every target missed:

- vgg16_sharp_unet: both pretexts restore above their degraded input (PSNR and SSIM); every classifier and
  ensemble reaches balanced accuracy >= 0.70 and AUC >= 0.75 on the test split;
- dual_mae: MAE and dual-MAE fine-tuned reach mean AUC >= 0.70;
- ss_cxr: every binary task AUC >= 0.75 on the same-sites test split, the 3-class task above the majority
  class; UNETR Dice >= 0.90;
- infant_transfer: the full model's accuracy at least 10 points above the majority class, its age MAE below
  that of predicting the training-mean age;
- no report of a run that meets them carries a degenerate-model warning for those models.

Every preset meets its targets (measured numbers in each `Config.quick()` docstring). They run in the default
run on PyTorch and are `slow` on TensorFlow (`slow_on_tensorflow`: graph tracing makes the tiny models 3-6x
slower there and CI has 45 minutes for both backends; each recipe's notebook runs it there on tiny data, and
`KERAS_BACKEND=tensorflow pytest -m slow tests/recipes/test_quick_presets.py` runs these).
`KERAS_CXR_QUICK_SEED=1 pytest ...` runs another seed. Measured on PyTorch: seeds 0 and 1 pass all four
presets; seed 2 was run for vgg16_sharp_unet only (passes; its thinnest margin, Deb-P's balanced accuracy
0.715, is also seed 1's for Den-P). infant_transfer's preset was also run on TensorFlow (seed 0: accuracy
0.79, age MAE 1.9 years, passes).
"""

import dataclasses
import os

import numpy as np
import pytest

from keras_cxr.recipes import dual_mae, infant_transfer, ss_cxr, vgg16_sharp_unet

CLASSIFIERS = ("B", "Den-P", "Deb-P", "SA", "SLSQP-WA", "A-F")
SEED = int(os.environ.get("KERAS_CXR_QUICK_SEED", "0"))


def quick(recipe, folder):
    """`Config.quick()` with the data seed, and the training seeds where the recipe has them, set to SEED."""
    seeds = {"seeds": (SEED,)} if "seeds" in {f.name for f in dataclasses.fields(recipe.Config)} else {}
    return recipe.Config.quick(output_dir=str(folder), verbose=0, seed=SEED, **seeds)


def check(missed):
    assert not missed, "targets missed (seed {}):\n".format(SEED) + "\n".join(missed)


def probe_curves(folder, stages, rises=None):
    """Issue 28: every pretraining stage's saved history carries its kNN and linear probe AUC per epoch (finite,
    in [0, 1]) and on the initial weights; returns {stage: (start, first epoch, last epoch) linear-probe AUC} for
    the closing numbers and prints both probes' curves. `rises` {stage: margin}: the linear probe of that stage
    must end at least `margin` above its value on the initial weights (the encoder learned something the
    downstream task can use; measured margins are in each preset's docstring)."""
    from keras_cxr.recipes import engine
    from keras_cxr.recipes.base import RecipeConfig

    found = {}
    for stage in stages:
        history = engine.load_history(RecipeConfig(output_dir=str(folder)), stage)
        assert history is not None, stage
        start = history["probe_at_start"]
        for key in ("knn_auc", "linear_auc"):
            values = np.asarray([start[key]] + history[key], dtype=float)
            assert len(values) == len(history["loss"]) + 1 and np.isfinite(values).all(), (stage, key, values)
            assert ((values >= 0) & (values <= 1)).all(), (stage, key, values)
            print(f"probe curve {stage} {key} (epoch 0 = initial weights):", np.round(values, 3).tolist())
        found[stage] = (start["linear_auc"], history["linear_auc"][0], history["linear_auc"][-1])
        margin = (rises or {}).get(stage)
        assert margin is None or history["linear_auc"][-1] >= start["linear_auc"] + margin, (stage, found[stage])
    return found


@pytest.mark.slow_on_tensorflow
def test_vgg16_sharp_unet_quick_preset_restores_and_classifies(tmp_path):
    metrics = vgg16_sharp_unet.run(quick(vgg16_sharp_unet, tmp_path))
    missed = []
    for task in ("denoising", "deblurring"):  # restored above the degraded input
        scores = metrics["table_2"][task]
        if not (scores["ssim"] > scores["degraded_ssim"] + 0.03 and scores["psnr"] > scores["degraded_psnr"]):
            missed.append(f"{task}: {scores}")
    for name in CLASSIFIERS:  # every classifier and ensemble learns
        balanced = metrics["table_3"][name]["balanced_accuracy"]
        auc = metrics["classification_reports"][name]["binary"]["auc_roc"]
        if balanced < 0.70 or auc < 0.75 or name in metrics["degenerate"]:
            missed.append(f"{name}: balanced accuracy {balanced:.3f}, AUC {auc:.3f}, warnings {metrics['warnings']}")
    check(missed)
    probe_curves(tmp_path, ("denoising", "deblurring"))


@pytest.mark.slow_on_tensorflow
def test_dual_mae_quick_preset_learns_the_findings(tmp_path):
    metrics = dual_mae.run(quick(dual_mae, tmp_path))
    assert {"vit_scratch", "mae", "dual_mae"} <= set(metrics["table_3_4"])  # pretrained beside scratch
    missed = []
    for method in ("mae", "dual_mae"):
        result = metrics["table_3_4"][method]
        if result["mean_auc"][0] < 0.70 or result["degenerate"]:
            missed.append(f"{method}: mean AUC {result['mean_auc']}, warnings {result['warnings']}")
    check(missed)
    probe_curves(tmp_path, ("mae_mask85", "dual_mae_mask75"),
                 rises={"mae_mask85": 0.03, "dual_mae_mask75": 0.02})  # measured 0.63 -> 0.71, 0.66 -> 0.69
    # the full output (tests/recipes/test_dual_mae.py's tiny run is `slow`: CI budget)
    assert set(metrics["methods_not_requested"]) == set(dual_mae.METHODS) - set(metrics["table_3_4"])
    assert "delong_vs_dual_mae" in metrics["table_3_4"]["mae"] and "Not requested in this run" in \
        (tmp_path / "report.md").read_text()
    for name in ("figures/reconstruction_dual_mae.png", "models/dual_mae_mask75.keras", "models/mae_mask85.keras",
                 f"models/finetune_dual_mae_seed{SEED}_fraction100.keras", "figures/reliability_dual_mae.png"):
        assert (tmp_path / name).exists(), name


@pytest.mark.slow_on_tensorflow
def test_ss_cxr_quick_preset_classifies_and_segments(tmp_path):
    metrics = ss_cxr.run(quick(ss_cxr, tmp_path))
    missed = []
    for task, by_strategy in metrics["classification"].items():
        assert set(by_strategy) == {"vit_scratch", "ss_cxr"}  # the pretrained model beside its from-scratch twin
        for strategy, table in by_strategy.items():
            row = table[ss_cxr.SAME_SITES]
            if task == "healthy_pneumonia_covid":
                majority = max(row["class_counts"].values()) / row["num_images"]
                if row["accuracy"] <= majority + 0.05:
                    missed.append(f"{task} {strategy}: accuracy {row['accuracy']:.3f}, majority class {majority:.3f}")
            elif row["macro_auc_roc"] < 0.75:
                missed.append(f"{task} {strategy}: AUC {row['macro_auc_roc']:.3f}")
    assert set(metrics["segmentation"]) == {"unetr_scratch", "unetr_ss_cxr"}
    for strategy, row in metrics["segmentation"].items():
        if row["dice"][0] < 0.90:
            missed.append(f"{strategy}: Dice {row['dice']}")
    check(missed)
    probe_curves(tmp_path, ("gmml",), rises={"gmml": 0.05})  # measured 0.63 -> 0.78


@pytest.mark.slow_on_tensorflow
def test_infant_transfer_quick_preset_beats_the_majority_class_and_the_mean_age(tmp_path):
    config = quick(infant_transfer, tmp_path)
    metrics, data = infant_transfer.run(config), infant_transfer.load_data(config)
    test = data["splits"]["test"]
    majority = np.bincount(np.argmax(test.labels, axis=1)).max() / len(test)
    mean_age_mae = float(np.mean(np.abs(data["ages"]["test"] - data["ages"]["train"].mean())))
    missed = []
    for backbone in config.backbones:
        assert f"{backbone}/ablation1" in metrics["table"]  # the from-scratch twin is reported beside it
        row = metrics["table"][f"{backbone}/full"]
        if row["accuracy"][0] < majority + 0.10 or row["age_mae"][0] >= mean_age_mae or row["warnings"]:
            missed.append(f"{backbone}: accuracy {row['accuracy']} (majority class {majority:.3f}), age MAE "
                          f"{row['age_mae']} (training-mean age {mean_age_mae:.3f}), warnings {row['warnings']}")
    check(missed)
    probe_curves(tmp_path, [f"autoencoder_{backbone}" for backbone in config.backbones],
                 rises={"autoencoder_vgg16": 0.02})  # measured 0.75 -> 0.79 (best 0.81)
