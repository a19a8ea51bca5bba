"""The training engine every recipe trains through: one optimizer factory, one stage-level fit and predict.

facebookresearch/mae's thin `main_pretrain.py` over `engine_pretrain.py` is the model of the split: a
recipe module states its paper's steps (which model, which data, which optimizer settings) and the engine
owns how a model is trained:

- `make_optimizer(name, lr, schedule=..., ...)`: SGD, Adam or AdamW (MAE's no-decay group for biases,
  norms and tokens), layer-wise lr decay for ViT fine-tuning, a constant rate or linear warm-up + cosine
  (`WarmupCosineDecay`), or a constant rate halved on a plateau (`plateau=` of `fit`);
- `fit(config, name, model, train, ...)`: compile (the run's jit setting, `resolve_jit_compile` falls back
  to eager where torch.compile fails), data-parallel `keras_cxr.distributed.fit`, rank-safe backup and
  restore (a killed run restarts at its last finished epoch), the best epoch by a named validation metric
  kept (or the last), and the whole history — across restarts — saved beside the stage as
  `results/<name>_history.json`;
- `fit_stage(config, name, build, train, ...)`: the same as a resumable stage whose result is the model
  (`models/<name>.keras`), so a finished stage is loaded, not retrained;
- `predict(config, model, index, image_size, ...)`: probabilities of an index, streamed in file order;
- `learning_curves(config)`: the report section drawing every saved history (training and validation loss
  and the monitored metric per epoch), so a reader sees whether a model learned before reading a table;
- `feature_probes(config, train, image_size)`: the kNN and linear probes a pretraining stage passes as
  callbacks (`keras_cxr.callbacks.KNNProbe` / `LinearProbe`), so its curves show probe AUC per epoch.

Why keep-best is written here and not `keras.callbacks.ModelCheckpoint` / `EarlyStopping(restore_best_weights)`:
the first writes from every rank and saves whole models each improvement, the second forgets the best
epoch when a run is killed and restarted; `KeepBest` keeps the best weights in memory and, on the chief
only, in the backup folder with its epoch and value, so a restarted run still returns the best epoch.
"""

import json
import math
import os
import shutil
import warnings

import keras
import numpy as np

from keras_cxr import distributed
from keras_cxr.callbacks import FeatureProbe, KNNProbe, LinearProbe, WarmupCosineDecay
from keras_cxr.metrics.calibration import fit_temperature
from keras_cxr.models import resolve_jit_compile
from keras_cxr.models.model_card import CLASSIFIER_TASKS, card_for, save_model
from keras_cxr.optimizers import AdamW, LayerDecayAdamW
from keras_cxr.recipes.base import _shared_dir, backup_and_restore, stage, stage_path, stream, write_json
from keras_cxr.report import FigureLog, plot_training_curves

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "cosine")


