"""The recipe skeleton: the settings every recipe has, one run wrapper, one resume convention.

A recipe module (one per paper) holds only its paper's steps, in the paper's order:

    @dataclasses.dataclass
    class Config(RecipeConfig):           # + the paper's defaults, each with its source
        ...
    def load_data(config) -> splits of DatasetIndexes
    def pretrain / finetune / evaluate ...  # stages: stage(config, "name", compute, kind) resumes them
    def report(config, metrics) -> str     # report.md
    def run(config=None): return run_recipe(config or Config(), _steps, report)

`run_recipe` creates the output folder, fixes the seeds, runs under the dtype policy, writes the resolved
`config.json` (with backend and versions), then `metrics.json` and `report.md`; figures go to
`output_dir/figures`. Resume: every stage's result is a file (`models/<name>.keras`, `results/<name>.npz`
or `.json`) written atomically when the stage ends; rerunning with the same `output_dir` loads it instead
of recomputing, and a training stage interrupted mid-way restarts from its last finished epoch
(`backup_and_restore`). facebookresearch/mae's thin `main_pretrain.py` over `engine_pretrain.py` is the model.
"""

import contextlib
import dataclasses
import hashlib
import json
import os
import platform
import shutil
import tempfile

import keras
import numpy as np

from keras_cxr import distributed
from keras_cxr.data import DatasetIndex, cache_root, make_dataset, patient_split_indices
from keras_cxr.models.model_card import load_model, save_model
from keras_cxr.recipes._dtype_policy import dtype_policy_scope


@dataclasses.dataclass
class RecipeConfig:
    """Settings shared by every recipe (a recipe's `Config` subclasses this and adds its paper's defaults)."""

    output_dir: str = "runs/recipe"
    seed: int = 0
    verbose: int = 1  # Keras progress bars (1), one line per epoch (2), silent (0)
    max_images: int | None = None  # cap on images read per real dataset (quick runs on large folders)
    jit_compile: str = "auto"  # XLA on TensorFlow (faster on CPU too), see keras_cxr.models.resolve_jit_compile
    # "auto": the device's fast policy (resolve_dtype_policy: mixed_bfloat16 on Ampere+ GPUs and AMX /
    # AVX-512-bf16 CPUs, mixed_float16 with loss scaling on T4 / P100 / V100, else float32); config.json
    # records what it resolved to. Or "float32", "mixed_bfloat16", "mixed_float16".
    dtype_policy: str = "auto"
    resume: bool = True  # reuse the stages an interrupted run with the same output_dir finished
    cache_dir: str | None = None  # uint8 cache of decoded, resized images (and the phantom); None: ~/.cache/keras_cxr
    image_cache: bool = False  # decode each dataset once into the uint8 cache (fast epochs on large folders)
    num_workers: int | None = None  # decoding threads (default: the number of CPUs)
    distributed: str = "auto"  # data-parallel: "auto" (torchrun / TF_CONFIG / several local GPUs on TF), "false"
    # External test sets, NAME=PATH (repeatable; a bare PATH is named after its folder; one NAME given twice
    # pools both folders): every recipe reports each beside its own test split (`named_test_sets`).
    test_dir: tuple = ()
    # Feature probes of every pretraining stage (not in the papers; lightly / solo-learn practice): every
    # `probe_every` epochs (and on the initial weights) a kNN (k = 20) and a linear probe on the frozen encoder's
    # pooled features, 5-fold cross-validated (grouped by patient) on up to `probe_images` labelled training
    # images; their AUC goes into the stage's history and learning curves. probe_images = 0 turns them off.
    probe_every: int = 1
    probe_images: int = 1000
    # Evaluation protocols beside fine-tuning (`keras_cxr.recipes.protocols`; not in papers 001-003):
    # linear probing of each frozen pretrained encoder, with facebookresearch/mae main_linprobe.py's settings
    # (SGD momentum 0.9, no weight decay, lr = blr x batch / 256, warm-up + cosine) ...
    linear_probe: bool = False
    linprobe_blr: float = 0.1  # mae main_linprobe.py --blr
    linprobe_epochs: int = 90  # mae main_linprobe.py --epochs
    linprobe_warmup_epochs: int = 10  # mae main_linprobe.py --warmup_epochs
    # ... and a label-efficiency sweep: the pretrained model and its from-scratch twin fine-tuned on these
    # nested, patient-level fractions of the training labels (e.g. 0.1 0.5 1.0; 1.0 is the main run), drawn as
    # metric vs labelled images. () = off (each fraction is another round of fine-tuning).
    label_fractions: tuple = ()


def write_json(value, path):
    """Writes `value` as indented JSON atomically (numpy scalars and arrays converted)."""
    def default(item):
        if isinstance(item, np.generic):
            return item.item()
        if isinstance(item, np.ndarray):
            return item.tolist()
        return str(item)

    partial = f"{path}.partial"
    with open(partial, "w") as f:
        json.dump(value, f, indent=2, default=default)
    os.replace(partial, path)


