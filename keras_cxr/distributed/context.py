"""Which data-parallel run this process belongs to: rank, world size, and the engine that runs it.

The engines are the backends' own: TensorFlow's `tf.distribute.MirroredStrategy` (several devices of one
machine) and `MultiWorkerMirroredStrategy` (several machines, from `TF_CONFIG`); PyTorch's
`torch.distributed` process group with `DistributedDataParallel` (one process per device, launched by
`torchrun`, which sets `RANK` / `WORLD_SIZE` / `LOCAL_RANK` / `MASTER_ADDR` / `MASTER_PORT`). keras_cxr only
decides which one applies, starts it once per process, and tells the recipes who writes the output folder.
"""

import dataclasses
import json
import os

import keras


@dataclasses.dataclass(frozen=True)
class DistributedContext:
    """The data-parallel run of this process.

    Attributes:
        engine: "none" (one device), "mirrored" / "multi_worker_mirrored" (TensorFlow strategies) or
            "torch_ddp" (a `torch.distributed` process group).
        rank: this process's index among `num_processes` (0 is the chief: it alone writes files).
        num_processes: processes taking part (TensorFlow workers or torchrun ranks).
        num_replicas: model replicas in sync (a MirroredStrategy holds several per process).
        strategy: the `tf.distribute.Strategy` (TensorFlow engines) or None.
        device: the torch device of this rank ("cuda:<local_rank>" or "cpu"), or None.
    """

    engine: str = "none"
    rank: int = 0
    num_processes: int = 1
    num_replicas: int = 1
    strategy: object = None
    device: str | None = None

    @property
    def is_chief(self):
        return self.rank == 0

    @property
    def enabled(self):
        return self.engine != "none"


_CONTEXT = DistributedContext()


def context():
    """The `DistributedContext` that `initialize` set up (one device when it was never called)."""
    return _CONTEXT


def is_chief():
    """True in the process that writes files (rank 0; always True outside a distributed run)."""
    return _CONTEXT.is_chief


def launcher_environment():
    """"tf_config" when `TF_CONFIG` names a cluster, "torchrun" when `WORLD_SIZE` > 1, else None."""
    if os.environ.get("TF_CONFIG"):
        cluster = json.loads(os.environ["TF_CONFIG"]).get("cluster", {})
        if sum(len(v) for v in cluster.values()) > 1:
            return "tf_config"
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return "torchrun"
    return None


def initialize(distributed="auto"):
    """Starts the backend's data-parallel engine for this process (once) and returns its context.

    Args:
        distributed: "auto" (default): distributed when a launcher's environment says so (`TF_CONFIG` on
            TensorFlow, `torchrun`'s `WORLD_SIZE` > 1 on PyTorch) and, on TensorFlow, a `MirroredStrategy`
            over every local GPU when there are several (a notebook on Kaggle's two T4s uses both; PyTorch
            needs one process per GPU, so there it takes `torchrun`). True: the same. False: one device,
            whatever the environment says.

    Returns:
        The `DistributedContext`.

    Raises:
        ValueError: for a launcher that does not belong to the active backend (e.g. `torchrun` with
            `KERAS_BACKEND=tensorflow`), or an unknown `distributed` value.

    Example:
    >>> initialize(False).engine
    'none'
    """
    global _CONTEXT
    if isinstance(distributed, str) and distributed.lower() in ("true", "false"):
        distributed = distributed.lower() == "true"
    if distributed not in ("auto", True, False):
        raise ValueError(f"distributed must be 'auto', True or False; received {distributed!r}.")
    if _CONTEXT.enabled:
        return _CONTEXT
    if distributed is False:
        return _CONTEXT
    backend = keras.backend.backend()
    launcher = launcher_environment()
    if backend == "tensorflow":
        if launcher == "torchrun":
            raise ValueError("WORLD_SIZE is set (a torchrun launch) but KERAS_BACKEND is 'tensorflow'. Launch "
                             "TensorFlow workers with TF_CONFIG (see the README), or use KERAS_BACKEND=torch.")
        from keras_cxr.distributed import _tensorflow  # tensorflow-only, and it imports this module

        found = _tensorflow.start(multi_worker=launcher == "tf_config")
    elif backend == "torch":
        if launcher == "tf_config":
            raise ValueError("TF_CONFIG is set (TensorFlow workers) but KERAS_BACKEND is 'torch'. Launch PyTorch "
                             "ranks with torchrun (see the README), or use KERAS_BACKEND=tensorflow.")
        if launcher is None:
            return _CONTEXT  # one process: nothing to start (torchrun --nproc-per-node 1 is one device too)
        from keras_cxr.distributed import _torch  # torch.distributed-only, and it imports this module

        found = _torch.start()
    else:
        raise ValueError(f"Distributed training is not wired for the {backend!r} backend; use tensorflow or torch.")
    if found is not None:
        _CONTEXT = found
    return _CONTEXT


def barrier():
    """Waits until every process of the run reaches this point (a no-op on one device)."""
    if _CONTEXT.engine == "torch_ddp":
        from keras_cxr.distributed import _torch  # torch.distributed-only

        _torch.barrier()
    elif _CONTEXT.engine == "multi_worker_mirrored":
        import tensorflow as tf  # backend-specific: only on the tensorflow backend

        strategy = _CONTEXT.strategy
        strategy.reduce("SUM", strategy.run(lambda: tf.constant(1.0)), axis=None)  # a collective: all must join