def make_optimizer(name="adamw", learning_rate=1e-3, *, schedule="constant", steps_per_epoch=1, epochs=1,
                   warmup_epochs=0, min_learning_rate=0.0, weight_decay=0.0, momentum=0.9, beta_1=0.9,
                   beta_2=0.999, layer_decay=None, num_layers=None, skip_weight_decay_1d=True, clipnorm=None):
    """One optimizer for every recipe stage.

    Args:
        name: "sgd" (momentum, Nesterov off), "adam", or "adamw" (`keras_cxr.optimizers.AdamW`: Keras' AdamW
            on PyTorch's fused kernel; `LayerDecayAdamW` with `layer_decay`).
        learning_rate: the peak rate (already batch-scaled where a paper says so: `scaled_lr`).
        schedule: "constant", or "cosine": linear warm-up for `warmup_epochs` then half-cosine to
            `min_learning_rate` at the end of `epochs` (MAE / DeiT). A plateau schedule is a callback:
            `fit(..., plateau=...)`.
        steps_per_epoch, epochs, warmup_epochs: the schedule's length in optimizer steps and epochs.
        weight_decay: decoupled decay, v ← v·(1 − lr·wd) before each update (Keras 3 applies every optimizer's
            `weight_decay` so; "adam" is `keras_cxr.optimizers.AdamW` with this decay, 0 by default).
        momentum: SGD's momentum.
        beta_1, beta_2: Adam's.
        layer_decay, num_layers: BEiT / MAE layer-wise lr decay (AdamW only).
        skip_weight_decay_1d: AdamW without decay on biases, norms, tokens and position tables (MAE).
        clipnorm: gradient-norm clipping, None for none.

    Example:
    >>> optimizer = make_optimizer("adamw", 1e-3, schedule="cosine", steps_per_epoch=10, epochs=5, warmup_epochs=1)
    >>> round(float(optimizer.learning_rate), 6)  # step 0 of the warm-up
    0.0
    >>> make_optimizer("sgd", 0.01, momentum=0.9).momentum
    0.9
    """
    name = str(name).lower()
    if name not in OPTIMIZERS:
        raise ValueError(f"Unknown optimizer {name!r}; choose from {OPTIMIZERS}.")
    if schedule not in SCHEDULES:
        raise ValueError(f"Unknown schedule {schedule!r}; choose from {SCHEDULES} (plateau: fit(plateau=...)).")
    if layer_decay is not None and name != "adamw":
        raise ValueError(f"layer_decay needs the 'adamw' optimizer; received {name!r}.")
    lr = float(learning_rate)
    if schedule == "cosine":
        warmup = int(round(warmup_epochs * steps_per_epoch))
        lr = WarmupCosineDecay(lr, warmup_steps=warmup, decay_steps=max(int(epochs * steps_per_epoch), warmup + 1),
                               min_lr=min_learning_rate)
    common = {"learning_rate": lr, **({"clipnorm": clipnorm} if clipnorm else {})}
    if name == "sgd":
        return keras.optimizers.SGD(momentum=momentum, weight_decay=weight_decay or None, **common)
    if name == "adam":  # Keras' Adam is AdamW with no decay by default: the same update, on torch's fused kernel
        return AdamW(beta_1=beta_1, beta_2=beta_2, weight_decay=weight_decay or 0.0, **common)
    options = dict(weight_decay=weight_decay, beta_1=beta_1, beta_2=beta_2, skip_weight_decay_1d=skip_weight_decay_1d,
                   **common)
    if layer_decay is None:
        return AdamW(**options)
    return LayerDecayAdamW(layer_decay=layer_decay, num_layers=num_layers, **options)


def _monitor_mode(monitor):
    """"min" for losses and errors, "max" for everything else (AUC, accuracy, Dice, PSNR, SSIM)."""
    lowered = monitor.lower()
    return "min" if any(word in lowered for word in ("loss", "error", "mae", "mse", "hd95")) else "max"


def _engine_dir(config, name):
    return os.path.join(_shared_dir(config), "backup", f"{name}_engine")


def _is_chief():
    return distributed.is_chief()


def _jsonable(value):
    value = float(np.asarray(value))
    return value if math.isfinite(value) else None


class _EngineState:
    """The engine's record of a training in progress: every finished epoch's logs and the best epoch,
    written by the chief to `backup/<name>_engine/` so that a restarted `fit` continues both."""

    def __init__(self, folder):
        self.folder = folder
        self.epochs, self.best, self.at_start = {}, None, None
        path = os.path.join(folder, "state.json")
        if os.path.exists(path):
            with open(path) as f:
                saved = json.load(f)
            self.epochs = {int(k): v for k, v in saved["epochs"].items()}
            self.best, self.at_start = saved.get("best"), saved.get("at_start")

    @property
    def weights_path(self):
        return os.path.join(self.folder, "best.weights.h5")

    def save(self):
        if _is_chief():
            os.makedirs(self.folder, exist_ok=True)
            write_json({"epochs": self.epochs, "best": self.best, "at_start": self.at_start},
                       os.path.join(self.folder, "state.json"))

    def history(self):
        keys = sorted({k for logs in self.epochs.values() for k in logs})
        ordered = [self.epochs[e] for e in sorted(self.epochs)]
        return {k: [logs.get(k) for logs in ordered] for k in keys}


