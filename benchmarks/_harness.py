"""Shared plumbing of the side-by-side benchmarks: time a training step, each candidate in its own process.

A candidate runs alone in a fresh interpreter: with TensorFlow loaded, its thread pools starve PyTorch's in
the same process (MONAI ran ~30x slower beside the TensorFlow backend), which would flatter keras_cxr.
A benchmark script calls `time_in_subprocess(__file__, name, precision, options)` in its parent run and
`print_result(fn)` in its `--only NAME` child run.
"""

import json
import os
import platform
import subprocess
import sys
import time


def images_per_second(step, batch_size, steps, warmup):
    """Calls `step()` `warmup` times untimed, then `steps` times; returns images/s. With the environment
    variable `BENCH_PROFILE` set to a path (the parent's `--profile`), the timed steps run under
    `torch.profiler` and the self CPU milliseconds per step of every op are written there as JSON (the rate
    then includes the profiler's overhead)."""
    for _ in range(warmup):
        step()
    path = os.environ.get("BENCH_PROFILE")
    profiler = None
    if path:
        import torch

        profiler = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])
        profiler.__enter__()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    elapsed = time.perf_counter() - start
    if profiler is not None:
        profiler.__exit__(None, None, None)
        ops = {event.key: event.self_cpu_time_total / steps / 1000 for event in profiler.key_averages()}
        with open(path, "w") as f:
            json.dump({"step_ms": 1000 * elapsed / steps, "ops": ops}, f)
    return steps * batch_size / elapsed


# Op families of a training step, for comparing two profiles whose op names differ (Keras' vs timm's / MONAI's).
OP_FAMILIES = (
    ("convolution / pooling", ("conv", "mkldnn_convolution", "slow_conv", "pool")),
    ("normalization", ("batch_norm", "group_norm", "layer_norm", "instance_norm")),
    ("matmul / attention", ("mm", "bmm", "addmm", "linear", "matmul", "scaled_dot_product", "baddbmm", "einsum")),
    ("copy / layout", ("copy_", "contiguous", "clone", "to_copy", "_to_copy", "cat", "stack")),
    ("optimizer", ("foreach", "fused_adam", "fused_sgd", "lerp", "addcdiv", "addcmul")),
    ("reduction", ("sum", "mean", "var", "std", "max", "min", "amax", "norm")),
    ("activation", ("relu", "gelu", "silu", "sigmoid", "tanh", "softmax", "clamp", "hardtanh", "threshold")),
    ("elementwise", ("add", "sub", "mul", "div", "sqrt", "rsqrt", "pow", "exp", "log", "neg", "where", "fill_",
                     "zero_", "ones", "zeros", "empty")),
)


def op_family(name):
    """The family (`OP_FAMILIES`) of an aten op name, "other" when none matches."""
    bare = name.split("::")[-1].lower()
    for family, keys in OP_FAMILIES:
        if any(key in bare for key in keys):
            return family
    return "other"


def print_profiles(profiles, top=15):
    """Prints profiles {label: {"step_ms", "ops": {op: self ms per step}}} side by side: the total per op family
    (`op_family`) and the `top` ops by their largest time in any profile, in milliseconds per training step."""
    labels = list(profiles)
    width = max(12, *(len(label) for label in labels))
    header = "".join(f"{label:>{width + 2}}" for label in labels)
    print("\nprofile, self CPU ms per training step (torch.profiler; step time under the profiler first)")
    print(f"{'':<28}{header}")
    print(f"{'step':<28}" + "".join(f"{profiles[label]['step_ms']:>{width + 2}.0f}" for label in labels))
    families = [family for family, _ in OP_FAMILIES] + ["other"]
    for family in families:
        totals = [sum(ms for op, ms in profiles[label]["ops"].items() if op_family(op) == family) for label in labels]
        print(f"  {family:<26}" + "".join(f"{t:>{width + 2}.0f}" for t in totals))
    ops = {op for label in labels for op in profiles[label]["ops"]}
    ranked = sorted(ops, key=lambda op: -max(profiles[label]["ops"].get(op, 0.0) for label in labels))[:top]
    print(f"top {top} ops:")
    for op in ranked:
        print(f"  {op[:26]:<26}" + "".join(f"{profiles[label]['ops'].get(op, 0.0):>{width + 2}.0f}" for label in labels))


def time_in_subprocess(script, name, precision, options, python=None, env=None):
    """Images/s of candidate `name` at `precision`, from `python script --only name --precisions precision
    *options` in a fresh interpreter (default this one; `python` = another venv's, e.g. one with timm) with
    extra environment `env`, read from its last JSON line. Raises RuntimeError with the child's error."""
    command = [python or sys.executable, os.path.abspath(script), "--only", name, "--precisions", precision,
               *map(str, options)]
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **(env or {})})
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode or not lines:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(last[:160])
    outcome = json.loads(lines[-1])
    if "error" in outcome:
        raise RuntimeError(outcome["error"])
    return outcome["images_per_s"]


