"""Paper-002 recipe: tiny end-to-end runs (phantom, the shared NIH folder with ages), age errors, resumption."""

import os

import cv2
import numpy as np
import pandas as pd
import pytest

from keras_cxr.recipes import infant_transfer

TINY = dict(phantom_pretrain_images=48, phantom_transfer_images=80, image_size=32, decoder_filters=(8,),
            pretrain_epochs=1, transfer_epochs=1, pretrain_batch_size=16, transfer_batch_size=16, seeds=(0,),
            backbones=("resnet34",), verbose=0)


# ~65 s on PyTorch, twice that on TensorFlow (CI budget); `pytest -m slow` runs it. In the default run the
# infant_transfer notebook runs the same tiny recipe (full variant) and the next test trains two variants.
@pytest.mark.slow
def test_quick_run_writes_tables_figures_and_resumes(tmp_path):
    config = infant_transfer.Config.quick(output_dir=str(tmp_path), **TINY)
    metrics = infant_transfer.run(config)
    table = metrics["table"]
    assert set(table) == {f"resnet34/{v}" for v in infant_transfer.VARIANTS}
    for key, row in table.items():
        for metric in ("accuracy", "recall", "precision", "f1"):
            mean, sd = row[metric]
            assert 0 <= mean <= 1 and sd >= 0
        assert ("age_mae" in row) == (not key.endswith("ablation2"))  # ablation-2 has no age head
    assert table["resnet34/full"]["age_mae"][0] >= 0
    assert metrics["class_names"] == ["normal", "abnormal"] and metrics["age_unit"] == "years"
    for name in ("report.md", "models/autoencoder_resnet34.keras", "figures/reconstruction_resnet34.png",
                 "figures/confusion_matrix.png", "figures/backbones_line.png", "figures/ablation_bars.png",
                 "results/transfer_resnet34_full_seed0.npz"):
        assert (tmp_path / name).exists(), name
    report = (tmp_path / "report.md").read_text()
    assert "Table 1" in report and "Table 2" in report and "[0.8249]" not in report  # resnet34 is not in the paper
    stamps = {p.name: os.path.getmtime(p) for p in (tmp_path / "results").iterdir()}
    again = infant_transfer.run(config)  # every stage saved: nothing is retrained
    assert {p.name: os.path.getmtime(p) for p in (tmp_path / "results").iterdir()} == stamps
    assert again["table"]["resnet34/full"]["accuracy"] == table["resnet34/full"]["accuracy"]


@pytest.mark.slow_on_tensorflow  # the infant_transfer notebook trains the full variant on TensorFlow
def test_full_variant_starts_from_the_autoencoder_and_ablation1_does_not(tmp_path, monkeypatch):
    import keras

    import keras_cxr.models.disease_age as package
    from keras_cxr.models.autoencoder import autoencoder

    def stem(model):
        return next(layer for layer in model.layers if isinstance(layer, keras.Model)).get_layer("stem_conv") \
            .get_weights()[0].copy()

    built = []
    original = package.disease_age_model

    def spy(*args, **kwargs):  # the stem kernel as built, before transfer training changes it
        model = original(*args, **kwargs)
        built.append((kwargs.get("weights"), stem(model)))
        return model

    monkeypatch.setattr(package, "disease_age_model", spy)
    config = infant_transfer.Config.quick(output_dir=str(tmp_path), **{**TINY, "seeds": (0,)})
    data = infant_transfer.load_data(config)
    keras.utils.set_random_seed(123)  # not the transfer's seed: a random encoder then differs from the source
    source = autoencoder("resnet34", input_shape=(32, 32, 1), decoder_filters=(8,))
    for variant in ("full", "ablation1"):
        infant_transfer.transfer(config, data, "resnet34", variant, source, 0)
    kernel = source.get_layer("encoder").get_layer("stem_conv").get_weights()[0]
    (full_weights, full_stem), (none_weights, ablation_stem) = built
    assert full_weights is source and none_weights is None
    np.testing.assert_array_equal(full_stem, kernel)
    assert not np.array_equal(ablation_stem, kernel)