def _callbacks(state, monitor, keep):
    class EngineLog(keras.callbacks.Callback):
        """Logs every epoch (with the learning rate) and keeps the best weights by `monitor`."""

        def __init__(self):
            super().__init__()
            self.best_weights = None

        def on_epoch_end(self, epoch, logs=None):
            logs = {k: _jsonable(v) for k, v in (logs or {}).items()}
            try:
                logs.setdefault("learning_rate", _jsonable(keras.ops.convert_to_numpy(
                    self.model.optimizer._get_current_learning_rate())))
            except Exception:  # noqa: BLE001 - the rate is a nicety of the curves, never a reason to stop
                pass
            state.epochs[int(epoch)] = logs
            if keep == "best":
                value = logs.get(monitor)
                if value is None:
                    raise ValueError(f"keep='best' monitors {monitor!r}, which this fit does not log (it logs "
                                     f"{sorted(logs)}). Pass validation data, a metric of that name, or keep='last'.")
                better = state.best is None or (value < state.best["value"] if _monitor_mode(monitor) == "min"
                                                else value > state.best["value"])
                if better:
                    state.best = {"epoch": int(epoch), "value": value, "monitor": monitor}
                    self.best_weights = self.model.get_weights()
                    if _is_chief():
                        os.makedirs(state.folder, exist_ok=True)
                        self.model.save_weights(state.weights_path)
            state.save()

    return EngineLog()


def fit(config, name, model, train, *, validation=None, epochs, optimizer, loss=None, loss_weights=None,
        metrics=None, monitor="val_loss", keep="best", plateau=None, callbacks=(), batch_size=None):
    """Compiles `model` and trains it as stage `name` of a recipe run; returns the whole history (a dict).

    Args:
        config: the recipe's `RecipeConfig` (output_dir, jit_compile, verbose, ...).
        name: the stage name: the backup folder, the history file (`results/<name>_history.json`).
        model: a Keras model (built or not: it is built on the first batch before restoring a backup).
        train: the training `PyDataset` (`stream(...)`), or an (x, y) tuple of arrays with `batch_size`
            (small sets read into memory, e.g. lung masks).
        validation: a `PyDataset` or (x, y) tuple evaluated after every epoch, or None.
        epochs: epochs to train.
        optimizer: a Keras optimizer (`make_optimizer`), or a callable `steps_per_epoch -> optimizer` for a
            schedule whose length depends on the data (`lambda steps: make_optimizer(..., steps_per_epoch=steps)`).
        loss, loss_weights, metrics: as for `model.compile` (a model with its own `compute_loss`, as MAE,
            takes loss=None).
        monitor: the logged value that picks the kept epoch ("val_loss", "val_auc", "val_accuracy", ...;
            min for losses and errors, max otherwise).
        keep: "best" (the epoch with the best `monitor`; needs `validation` for a "val_" monitor) or "last".
        plateau: None, or {"factor", "patience", "min_lr"[, "monitor"]}: `ReduceLROnPlateau` on `monitor`.
        callbacks: more Keras callbacks (EMA target update, probes, ...).

    Returns:
        {metric: [value per epoch]} over every epoch of the stage (restarts included), plus "best_epoch"
        (0-based, None with keep="last"), "monitor", and "probe_at_start": the feature probes' scores on the
        initial weights ({"knn_auc": ..., ...}, None without probes), the reference a probe curve rises from.
    """
    if keep not in ("best", "last"):
        raise ValueError(f"keep must be 'best' or 'last'; received {keep!r}.")
    if keep == "best" and monitor.startswith("val_") and validation is None:
        keep = "last"  # nothing to select on: the last epoch is the result
    arrays = isinstance(train, tuple)
    if arrays and batch_size is None:
        raise ValueError(f"stage {name!r}: training arrays need a batch_size.")
    if not model.built:
        model((train[0] if arrays else train[0][0])[:1])  # built before BackupAndRestore restores into it
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        optimizer = optimizer(math.ceil(len(train[0]) / batch_size) if arrays else len(train))
    model.compile(optimizer=optimizer, loss=loss, loss_weights=loss_weights, metrics=metrics,
                  jit_compile=resolve_jit_compile(config.jit_compile, model=model))
    state = _EngineState(_engine_dir(config, name))
    probes = [c for c in callbacks if isinstance(c, FeatureProbe)]
    if probes and not state.epochs and state.at_start is None:  # a fresh start: probe the initial weights
        for probe in probes:
            probe.set_model(model)
        state.at_start = {f"{p.prefix}_{key}": _jsonable(value) for p in probes
                          for key, value in zip(("auc", "accuracy"), p.evaluate(epoch=-1))}
        state.save()
    log = _callbacks(state, monitor, keep)
    # Order at each epoch's end: the callbacks (probes add their logs), the engine log (records them), then the
    # backup; a kill between two of them then never leaves a backed-up epoch missing from the history. The
    # backup restores first, at the start of training, before any callback touches the weights.
    backup = backup_and_restore(config, name)
    save_epoch, backup.on_epoch_end = backup.on_epoch_end, lambda epoch, logs=None: None
    steps = [backup, *callbacks, log, keras.callbacks.LambdaCallback(on_epoch_end=save_epoch)]
    if plateau:
        steps.insert(1, keras.callbacks.ReduceLROnPlateau(
            monitor=plateau.get("monitor", monitor if validation is not None else "loss"),
            factor=plateau["factor"], patience=plateau["patience"], min_lr=plateau.get("min_lr", 0.0), verbose=0))
    x, y = train if arrays else (train, None)
    distributed.fit(model, x, y, batch_size=batch_size, validation_data=validation, epochs=epochs, callbacks=steps,
                    verbose=config.verbose)
    if keep == "best" and state.best is not None:
        if log.best_weights is not None:
            model.set_weights(log.best_weights)
        elif os.path.exists(state.weights_path):  # restarted after the best epoch: it is on disk
            model.load_weights(state.weights_path)
    history = state.history()
    history["best_epoch"] = state.best["epoch"] if keep == "best" and state.best else None
    history["monitor"] = monitor if keep == "best" else None
    history["probe_at_start"] = state.at_start
    if _is_chief():
        os.makedirs(os.path.dirname(history_path(config, name)), exist_ok=True)
        write_json(history, history_path(config, name))
        shutil.rmtree(state.folder, ignore_errors=True)
    return history


