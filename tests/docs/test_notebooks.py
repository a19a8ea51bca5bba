"""Every Kaggle notebook in docs/notebooks runs top to bottom (issue 17), on the phantom, with tiny overrides.

The `parameters`-tagged cell is replaced papermill-style by the tiny overrides of tests/recipes, narrowed to
one method / variant / strategy (`NOTEBOOK_ONLY`: the notebook's cells are under test here; every method of
a recipe is trained by tests/recipes), and a tmp OUTPUT_DIR. One kernel per test process runs the notebooks
one after another, as a user would in one session (keras is imported once); it inherits this process's
KERAS_BACKEND.
"""

import glob
import os

import cv2
import numpy as np
import pytest

nbformat = pytest.importorskip("nbformat", reason="nbformat is in the test extra: pip install -e .[test]")
nbclient = pytest.importorskip("nbclient", reason="nbclient is in the test extra: pip install -e .[test]")
pytest.importorskip("ipykernel", reason="ipykernel is in the test extra: pip install -e .[test]")

NOTEBOOKS = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "notebooks")

TINY = {  # the same tiny runs as tests/recipes/test_<recipe>.py
    "vgg16_sharp_unet": dict(image_size=32, width_multiplier=0.0625, pretext_epochs=1, classifier_epochs=1,
                             ensemble_epochs=1, num_cam_images=2, verbose=0, pretext_batch_size=16,
                             classifier_batch_size=16, phantom_pretext_images=40, phantom_classify_images=60,
                             segmentation_epochs=1),  # quick()'s 400 + 240 images took 200 s here (torch)
    "dual_mae": dict(phantom_pretrain_images=48, phantom_finetune_images=90, image_size=32, resize_to=36, patch_size=8,
                     embed_dim=32, depth=1, num_heads=2, mlp_dim=64, decoder_dim=16, decoder_depth=1,
                     decoder_num_heads=2, pretrain_batch_size=16, finetune_batch_size=16, pretrain_epochs=1,
                     finetune_epochs=1, seeds=(0,), bootstrap_resamples=50, verbose=0),
    "ss_cxr": dict(phantom_pretrain_images=48, phantom_classify_images=120, phantom_pediatric_images=40,
                   phantom_segmentation_images=30, pretrain_epochs=1, finetune_epochs=1, segmentation_epochs=1,
                   pretrain_batch_size=16, finetune_batch_size=16, segmentation_batch_size=8, embed_dim=32,
                   num_heads=2, mlp_dim=64, decoder_dim=32, bottleneck_dim=16, feature_size=4, bootstrap_resamples=30,
                   num_attention_images=2, verbose=0, tasks=("healthy_pneumonia_covid",)),
    "infant_transfer": dict(phantom_pretrain_images=48, phantom_transfer_images=80, image_size=32,
                            decoder_filters=(8,), pretrain_epochs=1, transfer_epochs=1, pretrain_batch_size=16,
                            transfer_batch_size=16, seeds=(0,), backbones=("resnet34",), verbose=0),
}


