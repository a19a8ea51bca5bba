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
    """Calls `step()` `warmup` times untimed, then `steps` times; returns images/s."""
    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * batch_size / (time.perf_counter() - start)


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
