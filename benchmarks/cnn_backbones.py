"""Training throughput of paper 002's eight CNN backbones: keras_cxr vs timm's implementation of the same network.

Each backbone trains on a fixed random batch (224 × 224 × 1, batch 32, a 2-class softmax head, cross-entropy,
Adam 1e-4) in float32 and bfloat16 (keras: `mixed_bfloat16`; timm: `torch.autocast(dtype=torch.bfloat16)`),
each candidate in its own process. keras_cxr runs on the current Keras backend (KERAS_BACKEND); timm always
on PyTorch, with `in_chans=1`, on the GPU when torch sees one (model and batch on `cuda`, each step synchronized
as Keras' `train_on_batch` is). timm has no ShuffleNet v1: that row has no peer.

    KERAS_BACKEND=torch python benchmarks/cnn_backbones.py
    KERAS_BACKEND=tensorflow python benchmarks/cnn_backbones.py --backbones resnet50 densenet121
    KERAS_BACKEND=torch python benchmarks/cnn_backbones.py --peer-python /opt/timm-venv/bin/python

timm needs torchvision, whose PyPI wheels do not import beside this project's CPU torch pin: install timm and
torchvision in a separate virtualenv and pass its interpreter with `--peer-python` (the project never imports
timm). Goals (issue 14): ≥ 1.0× timm float32 on the torch backend, ≥ 2× with bf16 on hardware with bf16 units.
Timings only, never asserted in tests.

Profile (issue 30; torch.profiler over training steps, ResNet-50 and MobileNetV2 beside timm's, 2-core AMD EPYC
Zen 3, AVX2, no bf16 units; Keras 3.15.1 on torch 2.13.0, timm 1.0.31 on torch 2.14.1). Where keras_cxr's time
went that timm's did not, in order of size:
1. Layout copies: before every convolution and pooling Keras' torch backend made the channels-last activation
   NCHW-contiguous (`permute(...).contiguous()`), then its conv made it channels-last again for oneDNN:
   `aten::copy_` was 16 % of a ResNet-50 step. Fixed: `keras_cxr.layers._torch_kernels` hands the permuted view
   (already `torch.channels_last`) on as it is. oneDNN's channels-last convolutions are then *faster* than
   timm's NCHW ones on this CPU (forward + backward 27 s against 41 s over 3 steps at batch 16, 224 px).
2. Normalization through generic ops: Keras' BatchNormalization / GroupNormalization compute moments and the
   affine step with about a dozen ops each way. Fixed: the same module calls `native_batch_norm` /
   `native_group_norm` (equal outputs, gradients and moving statistics; tests/layers/test_torch_kernels.py).
3. The optimizer: Keras' torch Adam is seven `_foreach` passes over all 25 M parameters (~2.5 s of a 14 s step).
   Fixed: the recipes' "adam" is `keras_cxr.optimizers.AdamW(weight_decay=0)`, Keras' update on torch's fused
   AdamW kernel; this benchmark trains with it.
What remains on ResNet-50 (why it stays below 1.0×): torch 2.13's channels-last batch-norm kernel is ~1.8x slower
than its NCHW one (51 vs 29 ms per call forward, 28 vs 16 backward); keras.applications' ResNet-50 convolutions
carry biases (53 extra bias adds and their gradient sums per step; torchvision's and timm's have none); Keras
keeps kernels as (kh, kw, in, out), so each step copies every conv kernel into torch's (out, in, kh, kw) and its
gradient back (`copy_` of the weights, ~7 %); Keras' ReLU is not in place (`clamp_min` 2x timm's `clamp_min_`).

Measured (batch 32, 224 px, float32, 5 steps; each candidate alone in its own process; same machine):

| network | keras_cxr before | after | timm | before / timm | after / timm |
|---|---|---|---|---|---|
| ResNet-50 | 1.79 images/s | 2.67 | 2.66-2.83 | 0.67x | 0.94x |
| MobileNetV2 | 3.98 | 8.71 | 8.71-8.98 | 0.44x | 1.00x |

("before": the same run with `KERAS_CXR_TORCH_KERNELS=0`, i.e. Keras' layout step and normalization, and the
fused optimizer already in; timm's number is given from both runs.)

All eight backbones, one later run (batch 32, 224 px, float32, 2 steps after 1 warm-up, each candidate alone in its
own process, same machine, with the fused Dense as well), images/s keras_cxr / timm: VGG-19 0.58 / 0.51 (1.14x),
ShuffleNet v1 17.65 / no timm model, Xception 2.39 / 2.48 (0.96x), HRNet-W32 1.00 / 1.40 (0.72x), ResNeXt-50
2.11 / 2.15 (0.98x), DenseNet-121 3.10 / 3.10 (1.00x), ResNet-50 2.61 / 2.79 (0.94x), MobileNetV2 9.08 / 9.49
(0.96x; 1.00x in the run above: ~5 % run-to-run noise at 2 steps). bf16 was not measured here: this CPU has no
bf16 units (no AMX, no AVX-512 bf16), so bf16 is emulated and slower than float32 for every candidate.

HRNet-W32, profiled (`--profile DIR --backbones hrnet_w32`; self CPU ms per step, keras_cxr / timm): step 32,246 /
23,555; `convolution_backward` 17,620 / 13,435 and `mkldnn_convolution` 5,220 / 4,823 (the same convolutions:
single 3 x 3 convolutions at HRNet's shapes, 32-256 channels at 56-7 px, forward + backward, take the same time
in both torch versions and both layouts within noise, so the difference is not the kernel); the rest is
memory traffic that timm's in-place blocks avoid: Keras' out-of-place ReLU (`clamp_min` 1,046 / 139 with
`clamp_min_`), `add` 929 / 494 with `add_`, `copy_` 853 / 189 (kernel re-layout, as for ResNet-50), `fill_`
602 / 3. Fix: `keras_cxr.layers._allocator` keeps freed memory in the process (glibc `mallopt`), so the next
step's activations and gradients reuse it rather than new pages: keras_cxr's HRNet-W32 +15 % on average over
four pairs of runs (1.15 -> 1.34 images/s), `convolution_backward` 17.6 -> 14.8 s. Side by side with timm in one
run each (images/s, ratio): without 1.18 / 1.57 (0.75x), 1.05 / 1.49 (0.70x); with 1.43 / 1.44 (1.00x), 1.24 /
1.63 (0.76x): timm alone moves 1.44-1.63 between runs, so HRNet-W32 stands at ~0.8-0.9x timm, still below 1.0x
by the out-of-place ReLU and Add that Keras' functional graph needs.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # benchmarks/_harness.py
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # run from a checkout

from _harness import (machine_lines, images_per_second, print_result, print_saved_profiles, profile_env,  # noqa: E402
                      time_in_subprocess)

TIMM_NAMES = {"vgg19": "vgg19", "mobilenet_v2": "mobilenetv2_100", "shufflenet_v1": None,
              "xception": "legacy_xception", "hrnet_w32": "hrnet_w32", "resnext50_32x4d": "resnext50_32x4d",
              "densenet121": "densenet121", "resnet50": "resnet50"}


def _batch(args):
    rng = np.random.default_rng(0)
    x = rng.random((args.batch_size, args.image_size, args.image_size, 1)).astype("float32")
    y = np.eye(2, dtype="float32")[rng.integers(0, 2, args.batch_size)]
    return x, y


def time_keras(backbone, args, precision):
    import keras

    from keras_cxr.models import create_model, resolve_jit_compile
    from keras_cxr.optimizers import AdamW

    keras.mixed_precision.set_global_policy("mixed_bfloat16" if precision == "bfloat16" else "float32")
    model = create_model(backbone, input_shape=(args.image_size, args.image_size, 1), num_classes=2,
                         head_activation="softmax")
    # the recipes' Adam (`engine.make_optimizer("adam")`): Keras' update on torch's fused kernel
    model.compile(optimizer=AdamW(1e-4, weight_decay=0.0), loss="categorical_crossentropy",
                  jit_compile=resolve_jit_compile(args.jit_compile, model=model))
    x, y = (keras.ops.convert_to_tensor(a) for a in _batch(args))  # on the backend's device (the GPU if any), once
    return images_per_second(lambda: model.train_on_batch(x, y), args.batch_size, args.steps, args.warmup)


def time_timm(backbone, args, precision):
    import timm
    import torch

    name = TIMM_NAMES[backbone]
    if name is None:
        raise RuntimeError("timm has no implementation of this network")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = timm.create_model(name, pretrained=False, num_classes=2, in_chans=1).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    x, y = _batch(args)
    x = torch.from_numpy(np.transpose(x, (0, 3, 1, 2))).contiguous().to(device)
    target = torch.from_numpy(y.argmax(1)).to(device)

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device, dtype=torch.bfloat16, enabled=precision == "bfloat16"):
            logits = model(x)
        torch.nn.functional.cross_entropy(logits.float(), target).backward()
        optimizer.step()
        if device == "cuda":
            torch.cuda.synchronize()  # each step waits for the GPU, as Keras' train_on_batch (host floats) does

    return images_per_second(step, args.batch_size, args.steps, args.warmup)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbones", nargs="+", default=list(TIMM_NAMES), choices=list(TIMM_NAMES))
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--precisions", nargs="+", default=["float32", "bfloat16"])
    parser.add_argument("--jit-compile", default="auto", choices=["auto", "true", "false"])
    parser.add_argument("--peer-python", default=sys.executable, help="interpreter with timm + torchvision")
    parser.add_argument("--profile", metavar="DIR", help="profile each candidate's timed steps (torch.profiler) "
                        "into DIR and print them side by side per op family (torch backend and the peers)")
    parser.add_argument("--only", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.only:
        kind, backbone = args.only.split(":")
        measure = time_timm if kind == "timm" else time_keras
        return print_result(lambda: measure(backbone, args, args.precisions[0]))
    import keras

    import keras_cxr  # noqa: F401,E402 - its version in the header

    print("\n".join(machine_lines(args.peer_python)))
    print(f"backend={keras.backend.backend()} batch={args.batch_size} image={args.image_size} steps={args.steps} "
          f"(+{args.warmup} warmup); each candidate in its own process; timm via {args.peer_python}")
    options = ["--batch-size", args.batch_size, "--steps", args.steps, "--warmup", args.warmup, "--image-size",
               args.image_size, "--jit-compile", args.jit_compile]
    print(f"{'backbone':<18}{'precision':<11}{'keras_cxr':>11}{'timm':>10}{'ratio to timm f32':>20}")
    for backbone in args.backbones:
        reference = None
        for precision in args.precisions:
            found = {}
            for kind in ("keras", "timm"):
                if kind == "timm" and TIMM_NAMES[backbone] is None:
                    found[kind] = "no peer"
                    continue
                try:
                    found[kind] = time_in_subprocess(
                        __file__, f"{kind}:{backbone}", precision, options,
                        python=args.peer_python if kind == "timm" else None,
                        env={**({"KERAS_BACKEND": "torch"} if kind == "timm" else {}),
                             **profile_env(args.profile, f"{kind} {backbone} {precision}")})
                except Exception as error:  # noqa: BLE001
                    found[kind] = f"failed ({str(error)[:60]})"
            if precision == "float32" and isinstance(found.get("timm"), float):
                reference = found["timm"]
            ratio = f"{found['keras'] / reference:.2f}x" if reference and isinstance(found["keras"], float) else "—"
            cells = [f"{v:.2f}" if isinstance(v, float) else v for v in (found["keras"], found["timm"])]
            print(f"{backbone:<18}{precision:<11}{cells[0]:>11}{cells[1]:>10}{ratio:>20}", flush=True)
    for backbone in args.backbones if args.profile else ():
        for precision in args.precisions:
            print(f"\n{backbone} [{precision}]", end="")
            print_saved_profiles(args.profile, [f"{kind} {backbone} {precision}" for kind in ("keras", "timm")])


if __name__ == "__main__":
    main()
