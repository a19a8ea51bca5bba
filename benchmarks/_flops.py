"""FLOPs of a Keras model per image, NVIDIA GPUs' peak TFLOP/s, and the table of `benchmarks/gpu_check.sh`.

`count_flops(model, input_shape)` runs one forward pass on a single image with every `keras.layers.Layer`
call recorded, and adds up the multiply-adds of the layers that carry the arithmetic:

    Conv1D/2D/3D (grouped too), DepthwiseConv1D/2D, SeparableConv1D/2D, Conv*Transpose, Dense, EinsumDense,
    keras.layers.MultiHeadAttention (its Q/K/V/O projections are EinsumDense layers, counted as such, plus
    the two attention matmuls q·kᵀ and softmax·v), keras_cxr's MultiHeadSelfAttention (the fused qkv and
    proj Dense layers, plus q·kᵀ and softmax·v: 2 · N_q · N · D), keras_cxr's SharpeningConv2D (a fixed
    depthwise 3 × 3).

FLOPs = 2 × multiply-adds. Biases, normalization, activations, softmax, pooling and element-wise ops are
left out, as in the published counts this is tested against (tests/benchmarks/test_flops.py: ResNet-50,
VGG-16, MobileNetV2, ViT-S/16). Because the pass is real (not a walk over declared shapes), what a model
does in its call is what is counted: an MAE's encoder blocks see only the visible 25 % of the tokens (+ the
class token), its decoder's last block computes only the masked tokens in training, a layer called twice
counts twice. A layer whose arithmetic is written with `keras.ops` directly and is not in the list above is
not counted.

Training FLOPs = 3 × forward (the backward pass costs two forwards: gradients for the inputs and for the
weights), except for the layers whose weights are not trainable, counted once (DualMAE's EMA target: its
output sits behind `stop_gradient`, so no backward pass runs through it). This is the usual model-FLOPs
convention of MFU: the first layer's unneeded input gradient is still counted, recomputation never is.

    python benchmarks/_flops.py count --out flops.json [--smoke]    # every benchmark model of gpu_check.sh
    python benchmarks/_flops.py peak "NVIDIA H100 PCIe"            # the peak table's row for a GPU name
    python benchmarks/_flops.py report RUN_DIR --flops flops.json --gpu "NVIDIA H200" [--out-dir DIR]
"""

import argparse
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # benchmarks/ (mae_pretrain's model sizes)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # run from a checkout