def environment():
    """Backend, versions and platform, for config.json."""
    backend = keras.backend.backend()
    found = {"keras_backend": backend, "keras": keras.__version__, "numpy": np.__version__,
             "python": platform.python_version(), "platform": platform.platform()}
    try:
        found[backend] = __import__(backend).__version__
    except ImportError:
        pass
    found["dtype_policy"] = keras.config.dtype_policy().name
    return found


def write_config(config, path):
    """Writes the resolved Config as JSON with the environment (backend, versions) under `_environment`;
    `dtype_policy_resolved` is the policy the run trains under (what "auto" chose on this device)."""
    resolved = dataclasses.asdict(config)
    resolved["_environment"] = environment()
    resolved["dtype_policy_resolved"] = resolved["_environment"]["dtype_policy"]
    write_json(resolved, path)


def run_recipe(config, steps, report=None):
    """Runs `steps(config) -> metrics` as a recipe run; returns the metrics.

    Creates `output_dir/{models,results,figures}`, sets the Keras dtype policy for the run (restoring the
    caller's afterwards), seeds Python / NumPy / the backend with `config.seed`, writes `config.json`, then
    `metrics.json` and, with `report(config, metrics) -> markdown`, `report.md`.
    """
    found = distributed.initialize(config.distributed)
    chief_dir = config.output_dir
    if not found.is_chief:  # only rank 0 writes the output folder; the others write to a scratch folder
        config = dataclasses.replace(config, output_dir=tempfile.mkdtemp(prefix=f"keras_cxr_rank{found.rank}_"))
    config._chief_output_dir = chief_dir
    if found.enabled:
        # Every process must take the same resume decisions (under MultiWorkerMirroredStrategy even creating
        # a variable is a collective), so they all resume from what rank 0's folder held when the run began.
        config._saved_at_start = {os.path.join(root, name) for root, _, names in os.walk(chief_dir) for name in names}
        distributed.barrier()
    for sub in ("models", "results", "figures"):
        os.makedirs(os.path.join(config.output_dir, sub), exist_ok=True)
    scope = found.strategy.scope() if found.strategy is not None else contextlib.nullcontext()
    try:
        with dtype_policy_scope(config.dtype_policy), scope:
            keras.utils.set_random_seed(config.seed)
            write_config(config, os.path.join(config.output_dir, "config.json"))
            metrics = steps(config)
            write_json(metrics, os.path.join(config.output_dir, "metrics.json"))
            if report is not None:
                text = report(config, metrics)
                partial = os.path.join(config.output_dir, "report.md.partial")
                with open(partial, "w") as f:
                    f.write(text)
                os.replace(partial, os.path.join(config.output_dir, "report.md"))
    finally:
        if not found.is_chief:
            shutil.rmtree(config.output_dir, ignore_errors=True)
    return metrics


_KINDS = {"keras": ("models", ".keras"), "npz": ("results", ".npz"), "json": ("results", ".json")}


def stage_path(config, name, kind="keras"):
    """Where stage `name` keeps its result: `models/<name>.keras` or `results/<name>.{npz,json}`."""
    folder, suffix = _KINDS[kind]
    return os.path.join(config.output_dir, folder, f"{name}{suffix}")


def stage(config, name, compute, kind="keras"):
    """The result of stage `name`: loaded when an earlier run saved it (and `config.resume`), else computed
    with `compute()`, saved atomically, and returned.

    Kinds: "keras" (a `keras.Model`, reloaded with `keras.saving.load_model`), "npz" (a dict of arrays),
    "json" (anything JSON holds). A `.keras` result is written under a temporary name and renamed, so a
    run killed while saving never leaves a half-written model that the next run would trust.

    Example:
    >>> import tempfile
    >>> config = RecipeConfig(output_dir=tempfile.mkdtemp())
    >>> stage(config, "answer", lambda: {"value": 42}, kind="json")
    {'value': 42}
    >>> stage(config, "answer", lambda: {"value": 0}, kind="json")  # saved: not recomputed
    {'value': 42}
    """
    path = stage_path(config, name, kind)  # where this process writes (a scratch folder on ranks other than 0)
    saved = os.path.join(_shared_dir(config), os.path.relpath(path, config.output_dir))  # what every process reads
    saved_at_start = getattr(config, "_saved_at_start", None)
    if config.resume and (os.path.exists(saved) if saved_at_start is None else saved in saved_at_start):
        path = saved
        if kind == "keras":
            return load_model(path)
        if kind == "npz":
            with np.load(path, allow_pickle=False) as saved:
                return {key: saved[key] for key in saved.files}
        with open(path) as f:
            return json.load(f)
    value = compute()
    # Ranks other than 0 save too, into their scratch folder: under MultiWorkerMirroredStrategy, saving
    # reads synchronized variables, a collective that every worker must join.
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if kind == "keras":
        save_model(value, path)  # atomic, with its ModelCard when it carries one
        return value
    if kind == "npz":
        partial = path[: -len(".npz")] + ".partial.npz"
        np.savez(partial, **value)
    else:
        partial = path + ".partial"
        with open(partial, "w") as f:
            json.dump(value, f, indent=2)
    os.replace(partial, path)
    return value


