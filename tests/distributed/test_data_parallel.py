"""Two local workers over the loopback train the same weights as one process at the same global batch.

TensorFlow: two `MultiWorkerMirroredStrategy` workers (TF_CONFIG on 127.0.0.1 ports); PyTorch: `torchrun
--nproc-per-node 2` with gloo. Each trains a tiny MAE (AdamW) and a tiny ViT classifier (SGD) for 8 steps
of global batch 8 (tests/distributed/tiny_training.py); the reference is the same script in one process.

Tolerances: the classifier (SGD) agrees to float32 round-off (1e-5). The MAE's AdamW divides by
sqrt(v): for weights whose gradient is near zero, all-reduce round-off changes the update by up to lr
per step, so on TensorFlow (whose all-reduce sums in another order) single weights differ by up to ~5e-4
after 8 steps while the median difference stays ~1e-5; the MAE is checked with max 2e-3 and median 1e-4.
A wrong data split or shared masks moves weights by ~1e-2 (seen while building this).
"""

import json
import os
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), "tiny_training.py")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(**extra):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OMP_NUM_THREADS="1", **extra)
    for name in ("TF_CONFIG", "WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        if name not in extra:
            env.pop(name, None)
    return env


def _check(result):
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-4000:])


def _two_workers(out):
    backend = keras.backend.backend()
    if backend == "torch":
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                   SCRIPT, out]  # --standalone: torchrun picks a free local port itself (no race between tests)
        result = subprocess.run(command, capture_output=True, text=True, env=_env(), timeout=600, cwd=REPO)
        _check(result)
        assert result.stdout.count("DONE torch_ddp") == 2, result.stdout
        return
    ports = [_free_port(), _free_port()]
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    workers = [subprocess.Popen([sys.executable, SCRIPT, out], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, cwd=REPO,
                                env=_env(TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker",
                                                                                            "index": i}})))
               for i in range(2)]
    for worker in workers:
        stdout, stderr = worker.communicate(timeout=600)
        _check(subprocess.CompletedProcess(worker.args, worker.returncode, stdout, stderr))
        assert "DONE multi_worker_mirrored" in stdout, stdout


@pytest.mark.skipif(keras.backend.backend() not in ("tensorflow", "torch"), reason="TensorFlow and PyTorch engines")
def test_two_local_workers_train_the_weights_of_one_process(tmp_path):
    single, parallel = str(tmp_path / "single"), str(tmp_path / "parallel")
    _check(subprocess.run([sys.executable, SCRIPT, single], capture_output=True, text=True, env=_env(), timeout=600,
                          cwd=REPO))
    _two_workers(parallel)
    assert sorted(os.listdir(parallel)) == ["classifier.npz", "mae.npz"]  # only the chief wrote
    for name, max_tol, median_tol in (("classifier", 1e-5, 1e-6), ("mae", 2e-3, 1e-4)):
        with np.load(os.path.join(single, f"{name}.npz")) as a, np.load(os.path.join(parallel, f"{name}.npz")) as b:
            assert a.files == b.files
            moved = max(float(np.abs(a[k] - b[k]).max()) for k in a.files)
            median = float(np.median(np.concatenate([np.abs(a[k] - b[k]).ravel() for k in a.files])))
            assert moved <= max_tol and median <= median_tol, (name, moved, median)