# Dense (no sparsity) peak TFLOP/s per GPU, looked up by the first name substring (in this order) found in
# `nvidia-smi --query-gpu=name` / `torch.cuda.get_device_name()` (e.g. "NVIDIA H100 80GB HBM3",
# "NVIDIA A100-SXM4-80GB", "Tesla T4"). Columns:
#   float32: plain FP32 on the CUDA cores (NOT TF32): the denominator of float32 MFU. TensorFlow runs float32
#            matmuls/convolutions on TF32 tensor cores by default on Ampere and newer, and PyTorch does so for
#            cuDNN convolutions (torch.backends.cudnn.allow_tf32 defaults to True; matmuls stay FP32 unless
#            torch.backends.cuda.matmul.allow_tf32), so a float32 MFU above 1 means TF32 did the work.
#   tf32:    TF32 tensor cores, for reading such rows (printed beside the table, not used for MFU).
#   bfloat16 / float16: tensor-core peak with FP32 accumulation. None: no such units (bf16 before Ampere).
# NVIDIA's datasheets print tensor-core numbers "with sparsity" (2:4 structured): the dense values below are
# half of those, as the datasheets' own footnotes say.
PEAK_TFLOPS = [
    # H200 datasheet (nvidia.com/en-us/data-center/h200, "Technical Specifications"), H200 NVL column:
    # FP32 60, TF32 835*, BF16/FP16 1,671* (*with sparsity).
    ("H200 NVL", {"float32": 60.0, "tf32": 417.5, "bfloat16": 835.5, "float16": 835.5}),
    # H200 SXM column: FP32 67, TF32 989*, BF16/FP16 1,979* (*with sparsity) — the same as H100 SXM. A GH200
    # ("NVIDIA GH200 480GB") matches here too; its datasheet's GPU numbers are the same.
    ("H200", {"float32": 67.0, "tf32": 494.5, "bfloat16": 989.5, "float16": 989.5}),
    # H100 datasheet (nvidia.com/en-us/data-center/h100), PCIe column: FP32 51, TF32 756*, BF16/FP16 1,513*.
    ("H100 PCIe", {"float32": 51.0, "tf32": 378.0, "bfloat16": 756.5, "float16": 756.5}),
    # H100 NVL column: FP32 60, TF32 835*, BF16/FP16 1,671* (the current datasheet; an early one printed
    # the pair of NVL cards together).
    ("H100 NVL", {"float32": 60.0, "tf32": 417.5, "bfloat16": 835.5, "float16": 835.5}),
    # H100 SXM column: FP32 67, TF32 989*, BF16/FP16 1,979*. nvidia-smi names it "NVIDIA H100 80GB HBM3".
    ("H100", {"float32": 67.0, "tf32": 494.5, "bfloat16": 989.5, "float16": 989.5}),
    # A100 datasheet (nvidia.com/en-us/data-center/a100), 40/80 GB, PCIe and SXM alike: FP32 19.5,
    # TF32 156 | 312*, BF16/FP16 312 | 624*. (The PCIe card's lower power limit lowers sustained clocks.)
    ("A100", {"float32": 19.5, "tf32": 156.0, "bfloat16": 312.0, "float16": 312.0}),
    # A10G (AWS G5) has no public NVIDIA datasheet; these are the A10 datasheet's (nvidia.com/en-us/data-center/
    # products/a10-gpu: FP32 31.2, TF32 62.5 | 125*, BF16/FP16 125 | 250*). UNSURE: the A10G runs other clocks
    # (AWS quotes lower tensor throughput for it), so its MFU here may be understated.
    ("A10G", {"float32": 31.2, "tf32": 62.5, "bfloat16": 125.0, "float16": 125.0}),
    ("A10", {"float32": 31.2, "tf32": 62.5, "bfloat16": 125.0, "float16": 125.0}),  # A10 datasheet, as above
    # L40S datasheet: FP32 91.6, TF32 183 | 366*, BF16/FP16 362.05 | 733*.
    ("L40S", {"float32": 91.6, "tf32": 183.0, "bfloat16": 362.05, "float16": 362.05}),
    # L40 datasheet: FP32 90.5, TF32 90.5 | 181*, BF16/FP16 181.05 | 362.1*. (Before "L4": "L40" contains it.)
    ("L40", {"float32": 90.5, "tf32": 90.5, "bfloat16": 181.05, "float16": 181.05}),
    # L4 datasheet (nvidia.com/en-us/data-center/l4): FP32 30.3, TF32 120*, BF16/FP16 242*, all but FP32
    # "with sparsity".
    ("L4", {"float32": 30.3, "tf32": 60.0, "bfloat16": 121.0, "float16": 121.0}),
    # T4 datasheet (Turing): FP32 8.1, "mixed precision (FP16/FP32)" 65; no TF32, no bf16 units (bf16 runs,
    # emulated, far below the FP16 peak).
    ("T4", {"float32": 8.1, "tf32": None, "bfloat16": None, "float16": 65.0}),
    # V100 datasheet (Volta): SXM2 FP32 15.7 / tensor 125; PCIe 14 / 112; V100S PCIe 16.4 / 130. No TF32/bf16.
    ("V100S", {"float32": 16.4, "tf32": None, "bfloat16": None, "float16": 130.0}),
    ("V100-PCIE", {"float32": 14.0, "tf32": None, "bfloat16": None, "float16": 112.0}),
    ("V100", {"float32": 15.7, "tf32": None, "bfloat16": None, "float16": 125.0}),
    # P100 datasheet (Pascal, no tensor cores): PCIe FP32 9.3 / FP16 18.7; SXM2 10.6 / 21.2. No bf16.
    ("P100-PCIE", {"float32": 9.3, "tf32": None, "bfloat16": None, "float16": 18.7}),
    ("P100", {"float32": 10.6, "tf32": None, "bfloat16": None, "float16": 21.2}),
]


def peak_tflops(gpu_name, precision):
    """Dense peak TFLOP/s of the GPU named `gpu_name` at `precision` ("float32", "bfloat16", "float16",
    "tf32"; "mixed_bfloat16" and the like are read as their compute dtype); None when the name is unknown,
    is a CPU, or the GPU has no units for that precision."""
    row = peak_row(gpu_name)
    return None if row is None else row.get(precision.replace("mixed_", ""))


