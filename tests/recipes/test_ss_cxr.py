"""Paper-001 recipe: tiny end-to-end runs (phantom, COVIDx layout, the shared real folders) and resumption."""

import os

import cv2
import keras
import numpy as np
import pytest

from keras_cxr.models import ModelCardError, read_card
from keras_cxr.recipes import ss_cxr
from keras_cxr.recipes.base import named_test_dirs

# 64 px: UNETR needs patch 16 and a 4 × 4 grid at least; a 4-block ViT (taps 1, 2, 3)
TINY = dict(phantom_pretrain_images=48, phantom_classify_images=120, phantom_pediatric_images=40,
            phantom_segmentation_images=30, pretrain_epochs=1, finetune_epochs=1, segmentation_epochs=1,
            pretrain_batch_size=16, finetune_batch_size=16, segmentation_batch_size=8, embed_dim=32, num_heads=2,
            mlp_dim=64, decoder_dim=32, bottleneck_dim=16, feature_size=4, bootstrap_resamples=30,
            num_attention_images=2, verbose=0, tasks=("healthy_pneumonia_covid",))


@pytest.mark.slow_on_tensorflow  # the ss_cxr notebook trains this recipe on TensorFlow (GMML, fine-tuning, UNETR)
def test_quick_run_writes_every_table_model_and_figure_and_resumes(tmp_path, external_validation):
    config = ss_cxr.Config.quick(output_dir=str(tmp_path), **TINY)
    metrics = ss_cxr.run(config)
    assert set(metrics["classification"]) == set(TINY["tasks"])
    for task, by_strategy in metrics["classification"].items():
        assert set(by_strategy) == {"vit_scratch", "ss_cxr"}  # SS-IN needs --imagenet-weights
        for table in by_strategy.values():
            assert {"test", "pediatric", "val"} <= set(table)
            for row in table.values():
                assert 0 <= row["accuracy"] <= 1 and row["accuracy_ci95"][0] <= row["accuracy"] + 1e-9
                assert set(next(iter(row["per_class"].values()))) == {"tpr", "fpr", "fnr", "auc_pr", "auc_roc"}
    three = metrics["classification"]["healthy_pneumonia_covid"]["ss_cxr"]["test"]
    assert list(three["per_class"]) == ["healthy", "pneumonia", "covid"]
    assert sum(three["class_counts"].values()) == three["num_images"]
    assert "ss_in" in metrics["left_out"] and "--imagenet-weights" in metrics["left_out"]["ss_in"]
    for strategy in ("unetr_scratch", "unetr_ss_cxr"):
        row = metrics["segmentation"][strategy]
        assert 0 <= row["dice"][0] <= 1 and 0 <= row["iou"][0] <= row["dice"][0] + 1e-9 and row["hd95"][0] >= 0
        assert (tmp_path / "models" / f"{strategy}.keras").exists()
    for name in ("report.md", "metrics.json", "config.json", "models/gmml.keras", "figures/gmml_reconstruction.png",
                 "figures/segmentation_outlines.png", "figures/attention_rollout_healthy_pneumonia_covid_ss_cxr.png",
                 "figures/attention_last_healthy_pneumonia_covid_vit_scratch.png",
                 "figures/roc_healthy_pneumonia_covid_ss_cxr_pediatric.png"):
        assert (tmp_path / name).exists(), name
    report = (tmp_path / "report.md").read_text()
    assert "Table 5" in report and "SS-IN is left out" in report and "pediatric" in report and "ECE" in report
    # each fine-tuned classifier is saved with its card; a real folder without its three classes is refused by name
    card = read_card(tmp_path / "models/finetune_healthy_pneumonia_covid_ss_cxr.keras")
    assert (card.task, card.class_names, card.normalization) == ("multiclass", ["healthy", "pneumonia", "covid"],
                                                                 "imagenet")
    with pytest.raises(ModelCardError, match=r"\['healthy', 'pneumonia', 'covid'\].*\['abnormal'\]"):
        external_validation(tmp_path / "models/finetune_healthy_pneumonia_covid_ss_cxr.keras")
    # every stage was saved: a second run with the same output_dir trains nothing and gives the same numbers
    stamps = {p: os.path.getmtime(p) for p in (tmp_path / "models").iterdir()}
    again = ss_cxr.run(config)
    assert {p: os.path.getmtime(p) for p in (tmp_path / "models").iterdir()} == stamps
    for strategy, row in metrics["segmentation"].items():
        assert again["segmentation"][strategy]["dice"] == pytest.approx(row["dice"], abs=1e-6)
    assert again["classification"]["healthy_pneumonia_covid"]["ss_cxr"]["test"]["accuracy"] == \
        metrics["classification"]["healthy_pneumonia_covid"]["ss_cxr"]["test"]["accuracy"]


