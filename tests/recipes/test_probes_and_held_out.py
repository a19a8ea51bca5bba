"""The engine's feature-probe helpers and the pretraining/test separation every recipe applies."""

import numpy as np
import pandas as pd

from keras_cxr.data import DatasetIndex, phantom_index
from keras_cxr.recipes import engine
from keras_cxr.recipes.base import RecipeConfig, without_held_out


def _index(paths, patients, labels=None, names=("PNEUMONIA",), task="binary"):
    frame = pd.DataFrame({"path": paths, "patient_id": patients, "age": np.nan, "sex": "", "view": "", "split": ""})
    for i, name in enumerate(names):
        frame[name] = [row[i] for row in labels] if labels is not None else 0.0
    return DatasetIndex(frame, list(names), task)


def test_without_held_out_drops_test_files_and_their_patients_in_the_same_folder(tmp_path):
    a, b = tmp_path / "kermany", tmp_path / "nih"
    pretrain = _index([str(a / "p1_1.png"), str(a / "p1_2.png"), str(a / "p2_1.png"), str(b / "p1.png")],
                      ["1", "1", "2", "1"])
    test = _index([str(a / "p1_1.png")], ["1"])
    kept, dropped = without_held_out(pretrain, test)
    # p1_2 is another image of test patient 1 in the same folder; nih's patient "1" is somebody else
    assert dropped == 2 and list(kept.frame["path"]) == [str(a / "p2_1.png"), str(b / "p1.png")]
    assert without_held_out(pretrain)[1] == 0


def test_probe_labels_of_every_task():
    binary = _index(["a", "b"], ["1", "2"], [[1.0], [0.0]])
    multiclass = _index(["a", "b"], ["1", "2"], [[0, 1, 0], [0, 0, 1]], names=("h", "p", "c"), task="multiclass")
    multilabel = _index(["a", "b", "c"], ["1", "2", "3"], [[1, 0, 0], [0, 1, 1], [0, 0, np.nan]],
                        names=("no finding", "nodule", "effusion"), task="multilabel")
    assert engine.probe_labels(binary).tolist() == [1, 0]
    assert engine.probe_labels(multiclass).tolist() == [1, 2]
    assert engine.probe_labels(multilabel).tolist() == [0, 1, 0]  # any finding other than "no finding"


def test_feature_probes_read_the_labelled_images_and_switch_off(tmp_path):
    index = phantom_index(40, 32, seed=3, labels="abnormal", cache_dir=str(tmp_path))
    config = RecipeConfig(output_dir=str(tmp_path / "run"), probe_images=30, probe_every=2, cache_dir=str(tmp_path))
    probes = engine.feature_probes(config, index, 32)
    assert [type(p).__name__ for p in probes] == ["KNNProbe", "LinearProbe"]
    assert probes[0].train_images.shape == (30, 32, 32, 1) and probes[0].every == 2
    assert set(probes[0].train_labels) <= {0, 1} and probes[0].test_images is None  # cross-validated
    scored = np.sort(np.concatenate([rows for _, rows in probes[0].folds]))
    assert scored.tolist() == list(range(30))  # every probe image is scored once, out of fold
    config.probe_images = 0
    assert engine.feature_probes(config, index, 32) == []


def test_probe_folds_keep_each_patient_on_one_side(tmp_path):
    """A patient with several images is never both fitted and scored in one fold (grouped cross-validation)."""
    paths = [str(tmp_path / f"{i}.png") for i in range(24)]
    patients = [str(i // 3) for i in range(24)]  # 8 patients, 3 images each
    labels = [[float(i // 3 % 2)] for i in range(24)]
    index = _index(paths, patients, labels)
    from keras_cxr.callbacks import probe_folds

    groups = index.frame["patient_id"].to_numpy()
    folds = probe_folds(engine.probe_labels(index), folds=4, groups=groups)
    assert len(folds) == 4
    for fit_rows, score_rows in folds:
        assert not set(groups[fit_rows]) & set(groups[score_rows])


def test_engine_saves_the_probe_curve_with_the_stage_history(tmp_path):
    """A pretraining stage's saved history (what the report draws) holds the probes' AUC per epoch."""
    import keras

    from keras_cxr.models import vgg16_sharp_unet

    index = phantom_index(40, 32, seed=4, labels="abnormal", cache_dir=str(tmp_path))
    config = RecipeConfig(output_dir=str(tmp_path / "run"), probe_images=20, cache_dir=str(tmp_path), verbose=0,
                          jit_compile="false")
    images = np.random.default_rng(0).random((16, 32, 32, 1)).astype("float32")
    model = vgg16_sharp_unet((32, 32, 1), width_multiplier=0.0625)
    engine.fit(config, "pretext", model, (images, images), batch_size=8, epochs=2, keep="last", monitor="loss",
               optimizer=keras.optimizers.Adam(1e-3), loss="mae",
               callbacks=engine.feature_probes(config, index, 32))
    history = engine.load_history(config, "pretext")
    assert len(history["knn_auc"]) == len(history["linear_auc"]) == 2
    assert all(0.0 <= v <= 1.0 for v in history["knn_auc"] + history["linear_auc"])
    start = history["probe_at_start"]  # the initial weights, probed before the first step
    assert set(start) == {"knn_auc", "knn_accuracy", "linear_auc", "linear_accuracy"}
    assert all(0.0 <= v <= 1.0 for v in start.values())
    assert "kNN AUC" in engine.probe_summary(history) and "at the start" in engine.probe_summary(history)