def peak_row(gpu_name):
    """{"key": substring, precision: TFLOP/s, ...} of the first row of PEAK_TFLOPS whose substring is in
    `gpu_name` (case-insensitive), else None."""
    name = (gpu_name or "").upper()
    for key, peaks in PEAK_TFLOPS:
        if key.upper() in name:
            return {"key": key, **peaks}
    return None


# ---------------------------------------------------------------------------------------------------------
# The counter.

def _shape(value):
    shape = getattr(value, "shape", None)
    return None if shape is None else tuple(int(d) if d is not None else None for d in shape)


def _prod(values):
    return math.prod(int(v) for v in values)


def _spatial(shape, data_format):
    return shape[1:-1] if data_format == "channels_last" else shape[2:]


def _einsum_macs(equation, input_shape, kernel_shape):
    """Multiply-adds of EinsumDense's einsum: the product of every index size (ellipsis dims included)."""
    inputs, output = equation.split("->")
    left, right = inputs.split(",")
    sizes = {}
    for spec, shape in ((left, input_shape), (right, kernel_shape)):
        if "..." in spec:
            head, tail = spec.split("...")
            free = len(shape) - len(head) - len(tail)
            for i, name in enumerate(head):
                sizes[name] = shape[i]
            for i, name in enumerate(tail):
                sizes[name] = shape[len(head) + free + i]
            for i in range(free):
                sizes[f"...{i}"] = shape[len(head) + i]
        else:
            for name, size in zip(spec, shape):
                sizes[name] = size
    return _prod(sizes.values())


def layer_macs(layer, inputs, outputs):
    """Multiply-adds of one call of `layer` (batch included), 0 for layers without counted arithmetic.

    `inputs`: the call's positional arguments and keyword arguments (args, kwargs); `outputs`: its result.
    """
    import keras

    args, kwargs = inputs
    first = args[0] if args else next(iter(kwargs.values()), None)
    out = _shape(outputs[0] if isinstance(outputs, (list, tuple)) else outputs)
    layers = keras.layers
    name = type(layer).__name__
    if isinstance(layer, (layers.SeparableConv1D, layers.SeparableConv2D)):
        points = _prod(out[:1]) * _prod(_spatial(out, layer.data_format))
        return points * (_prod(layer.depthwise_kernel.shape) + _prod(layer.pointwise_kernel.shape))
    if isinstance(layer, (layers.Conv1DTranspose, layers.Conv2DTranspose, layers.Conv3DTranspose)):
        source = _shape(first)  # every input pixel meets every kernel tap: kernel (*k, C_out, C_in)
        return _prod(source[:1]) * _prod(_spatial(source, layer.data_format)) * _prod(layer.kernel.shape)
    if isinstance(layer, (layers.DepthwiseConv1D, layers.DepthwiseConv2D)):
        return _prod(out[:1]) * _prod(_spatial(out, layer.data_format)) * _prod(layer.kernel.shape)  # (*k, C, mult)
    if isinstance(layer, (layers.Conv1D, layers.Conv2D, layers.Conv3D)):
        # kernel (*k, C_in / groups, C_out): each output pixel costs prod(kernel) multiply-adds
        return _prod(out[:1]) * _prod(_spatial(out, layer.data_format)) * _prod(layer.kernel.shape)
    if isinstance(layer, layers.EinsumDense):
        return _einsum_macs(layer.equation, _shape(first), _shape(layer.kernel))
    if isinstance(layer, layers.Dense):
        return _prod(out[:-1]) * _prod(layer.kernel.shape)
    if isinstance(layer, layers.MultiHeadAttention):
        query = _shape(first)
        value = _shape(args[1] if len(args) > 1 else kwargs.get("value"))
        key_dim, value_dim = layer._key_dim, layer._value_dim or layer._key_dim
        queries = _prod(query[1:-1])
        keys = _prod(value[1:-1])
        return query[0] * layer._num_heads * queries * keys * (key_dim + value_dim)
    if name == "MultiHeadSelfAttention":  # keras_cxr: q·kᵀ (N_q × N × D) and softmax·v (N_q × N × D)
        tokens, width = _shape(first)[1], _shape(first)[2]
        return 2 * out[0] * out[1] * tokens * width
    if name == "SharpeningConv2D":  # keras_cxr: fixed 3 × 3 depthwise kernel, `same` padding
        return _prod(out) * 9
    return 0


