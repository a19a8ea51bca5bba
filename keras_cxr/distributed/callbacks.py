"""Callbacks that keep a data-parallel `fit` right: one writer for backups, one set of statistics."""

import os

import keras

from keras_cxr.distributed.context import context, is_chief


class ChiefBackupAndRestore(keras.callbacks.BackupAndRestore):
    """`keras.callbacks.BackupAndRestore` for data-parallel runs: every process restores from the backup
    folder, only the chief (rank 0) writes and deletes it.

    All replicas hold the same weights after each step, so one copy restores them all; two processes
    writing one file could leave it torn. Keras 2's multi-worker BackupAndRestore did the same (workers
    other than the chief wrote to throw-away folders). Across machines the folder must be on a shared
    filesystem, as the output folder must. On one device this is `BackupAndRestore` unchanged.
    """

    def _save_model(self):
        if is_chief():
            super()._save_model()
        elif context().engine == "multi_worker_mirrored":
            # Saving reads synchronized (on-read) variables: a collective every worker must join; the
            # other workers write a throw-away copy, as Keras 2's multi-worker BackupAndRestore did.
            import tempfile

            with tempfile.TemporaryDirectory() as scratch:
                self.model.save_weights(os.path.join(scratch, "scratch.weights.h5"))

    def on_train_end(self, logs=None):
        if is_chief():
            super().on_train_end(logs)


class AverageNonTrainable(keras.callbacks.Callback):
    """PyTorch DDP: at the end of every epoch, each floating non-trainable variable (BatchNorm moving mean
    and variance) becomes its mean over the ranks, so the chief saves the statistics of all the data it
    was trained on, not of its own shard. TensorFlow's mirrored variables aggregate these themselves; on
    one device this does nothing."""

    def on_epoch_end(self, epoch, logs=None):
        if context().engine == "torch_ddp":
            from keras_cxr.distributed import _torch

            _torch.average_non_trainable(self.model)
