"""Every recipe reports named external test sets (`--test-dir NAME=PATH`) beside its own test split (issue 26,
point 4): a tiny run of each classification recipe on the phantom with a second phantom folder as the
external set. ss_cxr's own tests cover it there (`test_ss_cxr.py`)."""

import numpy as np
import pytest

from keras_cxr.data import make_phantom_dataset
from keras_cxr.recipes import dual_mae, infant_transfer, vgg16_sharp_unet
from keras_cxr.recipes.base import RecipeConfig, named_test_sets

from test_dual_mae import TINY as DUAL_TINY
from test_infant_transfer import TINY as INFANT_TINY
from test_vgg16_sharp_unet import TINY as SHARP_TINY


@pytest.fixture(scope="module")
def external_folder(tmp_path_factory):
    return make_phantom_dataset(40, 32, seed=99).save(str(tmp_path_factory.mktemp("external")))


def test_named_test_sets_pool_folders_of_one_name(external_folder):
    config = RecipeConfig(test_dir=(f"site={external_folder}", f"site={external_folder}"), max_images=30)
    found = named_test_sets(config, lambda path: vgg16_sharp_unet._external_index(path))
    assert list(found) == ["site"] and len(found["site"]) == 60  # two folders, each capped at 30


@pytest.mark.slow_on_tensorflow  # the same reading and evaluation code runs on both backends
def test_vgg16_sharp_unet_reports_an_external_set(tmp_path, external_folder):
    config = vgg16_sharp_unet.Config.quick(output_dir=str(tmp_path), phantom_pretext_images=40,
                                           phantom_classify_images=60, lung_crop=False,
                                           test_dir=(f"site={external_folder}",), **SHARP_TINY)
    metrics = vgg16_sharp_unet.run(config)
    rows = metrics["external"]["site"]
    assert set(rows) == set(metrics["table_3"]) and all(row["num_images"] == 40 for row in rows.values())
    assert all(0.0 <= row["auc_roc"] <= 1.0 for row in rows.values())
    assert "External test set `site` (40 images)" in (tmp_path / "report.md").read_text()


@pytest.mark.slow_on_tensorflow
def test_dual_mae_reports_an_external_set(tmp_path, external_folder):
    config = dual_mae.Config.quick(output_dir=str(tmp_path), methods=("vit_scratch",), finetune_label_column="label",
                                   test_dir=(f"site={external_folder}",), **DUAL_TINY)
    metrics = dual_mae.run(config)
    mean, sd = metrics["external"]["site"]["vit_scratch"]
    assert 0.0 <= mean <= 1.0 and sd == 0.0  # one seed
    assert "External test set `site`" in (tmp_path / "report.md").read_text()


def test_dual_mae_external_set_without_shared_classes_is_an_error(tmp_path, external_folder):
    with pytest.raises(ValueError, match="none of the fine-tuning classes"):
        dual_mae._external_index(dual_mae.Config.quick(), str(external_folder), ["atelectasis"])


@pytest.mark.slow_on_tensorflow
def test_infant_transfer_reports_an_external_set(tmp_path, external_folder):
    config = infant_transfer.Config.quick(output_dir=str(tmp_path), variants=("full",), label_column="abnormal",
                                          test_dir=(f"site={external_folder}",), **INFANT_TINY)
    data = infant_transfer.load_data(config)
    assert np.isfinite(data["external"]["site"].frame["_age"]).all()  # the phantom folder's age column
    metrics = infant_transfer.run(config)
    row = metrics["external"]["site"]["resnet34/full"]
    assert 0.0 <= row["accuracy"][0] <= 1.0 and "age_mae" in row
    assert "External test set `site`" in (tmp_path / "report.md").read_text()