def count_flops(model, input_shape=None, inputs=None, training=True, call_kwargs=None):
    """Forward and training FLOPs per image of `model`, from one recorded forward pass on one image.

    Args:
        model: a built or unbuilt Keras model (any callable `keras.layers.Layer`).
        input_shape: one image's shape, e.g. (224, 224, 3); zeros are fed. Or `inputs`: a batch to feed.
        training: the `training` flag of the pass (True: what a train step computes, e.g. an MAE decoding
            only the masked patches, BatchNorm in training mode).

    Returns:
        {"forward": FLOPs, "train": FLOPs, "macs": multiply-adds, "by_type": {layer class: FLOPs},
         "frozen_forward": forward FLOPs of non-trainable layers (counted once in "train")}, all per image.
    """
    import keras
    import numpy as np

    if inputs is None:
        inputs = np.zeros((1, *input_shape), "float32")
    batch = int(_shape(inputs)[0])
    records = []
    original = keras.layers.Layer.__call__

    def recording(self, *args, **kwargs):
        outputs = original(self, *args, **kwargs)
        records.append((self, (args, kwargs), outputs))
        return outputs

    def forward():
        if keras.backend.backend() == "torch":
            import torch

            with torch.no_grad():
                model(inputs, training=training, **(call_kwargs or {}))
        else:
            model(inputs, training=training, **(call_kwargs or {}))

    if not model.built:
        forward()  # unrecorded: a model's build may call its parts (DualMAE builds its online and target MAEs)
    keras.layers.Layer.__call__ = recording
    try:
        forward()
    finally:
        keras.layers.Layer.__call__ = original
    by_type, frozen, total = {}, 0, 0
    for layer, arguments, outputs in records:
        macs = layer_macs(layer, arguments, outputs)
        if not macs:
            continue
        total += macs
        by_type[type(layer).__name__] = by_type.get(type(layer).__name__, 0) + 2 * macs / batch
        if not layer.trainable:
            frozen += macs
    forward = 2 * total / batch
    frozen_forward = 2 * frozen / batch
    return {"forward": forward, "train": 3 * (forward - frozen_forward) + frozen_forward, "macs": total / batch,
            "by_type": by_type, "frozen_forward": frozen_forward}


# ---------------------------------------------------------------------------------------------------------
# The benchmarks' models (as each benchmark script builds them) and gpu_check.sh's table.

def benchmark_models(smoke=False):
    """{key: (builder, input_shape)} of each model gpu_check.sh times; key "benchmark:candidate@size"."""
    from mae_pretrain import DECODER, ENCODER

    mae_size, unetr_size, image_size = (64, 64, 64) if smoke else (224, 256, 224)

    def mae(cls_name):
        def build():
            from keras_cxr.models import MAE, DualMAE

            cls = DualMAE if cls_name == "DualMAE" else MAE
            return cls(image_size=mae_size, patch_size=16, mask_ratio=0.75, seed=0, **ENCODER, **DECODER)
        return build

    def registry(name, **kwargs):
        def build():
            from keras_cxr.models import create_model

            return create_model(name, **kwargs)
        return build

    def sharp_unet():
        from keras_cxr.models import vgg16_sharp_unet

        return vgg16_sharp_unet((image_size, image_size, 1), width_multiplier=1.0)

    square = (image_size, image_size, 1)
    models = {
        f"mae_pretrain:MAE@{mae_size}": (mae("MAE"), (mae_size, mae_size, 1)),
        f"mae_pretrain:DualMAE@{mae_size}": (mae("DualMAE"), (mae_size, mae_size, 1)),
        f"unetr:UNETR@{unetr_size}": (registry("unetr_vit_small", input_shape=(unetr_size, unetr_size, 1),
                                               feature_size=16), (unetr_size, unetr_size, 1)),
        f"sharp_unet:vgg16_sharp_unet@{image_size}": (sharp_unet, square),
    }
    for backbone in ("resnet50", "densenet121"):
        models[f"cnn_backbones:{backbone}@{image_size}"] = (
            registry(backbone, input_shape=square, num_classes=2, head_activation="softmax"), square)
    return models


def _count_command(args):
    import keras

    results = {}
    for key, (build, shape) in benchmark_models(args.smoke).items():
        try:
            keras.utils.set_random_seed(0)
            counted = count_flops(build(), shape)
            results[key] = {k: v for k, v in counted.items() if k != "by_type"}
            print(f"{key:<40} forward {counted['forward'] / 1e9:8.2f} GFLOP/image, train {counted['train'] / 1e9:8.2f}",
                  flush=True)
        except Exception as error:  # noqa: BLE001 - one model failing leaves the others' counts
            results[key] = {"error": f"{type(error).__name__}: {error}"[:200]}
            print(f"{key:<40} failed: {results[key]['error']}", flush=True)
        keras.backend.clear_session()
    with open(args.out, "w") as handle:
        json.dump(results, handle, indent=1)
    return 0 if all("error" not in r for r in results.values()) else 1