def test_ss_cxr_classifier_and_unetr_start_from_the_gmml_encoder(tmp_path):
    from keras_cxr.models import create_model

    config = ss_cxr.Config.quick(output_dir=str(tmp_path), **TINY)
    gmml = create_model("gmml_vit_small", input_shape=(64, 64, 1), seed=0, decoder_dim=32, bottleneck_dim=16,
                        **ss_cxr._vit_kwargs(config))
    reference = keras.ops.convert_to_numpy(gmml.encoder.get_layer("block_1").attention.qkv.kernel)
    classifier = ss_cxr.build_classifier(config, "ss_cxr", gmml, 3)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(classifier.get_layer("block_1").attention.qkv.kernel),
                                  reference)
    scratch = ss_cxr.build_classifier(config, "vit_scratch", gmml, 3)
    assert not np.array_equal(keras.ops.convert_to_numpy(scratch.get_layer("block_1").attention.qkv.kernel), reference)
    assert classifier.output_shape == (None, 3) and classifier.input_shape == (None, 64, 64, 1)


def _png(path, value=128, size=32):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    image = np.full((size, size), value, np.uint8)
    image[: size // 2] = 255 - value
    cv2.imwrite(str(path), image)


def test_covidx_sources_are_held_out_as_the_unseen_test_set(tmp_path):
    root = tmp_path / "covidx"
    lines = {"train.txt": [], "test.txt": []}
    for i in range(40):
        source = ("cohen", "actmed", "rsna", "ricord")[i % 4]
        label = ("positive", "negative")[i % 2]
        lines["train.txt"].append(f"p{i} t{i}.png {label} {source}")
        _png(root / "train" / f"t{i}.png", 40 + i)
    for i in range(8):
        lines["test.txt"].append(f"q{i} s{i}.png {('positive', 'negative')[i % 2]} {('rsna', 'cohen')[i // 6]}")
        _png(root / "test" / f"s{i}.png", 90 + i)
    for name, rows in lines.items():
        (root / name).write_text("\n".join(rows) + "\n")
    config = ss_cxr.Config.quick(output_dir=str(tmp_path / "run"), pretrain_dir=(str(root),), classify_dir=str(root))
    data = ss_cxr.load_data(config)
    sources = lambda index: {s.split("/")[-1] for s in index.frame["source"]}  # noqa: E731
    assert sources(data["pretrain"]) == {"rsna", "ricord"} and len(data["pretrain"]) == 20
    train_sources = sources(data["classify"]["train"]) | sources(data["classify"]["val"])
    assert train_sources == {"rsna", "ricord"}
    assert sources(data["tests"]["unseen"]) == {"cohen", "actmed"} and len(data["tests"]["unseen"]) == 22
    assert len(data["tests"]["test"]) == 6  # the official test.txt without its cohen rows
    from keras_cxr.data import task_index

    covid = task_index(data["tests"]["unseen"], "covid_vs_noncovid", require_all_classes=False)
    assert covid.class_names == ["non-covid", "covid"] and covid.labels.sum() == 22
    with pytest.warns(UserWarning, match="leaves out"):  # "negative" cannot tell healthy from pneumonia
        with pytest.raises(ValueError, match="no image belongs"):
            task_index(data["tests"]["unseen"].subset(np.arange(1, 22, 2)), "pneumonia_vs_healthy")


def test_named_test_dirs_and_a_missing_one(tmp_path):
    config = ss_cxr.Config.quick(test_dir=(f"unseen={tmp_path}", f"unseen={tmp_path}", str(tmp_path)))
    named = named_test_dirs(config)
    assert named == {"unseen": [str(tmp_path)] * 2, tmp_path.name: [str(tmp_path)]}
    with pytest.raises(FileNotFoundError, match="pediatric=/nowhere"):
        named_test_dirs(ss_cxr.Config.quick(test_dir=("pediatric=/nowhere",)))
    with pytest.raises(ValueError, match="Unknown strategy"):
        ss_cxr.strategies(ss_cxr.Config.quick(strategies=("ss_cxr", "dino")))


@pytest.mark.slow  # ~100 s per backend; README's "ss_cxr on the shared folders" command runs the same path
def test_real_folders_pretrain_classify_test_and_segment(tmp_path, shared_data, external_validation):
    """Adult folders → GMML; Kermany pneumonia vs healthy; the COVID folders as unseen sites; JSRT lungs."""
    folders = {n: shared_data / n for n in ("nih_cxr14_64px", "kermany_pediatric_224", "actualmed_covid",
                                            "figure1_covid", "jsrt_scr_segmentation")}
    missing = [str(p) for p in folders.values() if not p.exists()]
    if missing:
        pytest.skip(f"absent: {missing}")
    config = ss_cxr.Config.quick(
        output_dir=str(tmp_path), pretrain_dir=(str(folders["nih_cxr14_64px"]),),
        classify_dir=str(folders["kermany_pediatric_224"]),
        test_dir=(f"unseen={folders['actualmed_covid']}", f"unseen={folders['figure1_covid']}"),
        segmentation_dir=str(folders["jsrt_scr_segmentation"]), max_images=60,
        segmentation_strategies=("unetr_ss_cxr",), **{**TINY, "tasks": ("healthy_vs_pathology",)})
    metrics = ss_cxr.run(config)
    table = metrics["classification"]["healthy_vs_pathology"]["ss_cxr"]
    assert {"test", "unseen"} <= set(table)
    # COVID-19 (16 + 21) and Pneumonia (1) are pathology, "No finding" (11 + 1) healthy, "unknown" left out
    assert table["unseen"]["class_counts"] == {"healthy": 12, "pathology": 38}
    assert metrics["sizes"]["pretrain"] == 60 and metrics["segmentation"]["unetr_ss_cxr"]["num_images"] >= 20
    external = external_validation(tmp_path / "models/finetune_healthy_vs_pathology_ss_cxr.keras")
    assert set(external["classes"]) == {"healthy", "pathology"}  # read from the folder's normal-vs-finding labels


def test_deit_crop_and_flip_in_fine_tuning_is_an_option(tmp_path, monkeypatch):
    """Issue 29: DeiT's random resized crop + flip (`finetune_crop_scale`), off by default (crops cut lesions out)."""
    from keras_cxr.data import MAEPretrainAugmentation

    seen = []
    original = ss_cxr.stream

    def spy(config, index, size, **options):
        seen.append(options.get("augment"))
        return original(config, index, size, **options)

    monkeypatch.setattr(ss_cxr, "stream", spy)
    config = ss_cxr.Config.quick(output_dir=str(tmp_path), finetune_crop_scale=(0.08, 1.0), strategies=("vit_scratch",),
                                 **{**TINY, "tasks": ("healthy_vs_pathology",)})
    assert ss_cxr.Config().finetune_crop_scale == ()
    data = ss_cxr.load_data(config)
    ss_cxr.finetune(config, data, "healthy_vs_pathology", "vit_scratch", None)
    crops = [a for a in seen if isinstance(a, MAEPretrainAugmentation)]
    assert len(crops) == 1 and crops[0].scale == (0.08, 1.0) and crops[0].flip_rate == 0.5
    assert crops[0].image_size == config.image_size