def devices_in_use():
    """Where this process computed: "torch cuda:0 NVIDIA H200" once torch has initialized CUDA, "tensorflow
    /device:GPU:0" when TensorFlow sees a GPU (it places ops there by default), else "cpu"."""
    found = []
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        found.append(f"torch cuda:{torch.cuda.current_device()} {torch.cuda.get_device_name()}")
    tf = sys.modules.get("tensorflow")
    if tf is not None and hasattr(tf, "config"):
        gpus = tf.config.list_physical_devices("GPU")  # listing only: initializing would reserve GPU memory
        if gpus:
            found.append(f"tensorflow {gpus[0].name}")
    return ", ".join(found) or "cpu"


def print_result(measure):
    """The child's side: prints {"images_per_s": measure(), "device": devices_in_use()} or {"error": ...} as
    one JSON line (a peer failing, e.g. under bf16 autocast, is a result too)."""
    try:
        rate = measure()
        print(json.dumps({"images_per_s": rate, "device": devices_in_use()}))
    except Exception as error:  # noqa: BLE001
        print(json.dumps({"error": f"{type(error).__name__}: {str(error).splitlines()[0][:120] if str(error) else ''}"}))


def print_ratios(rows, reference_key, label):
    """Prints each row's ratio to rows[reference_key] (skips when the reference failed)."""
    reference = rows.get(reference_key)
    if not reference:
        print(f"\nno ratios: the reference {reference_key} did not run")
        return
    print(f"\nratios to {label} ({reference:.2f} images/s):")
    for key, rate in rows.items():
        if key != reference_key:
            print(f"  {' '.join(map(str, key)):<40} {rate / reference:5.2f}x")


def machine_lines(peer_python=None, peer_modules=("torch", "timm", "monai")):
    """Lines naming the machine and the libraries a table came from, so tables from different machines are
    never compared by mistake: CPU model, cores, the bf16 units oneDNN uses (AMX, AVX-512 bf16), GPU (nvidia-smi),
    keras / backend / keras_cxr versions, and the peer interpreter's versions of `peer_modules`."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model in ("", platform.machine(), platform.processor()):
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    units = [name for name, flag in (("AMX-bf16", "amx_bf16"), ("AVX-512 bf16", "avx512_bf16"),
                                     ("AVX-512", "avx512f"), ("AVX2", "avx2")) if flag in flags]
    try:
        gpu = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=20).stdout.strip().replace("\n", ", ") or "none"
    except (OSError, subprocess.SubprocessError):
        gpu = "none"
    lines = [f"machine: {model}, {os.cpu_count()} CPUs, units: {', '.join(units) or 'none of AMX / AVX-512 / AVX2'}; "
             f"GPU: {gpu}"]
    ours = [f"python {platform.python_version()}"]
    for name in ("keras", "torch", "tensorflow", "keras_cxr"):
        module = sys.modules.get(name)
        if module is not None:
            ours.append(f"{name} {getattr(module, '__version__', '?')}")
    lines.append("keras_cxr side: " + ", ".join(ours))
    if peer_python:
        code = ("import importlib\nfor n in %r:\n    try: print(n, importlib.import_module(n).__version__)\n"
                "    except Exception as e: print(n, 'missing')" % (tuple(peer_modules),))
        try:
            found = subprocess.run([peer_python, "-c", code], capture_output=True, text=True, timeout=300,
                                   env={**os.environ, "KERAS_BACKEND": "torch"}).stdout.split("\n")
            lines.append(f"peer side ({peer_python}): " + ", ".join(line for line in found if line))
        except (OSError, subprocess.SubprocessError) as error:
            lines.append(f"peer side ({peer_python}): could not run ({error})")
    return lines


def profile_env(folder, label):
    """The environment of a candidate's child run: {"BENCH_PROFILE": folder/label.json} with `--profile folder`,
    else {} (no profiler)."""
    if not folder:
        return {}
    os.makedirs(folder, exist_ok=True)
    return {"BENCH_PROFILE": os.path.join(os.path.abspath(folder), f"{label.replace(' ', '_')}.json")}


def print_saved_profiles(folder, labels, top=15):
    """`print_profiles` of the candidates `labels` whose child runs wrote a profile into `folder`."""
    found = {}
    for label in labels:
        path = profile_env(folder, label).get("BENCH_PROFILE")
        if path and os.path.exists(path):
            with open(path) as f:
                found[label] = json.load(f)
    if found:
        print_profiles(found, top)