def history_path(config, name):
    """Where stage `name` keeps its training history (`results/<name>_history.json`)."""
    return stage_path(config, f"{name}_history", "json")


def load_history(config, name):
    """The saved history of stage `name`, or None when it has none."""
    path = os.path.join(_shared_dir(config), os.path.relpath(history_path(config, name), config.output_dir))
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def fit_stage(config, name, build, train, card=None, **options):
    """A resumable training stage whose result is the model: `models/<name>.keras` when an earlier run
    finished it, else `build()` trained by `fit(config, name, ...)`. `train`, `validation` and `callbacks` may be
    callables returning them (so a finished stage never builds its pipeline or reads its probe images).
    `card` (a dict of `ModelCard` fields: task, class_names, normalization ...) is recorded in the saved file;
    a classifier's card gets the temperature fitted on the validation data (`calibration_temperature`).
    Returns (model, history)."""

    def compute():
        data = train() if callable(train) else train
        validation = options.pop("validation", None)
        validation = validation() if callable(validation) else validation
        callbacks = options.pop("callbacks", ())
        callbacks = callbacks() if callable(callbacks) else callbacks
        model = build()
        fit(config, name, model, data, validation=validation, callbacks=callbacks, **options)
        if card is not None:
            fields = _with_temperature(card, None if validation is None else lambda: _outputs_and_targets(model, validation))
            card_for(model, source=f"{_recipe_name(config)}/{name}", **fields)
        return model

    model = stage(config, name, compute)
    return model, load_history(config, name)


def _recipe_name(config):
    return type(config).__module__.rsplit(".", 1)[-1]


