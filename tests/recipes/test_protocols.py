"""Linear probing and label-efficiency sweeps (`keras_cxr.recipes.protocols`), on every recipe that pretrains."""

import dataclasses
import os

import keras
import numpy as np
import pandas as pd
import pytest

from keras_cxr.data import DatasetIndex
from keras_cxr.models import create_model
from keras_cxr.recipes import infant_transfer, protocols, ss_cxr
from keras_cxr.recipes.base import RecipeConfig
from keras_cxr.report import FigureLog


def _index(n=60, patients=30):
    frame = pd.DataFrame({"path": [f"/{i}.png" for i in range(n)], "patient_id": [f"p{i % patients}" for i in range(n)],
                          "age": 1.0, "sex": "M", "view": "AP", "split": "", "y": [(i % patients) % 3 == 0
                                                                                    for i in range(n)]})
    return DatasetIndex(frame, ["y"])


def test_label_fractions_are_nested_patient_level_and_keep_every_class():
    index = _index()
    half, tenth = protocols.labelled_fraction(index, 0.5, seed=1), protocols.labelled_fraction(index, 0.1, seed=1)
    assert protocols.labelled_fraction(index, 1.0) is index
    assert set(tenth.frame["path"]) < set(half.frame["path"]) < set(index.frame["path"])
    assert abs(len(half) - 30) <= 2 and set(np.unique(tenth.labels[:, 0])) == {0.0, 1.0}
    for subset in (half, tenth):  # no patient split between kept and dropped rows
        kept = set(subset.frame["patient_id"])
        assert (index.frame["patient_id"].isin(kept)).sum() == len(subset)


def test_stage_names_and_the_probe_optimizer_follow_mae():
    assert protocols.stage_suffix(0.5, "linear_probe") == "_linprobe_fraction50"
    with pytest.raises(ValueError, match="protocols: \\('finetune', 'linear_probe'\\)"):
        protocols.stage_suffix(1.0, "knn")
    config = RecipeConfig()
    assert (config.linprobe_blr, config.linprobe_epochs, config.linprobe_warmup_epochs) == (0.1, 90, 10)
    optimizer = protocols.probe_optimizer(config, 64)(10)
    assert isinstance(optimizer, keras.optimizers.SGD) and float(optimizer.momentum) == pytest.approx(0.9)
    schedule = optimizer._learning_rate  # the schedule object (optimizer.learning_rate is its current value)
    peak = max(float(keras.ops.convert_to_numpy(schedule(step))) for step in range(0, 900, 10))
    assert peak == pytest.approx(0.1 * 64 / 256, rel=0.05)  # lr = blr x batch / 256 after warm-up


def test_the_sweep_table_and_figure(tmp_path):
    results = protocols.label_efficiency((0.5, 1.0), ["scratch", "pretrained"],
                                         lambda method, fraction, seed: fraction / (2 if method == "scratch" else 1))
    assert results["scratch"] == {0.5: (0.25, 0.0), 1.0: (0.5, 0.0)}
    lines = protocols.label_efficiency_table(results, 200, paper={"pretrained": {0.5: 0.7}})
    assert lines[0] == "| method | 50% (100 images) | 100% (200 images) |" and "0.500 ± 0.000 [0.700]" in lines[3]
    figures = FigureLog(str(tmp_path))
    assert protocols.draw_label_efficiency(figures, results, 200, "AUC") == "figures/label_efficiency.png"
    assert os.path.getsize(tmp_path / "figures/label_efficiency.png") > 1000
    assert protocols.draw_label_efficiency(figures, {"a": {1.0: (0.5, 0.0)}}, 200, "AUC") is None