def _last_json(path):
    try:
        with open(path, errors="replace") as handle:
            lines = [line for line in handle if line.startswith("{")]
        return json.loads(lines[-1]) if lines else None
    except (OSError, ValueError):
        return None


def _tail(path, lines=1):
    try:
        with open(path, errors="replace") as handle:
            text = [line.rstrip() for line in handle if line.strip()]
        return " | ".join(text[-lines:])[:200]
    except OSError:
        return ""


def load_runs(run_dir):
    """The benchmark runs gpu_check.sh recorded: runs.tsv rows joined with each child's JSON result."""
    runs = []
    path = os.path.join(run_dir, "runs.tsv")
    if not os.path.exists(path):
        return runs
    with open(path) as handle:
        fields = handle.readline().rstrip("\n").split("\t")
        for line in handle:
            row = dict(zip(fields, line.rstrip("\n").split("\t")))
            base = os.path.join(run_dir, row["id"])
            child = None
            if os.path.exists(base + ".json"):  # sharp_unet.py --json
                try:
                    with open(base + ".json") as f:
                        written = json.load(f)
                    child = (written.get("results") or [{}])[0]
                except (OSError, ValueError):
                    child = None
            if child is None:
                child = _last_json(base + ".out")
            row["rc"] = int(row["rc"])
            row["batch"], row["image_size"] = int(row["batch"]), int(row["image_size"])
            row["wall_s"] = float(row["wall_s"])
            rate = (child or {}).get("images_per_s")
            row["images_per_s"] = float(rate) if rate is not None and not (child or {}).get("error") else None
            if row["images_per_s"] is not None:
                row["status"] = "ok"
                row["error"] = None
            elif row["rc"] in (124, 137):
                row["status"], row["error"] = "timeout", f"killed after {row['wall_s']:.0f} s (timeout)"
            elif row["rc"] in (200, 201):
                row["status"] = "skipped"
                row["error"] = "not started: " + ("the time budget was spent" if row["rc"] == 200 else "--skip-bench")
            else:
                row["status"] = "failed"
                row["error"] = (child or {}).get("error") or _tail(base + ".err") or f"exit {row['rc']}"
            row["child"] = child
            runs.append(row)
    return runs


def _fmt_rate(value):
    return "—" if value is None else (f"{value:.1f}" if value >= 10 else f"{value:.2f}")


