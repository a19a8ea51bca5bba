"""A whole recipe (ss_cxr: GMML pretraining, ViT fine-tuning, UNETR) runs as two data-parallel processes:
every stage trains, only rank 0 writes the output folder, and a rerun resumes from rank 0's files."""

import json
import os
import subprocess
import sys

import keras
import pytest

from test_data_parallel import REPO, _env, _free_port

SCRIPT = os.path.join(os.path.dirname(__file__), "tiny_recipe.py")


def _launch(out):
    if keras.backend.backend() == "torch":
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                   SCRIPT, out]  # --standalone: torchrun picks a free local port itself (no race between tests)
        result = subprocess.run(command, capture_output=True, text=True, env=_env(), timeout=900, cwd=REPO)
        assert result.returncode == 0, result.stderr[-4000:]
        return result.stdout
    cluster = {"worker": [f"127.0.0.1:{_free_port()}", f"127.0.0.1:{_free_port()}"]}
    workers = [subprocess.Popen([sys.executable, SCRIPT, out], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, cwd=REPO, env=_env(TF_CONFIG=json.dumps(
                                    {"cluster": cluster, "task": {"type": "worker", "index": i}})))
               for i in range(2)]
    stdout = ""
    for worker in workers:
        out_text, err_text = worker.communicate(timeout=900)
        assert worker.returncode == 0, err_text[-4000:]
        stdout += out_text
    return stdout


def _check_run(tmp_path):
    out = str(tmp_path / "run")
    stdout = _launch(out)
    assert stdout.count("DONE") == 2, stdout
    for name in ("config.json", "metrics.json", "report.md", "models/gmml.keras", "models/unetr_ss_cxr.keras"):
        assert os.path.exists(os.path.join(out, name)), name
    stamp = {n: os.path.getmtime(os.path.join(out, "models", n)) for n in os.listdir(os.path.join(out, "models"))}
    _launch(out)  # resumes: nothing is trained or rewritten
    assert stamp == {n: os.path.getmtime(os.path.join(out, "models", n)) for n in stamp}


# ~70 s on 2 cores (CI budget); `pytest -m slow tests/distributed` (README) runs it. In the default run,
# tests/distributed/test_data_parallel.py trains an MAE and a classifier under torchrun / two TF workers.
@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() != "torch", reason="torchrun with gloo (PyTorch backend)")
def test_ss_cxr_recipe_under_torchrun_two_ranks(tmp_path):
    _check_run(tmp_path)


@pytest.mark.slow  # ~2 min on 2 cores; `pytest -m slow tests/distributed` (README) runs it
@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="MultiWorkerMirroredStrategy (TensorFlow)")
def test_ss_cxr_recipe_under_two_multi_worker_mirrored_workers(tmp_path):
    _check_run(tmp_path)
