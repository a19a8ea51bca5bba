"""Every Kaggle notebook in docs/notebooks runs top to bottom (issue 17), on the phantom, with tiny overrides.

The `parameters`-tagged cell is replaced papermill-style by the tiny overrides of tests/recipes and a tmp
OUTPUT_DIR; the kernel inherits this process's KERAS_BACKEND.
"""

import glob
import os

import pytest

nbformat = pytest.importorskip("nbformat", reason="nbformat is in the test extra: pip install -e .[test]")
nbclient = pytest.importorskip("nbclient", reason="nbclient is in the test extra: pip install -e .[test]")
pytest.importorskip("ipykernel", reason="ipykernel is in the test extra: pip install -e .[test]")

NOTEBOOKS = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "notebooks")

TINY = {  # the same tiny runs as tests/recipes/test_<recipe>.py
    "vgg16_sharp_unet": dict(image_size=32, width_multiplier=0.0625, pretext_epochs=1, classifier_epochs=1,
                             ensemble_epochs=1, num_cam_images=2, verbose=0, pretext_batch_size=16,
                             classifier_batch_size=16),
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


def test_every_recipe_has_a_notebook():
    found = {os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(NOTEBOOKS, "*.ipynb"))}
    assert found == set(TINY)


# ~2-3 min per notebook on 2 cores (a kernel per notebook): over the CI budget in the default run, so
# `pytest -m slow tests/docs` (README) runs them.
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TINY))
def test_notebook_runs_top_to_bottom(name, tmp_path, monkeypatch):
    notebook = nbformat.read(os.path.join(NOTEBOOKS, f"{name}.ipynb"), as_version=4)
    nbformat.validate(notebook)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), "strip the outputs"
    parameters = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(parameters) == 1
    output_dir = tmp_path / name
    parameters[0].source = f"OVERRIDES = {TINY[name]!r}\nDATA_DIR = None\nOUTPUT_DIR = {str(output_dir)!r}"
    monkeypatch.setenv("KERAS_BACKEND", os.environ.get("KERAS_BACKEND", "tensorflow"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nbclient.NotebookClient(notebook, kernel_name="python3", timeout=600,
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert (output_dir / "report.md").is_file() and (output_dir / "metrics.json").is_file()
    assert glob.glob(str(output_dir / "figures" / "*.png"))
    shown = [o for cell in notebook.cells for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
    assert shown, "the figures cell displayed no image"
