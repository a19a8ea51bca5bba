"""Shared pytest fixtures: paths to the real-data corpus beside the repo, skipped cleanly when absent."""

import os
import pathlib

import pytest

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