NOTEBOOK_ONLY = {  # the smallest run that still passes through every stage kind of the recipe
    "vgg16_sharp_unet": {},  # segmenter, two pretext tasks, classifiers and the ensemble: one path only
    "dual_mae": {"methods": ("dual_mae",)},  # pretraining + fine-tuning
    "ss_cxr": {"strategies": ("ss_cxr",)},  # GMML pretraining + fine-tuning + UNETR
    "infant_transfer": {"variants": ("full",)},  # autoencoder + disease/age transfer
}


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    """One started python3 kernel (MPLBACKEND=Agg, this process's KERAS_BACKEND, a tmp working folder),
    shut down after the module."""
    from jupyter_client import KernelManager

    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(cwd=str(tmp_path_factory.mktemp("kernel")), env={**os.environ, "MPLBACKEND": "Agg",
                              "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "tensorflow")})
    yield manager
    manager.shutdown_kernel(now=True)


def test_every_recipe_has_a_notebook():
    found = {os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(NOTEBOOKS, "*.ipynb"))}
    assert found == set(TINY)


def _execute(name, kernel, output_dir, kaggle_input):
    """Runs notebook `name` in `kernel` with the tiny overrides, `output_dir` and `kaggle_input` in its
    parameters cell; returns the executed notebook."""
    notebook = nbformat.read(os.path.join(NOTEBOOKS, f"{name}.ipynb"), as_version=4)
    nbformat.validate(notebook)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), "strip the outputs"
    parameters = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(parameters) == 1 and "KAGGLE_INPUT" in parameters[0].source
    overrides = {**TINY[name], **NOTEBOOK_ONLY[name]}
    parameters[0].source = (f"OVERRIDES = {overrides!r}\nOUTPUT_DIR = {str(output_dir)!r}\n"
                            f"KAGGLE_INPUT = {str(kaggle_input)!r}")
    nbclient.NotebookClient(notebook, km=kernel, timeout=600).execute()
    shown = [o for cell in notebook.cells for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
    assert shown, "the figures cell displayed no image"
    return notebook


# The notebooks are the TensorFlow run's end-to-end coverage of the recipes; on PyTorch the quick presets' learning
# tests and the tiny recipe tests run the same code (CI budget), and `pytest -m slow tests/docs` runs them there.
@pytest.mark.slow_on_torch
@pytest.mark.parametrize("name", sorted(TINY))
def test_notebook_runs_top_to_bottom(name, tmp_path, kernel):
    output_dir = tmp_path / name
    _execute(name, kernel, output_dir, tmp_path / "no-kaggle-input")  # no mirror attached: phantom only
    assert (output_dir / "report.md").is_file() and (output_dir / "metrics.json").is_file()
    assert glob.glob(str(output_dir / "figures" / "*.png"))
    assert not (tmp_path / f"{name}_kaggle").exists()


def _image(path, rng, size=40):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), rng.integers(0, 256, (size, size), dtype=np.uint8))


def _kaggle_input(root, rng):
    """/kaggle/input with the Kermany and Montgomery mirrors in their Kaggle layouts (as in
    tests/data/test_kaggle_layouts.py), 24 Kermany images (+ the archive's nested copy) and 6 Montgomery pairs."""
    for copy in ("chest_xray", "chest_xray/chest_xray"):
        for split, count in (("train", 8), ("test", 4)):
            for i in range(count):
                _image(root / "chest-xray-pneumonia" / copy / split / "NORMAL" / f"IM-{split}{i:03d}-0001.jpeg", rng)
                _image(root / "chest-xray-pneumonia" / copy / split / "PNEUMONIA" / f"person{split}{i}_virus_{i}.jpeg",
                       rng)
    montgomery = root / "pulmonary-chest-xray-abnormalities" / "Montgomery" / "MontgomerySet"
    for i in range(6):
        name = f"MCUCXR_{i:04d}_{i % 2}.png"
        _image(montgomery / "CXR_png" / name, rng)
        for side, columns in (("leftMask", slice(4, 18)), ("rightMask", slice(22, 36))):
            mask = np.zeros((40, 40), np.uint8)
            mask[6:34, columns] = 255
            (montgomery / "ManualMask" / side).mkdir(parents=True, exist_ok=True)
            assert cv2.imwrite(str(montgomery / "ManualMask" / side / name), mask)


# One more tiny recipe run per backend; `pytest -m slow tests/docs` (README) runs it.
@pytest.mark.slow
def test_mirror_cell_runs_on_the_kaggle_layouts(tmp_path, kernel):
    """vgg16_sharp_unet's mirror cell on Kermany (the pretext data) + Montgomery (the lung segmenter's masks):
    the recipe reads both mounts as Kaggle lays them out and trains on them."""
    import json

    _kaggle_input(tmp_path / "input", np.random.default_rng(0))
    _execute("vgg16_sharp_unet", kernel, tmp_path / "run", tmp_path / "input")

    config = json.load(open(tmp_path / "run_kaggle" / "config.json"))
    assert config["pretext_dir"] == str(tmp_path / "input" / "chest-xray-pneumonia")
    assert config["segmentation_dir"] == str(tmp_path / "input" / "pulmonary-chest-xray-abnormalities")
    metrics = json.load(open(tmp_path / "run_kaggle" / "metrics.json"))
    assert metrics and (tmp_path / "run_kaggle" / "report.md").is_file()
    assert (tmp_path / "run_kaggle" / "models" / "lung_segmenter.keras").is_file()