def test_ss_cxr_linear_probe_keeps_the_vit_frozen_and_a_fraction_trains_on_fewer_images(tmp_path, monkeypatch):
    config = ss_cxr.Config.quick(output_dir=str(tmp_path), phantom_pretrain_images=16, phantom_classify_images=90,
                                 phantom_pediatric_images=20, image_size=32, pretrain_image_size=32, patch_size=8,
                                 embed_dim=48, depth=2, num_heads=3, mlp_dim=96, finetune_epochs=1, linprobe_epochs=1,
                                 tasks=("healthy_vs_pathology",), verbose=0)
    data = ss_cxr.load_data(config)
    gmml = create_model("gmml_vit_small", input_shape=(32, 32, 1), seed=0, decoder_dim=16, bottleneck_dim=8,
                        **ss_cxr._vit_kwargs(config))
    trained = []
    original = ss_cxr.engine.fit

    def spy(config, name, model, train, **options):
        trained.append((name, model, len(train)))
        return original(config, name, model, train, **options)

    monkeypatch.setattr(ss_cxr.engine, "fit", spy)
    probe = ss_cxr.finetune(config, data, "healthy_vs_pathology", "ss_cxr", gmml, protocol="linear_probe")
    name, model, _ = trained[-1]
    assert name == "finetune_healthy_vs_pathology_ss_cxr_linprobe"
    assert [w.path for w in model.trainable_weights] == ["predictions/kernel", "predictions/bias"]
    reference = ss_cxr.build_classifier(config, "ss_cxr", gmml, 0)
    features = model.get_layer(reference.name)
    for ours, theirs in zip(features.weights, reference.weights):  # training left the ViT as pretrained
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(ours), keras.ops.convert_to_numpy(theirs))
    assert probe["sets"]["test"]["probabilities"].shape[1] == 2
    ss_cxr.finetune(config, data, "healthy_vs_pathology", "vit_scratch", None, fraction=0.5)
    full_batches = len(ss_cxr.stream(config, ss_cxr.task_index(data["classify"]["train"], "healthy_vs_pathology",
                                                                ss_cxr._canonical(data["classify"]["train"])),
                                     config.image_size, batch_size=config.finetune_batch_size))
    assert trained[-1][0].endswith("_fraction50") and trained[-1][2] <= full_batches
    assert (tmp_path / "models/finetune_healthy_vs_pathology_ss_cxr_linprobe.keras").exists()


def test_infant_transfer_linear_probe_and_label_fraction(tmp_path):
    config = infant_transfer.Config.quick(output_dir=str(tmp_path), phantom_pretrain_images=16,
                                          phantom_transfer_images=60, image_size=32, decoder_filters=(8,),
                                          transfer_epochs=1, linprobe_epochs=1, seeds=(0,), verbose=0)
    data = infant_transfer.load_data(config)
    keras.utils.set_random_seed(0)
    source = infant_transfer.autoencoder(config.backbones[0], input_shape=(32, 32, 1), decoder_filters=(8,),
                                         backbone_kwargs=infant_transfer._backbone_kwargs(config, config.backbones[0]))
    before = [keras.ops.convert_to_numpy(w).copy() for w in source.get_layer("encoder").weights]
    run = infant_transfer.linear_probe(config, data, config.backbones[0], source, 0)
    after = [keras.ops.convert_to_numpy(w) for w in source.get_layer("encoder").weights]
    assert all(np.array_equal(a, b) for a, b in zip(before, after))  # the probe did not train the encoder
    assert run["disease"].shape == (len(data["splits"]["test"]), 2) and "age" not in run
    table = infant_transfer.evaluate(config, data, {(config.backbones[0], "linprobe"): [run]})
    assert 0 <= table[f"{config.backbones[0]}/linprobe"]["accuracy"][0] <= 1
    sweep = infant_transfer.label_efficiency(dataclasses.replace(config, label_fractions=(0.5,)), data,
                                             {config.backbones[0]: source}, FigureLog(str(tmp_path)))
    assert set(sweep["results"]) == {"ablation1", "full"} and set(sweep["results"]["full"]) == {0.5}
    assert (tmp_path / f"results/transfer_{config.backbones[0]}_full_seed0_fraction50.npz").exists()

