"""MAE pretraining throughput: keras_cxr MAE and DualMAE vs MONAI's MaskedAutoEncoderViT, one run, same batch.

All three use a ViT-S/16 encoder (384 wide, 12 blocks, 6 heads, MLP 1536), a 512-wide decoder with 2 blocks
and 16 heads (MLP 2048), 224 × 224 × 1 inputs, mask ratio 0.75, AdamW, and the loss on masked patches.
keras_cxr runs on the current Keras backend (KERAS_BACKEND); MONAI always runs on PyTorch. Every candidate
is timed in its own Python process, so one framework's thread pools never slow another. Each is timed in
float32 and in bfloat16 (keras: the `mixed_bfloat16` policy; MONAI: `torch.autocast(dtype=torch.bfloat16)`).

    KERAS_BACKEND=torch python benchmarks/mae_pretrain.py
    KERAS_BACKEND=tensorflow python benchmarks/mae_pretrain.py
    KERAS_BACKEND=torch python benchmarks/mae_pretrain.py --batch-size 8 --precisions float32

Prints training images/s and the ratios to MONAI float32. MONAI is an optional peer (`pip install monai`).
The default batch is 32: the paper pretrains with 256, and at 8 the per-step costs that do not grow with
the batch (the optimizer's pass over 28 M parameters, casting the weights for mixed precision) weigh far
more than they do in real pretraining. Both frameworks use PyTorch's default AdamW path of their own:
keras_cxr's `keras_cxr.optimizers.AdamW` (fused kernel on PyTorch), MONAI's `torch.optim.AdamW` (foreach).

Measured on this project's 2-core Xeon CPU (AMX), quiet machine, 3 timed steps after 1 warm-up, each
candidate alone (images/s, ratio to MONAI float32 of the same run; two runs where a range is given, the
machine's run-to-run spread is about 10 %):

    backend           batch  MAE float32         MAE bfloat16        DualMAE f32 / bf16   MONAI float32
    torch               32   11.5-12.2 (1.03-1.16x)  33.2-36.2 (3.05-3.35x)  8.1-8.7 / 21.4-23.3   9.9-11.9
    torch                8   11.8  (0.99x)       23.5  (1.97x)       7.7 / 15.1           11.9
    tensorflow          32   12.7  (1.15x)       16.0  (1.45x)       9.4 / 12.1           11.1
    tensorflow (XLA)    32   11.4  (1.03x)       11.0  (0.99x)       8.5 / 7.6            11.1

torch.compile (`--jit-compile both`, PyTorch 2.13, this project's 2-core AMD EPYC with AVX-512 bf16 and no AMX,
2026-12-06, batch 8, float32, 3 warm-up + 3 timed steps): MAE 5.54 images/s eager against 4.99 compiled (0.90x,
after ~4 minutes of compiling); DualMAE 4.11 eager, and its compiled run had not finished warming up after 8
minutes (stopped). Dynamo recompiles frames of Keras' train step (on the tiny MAE of tests/models/test_jit.py
it warned that one frame hit its recompile limit of 8, after which that frame runs eagerly), and the optimizer
step is our fused AdamW kernel in eager mode but Keras' unfused update when compiled. So `jit_compile="auto"`
stays eager on PyTorch. Not measured on a GPU, where the gain from fused kernels is larger.

MONAI cannot train under bf16 autocast (an index_put dtype error), so bfloat16 rows compare with its float32.
TensorFlow's default ("auto", `resolve_jit_compile`) is XLA for float32 and oneDNN without XLA for bf16 on a
CPU; the last row forces XLA for both.
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # benchmarks/_harness.py
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # run from a checkout

from _harness import machine_lines, print_result, time_in_subprocess  # noqa: E402

ENCODER = dict(embed_dim=384, depth=12, num_heads=6, mlp_dim=1536)
DECODER = dict(decoder_dim=512, decoder_depth=2, decoder_num_heads=16)


def time_keras(model_name, batch, steps, warmup, precision, image_size, jit_compile="auto"):
    import keras

    from keras_cxr.models import MAE, DualMAE, resolve_jit_compile
    from keras_cxr.optimizers import AdamW

    keras.mixed_precision.set_global_policy("mixed_bfloat16" if precision == "bfloat16" else "float32")
    try:
        cls = DualMAE if model_name == "DualMAE" else MAE
        model = cls(image_size=image_size, patch_size=16, mask_ratio=0.75, seed=0, **ENCODER, **DECODER)
        model.compile(optimizer=AdamW(1.5e-4, weight_decay=0.05, beta_2=0.95),
                      jit_compile=resolve_jit_compile(jit_compile))
        batch = keras.ops.convert_to_tensor(batch)  # on the backend's device (the GPU if any), once
        for _ in range(warmup):
            model.train_on_batch(batch)
        start = time.perf_counter()
        for _ in range(steps):
            model.train_on_batch(batch)
        return steps * len(batch) / (time.perf_counter() - start)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def time_monai(batch, steps, warmup, precision, image_size):
    import torch
    from monai.networks.nets import MaskedAutoEncoderViT

    model = MaskedAutoEncoderViT(in_channels=1, img_size=image_size, patch_size=16, hidden_size=384, mlp_dim=1536,
                                 num_layers=12, num_heads=6, masking_ratio=0.75, decoder_hidden_size=512,
                                 decoder_mlp_dim=2048, decoder_num_layers=2, decoder_num_heads=16, spatial_dims=2)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1.5e-4, weight_decay=0.05, betas=(0.9, 0.95))
    x = torch.from_numpy(np.transpose(batch, (0, 3, 1, 2))).contiguous().to(device)
    grid = image_size // 16
    target = x.reshape(len(x), 1, grid, 16, grid, 16).permute(0, 2, 4, 3, 5, 1).reshape(len(x), grid * grid, -1)

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device, dtype=torch.bfloat16, enabled=precision == "bfloat16"):
            prediction, mask = model(x)
        loss = (((prediction.float() - target) ** 2).mean(-1) * mask).sum() / mask.sum()
        loss.backward()
        optimizer.step()
        if device == "cuda":
            torch.cuda.synchronize()  # each step waits for the GPU, as Keras' train_on_batch (host floats) does

    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * len(batch) / (time.perf_counter() - start)


def _run_one(name, precision, args):
    """The --only mode: times one candidate in this process and prints {"images_per_s": ...} as JSON."""
    batch = np.random.default_rng(0).random((args.batch_size, args.image_size, args.image_size, 1)).astype("float32")
    if name == "MONAI":
        return print_result(lambda: time_monai(batch, args.steps, args.warmup, precision, args.image_size))
    return print_result(lambda: time_keras(name, batch, args.steps, args.warmup, precision, args.image_size,
                                           args.jit_compile))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--precisions", nargs="+", default=["float32", "bfloat16"])
    parser.add_argument("--jit-compile", default="auto", choices=["auto", "true", "false", "both"],
                        help="keras_cxr models: 'auto' is keras_cxr.models.resolve_jit_compile (XLA on TensorFlow, "
                             "as the recipes), 'false' is Keras' own CPU default, 'both' times false and true side "
                             "by side and prints the speed-up (torch.compile on PyTorch, XLA on TensorFlow)")
    parser.add_argument("--only", choices=["MAE", "DualMAE", "MONAI"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.only:
        return _run_one(args.only, args.precisions[0], args)
    import keras

    import keras_cxr  # noqa: F401,E402 - its version in the header

    print("\n".join(machine_lines()))
    print(f"backend={keras.backend.backend()} batch={args.batch_size} steps={args.steps} (+{args.warmup} warmup) "
          f"image={args.image_size} jit_compile={args.jit_compile}; each candidate in its own process")
    modes = ("false", "true") if args.jit_compile == "both" else (args.jit_compile,)
    rows = {}
    for precision in args.precisions:
        for name, mode in [(n, m) for n in ("MAE", "DualMAE") for m in modes] + [("MONAI", None)]:
            jit = f" jit={mode}" if mode and len(modes) > 1 else ""
            label = f"{'keras_cxr ' if mode else ''}{name}{jit} [{precision}]"
            try:
                options = ["--batch-size", args.batch_size, "--steps", args.steps, "--warmup", args.warmup,
                           "--image-size", args.image_size, "--jit-compile", mode or "auto"]
                rows[(name, mode, precision)] = rate = time_in_subprocess(__file__, name, precision, options)
                print(f"{label:<44}{rate:>10.2f} images/s", flush=True)
            except Exception as error:
                print(f"{label:<44}{'failed':>10}  {error}", flush=True)
    reference = rows.get(("MONAI", None, "float32"))
    if reference:
        print(f"\nratios to MONAI float32 ({reference:.2f} images/s):")
        for (name, mode, precision), rate in rows.items():
            if name != "MONAI":
                print(f"  {name:<8} {precision:<9}" + (f" jit={mode:<5}" if len(modes) > 1 else "")
                      + f" {rate / reference:5.2f}x")
    if len(modes) > 1:
        print("\nspeed-up of jit_compile=True over False:")
        for (name, mode, precision), rate in rows.items():
            eager = rows.get((name, "false", precision))
            if mode == "true" and eager:
                print(f"  {name:<8} {precision:<9} {rate / eager:5.2f}x")

if __name__ == "__main__":
    main()
