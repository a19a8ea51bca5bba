#!/usr/bin/env bash
# benchmarks/gpu_check.sh — everything keras_cxr should check on a machine with an NVIDIA GPU, in one run that
# stays under 8 minutes, never stops at the first failure, and ends with one table.
#
#   bash benchmarks/gpu_check.sh                                  # on the GPU machine
#   bash benchmarks/gpu_check.sh --cpu-smoke --peer-python /tmp/timmvenv/bin/python   # this script, on a CPU
#
# Options:
#   --cpu-smoke          the same steps on the CPU (CUDA_VISIBLE_DEVICES=""), tiny sizes: batch 2, 64 px, 1 warm-up
#                        + 1 timed step, pytest on one small file (tests/layers/test_vit_layers.py); MFU is left
#                        out (—). For checking this script end to end (~14-22 min on this project's loaded 2-core CPU).
#   --budget SECONDS     the whole run's wall-clock budget (default 450 on a GPU, 1500 with --cpu-smoke).
#   --out DIR            where results go (default: $OUT when set, else benchmarks/gpu_check_out/).
#   --python PY          interpreter with keras_cxr, keras, torch, tensorflow, monai (default: python on PATH).
#   --peer-python PY     interpreter with timm + torchvision for the CNN peer (default: $PEER_PYTHON, else PY when
#                        it imports timm; timm rows are skipped when neither does).
#   --backbones "A B"    CNN backbones (default "resnet50 densenet121"; "resnet50" with --cpu-smoke).
#   --skip-tests / --skip-bench
# Exit status: 0 no step failed; 1 some step failed (the summary lists them); 2 no GPU (without --cpu-smoke).
# Steps skipped for the time budget and peers that cannot run a precision (MONAI under bf16) are listed, not failures.
#
# Preparing the environment (it installs nothing: the lent device machines are offline; do this beforehand, on a
# machine with the internet, and bring the virtualenv along). NOT tested here (no GPU in this project's CI):
#   python3 -m venv /opt/kcxr && . /opt/kcxr/bin/activate
#   pip install -e ".[tensorflow,torch,test,bench]"     # PyPI's Linux torch wheel is a CUDA build; check with
#   python -c "import torch; print(torch.version.cuda, torch.cuda.is_available())"
#   pip install "tensorflow[and-cuda]"                  # TF's own CUDA/cuDNN wheels (plain `tensorflow` needs them
#                                                       # installed system-wide); torch and TF pin different nvidia-*
#                                                       # wheels: check that both still see the GPU (step 2 does)
#   python3 -m venv /opt/timm && /opt/timm/bin/pip install timm torchvision numpy   # optional CNN peer:
#                                                       # --peer-python /opt/timm/bin/python
# The driver must support the CUDA of both wheels (nvidia-smi's "CUDA Version" is the newest it supports).
#
# Steps and time budget on a GPU (each under `timeout`; what does not fit the budget is skipped and listed):
#   1. machine: nvidia-smi (name, memory, driver, CUDA), lscpu model name             ≤ 20 s
#   2. each backend sees the GPU: torch.cuda, tf.config.list_physical_devices("GPU"), a Keras matmul placed on the
#      GPU (float32 and bf16; TensorFlow also under XLA)                               torch ≤ 60 s, tensorflow ≤ 90 s
#   3. pytest, the GPU-relevant subset, both backends side by side with -n 2 each, and the benchmarks' FLOP
#      counts on the CPU beside them                                                   ≤ 150 s (all three at once)
#   4. benchmarks at batch 64, float32 and bf16, every candidate in its own process (per child: torch ≤ 90 s,
#      tensorflow ≤ 150 s, XLA compilation included), most important first, until 30 s before the budget's end
#   5. the table (markdown) and raw JSON                                               ≤ 30 s
#   Steps 1-3 take ≤ 320 s at their limits, ~100 s as expected (estimates: never run on a GPU yet); step 4 gets
#   what is left until 420 s (≥ 100 s; ~320 s as expected: ~10-20 s per torch child, ~30-60 s per TensorFlow
#   child with XLA), step 5 the last 30 s, so the run ends within 450 s + ≤ 10 s of kill grace: under 8 minutes.
#   32 children in all at the default; the second tier (DualMAE, densenet121) is what a slow GPU leaves out.
# pytest: -n 2 (not -n 0): the subset's tests are small, two xdist workers sharing one GPU only cost each other a
# little speed, and the wall-clock budget is what binds; TF_FORCE_GPU_ALLOW_GROWTH=true so no TensorFlow process
# reserves the whole GPU's memory (TF's default), which would starve the others. tests/distributed only runs with
# ≥ 2 GPUs: torchrun's NCCL ranks need one GPU each (two ranks on one GPU fail with "Duplicate GPU detected").
#
# Output ($OUT_DIR): gpu_check_table.md, gpu_check_results.json (every run's numbers), flops.json, nvidia-smi.txt,
# lscpu.txt, steps.tsv, logs/ (every step's log), runs/ (every benchmark child's stdout, stderr, JSON).

