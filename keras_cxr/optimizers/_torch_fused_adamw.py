"""The PyTorch half of `keras_cxr.optimizers.AdamW`: one call of torch's fused AdamW kernel per group.

Isolated here because keras.ops cannot reach that kernel (STYLE.md §3: backend-specific code only where
keras.ops cannot express it, in one small module per backend).
"""

import torch


def compiling():
    """True while `torch.compile` traces the step (`Model.compile(jit_compile=True)` on PyTorch). The fused
    kernel updates its arguments in place, which inductor's functionalization refuses ("mutating a
    non-functional tensor with a functional tensor is not allowed", torch 2.13), so a compiled step takes
    Keras' own AdamW update (the same arithmetic, which torch.compile fuses itself)."""
    return bool(getattr(torch, "compiler", None) and torch.compiler.is_compiling())


def supported(variables):
    """True when torch's fused kernel can update all `variables` (float32 values on CPU or CUDA)."""
    values = [v.value for v in variables]
    return bool(values) and all(isinstance(t, torch.Tensor) and t.dtype == torch.float32 and
                                t.device.type in ("cpu", "cuda") for t in values)


@torch.no_grad()
def fused_adamw(params, grads, exp_avgs, exp_avg_sqs, *, lr, beta_1, beta_2, weight_decay, epsilon, step):
    """Keras' AdamW step, t = `step`, on lists of torch tensors, in place.

    Keras divides by sqrt(v) + ε and folds the bias corrections into the step size; torch divides by
    sqrt(v / (1 − β2^t)) + ε'. The two agree exactly for ε' = ε / sqrt(1 − β2^t), which is what is passed.
    """
    grads = [g.to(p.dtype).contiguous() for g, p in zip(grads, params)]
    by_device = {}
    for group in zip(params, grads, exp_avgs, exp_avg_sqs):
        by_device.setdefault(group[0].device, []).append(group)
    for device, group in by_device.items():
        steps = [torch.tensor(float(step), device=device)] * len(group)  # read, not advanced, by the kernel
        p, g, m, v = (list(column) for column in zip(*group))
        torch._fused_adamw_(p, g, m, v, [], steps, lr=float(lr), beta1=float(beta_1), beta2=float(beta_2),
                            weight_decay=float(weight_decay), eps=float(epsilon) / (1 - beta_2**step) ** 0.5,
                            amsgrad=False, maximize=False)
