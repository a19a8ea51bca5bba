"""Keeps freed activation memory in the process on the torch backend (Linux, glibc), so the next training step
reuses it instead of taking fresh pages from the kernel.

Why (issue 30, HRNet-W32 profiled beside timm's, 2-core AMD EPYC, torch 2.13.0 CPU): PyTorch's CPU allocator is
glibc's `malloc`. glibc serves every block above its mmap threshold (128 KiB, adapting up to 32 MiB) with a fresh
`mmap` and unmaps it on `free`, and it trims freed memory at the top of its heap back to the kernel beyond 128 KiB.
The activations and gradient buffers of a training step are megabytes each, so each step takes them afresh from the
kernel, and their first write pays the page faults and the zeroing of new pages. timm's blocks allocate less
(`relu(inplace=True)`, `+=`), which Keras' functional layers cannot do safely. Measured with
`benchmarks/cnn_backbones.py` (batch 32, 224 px, float32; each pair one after the other on the same machine),
keras_cxr's HRNet-W32 images/s without -> with: 1.18 -> 1.43, 1.05 -> 1.24, 1.28 -> 1.30, and 1.10 -> 1.37 with
glibc's `MALLOC_*_` environment variables set instead; ResNet-50 3.51 -> 3.62; MobileNetV2 9.49 -> 10.77, 9.81 ->
9.93 (this machine moves ~10 % between runs). Under torch.profiler the HRNet step's `convolution_backward` (which
allocates the gradients) fell from 17.6 to 14.8 s; Keras' out-of-place ReLU (`clamp_min`, ~1.0 s against timm's
in-place 0.14 s) and `fill_` (0.6 -> 0.5 s, timm 0.003 s) barely moved, so they are not (mainly) page faults.

`tune()` calls glibc's `mallopt` (what the `MALLOC_MMAP_THRESHOLD_` / `MALLOC_TRIM_THRESHOLD_` environment
variables do, which must be set before the process starts): blocks up to 32 MiB come from the heap, and freed
heap memory is kept up to 1 GiB at its top. The cost: the process keeps the memory of its largest step
(PyTorch's CUDA allocator does the same on a GPU). Called when `keras_cxr.layers` is imported on the torch
backend; `KERAS_CXR_MALLOC=0`, or any `MALLOC_*_` variable of the user's own, leaves the allocator as it is.
Elsewhere (macOS, Windows, musl) it does nothing. Written by hand: no library sets it for a process it is
imported into; PyTorch's CPU tuning guide recommends the same effect through jemalloc or tcmalloc preloaded.
"""

import ctypes
import os
import platform

ENV = "KERAS_CXR_MALLOC"
M_TRIM_THRESHOLD = -1  # glibc malloc.h
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's largest (HEAP_MAX_SIZE / 2 on 64-bit)
TRIM_THRESHOLD = 1024 * 1024 * 1024
USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_")


def tune():
    """Sets glibc's mmap and trim thresholds (see the module docstring). Returns True when set, False when left
    alone (`KERAS_CXR_MALLOC=0`, the user's own `MALLOC_*_` settings, not Linux, or no glibc `mallopt`)."""
    if os.environ.get(ENV, "1") == "0" or any(name in os.environ for name in USER_SETTINGS):
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
