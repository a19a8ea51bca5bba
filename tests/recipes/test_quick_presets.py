"""The quick presets demonstrate their method on the phantom, not only exercise it (issue 26, point 3).

Each test module-scoped fixture runs one recipe's `Config.quick()` exactly as `--quick` does, and the tests
assert the targets of the issue on what the run reports:

- vgg16_sharp_unet: both pretexts restore above their degraded input (PSNR and SSIM); every classifier and
  ensemble reaches balanced accuracy >= 0.70 and AUC >= 0.75 on the test split;
- dual_mae: MAE and dual-MAE fine-tuned reach mean AUC >= 0.70;
- ss_cxr: every binary task AUC >= 0.75 on the same-sites test split, the 3-class task above the majority
  class; UNETR Dice >= 0.90;
- infant_transfer: the full model's accuracy at least 10 points above the majority class, its age MAE below
  that of predicting the training-mean age;
- no report of a run that meets them carries a degenerate-model warning for those models.

vgg16_sharp_unet meets its targets (measured seed 0, PyTorch: every classifier AUC 0.85-0.90, balanced
accuracy 0.77-0.83; denoising 31.1 dB / SSIM 0.93 against the input's 25.5 / 0.68, deblurring 30.1-31.8 dB
against 30.1): its tests are in the default run on PyTorch, `slow` on TensorFlow (the recipe's notebook covers
the same code there; `pytest -m slow` runs them). The other three presets do not meet theirs yet (issue 26 is
open for them): their target tests are strict xfails with the measured numbers, marked `slow` (each run costs
minutes of CI for a known failure); the strict mark turns them red the day they pass.
"""

import numpy as np
import pytest

from keras_cxr.recipes import dual_mae, infant_transfer, ss_cxr, vgg16_sharp_unet

NOT_MET = "issue 26: the {} quick preset does not meet this target yet ({})"

CLASSIFIERS = ("B", "Den-P", "Deb-P", "SA", "SLSQP-WA", "A-F")


@pytest.fixture(scope="module")
def sharp_unet_metrics(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vgg16_sharp_unet_quick")
    return vgg16_sharp_unet.run(vgg16_sharp_unet.Config.quick(output_dir=str(folder), verbose=0))


@pytest.mark.slow_on_tensorflow
@pytest.mark.parametrize("task", ["denoising", "deblurring"])
def test_restoration_beats_the_degraded_input(sharp_unet_metrics, task):
    scores = sharp_unet_metrics["table_2"][task]
    assert scores["ssim"] > scores["degraded_ssim"] + 0.03, scores
    assert scores["psnr"] > scores["degraded_psnr"], scores


@pytest.mark.slow_on_tensorflow
@pytest.mark.parametrize("name", CLASSIFIERS)
def test_every_classifier_and_ensemble_learns(sharp_unet_metrics, name):
    assert sharp_unet_metrics["table_3"][name]["balanced_accuracy"] >= 0.70, sharp_unet_metrics["table_3"][name]
    assert sharp_unet_metrics["classification_reports"][name]["binary"]["auc_roc"] >= 0.75, name
    assert name not in sharp_unet_metrics["degenerate"], sharp_unet_metrics["warnings"]


@pytest.fixture(scope="module")
def dual_mae_metrics(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dual_mae_quick")
    return dual_mae.run(dual_mae.Config.quick(output_dir=str(folder), verbose=0))


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason=NOT_MET.format("dual_mae", "mean AUC 0.54 / 0.56 for MAE / dual-MAE; a "
                                                     "larger preset tried: fine-tuned ViT validation AUC 0.52-0.58"))
@pytest.mark.parametrize("method", ["mae", "dual_mae"])
def test_mae_and_dual_mae_learn_the_findings(dual_mae_metrics, method):
    result = dual_mae_metrics["table_3_4"][method]
    assert result["mean_auc"][0] >= 0.70, result["mean_auc"]
    assert not result["degenerate"], result["warnings"]


@pytest.mark.slow
def test_dual_mae_report_puts_pretrained_beside_scratch(dual_mae_metrics):
    assert {"vit_scratch", "mae", "dual_mae"} <= set(dual_mae_metrics["table_3_4"])


@pytest.fixture(scope="module")
def ss_cxr_metrics(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ss_cxr_quick")
    return ss_cxr.run(ss_cxr.Config.quick(output_dir=str(folder), verbose=0))


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason=NOT_MET.format("ss_cxr", "every task constant before this issue; not re-tuned"))
def test_ss_cxr_binary_tasks_reach_the_target_auc(ss_cxr_metrics):
    for task, by_strategy in ss_cxr_metrics["classification"].items():
        if task == "healthy_pneumonia_covid":
            continue
        for strategy, table in by_strategy.items():
            assert table[ss_cxr.SAME_SITES]["macro_auc_roc"] >= 0.75, (task, strategy)


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason=NOT_MET.format("ss_cxr", "every task constant before this issue; not re-tuned"))
def test_ss_cxr_three_class_task_beats_the_majority_class(ss_cxr_metrics):
    for strategy, table in ss_cxr_metrics["classification"]["healthy_pneumonia_covid"].items():
        row = table[ss_cxr.SAME_SITES]
        majority = max(row["class_counts"].values()) / row["num_images"]
        assert row["accuracy"] > majority, (strategy, row["accuracy"], majority)


@pytest.mark.slow
@pytest.mark.xfail(strict=False, reason=NOT_MET.format("ss_cxr", "UNETR Dice not measured since the engine change"))
def test_ss_cxr_unetr_segments_the_lungs(ss_cxr_metrics):
    for strategy, row in ss_cxr_metrics["segmentation"].items():
        assert row["dice"][0] >= 0.90, (strategy, row["dice"])


@pytest.fixture(scope="module")
def infant_metrics(tmp_path_factory):
    folder = tmp_path_factory.mktemp("infant_transfer_quick")
    config = infant_transfer.Config.quick(output_dir=str(folder), verbose=0)
    data = infant_transfer.load_data(config)
    metrics = infant_transfer.run(config)
    return metrics, data


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason=NOT_MET.format("infant_transfer", "accuracy 0.50, age R² −26 before this issue; "
                                                      "a 1,000-image MobileNetV2 / ShuffleNet preset tried ran 18 s "
                                                      "per epoch, too slow for the 5-minute budget"))
def test_infant_transfer_full_model_beats_the_majority_class_and_the_mean_age(infant_metrics):
    metrics, data = infant_metrics
    test = data["splits"]["test"]
    majority = np.bincount(np.argmax(test.labels, axis=1)).max() / len(test)
    mean_age_mae = float(np.mean(np.abs(data["ages"]["test"] - data["ages"]["train"].mean())))
    for backbone in infant_transfer.Config.quick().backbones:
        row = metrics["table"][f"{backbone}/full"]
        assert row["accuracy"][0] >= majority + 0.10, (backbone, row["accuracy"], majority)
        assert row["age_mae"][0] < mean_age_mae, (backbone, row["age_mae"], mean_age_mae)
        assert not row["warnings"], row["warnings"]