def backup_and_restore(config, name):
    """`BackupAndRestore` for training stage `name` (`output_dir/backup/<name>`): a killed `fit` restarts
    from its last finished epoch; the backup is deleted when `fit` completes. In a data-parallel run every
    rank restores from rank 0's folder and only rank 0 writes it (`keras_cxr.distributed.ChiefBackupAndRestore`)."""
    return distributed.ChiefBackupAndRestore(os.path.join(_shared_dir(config), "backup", name), save_freq="epoch",
                                             delete_checkpoint=True)


def _shared_dir(config):
    """The output folder every process reads: rank 0's (`run_recipe` gives the other ranks a scratch
    `output_dir` to write to)."""
    return getattr(config, "_chief_output_dir", config.output_dir)


def stream(config, index, image_size, **options):
    """`make_dataset(index, ...)` with the run's workers and, when `config.image_cache`, a reusable uint8
    on-disk cache keyed by the file list and load size (under `cache_root(config.cache_dir)/images`)."""
    options.setdefault("num_workers", config.num_workers)
    if config.image_cache and not isinstance(index, np.ndarray):
        load = options.get("load_size") or getattr(options.get("augment"), "input_size", None) or image_size
        paths = [os.fspath(p) for p in index.paths]
        key = hashlib.sha1("\n".join(paths).encode()).hexdigest()[:16]
        options.update(cache=os.path.join(cache_root(config.cache_dir), "images", f"{key}_{int(load)}px"),
                       cache_dtype="uint8", progress=bool(config.verbose))
    return make_dataset(index, image_size=image_size, **options)


def named_test_dirs(config):
    """{name: [paths]} from `config.test_dir`'s NAME=PATH entries (a bare PATH is named after its folder).

    Example:
    >>> named_test_dirs(RecipeConfig(test_dir=(".", "here=.", "here=.")))
    {'.': ['.'], 'here': ['.', '.']}
    """
    named = {}
    for entry in (config.test_dir,) if isinstance(config.test_dir, str) else tuple(config.test_dir or ()):
        name, _, path = entry.partition("=") if "=" in entry else (os.path.basename(os.path.normpath(entry)), "", entry)
        if not os.path.exists(path):
            raise FileNotFoundError(f"--test-dir {entry!r}: {path!r} does not exist. Pass NAME=PATH with an existing "
                                    "dataset folder (e.g. --test-dir pediatric=/data/pediatric_cxr).")
        named.setdefault(name.strip(), []).append(path)
    return named


def named_test_sets(config, read):
    """{name: DatasetIndex} of the external test sets: each folder of `named_test_dirs(config)` read with
    `read(path) -> DatasetIndex` (the recipe's own label reading), capped by `max_images`, pooled per name."""
    found = {}
    for name, paths in named_test_dirs(config).items():
        parts = [limit(read(path), config) for path in paths]
        found[name] = parts[0] if len(parts) == 1 else DatasetIndex.concat(parts)
    return found


def limit(index, config):
    """At most `config.max_images` rows of `index`, drawn with the run's seed (kept in file order)."""
    if config.max_images is None or len(index) <= config.max_images:
        return index
    rows = np.random.default_rng(config.seed).permutation(len(index))[: config.max_images]
    return index.subset(np.sort(rows))


def split_index(index, fractions, seed, names=("train", "val", "test"), stratify=True):
    """Patient-level split of a `DatasetIndex` → {name: DatasetIndex} (stratified by its labels)."""
    labels = np.nan_to_num(index.labels) if stratify and index.class_names else None
    parts = patient_split_indices(len(index), fractions, groups=index.frame["patient_id"].to_numpy(),
                                  stratify=labels, seed=seed, names=names)
    return {name: index.subset(rows) for name, rows in parts.items()}


def without_held_out(pretrain, *held_out):
    """`pretrain` without the images the run evaluates on: rows whose file is in one of the `held_out` indexes
    (test and external sets), or that belong to one of their patients in the same folder. Unlabeled
    pretraining on a folder that also gives the labelled splits (Kermany for pretraining and fine-tuning) then
    never sees a test patient. Returns (kept index, number of rows dropped)."""
    parts = [index for index in held_out if index is not None and len(index)]
    if not parts or not len(pretrain):
        return pretrain, 0
    held = [(os.path.realpath(p), str(q)) for index in parts for p, q in zip(index.frame["path"],
                                                                              index.frame["patient_id"])]
    paths = {path for path, _ in held}
    patients = {(os.path.dirname(path), q) for path, q in held if q not in ("", "nan")}
    real = [os.path.realpath(p) for p in pretrain.frame["path"]]
    keep = np.array([path not in paths and (os.path.dirname(path), str(q)) not in patients
                     for path, q in zip(real, pretrain.frame["patient_id"])], dtype=bool)
    return (pretrain if keep.all() else pretrain.subset(keep)), int((~keep).sum())