def report(run_dir, flops_path, gpu_name, out_dir=None, cpu=False):
    """Markdown table of the runs (one row per candidate × backend × precision) + results.json; returns text."""
    flops = {}
    if flops_path and os.path.exists(flops_path):
        with open(flops_path) as handle:
            flops = json.load(handle)
    runs = load_runs(run_dir)
    order = {}
    for r in runs:  # rows grouped as the runs first met them: group, candidate; then backend and precision
        order.setdefault(r["group"], len(order))
        order.setdefault((r["group"], r["candidate"]), len(order))
    backends = {"torch": 0, "tensorflow": 1}
    runs.sort(key=lambda r: (order[r["group"]], r["role"] == "peer", order[(r["group"], r["candidate"])],
                             backends.get(r["backend"], 2), r["precision"] != "float32", r["precision"]))
    peers = {(r["group"], r["precision"]): r["images_per_s"] for r in runs if r["role"] == "peer"}
    warnings = []
    row_peak = None if cpu else peak_row(gpu_name)
    found = row_peak["key"] if row_peak else "unknown GPU: no MFU"
    lines = [f"GPU: {gpu_name or 'none'}" + ("" if cpu else f" (peak row: {found})"),
             "",
             "| benchmark | candidate | backend | precision | batch | images/s | ratio to peer | TFLOP/s | MFU |",
             "|---|---|---|---|---:|---:|---:|---:|---:|"]
    for r in runs:
        counted = flops.get(r["flops_key"], {})
        train = counted.get("train")
        rate = r["images_per_s"]
        ratio = "—"
        if r["role"] == "keras" and rate is not None:
            same = peers.get((r["group"], r["precision"]))
            if same:
                ratio = f"{rate / same:.2f}x"
            else:
                f32 = peers.get((r["group"], "float32"))
                ratio = f"{rate / f32:.2f}x (vs f32)" if f32 else "—"
        achieved = rate * train / 1e12 if rate is not None and train else None
        peak = None if cpu else peak_tflops(gpu_name, r["precision"])
        mfu = "—"
        if achieved is not None and peak:
            share = 100 * achieved / peak
            mfu = f"{share:.1f} %" if share >= 1 else f"{share:.2g} %"
        rate_cell = _fmt_rate(rate) if rate is not None else f"{r['status']}"
        device = str((r["child"] or {}).get("device", ""))
        if not cpu and rate is not None and (device == "cpu" or device.startswith("cpu:")):
            rate_cell += " (on the CPU!)"
            warnings.append(f"- {r['benchmark']} {r['candidate']} {r['backend']} {r['precision']} ran on the CPU, "
                            "not the GPU")
        tflops = "—" if achieved is None else f"{achieved:.3g}"
        label = r["candidate"]
        if r["role"] == "peer":
            label = {"mae_pretrain": "MONAI MaskedAutoEncoderViT", "unetr": "MONAI UNETR"}.get(r["benchmark"], label)
            label += " (peer)"
        lines.append(f"| {r['benchmark']} | {label} | {r['backend']} | {r['precision']} | {r['batch']} | "
                     f"{rate_cell} | {ratio} | {tflops} | {mfu} |")
    if warnings:
        lines += ["", "WARNINGS:"] + warnings
    failures = [r for r in runs if r["status"] != "ok"]
    if failures:
        lines += ["", "Not measured:"]
        lines += [f"- {r['benchmark']} {r['candidate']} {r['backend']} {r['precision']}: {r['status']}: {r['error']}"
                  for r in failures]
    lines += ["", "images/s: training steps (forward + backward + optimizer), timed after warm-up; TFLOP/s = images/s"
              " × training FLOPs per image of the keras_cxr model (3 × forward; peer rows use the same count: the"
              " same task, though MONAI's MAE decodes every patch and timm's ResNet-50 is v1.5, ~6 % more MACs);"
              " MFU = TFLOP/s / the GPU's dense peak at that precision (float32: CUDA-core FP32, not TF32)."]
    if row_peak and not cpu:
        lines.append(f"Peaks used ({row_peak['key']}): float32 {row_peak['float32']}, TF32 {row_peak['tf32']}, "
                     f"bf16 {row_peak['bfloat16']}, fp16 {row_peak['float16']} TFLOP/s; a float32 MFU over 100 % "
                     "means TF32 tensor cores ran (TensorFlow's default; PyTorch's for cuDNN convolutions).")
    if cpu:
        lines.append("CPU run (--cpu-smoke): MFU against a CPU peak is not meaningful, so it is left out (—).")
    counts = ["", "Training GFLOP/image (forward × 3, frozen layers × 1):"]
    counts += [f"- {key}: " + (f"{v['train'] / 1e9:.2f} (forward {v['forward'] / 1e9:.2f})" if "train" in v
                               else v.get("error", "?")) for key, v in flops.items()]
    text = "\n".join(lines + counts) + "\n"
    if out_dir:
        with open(os.path.join(out_dir, "gpu_check_table.md"), "w") as handle:
            handle.write(text)
        with open(os.path.join(out_dir, "gpu_check_results.json"), "w") as handle:
            json.dump({"gpu": gpu_name, "cpu_smoke": cpu, "peak": row_peak, "flops": flops, "runs": runs}, handle,
                      indent=1)
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    count = sub.add_parser("count", help="FLOPs of every benchmark model gpu_check.sh runs, as JSON")
    count.add_argument("--out", required=True)
    count.add_argument("--smoke", action="store_true", help="the --cpu-smoke sizes (64 px)")
    peak = sub.add_parser("peak", help="the peak row of a GPU name")
    peak.add_argument("name")
    table = sub.add_parser("report", help="the markdown table of a gpu_check.sh run directory")
    table.add_argument("run_dir")
    table.add_argument("--flops")
    table.add_argument("--gpu", default="")
    table.add_argument("--cpu", action="store_true", help="a CPU run: no MFU")
    table.add_argument("--out-dir")
    args = parser.parse_args(argv)
    if args.command == "count":
        return _count_command(args)
    if args.command == "peak":
        print(json.dumps(peak_row(args.name)))
        return 0
    print(report(args.run_dir, args.flops, args.gpu, args.out_dir, args.cpu), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
