"""PyTorch half of `EMATargetUpdate`: the whole Eq. 2 update as one `torch._foreach_lerp_` call.

keras.ops has no multi-tensor update; per variable, the ViT-S dual-MAE's update took 40 ms a step on this
project's 2-core CPU, 13 ms this way (STYLE.md §3: backend-specific code in one small module per backend).
"""

import torch


def supported(pairs):
    """True when every (online, target) pair is two torch tensors of one dtype and device."""
    return all(isinstance(o.value, torch.Tensor) and o.value.dtype == t.value.dtype and
               o.value.device == t.value.device for o, t in pairs)


@torch.no_grad()
def update(pairs, tau):
    """ξ ← ξ + (1 − τ)(θ − ξ) = τξ + (1 − τ)θ for trainable online variables; the others copied."""
    averaged, copied = [], []
    for o, t in pairs:
        (averaged if o.trainable and tau > 0 else copied).append((o.value, t.value))
    if averaged:
        torch._foreach_lerp_([t for _, t in averaged], [o for o, _ in averaged], 1.0 - tau)
    for o, t in copied:
        t.copy_(o)