def _labels_folder(root, ages):
    os.makedirs(root / "images")
    rows = []
    for i, age in enumerate(ages):
        cv2.imwrite(str(root / "images" / f"{i}.png"), np.full((16, 16), 20 * i % 255, np.uint8))
        rows.append({"filename": f"{i}.png", "label": ("normal", "abnormal")[i % 2], "abnormal": i % 2,
                     "patient_id": f"p{i}", "months": age})
    pd.DataFrame(rows).to_csv(root / "labels.csv", index=False)


def test_missing_ages_name_the_file_and_row_or_are_dropped(tmp_path):
    _labels_folder(tmp_path / "infants", ["3", "", "5", "x", "7", "9"])
    config = infant_transfer.Config.quick(output_dir=str(tmp_path / "run"), transfer_dir=str(tmp_path / "infants"),
                                          age_column="months", age_unit="months", **TINY)
    with pytest.raises(ValueError, match=r"labels.csv: 2 rows .*row 3 \(1.png\): ''.*row 5 \(3.png\): 'x'"):
        infant_transfer.load_data(config)
    with pytest.raises(ValueError, match="no age column 'age'"):
        infant_transfer.load_data(infant_transfer.Config.quick(transfer_dir=str(tmp_path / "infants"), **TINY))
    dropping = infant_transfer.Config.quick(output_dir=str(tmp_path / "run"), transfer_dir=str(tmp_path / "infants"),
                                            age_column="months", drop_missing_age=True, **TINY)
    with pytest.warns(UserWarning, match="dropped"):
        data = infant_transfer.load_data(dropping)
    kept = np.concatenate(list(data["ages"].values()))
    assert sorted(kept.tolist()) == [3.0, 5.0, 7.0, 9.0]
    with pytest.raises(ValueError, match="Unknown backbones"):
        infant_transfer.run(infant_transfer.Config.quick(output_dir=str(tmp_path / "r2"), backbones=("resnet_999",)))


@pytest.mark.slow  # two backbones; README's "infant_transfer on the shared folders" command runs the same path
def test_real_folder_with_nih_ages_two_backbones(tmp_path, shared_data, external_validation):
    """Pretraining on the shared adult + pediatric folders, transfer on NIH normal/abnormal with its age column."""
    folders = [shared_data / n for n in ("nih_cxr14_64px", "kermany_pediatric_224")]
    if not all(f.exists() for f in folders):
        pytest.skip(f"absent: {[str(f) for f in folders if not f.exists()]}")
    config = infant_transfer.Config.quick(output_dir=str(tmp_path), pretrain_dir=tuple(map(str, folders)),
                                          transfer_dir=str(folders[0]), max_images=80,
                                          **{**TINY, "backbones": ("resnet34", "mobilenet_v2"), "seeds": (0,),
                                             "variants": ("full",)})
    metrics = infant_transfer.run(config)
    assert set(metrics["table"]) == {"resnet34/full", "mobilenet_v2/full"}
    # at most max_images; fewer when an image of a test patient is held out of pretraining (without_held_out)
    assert metrics["class_names"] == ["abnormal", "normal"] and 70 <= metrics["sizes"]["pretrain"] <= 80
    assert metrics["table"]["resnet34/full"]["age_mae"][0] > 0  # NIH ages are adult years: a real regression
    external = external_validation(tmp_path / "models/transfer_resnet34_full_seed0.keras")  # figure1: ages, sex
    assert external["age"]["mae_years"] > 0 and set(external["classes"]) == {"abnormal", "normal"}


def test_width_multiplier_narrows_only_backbones_that_take_one():
    config = infant_transfer.Config.quick()  # vgg16 at 1/8 width
    assert infant_transfer._backbone_kwargs(config, "vgg16") == {"width_multiplier": 0.125}
    assert infant_transfer._backbone_kwargs(config, "resnet50") == {}  # published backbones stay as published
    assert infant_transfer._backbone_kwargs(infant_transfer.Config(), "vgg16") == {}
    from keras_cxr.models import create_model
    from keras_cxr.models.disease_age import disease_age_model

    narrow = disease_age_model("vgg16", 2, input_shape=(32, 32, 1),
                               backbone_kwargs=infant_transfer._backbone_kwargs(config, "vgg16"))
    full = create_model("vgg16", input_shape=(32, 32, 1))
    assert narrow.count_params() < full.count_params() / 20  # 1/8 of the filters: ~1/64 of the weights
