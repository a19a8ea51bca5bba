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


# The longest tests of the default run, longest first (600-1000 s for the presets on the 2-core CI-sized machine).
# pytest-xdist's `--dist worksteal` (setup.cfg) gives each worker one contiguous share of the test list, runs it
# front to back and steals from the back of the other's; `_deal_longest_first` puts these at the front of every
# share, dealt in turn (vgg16 + infant on one worker, dual_mae + ss_cxr on the other), so they start at once and
# the hundreds of short tests fill in around them, instead of 10-minute recipe runs left alone at the end of the run
# (or, as a plain sort would do, all four on the first worker).
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


@pytest.hookimpl(wrapper=True)  # around the other implementations, `-m "not slow"`'s deselection among them
def pytest_collection_modifyitems(config, items):
    """Before deselection: `slow_on_tensorflow` is `slow` on the TensorFlow backend (CI budget: its graph tracing
    makes the tiny recipe runs 3-6x longer than on PyTorch; each such test says what covers it there in the default
    run), and `slow_on_torch` on PyTorch. After it: the longest tests dealt to the front (`_deal_longest_first`)."""
    import keras

    backend_marker = {"tensorflow": "slow_on_tensorflow", "torch": "slow_on_torch"}.get(keras.backend.backend())
    for item in items:
        if backend_marker and item.get_closest_marker(backend_marker):
            item.add_marker(pytest.mark.slow)
    result = yield
    _deal_longest_first(items, _WORKERS)  # every worker collects, and must reorder alike: the count from xdist's env
    return result


def _deal_longest_first(items, workers):
    """Reorders `items` in place: the `LONGEST_FIRST` tests dealt in turn to the front of each worker's contiguous
    share (worksteal's initial split), the other tests after them in collection order."""
    workers = workers if isinstance(workers, int) and workers > 1 else 1
    longest = sorted((item for item in items if _rank(item) < len(LONGEST_FIRST)), key=_rank)
    rest = iter([item for item in items if _rank(item) == len(LONGEST_FIRST)])
    size = -(-len(items) // workers)
    ordered = []
    for worker in range(workers):
        share = longest[worker::workers]
        while len(share) < size and len(ordered) + len(share) < len(items):
            share.append(next(rest))
        ordered += share
    items[:] = ordered + list(rest)


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