def calibration_temperature(task, truth, probabilities):
    """The temperature (Guo et al. 2017; `keras_cxr.metrics.fit_temperature`) of a classifier's validation
    probabilities, for its `ModelCard`: one-hot truth of a softmax model becomes class indices; NaN labels of
    a multi-label model are left out."""
    probabilities, truth = np.asarray(probabilities, "float64"), np.asarray(truth, "float64")
    try:
        if task in ("multiclass", "disease_age"):
            truth = np.argmax(truth, axis=1) if truth.ndim == 2 else truth
            return float(fit_temperature(probabilities, truth, task="multiclass"))
        return float(fit_temperature(probabilities.reshape(len(probabilities), -1), truth.reshape(len(truth), -1),
                                     task="multilabel"))
    except ValueError as error:  # e.g. no validation case with known truth: the card records no temperature
        warnings.warn(f"No temperature recorded in the model card: {error}", stacklevel=2)
        return None


def _with_temperature(card, validation):
    """`card` (a dict of ModelCard fields) with the temperature of `validation() -> (truth, probabilities)`
    when the card is a classifier's and `validation` is given; else `card` as it is."""
    if validation is None or card.get("task") not in CLASSIFIER_TASKS:
        return card
    return {**card, "temperature": calibration_temperature(card["task"], *validation())}


def _outputs_and_targets(model, dataset):
    """(targets, outputs) of a model over a batched (images, targets) dataset, in order."""
    targets, outputs = [], []
    for i in range(len(dataset)):
        images, target = dataset[i][:2]
        targets.append(np.asarray(target["disease"] if isinstance(target, dict) else target))
        output = model.predict_on_batch(images)
        outputs.append(np.asarray(output["disease"] if isinstance(output, dict) else output))
    return np.concatenate(targets), np.concatenate(outputs)


