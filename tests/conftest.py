"""Shared pytest fixtures: paths to the real-data corpus beside the repo, skipped cleanly when absent."""

import os
import pathlib

import pytest

# Under pytest-xdist (`-n 2` in setup.cfg) every worker gets its share of the cores before torch / TensorFlow
# load: each framework otherwise starts one thread per core in every worker, and the oversubscribed threads
# wait on each other. Measured on the 2-core CI-sized machine, -n 2: tests/models/test_registry.py +
# test_autoencoder_disease_age.py took 184 s on PyTorch with the default threads and 72 s with one per
# worker; four registry models on TensorFlow 89 s against 77 s. A value already in the environment is kept.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:
    _SHARE = str(max(1, (os.cpu_count() or 1) // _WORKERS))
    for _variable in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        os.environ.setdefault(_variable, _SHARE)


# The longest tests of the default run, longest first (seconds on the 2-core CI-sized machine, PyTorch). pytest-xdist's
# `--dist load` (setup.cfg) deals the first tests out round-robin, so these start at once on both workers and the
# hundreds of short tests fill in around them: longest-first scheduling, instead of two 10-minute recipe runs left
# alone at the end of the run while the other worker idles.
LONGEST_FIRST = (
    "test_quick_presets.py::test_vgg16_sharp_unet_quick_preset",
    "test_quick_presets.py::test_dual_mae_quick_preset",
    "test_quick_presets.py::test_infant_transfer_quick_preset",
    "test_quick_presets.py::test_ss_cxr_quick_preset",
    "test_resume_after_kill.py::",
    "test_small_data_training.py::test_inference_mode_follows_training_after_few_steps",
    "test_notebooks.py::test_notebook_runs_top_to_bottom",
    "test_external_test_sets.py::",
)


def _rank(item):
    return next((i for i, key in enumerate(LONGEST_FIRST) if key in item.nodeid), len(LONGEST_FIRST))


@pytest.hookimpl(tryfirst=True)  # before `-m "not slow"` deselects
def pytest_collection_modifyitems(config, items):
    """`slow_on_tensorflow` is `slow` on the TensorFlow backend (CI budget: its graph tracing makes the tiny
    recipe runs 3-6x longer than on PyTorch; each such test says what covers it there in the default run), and
    `slow_on_torch` on PyTorch; then the longest tests move to the front (`LONGEST_FIRST`, a stable sort)."""
    import keras

    backend_marker = {"tensorflow": "slow_on_tensorflow", "torch": "slow_on_torch"}.get(keras.backend.backend())
    for item in items:
        if backend_marker and item.get_closest_marker(backend_marker):
            item.add_marker(pytest.mark.slow)
    items.sort(key=_rank)


REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED = pathlib.Path(os.environ.get("KERAS_CXR_SHARED", REPO.parent / "shared"))


def _shared_dir(*parts):
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real-data folder {path} is absent (set KERAS_CXR_SHARED to the shared/ folder)")
    return path


@pytest.fixture
def shared_data():
    """`../shared/data`, the real CXR subsets (skip when absent)."""
    return _shared_dir("data")


@pytest.fixture
def originals_dir():
    """`../shared/data/originals`, awkward real-world files for loader tests."""
    return _shared_dir("data", "originals")


@pytest.fixture
def golden_image_quality():
    """Golden image-quality numbers from piq / scikit-image / tf.image (`../shared/fixtures`)."""
    import numpy as np

    return dict(np.load(_shared_dir("fixtures", "image_quality_golden.npz")))


@pytest.fixture(autouse=True)
def _fixed_seed():
    import keras

    keras.utils.set_random_seed(0)
    yield


@pytest.fixture
def external_validation(tmp_path):
    """`check(model_path, folder="figure1_covid", **options)`: `keras_cxr.inference.evaluate_model` of a model a
    recipe saved, on a shared real folder (skipped cleanly when the folder is absent); returns the metrics after
    checking that the report was written and every AUC is a probability."""

    def check(model_path, folder="figure1_covid", **options):
        import math

        from keras_cxr.inference import evaluate_model
        from keras_cxr.models import read_card

        data_dir = SHARED / "data" / folder
        if not data_dir.exists():
            pytest.skip(f"real-data folder {data_dir} is absent")
        assert read_card(model_path).source, f"{model_path} was saved without its recipe's ModelCard"
        output = tmp_path / "external_validation"
        metrics = evaluate_model(str(model_path), str(data_dir), str(output), num_resamples=100, **options)
        assert (output / "report.md").exists() and (output / "metrics.json").exists()
        for row in metrics["classes"].values():
            assert math.isnan(row["auc"]) or 0 <= row["auc"] <= 1
        return metrics

    return check
