"""A pretraining killed by a signal mid-epoch resumes from its last finished epoch (issue: one resume convention)."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

CHILD = """
import json, sys, time
import keras
from keras_cxr.recipes import dual_mae

class Slow(keras.callbacks.Callback):  # epochs of about a second, so the kill lands inside one
    epochs_run = 0

    def on_train_batch_end(self, batch, logs=None):
        time.sleep(0.3)

    def on_epoch_end(self, epoch, logs=None):
        Slow.epochs_run += 1

config = dual_mae.Config.quick(output_dir=sys.argv[1], cache_dir=sys.argv[2], phantom_pretrain_images=48,
                               image_size=32, resize_to=36, patch_size=8, embed_dim=32, depth=1, num_heads=2,
                               mlp_dim=64, decoder_dim=16, decoder_depth=1, decoder_num_heads=2,
                               pretrain_batch_size=16, pretrain_epochs=4, verbose=0)
model, history = dual_mae.pretrain(config, dual_mae.load_data(config), "mae", 0.75, callbacks=[Slow()])
print(json.dumps({"epochs_run": Slow.epochs_run, "history_epochs": len(history["loss"]),
                  "iterations": int(keras.ops.convert_to_numpy(model.optimizer.iterations))}))
"""


def _finished_epochs(backup):
    """Epochs finished before the kill: `BackupAndRestore` records their count after each one."""
    try:
        with open(os.path.join(backup, "training_metadata.json")) as f:
            return json.load(f)["epoch"]
    except (OSError, ValueError, KeyError):
        return 0


@pytest.mark.slow_on_tensorflow  # 140 s there (CI budget); PyTorch runs it, and on TensorFlow
# tests/recipes/test_dual_mae.py::test_killed_pretraining_resumes_from_last_epoch resumes a killed stage in-process
def test_killed_pretraining_resumes_from_the_last_finished_epoch(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    out, cache = tmp_path / "run", tmp_path / "cache"
    command = [sys.executable, str(script), str(out), str(cache)]
    backup = out / "backup" / "mae_mask75"
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ.copy())
    deadline = time.time() + 240
    while _finished_epochs(backup) < 2 and child.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    if child.poll() is not None:
        pytest.fail(f"the child ended before it could be killed: {child.communicate()[1].decode()[-2000:]}")
    time.sleep(0.5)  # inside the third epoch (three 0.3 s batches per epoch)
    child.send_signal(signal.SIGKILL)
    child.wait()
    finished = _finished_epochs(backup)
    assert finished in (2, 3) and not (out / "models" / "mae_mask75.keras").exists()

    rerun = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy(), timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    result = json.loads(rerun.stdout.strip().splitlines()[-1])
    assert result["epochs_run"] == 4 - finished  # only the epochs not finished before the kill
    assert result["history_epochs"] == 4  # the stage's history keeps the epochs from before the kill
    assert result["iterations"] == 4 * 3  # 4 epochs of 48 images / batch 16: the same total as one run
    assert (out / "models" / "mae_mask75.keras").exists() and not backup.exists()
    again = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy(), timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    loaded = json.loads(again.stdout.strip().splitlines()[-1])
    assert loaded["epochs_run"] == 0 and loaded["history_epochs"] == 4  # the finished stage and its history load