def save_trained(config, name, model, validation=None, **card):
    """Saves a trained model the report shows as `models/<name>.keras` with its `ModelCard` (`card`: task,
    class_names, threshold, normalization, ...), so `keras-cxr evaluate` can validate it on another site's
    images. `validation=(truth, probabilities)` of a classifier records its temperature
    (`calibration_temperature`). For stages whose resumable result is predictions (`kind="npz"`), not the
    model itself."""
    card = _with_temperature(card, None if validation is None else lambda: validation)
    card_for(model, source=f"{_recipe_name(config)}/{name}", **card)
    path = stage_path(config, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    save_model(model, path)
    return path


def predict(config, model, index, image_size, batch_size=64, **stream_options):
    """The model's outputs on every image of `index` (file order; a dict for a dict-output model)."""
    stream_options.setdefault("shuffle", False)
    stream_options.setdefault("target", None)
    frames = stream(config, index, image_size, batch_size=batch_size, **stream_options)
    return model.predict(frames, verbose=0)


NORMAL_CLASS_NAMES = ("no finding", "no_finding", "normal", "healthy", "no pathology")


def probe_labels(index):
    """Integer labels a feature probe separates, from any labelled index: a binary index's 0/1 column; a
    multi-class index's class; a multi-label index's "any finding" (1 when a class other than a normal-like
    one, `NORMAL_CLASS_NAMES`, is positive), the abnormal-vs-normal question every CXR paper asks first."""
    labels = np.nan_to_num(index.labels)
    if index.task == "binary":
        return labels[:, 0].astype(int)
    if index.task == "multiclass":
        return np.argmax(labels, axis=1).astype(int)
    findings = [i for i, name in enumerate(index.class_names) if str(name).lower() not in NORMAL_CLASS_NAMES]
    return (labels[:, findings] > 0.5).any(axis=1).astype(int)


def feature_probes(config, train, image_size, labels=probe_labels, **stream_options):
    """The pretraining stages' monitors: `[KNNProbe, LinearProbe]` (`keras_cxr.callbacks`) on up to
    `config.probe_images` images of the labelled index `train` (the first rows after a seeded shuffle), scored by
    5-fold cross-validation grouped by patient, every `config.probe_every` epochs; `[]` when `probe_images` is 0
    or `train` has fewer than five images of either class. Cross-validated on the training split rather than
    scored on the validation split: the recipes' validation splits are a tenth of the labelled data (about a
    hundred phantom images in the quick presets), too few for a probe AUC that moves less between epochs than
    the features do. `stream_options` read the images as the stage's model sees them (e.g.
    `normalize="imagenet"`)."""
    if not config.probe_images or train is None:
        return []
    rows = np.sort(np.random.default_rng(config.seed).permutation(len(train))[: int(config.probe_images)])
    subset = train.subset(rows)
    found = labels(subset)
    if len(np.unique(found)) < 2 or np.bincount(found).min() < 5:
        return []
    images = stream(config, subset, image_size, shuffle=False, target=None, batch_size=len(subset), **stream_options)[0]
    images = np.asarray(images[0] if isinstance(images, tuple) else images)
    patients = subset.frame["patient_id"].fillna("").astype(str).to_numpy()
    groups = np.where(patients == "", [f"image {i}" for i in range(len(patients))], patients)  # unknown: its own
    options = dict(every=max(1, int(config.probe_every)), groups=groups, seed=config.seed)
    return [KNNProbe((images, found), **options), LinearProbe((images, found), **options)]


def probe_summary(history):
    """'kNN AUC 0.58 at the start, 0.61 → 0.78 (best 0.80), ...' from a stage history with probe columns (the
    initial weights' score first when the history has it), else ''."""
    parts = []
    start = (history or {}).get("probe_at_start") or {}
    for key, label in (("knn_auc", "kNN AUC"), ("linear_auc", "linear-probe AUC")):
        values = [v for v in (history or {}).get(key, []) if v is not None and np.isfinite(v)]
        if values:
            initial = f"{start[key]:.3f} at the start, " if start.get(key) is not None else ""
            parts.append(f"{label} {initial}{values[0]:.3f} → {values[-1]:.3f} (best {max(values):.3f})")
    return ", ".join(parts)


def report_tail(config, metrics):
    """The end of every recipe report: the learning curves of its stages, then the figures the run drew (its
    `FigureLog` entries in `metrics["figures"]`)."""
    return [*learning_curves(config), "## Figures", "", *FigureLog(config.output_dir, metrics.get("figures", ())).markdown()]


def learning_curves(config, names=None, title=None):
    """Draws every saved stage history (or those of `names`) into `figures/curves_<name>.png` and returns the
    report's markdown section: one panel per metric, training beside validation, the kept epoch marked."""
    folder = os.path.join(config.output_dir, "results")
    found = sorted(f[: -len("_history.json")] for f in os.listdir(folder) if f.endswith("_history.json")) \
        if os.path.isdir(folder) else []
    names = [n for n in (names or found) if n in found]
    lines = [f"## {title or 'Learning curves'}", "",
             "Training (solid) and validation (dashed) loss and monitored metric per epoch of every trained stage; "
             "a dotted line marks the epoch kept. A curve that does not fall is a model that did not learn. Pretraining "
             "stages also show their feature probes (`knn_auc`, `linear_auc`: kNN and linear classifiers on the frozen "
             "encoder's pooled features, cross-validated on labelled training images; epoch 0 is the initial "
             "weights): a probe curve that rises is an encoder whose features are getting better for the "
             "downstream task.", ""]
    if not names:
        return lines + ["(no training stage ran in this process or was saved)", ""]
    for name in names:
        history = load_history(config, name)
        relative = f"figures/curves_{name}.png"
        plot_training_curves(history, title=name, path=os.path.join(config.output_dir, relative))
        last = {k: v[-1] for k, v in history.items() if isinstance(v, list) and v and k != "learning_rate"}
        summary = ", ".join(f"{k} {v:.4g}" for k, v in sorted(last.items()) if v is not None and np.isfinite(v))
        best = history.get("best_epoch")
        kept = f"kept epoch {best + 1} by {history['monitor']}" if best is not None else "kept the last epoch"
        probes = probe_summary(history)
        probes = f"; feature probes, cross-validated on labelled images: {probes}" if probes else ""
        lines += [f"**{name}** ({len(history.get('loss', []))} epochs, {kept}; last epoch: {summary}{probes})", "",
                  f"![{name}]({relative})", ""]
    return lines
