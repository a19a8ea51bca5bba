"""PyTorch half of `keras_cxr.distributed`: the process group, `DistributedDataParallel` around a Keras model,
and the all-reduce of normalization statistics (STYLE.md §3: backend code in one small module).

A Keras model on the PyTorch backend is a `torch.nn.Module` whose variables are its parameters, so
`DistributedDataParallel` wraps it as the Keras guide "Multi-GPU distributed training with PyTorch" does.
The guide then trains with a hand-written torch loop; to keep `model.fit` (callbacks, BackupAndRestore,
EMA, metrics) we route the model's own forward pass through the DDP module instead, so DDP's reducer
all-reduces (averages) the gradients during `loss.backward()` inside Keras' train step, in buckets that
overlap with the backward pass. Nothing of the gradient exchange is written here.
"""

import os
import threading

import torch
import torch.distributed as dist

from keras_cxr.distributed.context import DistributedContext


def start():
    """Joins the `torchrun` process group (NCCL on GPUs, gloo on CPUs); returns the context."""
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank % torch.cuda.device_count())
        device, backend = f"cuda:{torch.cuda.current_device()}", "nccl"
    else:
        device, backend = "cpu", "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    world = dist.get_world_size()
    return DistributedContext("torch_ddp", dist.get_rank(), world, world, None, device)


def wrap_model(model):
    """Routes `model`'s training forward passes through one `DistributedDataParallel` module (made once
    per model and kept on it); inference (no gradients) calls the model directly. Returns the model."""
    if getattr(model, "_keras_cxr_ddp", None) is not None:
        return model
    if not model.built:
        raise ValueError(f"Model {model.name!r} must be built before distributed training (call it on a batch).")
    device_ids = [torch.cuda.current_device()] if torch.cuda.is_available() else None
    ddp = torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids, find_unused_parameters=True,
                                                    broadcast_buffers=False)
    own_call = model.call
    inside = threading.local()

    def call(*args, **kwargs):
        if getattr(inside, "active", False) or not torch.is_grad_enabled():
            return own_call(*args, **kwargs)
        inside.active = True
        try:
            return ddp(*args, **kwargs)  # DDP.forward → model(...) → this function again → own_call
        finally:
            inside.active = False

    # `object.__setattr__`: a Keras layer would otherwise track the DDP module as a sublayer.
    object.__setattr__(model, "_keras_cxr_ddp", ddp)
    object.__setattr__(model, "call", call)
    return model


@torch.no_grad()
def average_non_trainable(model):
    """Replaces every floating non-trainable variable (BatchNorm moving statistics, an EMA target) by its
    mean over the ranks, as TensorFlow's mirrored variables aggregate them; integer states (random-seed
    generators) are left alone."""
    world = dist.get_world_size()
    for variable in sorted(model.non_trainable_variables, key=lambda v: v.path):
        value = variable.value
        if not torch.is_floating_point(value):
            continue
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
        value.div_(world)


def barrier():
    if dist.is_initialized():
        dist.barrier()