set -u
cd "$(dirname "$0")/.." || exit 1

SMOKE=0; BUDGET=""; OUT_DIR="${OUT:-}"; PY="${PYTHON:-python}"; PEER_PY="${PEER_PYTHON:-}"
BACKBONES="resnet50 densenet121"; BACKBONES_SET=0; RUN_TESTS=1; RUN_BENCH=1
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu-smoke) SMOKE=1 ;;
    --budget) BUDGET="$2"; shift ;;
    --out) OUT_DIR="$2"; shift ;;
    --python) PY="$2"; shift ;;
    --peer-python) PEER_PY="$2"; shift ;;
    --backbones) BACKBONES="$2"; BACKBONES_SET=1; shift ;;
    --skip-tests) RUN_TESTS=0 ;;
    --skip-bench) RUN_BENCH=0 ;;
    -h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "gpu_check.sh: unknown option $1 (see --help)" >&2; exit 64 ;;
  esac
  shift
done
OUT_DIR="${OUT_DIR:-benchmarks/gpu_check_out}"
mkdir -p "$OUT_DIR/logs" "$OUT_DIR/runs" || exit 1
LOGS="$OUT_DIR/logs"; RUNS="$OUT_DIR/runs"
rm -f "$RUNS"/* "$OUT_DIR/steps.tsv" 2>/dev/null
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-1}" PYTHONUNBUFFERED=1

if [ "$SMOKE" = 1 ]; then
  BUDGET="${BUDGET:-1500}"; export CUDA_VISIBLE_DEVICES=""; WANT=cpu
  BATCH=2; WARMUP=1; STEPS=1; MAE_PX=64; UNETR_PX=64; IMG_PX=64
  TORCH_CHILD=300; TF_CHILD=300; TEST_LIMIT=300; TORCH_CHECK=120; TF_CHECK=120
  [ "$BACKBONES_SET" = 0 ] && BACKBONES="resnet50"  # densenet121 takes the same code path: left out of the smoke
else
  BUDGET="${BUDGET:-450}"; WANT=gpu
  BATCH=64; WARMUP=3; STEPS=10; MAE_PX=224; UNETR_PX=256; IMG_PX=224
  TORCH_CHILD=90; TF_CHILD=150; TEST_LIMIT=150; TORCH_CHECK=60; TF_CHECK=90
fi
T0=$SECONDS; DEADLINE=$(( T0 + BUDGET )); BENCH_END=$(( DEADLINE - 30 ))
FAILED=(); SKIPPED=(); NOTES=(); PASSED=0

elapsed() { echo "$(( SECONDS - T0 ))s"; }
record() {  # NAME STATUS DETAIL: STATUS ok | failed | skipped | note (listed, not counted as a failure)
  printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$OUT_DIR/steps.tsv"
  case "$2" in
    ok) PASSED=$(( PASSED + 1 )) ;;
    skipped) SKIPPED+=("$1: $3") ;;
    note) NOTES+=("$1: $3") ;;
    *) FAILED+=("$1: $3") ;;
  esac
}
limit_for() {  # WANTED [END]: min(WANTED, seconds left before END (default the deadline))
  local left=$(( ${2:-$DEADLINE} - SECONDS ))
  [ "$left" -lt "$1" ] && echo "$left" || echo "$1"
}
step() {  # NAME LIMIT COMMAND...: runs under timeout, output to the terminal and logs/NAME.log
  local name="$1" limit; limit=$(limit_for "$2"); shift 2
  if [ "$limit" -lt 5 ]; then record "$name" skipped "time budget spent"; return 1; fi
  echo; echo "=== [$(elapsed)] $name (timeout ${limit}s)"
  timeout -k 10 "$limit" "$@" 2>&1 | tee "$LOGS/$name.log"
  local rc=${PIPESTATUS[0]}
  case "$rc" in
    0) record "$name" ok "" ;;
    124|137) record "$name" failed "timeout after ${limit}s" ;;
    *) record "$name" failed "exit $rc" ;;
  esac
  return "$rc"
}

# ---- 1. the machine ----------------------------------------------------------------------------------------
echo "gpu_check.sh: mode $([ "$SMOKE" = 1 ] && echo "cpu-smoke" || echo gpu), budget ${BUDGET}s, output $OUT_DIR"
GPU_NAME=""; N_GPUS=0
if command -v nvidia-smi >/dev/null 2>&1; then
  timeout 20 nvidia-smi > "$OUT_DIR/nvidia-smi.txt" 2>&1
  timeout 20 nvidia-smi --query-gpu=index,name,memory.total,driver_version,compute_cap --format=csv \
    >> "$OUT_DIR/nvidia-smi.txt" 2>&1
  GPU_NAME=$(timeout 20 nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1)
  N_GPUS=$(timeout 20 nvidia-smi -L 2>/dev/null | grep -c '^GPU ')
  CUDA_LINE=$(grep -o 'CUDA Version: *[0-9.]*' "$OUT_DIR/nvidia-smi.txt" | head -n 1)
  echo "nvidia-smi: $N_GPUS GPU(s); ${CUDA_LINE:-CUDA version not printed}"
  grep -A 20 '^index, name' "$OUT_DIR/nvidia-smi.txt"
else
  echo "nvidia-smi: not found" | tee "$OUT_DIR/nvidia-smi.txt"
fi
CPU_NAME=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)
lscpu > "$OUT_DIR/lscpu.txt" 2>&1
echo "CPU: ${CPU_NAME:-unknown} ($(nproc) cores)"
if [ "$SMOKE" = 0 ] && [ "$N_GPUS" -lt 1 ]; then
  echo "gpu_check.sh: no NVIDIA GPU visible (nvidia-smi $(command -v nvidia-smi >/dev/null && echo 'lists none' \
    || echo 'is missing')). This script is for a GPU machine; run with --cpu-smoke to check it on a CPU." >&2
  exit 2
fi
[ "$SMOKE" = 1 ] && GPU_NAME=""
MISSING=$("$PY" -c "import importlib.util as u
print(' '.join(m for m in ('keras', 'keras_cxr', 'torch', 'tensorflow', 'monai', 'pytest', 'xdist') if not u.find_spec(m)))" 2>&1)
if [ -n "$MISSING" ]; then
  echo "gpu_check.sh: '$PY' lacks: $MISSING — prepare the environment first (see the header); going on." >&2
  record environment failed "$PY lacks $MISSING"
fi
record machine ok ""

# ---- 2. each backend sees the GPU ------------------------------------------------------------------------------
for backend in torch tensorflow; do  # benchmarks/_device_check.py: builds, GPUs listed, a Keras matmul on the GPU
  limit=$TORCH_CHECK; [ "$backend" = tensorflow ] && limit=$TF_CHECK
  step "check_$backend" "$limit" env KERAS_BACKEND=$backend "$PY" benchmarks/_device_check.py --want "$WANT"
done

# ---- 3. pytest on both backends (and the FLOP counts) -------------------------------------------------------
if [ "$SMOKE" = 1 ]; then
  TESTS=(tests/layers/test_vit_layers.py); TEST_WORKERS=0  # one small file (test_jit.py compiles: minutes on a CPU)
else
  TESTS=(tests/models/test_jit.py tests/recipes/test_dtype_policy.py tests/optimizers tests/layers/test_vit_layers.py
         tests/models/test_mae.py tests/models/test_unetr.py tests/models/test_sharp_unet.py tests/models/test_vit.py
         tests/losses tests/benchmarks/test_flops.py)
  TEST_WORKERS=2
  if [ "$N_GPUS" -ge 2 ]; then TESTS+=(tests/distributed); else
    record tests/distributed note "not run: one GPU (torchrun's NCCL ranks need a GPU each)"; fi
fi
FLOPS_JSON="$OUT_DIR/flops.json"
SMOKE_FLAG=(); [ "$SMOKE" = 1 ] && SMOKE_FLAG=(--smoke)
limit=$(limit_for "$TEST_LIMIT")
echo; echo "=== [$(elapsed)] pytest (torch, tensorflow) and FLOP counts, side by side (timeout ${limit}s)"
pids=(); names=()
if [ "$RUN_TESTS" = 1 ]; then
  for backend in torch tensorflow; do
    KERAS_BACKEND=$backend TF_FORCE_GPU_ALLOW_GROWTH=true timeout -k 10 "$limit" "$PY" -m pytest -p no:cacheprovider \
      -q -rfE -m "not slow" -n "$TEST_WORKERS" --durations=5 --junitxml="$OUT_DIR/pytest_$backend.xml" "${TESTS[@]}" \
      > "$LOGS/pytest_$backend.log" 2>&1 < /dev/null &
    pids+=($!); names+=("pytest_$backend")
  done
else
  record pytest skipped "--skip-tests"
fi
# FLOPs on the CPU (no GPU memory taken, no GPU time), whatever the mode; the table needs them.
CUDA_VISIBLE_DEVICES="" KERAS_BACKEND=tensorflow timeout -k 10 "$limit" "$PY" benchmarks/_flops.py count \
  --out "$FLOPS_JSON" "${SMOKE_FLAG[@]}" > "$LOGS/flops.log" 2>&1 < /dev/null &
pids+=($!); names+=("flops")
for i in "${!pids[@]}"; do
  wait "${pids[$i]}"; rc=$?
  name="${names[$i]}"
  echo "--- $name (exit $rc): $(grep -E '(passed|failed|error|skipped)( |,|$)' "$LOGS/$name.log" | tail -n 1)"
  [ "$name" = flops ] && grep -E 'GFLOP|failed' "$LOGS/$name.log"
  [ "$name" != flops ] && [ "$rc" -ne 0 ] && grep -E '^(FAILED|ERROR) ' "$LOGS/$name.log" | head -n 20
  case "$rc" in
    0) record "$name" ok "" ;;
    124|137) record "$name" failed "timeout after ${limit}s" ;;
    *) record "$name" failed "exit $rc (see logs/$name.log)" ;;
  esac
done

# ---- 4. benchmarks ------------------------------------------------------------------------------------------
if [ -z "$PEER_PY" ] && "$PY" -c "import timm" >/dev/null 2>&1; then PEER_PY="$PY"; fi
TIMM_OK=0
if [ -n "$PEER_PY" ] && "$PEER_PY" -c "import timm, torch" >/dev/null 2>&1; then TIMM_OK=1; fi
printf 'id\tgroup\tbenchmark\tcandidate\tflops_key\trole\tbackend\tprecision\tbatch\timage_size\trc\twall_s\n' \
  > "$RUNS/runs.tsv"
N=0
bench() {  # GROUP BENCHMARK CANDIDATE FLOPS_KEY ROLE BACKEND PRECISION SIZE -- COMMAND...
  local group="$1" benchmark="$2" candidate="$3" key="$4" role="$5" backend="$6" precision="$7" size="$8"
  shift 9
  N=$(( N + 1 ))
  local id; id=$(printf '%02d_%s_%s_%s_%s' "$N" "$benchmark" "${candidate//[^A-Za-z0-9]/_}" "$backend" "$precision")
  local wanted=$TORCH_CHILD; [ "$backend" = tensorflow ] && wanted=$TF_CHILD
  local limit; limit=$(limit_for "$wanted" "$BENCH_END")
  local rc=200 start=$SECONDS label="$benchmark $candidate $backend $precision"
  if [ "$RUN_BENCH" = 0 ]; then
    rc=201; record "bench $label" skipped "--skip-bench"
  elif [ "$limit" -lt 20 ]; then
    record "bench $label" skipped "time budget spent"
  else
    local command=() arg
    for arg in "$@"; do command+=("${arg//@ID@/$id}"); done  # @ID@: this run's file stem (sharp_unet --json)
    KERAS_BACKEND=$([ "$role" = peer ] && echo torch || echo "$backend") timeout -k 5 "$limit" "${command[@]}" \
      > "$RUNS/$id.out" 2> "$RUNS/$id.err" < /dev/null
    rc=$?
    local wall=$(( SECONDS - start )) result
    result=$(grep -h '"images_per_s"' "$RUNS/$id.out" "$RUNS/$id.json" 2>/dev/null | grep -o '"images_per_s": *[0-9.e+-]*' | tail -n 1)
    local error; error=$(grep -h '^{"error"' "$RUNS/$id.out" 2>/dev/null | tail -n 1)
    [ -z "$error" ] && [ -f "$RUNS/$id.json" ] && error=$(grep -o '"error": "[^"]*"' "$RUNS/$id.json" | head -n 1)
    if [ -n "$result" ] && [ "$rc" = 0 ]; then
      record "bench $label" ok ""
      printf '  [%s] %s: %.2f images/s (%ss)\n' "$(elapsed)" "$label" "${result#*: }" "$wall"
    else
      local why="exit $rc"; [ "$rc" = 124 ] || [ "$rc" = 137 ] && why="timeout after ${limit}s"
      [ -n "$error" ] && why="$why: ${error:0:150}"
      [ -z "$error" ] && why="$why: $(grep -v '^\s*$' "$RUNS/$id.err" 2>/dev/null | tail -n 1 | cut -c 1-150)"
      # a peer that cannot run a precision (MONAI under bf16 autocast) is a result, not a failure of keras_cxr
      if [ "$role" = peer ]; then record "bench $label" note "peer did not run: $why"
        echo "  [$(elapsed)] $label: peer did not run ($why)"
      else record "bench $label" failed "$why"; echo "  [$(elapsed)] $label: FAILED ($why)"; fi
    fi
  fi
  # rc 200: not started (time budget), 201: --skip-bench
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "$group" "$benchmark" "$candidate" "$key" "$role" \
    "$backend" "$precision" "$BATCH" "$size" "$rc" "$(( SECONDS - start ))" >> "$RUNS/runs.tsv"
}
COMMON=(--batch-size "$BATCH" --steps "$STEPS" --warmup "$WARMUP")
mae() {  # CANDIDATE BACKEND PRECISION
  local role=keras key="mae_pretrain:$1@$MAE_PX"; [ "$1" = MONAI ] && role=peer key="mae_pretrain:MAE@$MAE_PX"
  bench mae mae_pretrain "$1" "$key" "$role" "$2" "$3" "$MAE_PX" -- "$PY" benchmarks/mae_pretrain.py --only "$1" \
    --precisions "$3" --image-size "$MAE_PX" "${COMMON[@]}"
}
unetr() {
  local role=keras; [ "$1" = MONAI ] && role=peer
  bench unetr unetr "$1" "unetr:UNETR@$UNETR_PX" "$role" "$2" "$3" "$UNETR_PX" -- "$PY" benchmarks/unetr.py \
    --only "$1" --precisions "$3" --image-size "$UNETR_PX" "${COMMON[@]}"
}
sharp() {  # BACKEND PRECISION
  local policy=$2; [ "$2" = bfloat16 ] && policy=mixed_bfloat16
  bench sharp sharp_unet vgg16_sharp_unet "sharp_unet:vgg16_sharp_unet@$IMG_PX" keras "$1" "$2" "$IMG_PX" -- \
    "$PY" benchmarks/sharp_unet.py --policies "$policy" --image-size "$IMG_PX" "${COMMON[@]}" --json "$RUNS/@ID@.json"
}
cnn() {  # BACKBONE keras|timm BACKEND PRECISION
  local role=keras python="$PY" candidate="$1"; [ "$2" = timm ] && role=peer python="$PEER_PY" candidate="timm $1"
  if [ "$2" = timm ] && [ "$TIMM_OK" = 0 ]; then
    record "bench cnn_backbones timm:$1 $4" note "timm not importable (--peer-python)"; return
  fi
  bench "cnn:$1" cnn_backbones "$candidate" "cnn_backbones:$1@$IMG_PX" "$role" "$3" "$4" "$IMG_PX" -- \
    "$python" benchmarks/cnn_backbones.py --only "$2:$1" --precisions "$4" --image-size "$IMG_PX" "${COMMON[@]}"
}

echo; echo "=== [$(elapsed)] benchmarks: batch $BATCH, $WARMUP warm-up + $STEPS timed steps, until $(( BENCH_END - T0 ))s" \
  "(timm: $([ "$TIMM_OK" = 1 ] && echo "$PEER_PY" || echo 'not importable, rows skipped'))"
FIRST_BACKBONE="${BACKBONES%% *}"
for p in float32 bfloat16; do mae MAE torch $p; mae MONAI torch $p; done
for p in float32 bfloat16; do mae MAE tensorflow $p; done
for p in float32 bfloat16; do unetr UNETR torch $p; unetr MONAI torch $p; done
for p in float32 bfloat16; do unetr UNETR tensorflow $p; done
for p in float32 bfloat16; do cnn "$FIRST_BACKBONE" keras torch $p; cnn "$FIRST_BACKBONE" timm torch $p; done
for p in float32 bfloat16; do cnn "$FIRST_BACKBONE" keras tensorflow $p; done
for b in torch tensorflow; do for p in float32 bfloat16; do sharp $b $p; done; done
# second tier: what fits after the above
for b in torch tensorflow; do for p in float32 bfloat16; do mae DualMAE $b $p; done; done
for backbone in ${BACKBONES#"$FIRST_BACKBONE"}; do
  for p in float32 bfloat16; do cnn "$backbone" keras torch $p; cnn "$backbone" timm torch $p; done
  for p in float32 bfloat16; do cnn "$backbone" keras tensorflow $p; done
done

# ---- 5. the table ---------------------------------------------------------------------------------------------
CPU_FLAG=(); [ "$SMOKE" = 1 ] && CPU_FLAG=(--cpu)
echo; echo "=== [$(elapsed)] results"
if timeout 30 "$PY" benchmarks/_flops.py report "$RUNS" --flops "$FLOPS_JSON" --gpu "${GPU_NAME:-$CPU_NAME}" \
     --out-dir "$OUT_DIR" "${CPU_FLAG[@]}" > "$LOGS/report.log" 2>&1; then
  cat "$OUT_DIR/gpu_check_table.md"
  record report ok ""
else
  cat "$LOGS/report.log"; record report failed "see logs/report.log"
fi

echo; echo "=== summary after $(elapsed) (budget ${BUDGET}s): $PASSED steps passed, ${#FAILED[@]} failed," \
  "${#SKIPPED[@]} skipped, ${#NOTES[@]} notes; results in $OUT_DIR"
[ "${#FAILED[@]}" -gt 0 ] && { echo "FAILED:"; printf '  - %s\n' "${FAILED[@]}"; }
[ "${#SKIPPED[@]}" -gt 0 ] && { echo "skipped:"; printf '  - %s\n' "${SKIPPED[@]}"; }
[ "${#NOTES[@]}" -gt 0 ] && { echo "notes (not failures):"; printf '  - %s\n' "${NOTES[@]}"; }
[ "${#FAILED[@]}" -eq 0 ]
