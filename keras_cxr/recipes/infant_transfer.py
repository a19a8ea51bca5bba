"""Infant transfer (paper 002): CNN autoencoder pretraining → disease + age multitask transfer, eight backbones, ablations.

Reproduces Park & Martin, "Cross-Domain Transfer Learning for Medical Condition Classification from Infant
X-Ray Images":

1. (§3, Fig. 3a, Eq. 1) pretrain an autoencoder per backbone (encoder = the backbone, a mirrored up-sampling
   decoder, `keras_cxr.models.autoencoder.autoencoder`) with L1 on unlabeled adult and infant X-rays
   (241,562 adult + 70,353 infant images in the paper);
2. (§3, Fig. 3b, Eq. 2–4) transfer the encoder to labelled infant X-rays with a condition head (softmax, CE)
   and an age head (MSE on the standardized age), total loss CE + 0.8 · MSE
   (`keras_cxr.models.disease_age.disease_age_model`);
3. (Table 1, Fig. 5–7) accuracy, recall, precision, F1 (macro: the unweighted mean over conditions, as the
   paper's 11-class accuracy-like numbers suggest), mean ± sd over seeds, for eight backbones; age MAE and R²;
   confusion matrix, ROC curves, the per-backbone line graph;
4. (Table 2, Fig. 8) ablations: ablation-1 without representation learning (random encoder + both heads),
   ablation-2 without the age head (disease head only), and the full model, every backbone × variant × seed.

Paper numbers (Table 1 accuracy, full model): VGG19 0.8050, MobileNetV2 0.8067, ShuffleNet 0.8084, Xception
0.8080, HRNet-W32 0.8160, ResNeXt-50 0.8190, DenseNet-121 0.8210, ResNet-50 0.8249. Hardware: the paper's
312k-image pretraining of eight backbones takes GPU-days; `Config.quick()` runs a 1/8-width VGG-16 on the
phantom in minutes on a CPU.

Training settings the paper does not state (chosen as the field's usual transfer-learning defaults and
documented per field in `Config`): 224 × 224 × 1 input (keras.applications' size), Adam (lr 1e-3 for the
autoencoder, 1e-4 for transfer), batch 32, 50 autoencoder epochs and 30 transfer epochs, 3 seeds, patient-level
70/10/20 train/val/test split, the last epoch's model evaluated. The paper's data are abdominal infant X-rays
(AI-Hub, 11 conditions, ages in months); by default the phantom stands in (pediatric chest phantom,
normal vs abnormal, ages in years).
"""

import dataclasses
import inspect
import json
import os
import warnings

import keras
import numpy as np
import pandas as pd
from sklearn.metrics import mean_absolute_error, r2_score

from keras_cxr.data import DatasetIndex, index_labels_csv, index_sources, phantom_index
from keras_cxr.metrics import classification_report
from keras_cxr.models import disease_age, list_models, model_entry
from keras_cxr.models.autoencoder import autoencoder
from keras_cxr.recipes import engine, protocols
from keras_cxr.recipes._cli import parse_config
from keras_cxr.recipes.base import (RecipeConfig, limit, named_test_sets, run_recipe, split_index, stage, stream,
                                    without_held_out)
from keras_cxr.report import (FigureLog, calibration_summary, calibration_table, plot_confusion_matrix,
                              plot_image_grid, plot_metric_bars, plot_metric_lines, plot_roc_curves,
                              regression_warnings, report_warnings)
from keras_cxr.report.document import Report, beside, mean_sd, table

BACKBONES = ("vgg19", "mobilenet_v2", "shufflenet_v1", "xception", "hrnet_w32", "resnext50_32x4d", "densenet121",
             "resnet50")  # Table 1, in the paper's order
VARIANTS = ("ablation1", "ablation2", "full")  # Table 2: no representation learning / no age head / full
PAPER_TABLE_1 = {  # accuracy, recall, precision, F1 (means)
    "vgg19": (0.8050, 0.8059, 0.8041, 0.8050), "mobilenet_v2": (0.8067, 0.8060, 0.8038, 0.8049),
    "shufflenet_v1": (0.8084, 0.8101, 0.8104, 0.8102), "xception": (0.8080, 0.8111, 0.8110, 0.8110),
    "hrnet_w32": (0.8160, 0.8191, 0.8185, 0.8188), "resnext50_32x4d": (0.8190, 0.8221, 0.8233, 0.8227),
    "densenet121": (0.8210, 0.8231, 0.8212, 0.8221), "resnet50": (0.8249, 0.8280, 0.8251, 0.8250)}
PAPER_TABLE_2 = {  # accuracy: ablation-1, ablation-2, full
    "vgg19": (0.7772, 0.7927, 0.8050), "mobilenet_v2": (0.7847, 0.7957, 0.8067),
    "shufflenet_v1": (0.7732, 0.7910, 0.8084), "xception": (0.7669, 0.7884, 0.8080),
    "hrnet_w32": (0.7765, 0.7974, 0.8160), "resnext50_32x4d": (0.7728, 0.7965, 0.8190),
    "densenet121": (0.7786, 0.7954, 0.8210), "resnet50": (0.7797, 0.8004, 0.8249)}


@dataclasses.dataclass
class Config(RecipeConfig):
    """Settings of the study; defaults are the paper's where it states them, with their source."""

    output_dir: str = "runs/infant_transfer"
    pretrain_dir: tuple = ()  # §4.1: unlabeled adult + infant folders (any number)
    transfer_dir: str | None = None  # §4.1: a labels.csv folder with a label and an age column
    label_column: str = "label"  # the condition column of labels.csv
    age_column: str = "age"  # the age column of labels.csv
    age_unit: str = "years"  # the age column's unit, for the report (paper: months)
    drop_missing_age: bool = False  # drop rows with a missing / non-numeric age (else: an error naming them)
    phantom_pretrain_images: int = 2000  # not in the paper: adult + pediatric phantom stand-in
    phantom_transfer_images: int = 1000  # not in the paper: pediatric phantom (normal vs abnormal, ages)
    backbones: tuple = BACKBONES  # Table 1
    variants: tuple = VARIANTS  # Table 2
    seeds: tuple = (0, 1, 2)  # not stated: the ± of Tables 1–2 are over runs
    age_loss_weight: float = 0.8  # Eq. 4: α
    image_size: int = 224  # not stated: keras.applications' input size
    decoder_filters: tuple = (256, 128, 64, 32, 16)  # not stated: mirrored widths
    # not in the paper: scales the filters of the backbones that take a width multiplier (vgg16; the others are
    # built as published); 1.0 = full width
    width_multiplier: float = 1.0
    # Not stated: paper 002 never says how the backbones are initialized before the autoencoder. Our reading:
    # from random weights (None), as "learning representations from X-rays" suggests; "imagenet" starts each
    # backbone that has keras.applications ImageNet weights (vgg19, mobilenet_v2, xception, densenet121,
    # resnet50) from them, for comparison (the others raise). The report states which.
    backbone_weights: str | None = None
    pretrain_epochs: int = 50  # not stated
    pretrain_batch_size: int = 32  # not stated
    pretrain_lr: float = 1e-3  # not stated: Adam's default
    transfer_epochs: int = 30  # not stated
    transfer_batch_size: int = 32  # not stated
    transfer_lr: float = 1e-4  # not stated: the usual fine-tuning rate for pretrained CNNs
    validation_fraction: float = 0.1  # not stated: patient level
    # not stated: the transferred model kept is the epoch with the lowest validation loss (Eq. 4's weighted sum)
    transfer_monitor: str = "val_loss"
    test_fraction: float = 0.2  # not stated: patient level

    @classmethod
    def quick(cls, **overrides):
        """Minutes on a 2-core CPU: phantom, 64 px, one backbone of the VGG family at 1/8 width (`vgg16`,
        `width_multiplier` 0.125), the full model beside ablation-1 (the same network without the autoencoder
        pretraining: its from-scratch twin), one seed; pass `--variants ablation1 ablation2 full` for Table 2's
        three, `--backbones ...` for the paper's eight (built at full width).

        Why these sizes: at 64 px a paper backbone costs 10-60 ms per image and training step on one CPU core
        (ShuffleNet 10, MobileNetV2 19, ResNet-50 63), VGG-16 at 1/8 width 4.7; and ShuffleNet trained on 560
        phantom images reached 1.0 training accuracy but 0.61-0.64 test accuracy (normal vs abnormal), while
        the 1/8-width VGG-16 on 840 images learns without overfitting.

        Measured (PyTorch, seed 0, 2-core AMD EPYC, one thread beside another job: 410 s in the test suite):
        test accuracy full 0.767, ablation-1 0.787 (majority class ~0.5); age MAE 1.74 / 1.83 years against 4.5
        for the training-mean age (before `keras_cxr.models.vgg16` standardized its inputs: 0.825 / 0.829,
        2.1 / 1.8 years). TensorFlow, seed 0: 0.79 / 0.80, 1.9 / 1.8 years. With the earlier preset (300 images,
        4 epochs) accuracy was 0.50 and age R² −26. The autoencoder's feature probe (its encoder's multi-scale
        pooled features, linear, cross-validated on 512 labelled images) rises over the 5 pretraining epochs:
        0.75 on the initial weights, 0.78 after epoch 1, 0.79 after epoch 5 (best 0.81; PyTorch, seed 0).
        `tests/recipes/test_quick_presets.py` asserts the targets and the probe's rise."""
        values = dict(output_dir="runs/infant_transfer_quick", phantom_pretrain_images=600,
                      phantom_transfer_images=1200, backbones=("vgg16",), width_multiplier=0.125,
                      variants=("ablation1", "full"), seeds=(0,), image_size=64, decoder_filters=(32, 16),
                      pretrain_epochs=5, pretrain_batch_size=32, transfer_epochs=25, transfer_lr=1e-3, verbose=2,
                      jit_compile="false", probe_images=512)
        values.update(overrides)
        return cls(**values)


# ------------------------------------------------------------------------------------------- data
def _dirs(value):
    return (value,) if isinstance(value, str) else tuple(value or ())


def read_ages(config, index, csv_path):
    """(index, ages) with each row's age from `age_column` of `csv_path` (matched by file name).

    Raises:
        ValueError: naming the file, the column, and the first rows whose age is missing or not a number,
            unless `drop_missing_age` (then those rows are dropped with a warning).
    """
    table = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    if config.age_column not in table.columns:
        raise ValueError(f"{csv_path}: no age column {config.age_column!r} (columns: {list(table.columns)}); pass "
                         "--age-column NAME.")
    by_name = dict(zip(table["filename"], zip(table[config.age_column], range(2, len(table) + 2))))
    ages, bad = [], []
    for path in index.paths:
        text, row = by_name[os.path.basename(path)]
        try:
            age = float(text)
        except ValueError:
            age = float("nan")
        if not np.isfinite(age):
            bad.append(f"row {row} ({os.path.basename(path)}): {text!r}")
        ages.append(age)
    ages = np.asarray(ages, "float32")
    if bad:
        message = (f"{csv_path}: {len(bad)} rows have a missing or non-numeric {config.age_column!r}: "
                   f"{'; '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}")
        if not config.drop_missing_age:
            raise ValueError(message + ". Fix them, or pass --drop-missing-age true to drop them.")
        warnings.warn(message + "; dropped (--drop-missing-age).", stacklevel=2)
        keep = np.isfinite(ages)
        return index.subset(keep), ages[keep]
    return index, ages


def _one_hot_index(index):
    """A binary index as two one-hot columns ("normal", <positive>); multi-class indexes unchanged."""
    if index.task == "multiclass":
        keep = np.isfinite(index.labels).all(1) & (np.nan_to_num(index.labels).sum(1) == 1)
        return index.subset(keep)
    if index.task != "binary":
        raise ValueError(f"infant_transfer classifies one condition per image; the index is {index.task!r} "
                         f"({index.class_names}). Pick a categorical --label-column.")
    keep = np.isfinite(index.labels[:, 0])
    index = index.subset(keep)
    positive = index.class_names[0]
    frame = index.frame.drop(columns=[positive]).copy()
    frame["normal"] = 1.0 - index.labels[:, 0]
    frame[positive] = index.labels[:, 0]
    return DatasetIndex(frame, ["normal", positive], "multiclass")


def load_data(config):
    """Unlabeled pretraining images and the labelled transfer splits (with ages), as `DatasetIndex`es.

    Returns:
        {"pretrain": DatasetIndex, "splits": {"train" | "val" | "test": DatasetIndex},
         "ages": {split: (N,) float32}, "class_names": [...], "age_unit": str}.
    """
    dirs = _dirs(config.pretrain_dir)
    if dirs:
        pretrain = index_sources(dirs)
    else:  # §4.1 pretrains on adult and infant images together
        half = config.phantom_pretrain_images // 2
        pretrain = DatasetIndex.concat([
            phantom_index(half, config.image_size, seed=config.seed + 10, age_range=(18.0, 90.0), labels="abnormal",
                          cache_dir=config.cache_dir),
            phantom_index(config.phantom_pretrain_images - half, config.image_size, seed=config.seed + 11,
                          age_range=(0.0, 18.0), labels="abnormal", cache_dir=config.cache_dir)], names=["adult", "infant"])
    pretrain = limit(pretrain, config)
    if config.transfer_dir is None:
        labelled = phantom_index(config.phantom_transfer_images, config.image_size, seed=config.seed + 20,
                                 labels="abnormal", cache_dir=config.cache_dir)
        labelled = _one_hot_index(labelled)
        ages = labelled.frame["age"].to_numpy("float32")
        unit = "years"
    else:
        csv = os.path.join(config.transfer_dir, "labels.csv")
        if not os.path.isfile(csv):
            raise FileNotFoundError(f"--transfer-dir {config.transfer_dir!r} has no labels.csv (filename, "
                                    f"{config.label_column}, {config.age_column} columns, images/ beside it).")
        labelled = _one_hot_index(limit(index_labels_csv(config.transfer_dir, label_column=config.label_column), config))
        labelled, ages = read_ages(config, labelled, csv)
        unit = config.age_unit
    labelled.frame["_age"] = ages
    fractions = (1 - config.test_fraction - config.validation_fraction, config.validation_fraction, config.test_fraction)
    splits = split_index(labelled, fractions, config.seed)
    external = named_test_sets(config, lambda path: _external_index(config, path, labelled.class_names))
    if dirs:  # the autoencoders never see a test patient (`without_held_out`)
        pretrain, _ = without_held_out(pretrain, splits["test"], *external.values())
    return {"pretrain": pretrain, "splits": splits, "class_names": labelled.class_names, "age_unit": unit,
            "ages": {k: v.frame["_age"].to_numpy("float32") for k, v in splits.items()}, "external": external}


def _external_index(config, path, class_names):
    """An external test set (`--test-dir NAME=PATH`): a labels.csv folder read as `transfer_dir` is, its classes
    those of the transfer data; ages from `age_column` where every row has one, else unknown (NaN: the
    report gives no age metrics for that set)."""
    csv = os.path.join(path, "labels.csv")
    if not os.path.isfile(csv):
        raise FileNotFoundError(f"--test-dir {path!r} has no labels.csv (filename, {config.label_column}[, "
                                f"{config.age_column}] columns, images beside it).")
    index = _one_hot_index(index_labels_csv(path, label_column=config.label_column))
    if sorted(index.class_names) != sorted(class_names):
        raise ValueError(f"--test-dir {path!r} has classes {index.class_names}; the transfer data has {class_names}. "
                         "Pass a folder with the same conditions in --label-column.")
    index = DatasetIndex(index.frame, list(class_names), "multiclass")  # the transfer data's column order
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            index, ages = read_ages(dataclasses.replace(config, drop_missing_age=False), index, csv)
    except ValueError:  # no age column, or some ages missing: the set is evaluated on the condition only
        ages = np.full(len(index), np.nan, "float32")
    index.frame["_age"] = ages
    return index


# ------------------------------------------------------------------------------------------- stages
def _backbone_kwargs(config, backbone):
    """The backbone builder's options: {"width_multiplier": w} for a backbone whose builder takes one (vgg16) when
    the Config narrows it (w != 1; the published backbones are built as published whatever `width_multiplier`
    says), and {"weights": ...} when `backbone_weights` asks for an initialization other than random."""
    found = {"weights": config.backbone_weights} if config.backbone_weights not in (None, "", "none") else {}
    if float(config.width_multiplier) == 1.0 or \
            "width_multiplier" not in inspect.signature(model_entry(backbone).builder).parameters:
        return found
    return {**found, "width_multiplier": float(config.width_multiplier)}


def pretrain(config, data, backbone):
    """Stage 1 (Eq. 1): the backbone's autoencoder trained with L1 on the unlabeled images, streamed;
    a resumable stage (`models/autoencoder_<backbone>.keras`). Returns (model, its per-epoch history)."""
    def build():
        keras.utils.set_random_seed(config.seed)
        return autoencoder(backbone, input_shape=(config.image_size, config.image_size, 1),
                           decoder_filters=config.decoder_filters, backbone_kwargs=_backbone_kwargs(config, backbone))

    return engine.fit_stage(
        config, f"autoencoder_{backbone}", build,
        lambda: stream(config, data["pretrain"], config.image_size, batch_size=config.pretrain_batch_size,
                       target="image", seed=config.seed),
        epochs=config.pretrain_epochs, keep="last", monitor="loss",
        optimizer=engine.make_optimizer("adam", config.pretrain_lr), loss=keras.losses.MeanAbsoluteError(),
        callbacks=lambda: engine.feature_probes(config, data["splits"]["train"],
                                                config.image_size))


def transfer(config, data, backbone, variant, autoencoder_model, seed, fraction=1.0):
    """Stage 2 (Eq. 2–4) for one backbone × variant × seed; a resumable stage whose result holds the test
    probabilities, age predictions and the loss history (`results/transfer_<backbone>_<variant>_seed<s>.npz`;
    `fraction` < 1: trained on that share of the labels, `..._fraction<pct>.npz`).

    Variants (Table 2): "full" (autoencoder encoder + disease and age heads), "ablation1" (random encoder +
    both heads), "ablation2" (autoencoder encoder + the disease head only: the age head is built but its loss
    weight is 0, so it does not shape the encoder)."""
    if variant not in VARIANTS:
        raise ValueError(f"Unknown variant {variant!r}; variants: {VARIANTS}.")
    name = f"transfer_{backbone}_{variant}_seed{seed}" + protocols.stage_suffix(fraction)

    def train():
        keras.utils.set_random_seed(seed)
        train_index = protocols.labelled_fraction(data["splits"]["train"], fraction, seed)
        ages = train_index.frame["_age"].to_numpy("float32")
        num_classes = len(data["class_names"])
        # looked up on the module at call time (tests spy on keras_cxr.models.disease_age.disease_age_model)
        model = disease_age.disease_age_model(backbone, num_classes,
                                              input_shape=(config.image_size, config.image_size, 1),
                                              weights=None if variant == "ablation1" else autoencoder_model,
                                              age_mean=float(ages.mean()), age_std=float(max(ages.std(), 1e-3)),
                                              backbone_kwargs=_backbone_kwargs(config, backbone))
        weight = 0.0 if variant == "ablation2" else config.age_loss_weight
        losses, loss_weights = disease_age.disease_age_losses(float(max(ages.std(), 1e-3)), weight)
        dataset = stream(config, train_index, config.image_size, labels={"disease": "labels", "age": ages}, seed=seed,
                         batch_size=min(config.transfer_batch_size, len(train_index)))
        val_index = data["splits"]["val"]
        validation = stream(config, val_index, config.image_size, shuffle=False, batch_size=64,
                            labels={"disease": "labels", "age": data["ages"]["val"]})
        history = engine.fit(config, name, model, dataset, validation=validation, epochs=config.transfer_epochs,
                             optimizer=engine.make_optimizer("adam", config.transfer_lr), loss=losses,
                             loss_weights=loss_weights, metrics={"disease": ["accuracy"]},
                             monitor=config.transfer_monitor, keep="best")
        result = {"loss": np.asarray(history["loss"])}
        for prefix, index in (("", data["splits"]["test"]), ("val__", data["splits"]["val"]),
                              *((f"external__{n}__", i) for n, i in data.get("external", {}).items())):
            predicted = engine.predict(config, model, index, config.image_size)
            result.update({prefix + "disease": predicted["disease"], prefix + "age": predicted["age"][:, 0]})
        engine.save_trained(config, name, model, task="disease_age", class_names=data["class_names"],
                            validation=(val_index.labels, result["val__disease"]),
                            notes=f"paper 002 Eq. 2-4: disease head over the classes, age head in {data['age_unit']}")
        return result

    return stage(config, name, train, kind="npz")


def linear_probe(config, data, backbone, autoencoder_model, seed):
    """Linear probing (not in paper 002; `keras_cxr.recipes.protocols`, mae's settings) of the frozen
    autoencoder encoder: a linear disease head on its pooled features; a resumable stage with the same
    result keys as `transfer` less the age (`results/transfer_<backbone>_linprobe_seed<s>.npz`)."""
    name = f"transfer_{backbone}_linprobe_seed{seed}"

    def train():
        keras.utils.set_random_seed(seed)
        train_index, val_index = data["splits"]["train"], data["splits"]["val"]
        batch_size = min(config.transfer_batch_size, len(train_index))
        model = protocols.probe_model(autoencoder_model, len(data["class_names"]))
        history = engine.fit(config, name, model,
                             stream(config, train_index, config.image_size, seed=seed, batch_size=batch_size),
                             validation=stream(config, val_index, config.image_size, shuffle=False, batch_size=64),
                             epochs=config.linprobe_epochs, optimizer=protocols.probe_optimizer(config, batch_size),
                             loss="categorical_crossentropy", metrics=["accuracy"], monitor="val_loss", keep="best")
        result = {"loss": np.asarray(history["loss"])}
        for prefix, index in (("", data["splits"]["test"]), ("val__", val_index),
                              *((f"external__{n}__", i) for n, i in data.get("external", {}).items())):
            result[prefix + "disease"] = engine.predict(config, model, index, config.image_size)
        engine.save_trained(config, name, model, task="multiclass", class_names=data["class_names"],
                            validation=(val_index.labels, result["val__disease"]),
                            notes="linear probe of the frozen autoencoder encoder (mae main_linprobe protocol)")
        return result

    return stage(config, name, train, kind="npz")


def label_efficiency(config, data, encoders, figures):
    """The label-efficiency sweep (not in paper 002; `keras_cxr.recipes.protocols`): the full model (the
    autoencoder's encoder) and ablation-1 (the same network from random weights) of the first backbone
    transferred on each of `label_fractions` of the training labels; {variant: {fraction: (accuracy mean, sd)}}
    over the seeds, drawn as accuracy vs labelled images. Fraction 1.0 is the main run (not retrained)."""
    backbone = config.backbones[0]
    variants = [v for v in ("ablation1", "full") if v != "full" or encoders.get(backbone) is not None]

    def score(variant, fraction, seed):
        run = transfer(config, data, backbone, variant, encoders.get(backbone), seed, fraction)
        return float(np.mean(np.argmax(run["disease"], 1) == np.argmax(data["splits"]["test"].labels, 1)))

    results = protocols.label_efficiency(config.label_fractions, variants, score, config.seeds)
    protocols.draw_label_efficiency(figures, results, len(data["splits"]["train"]), "test accuracy",
                                    title=f"Label efficiency ({backbone}: ablation-1 from scratch vs full)")
    return {"backbone": backbone, "results": results}


# ------------------------------------------------------------------------------------------- evaluation
def evaluate(config, data, runs, split="test"):
    """Tables 1–2: per backbone × variant, mean ± sd over seeds (population sd, ddof = 0: the paper does not say
    which) of accuracy and macro recall, precision, F1
    (Eq. 5–8), age MAE and R² (variants with an age head, sets whose ages are all known), and warnings for
    degenerate classifiers; on the test split, or on the external set named `split` (`--test-dir`)."""
    index = data["splits"]["test"] if split == "test" else data["external"][split]
    y, ages = index.labels, index.frame["_age"].to_numpy("float32")
    prefix = "" if split == "test" else f"external__{split}__"
    results = {}
    for (backbone, variant), seeds in runs.items():
        rows, found = [], []
        for run in seeds:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                report = classification_report(y, run[prefix + "disease"], class_names=data["class_names"],
                                               task="multiclass")
            found += [w for w in report_warnings(report, f"{backbone} {variant}") if w not in found]
            row = {"accuracy": report["overall"]["accuracy"], "recall": report["macro"]["sensitivity"],
                   "precision": report["macro"]["precision"], "f1": report["macro"]["f1"]}
            if variant != "ablation2" and prefix + "age" in run and np.isfinite(ages).all():
                row.update(age_mae=float(mean_absolute_error(ages, run[prefix + "age"])),
                           age_r2=float(r2_score(ages, run[prefix + "age"])))
                found += [w for w in regression_warnings(f"{backbone} {variant} age head", ages, run[prefix + "age"],
                                                         float(np.mean(data["ages"]["train"])), data["age_unit"])
                          if w not in found]
            rows.append(row)
        summary = {k: (float(np.nanmean([r[k] for r in rows])), float(np.nanstd([r[k] for r in rows])))
                   for k in rows[0]}
        summary["warnings"] = found
        results[f"{backbone}/{variant}"] = summary
    return results


def _figures(config, data, runs, table, figures):
    y = data["splits"]["test"].labels
    truth = np.argmax(y, axis=1)
    full = {b: table[f"{b}/full"] for b in config.backbones if f"{b}/full" in table}
    if full:
        best = max(full, key=lambda b: full[b]["accuracy"][0])
        run = runs[(best, "full")][0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            matrix = classification_report(y, run["disease"], task="multiclass")["confusion_matrix"]
        title = f"Fig. 6: {best} (full model)"
        figures.draw(plot_confusion_matrix, "confusion_matrix", np.asarray(matrix), data["class_names"], normalize=True,
                     title=title, caption=title)
        if len(set(truth.tolist())) > 1:
            title = f"Fig. 5: ROC, {best} (full model)"
            figures.draw(plot_roc_curves, "roc_curves", truth, run["disease"], data["class_names"], title=title,
                         caption=title)
        metrics = ("accuracy", "recall", "precision", "f1")
        figures.draw(plot_metric_lines, "backbones_line", {b: {m: r[m][0] for m in metrics} for b, r in full.items()},
                     metrics, errors={b: {m: r[m][1] for m in metrics} for b, r in full.items()},
                     title="Fig. 7: performance by network (full model)", caption="Fig. 7: performance by network")
    variants = [v for v in config.variants if all(f"{b}/{v}" in table for b in config.backbones)]
    if variants:
        figures.draw(plot_metric_bars, "ablation_bars",
                     {v: {b: table[f"{b}/{v}"]["accuracy"][0] for b in config.backbones} for v in variants},
                     metrics=tuple(config.backbones), title="Fig. 8: ablation study (accuracy)",
                     caption="Fig. 8: ablation study")


def _reconstruction_figure(config, data, model, backbone, figures):
    images = stream(config, data["splits"]["test"].subset(np.arange(min(4, len(data["splits"]["test"])))),
                    config.image_size, shuffle=False, target=None, batch_size=4)[0][0]
    restored = keras.ops.convert_to_numpy(model(images))
    figures.draw(plot_image_grid, f"reconstruction_{backbone}", {"input": images,
                                                                 "reconstruction": np.clip(restored, 0, 1)},
                 caption=f"{backbone} autoencoder: input / reconstruction")


# ------------------------------------------------------------------------------------------- run
def run(config=None):
    """Runs pretraining, transfer (every backbone × variant × seed) and evaluation; returns the metrics.

    Example:
    >>> from keras_cxr.recipes import infant_transfer
    >>> metrics = infant_transfer.run(infant_transfer.Config.quick(output_dir="/tmp/infant"))  # doctest: +SKIP
    """
    return run_recipe(config or Config(), _steps, write_report)


def _steps(config):
    unknown = [b for b in config.backbones if b not in list_models()]
    if unknown:
        raise ValueError(f"Unknown backbones {unknown}; registered: {', '.join(list_models())}.")
    data = load_data(config)
    figures = FigureLog(config.output_dir)
    runs, encoders = {}, {}
    for backbone in config.backbones:
        needs_pretraining = any(v != "ablation1" for v in config.variants)
        encoder = None
        if needs_pretraining:
            encoder, _ = pretrain(config, data, backbone)
            _reconstruction_figure(config, data, encoder, backbone, figures)
        for variant in config.variants:
            runs[(backbone, variant)] = [transfer(config, data, backbone, variant, encoder, seed)
                                         for seed in config.seeds]
        if config.linear_probe and encoder is not None:
            runs[(backbone, "linprobe")] = [linear_probe(config, data, backbone, encoder, seed) for seed in config.seeds]
        encoders[backbone] = encoder
    table = evaluate(config, data, runs)
    _figures(config, data, runs, table, figures)
    sweep = label_efficiency(config, data, encoders, figures) if config.label_fractions else None
    return {"table": table, **({"label_efficiency": sweep} if sweep else {}), "external": {name: evaluate(config, data, runs, name) for name in data["external"]},
            "calibration": calibration(config, data, runs, figures), "class_names": data["class_names"],
            "age_unit": data["age_unit"], "figures": figures.entries,
            "sizes": {"pretrain": len(data["pretrain"]), **{k: len(v) for k, v in data["splits"].items()}}}


def calibration(config, data, runs, figures):
    """Calibration of each full model's disease probabilities on the test split (first seed), before and after
    temperature scaling fitted on the validation split (Guo et al. 2017; the paper reports none)."""
    found = {}
    for (backbone, variant), seeds in runs.items():
        run = seeds[0]
        if variant != "full" or "val__disease" not in run:  # a stage saved before validation outputs were kept
            continue
        found[backbone] = calibration_summary(
            np.argmax(data["splits"]["val"].labels, 1), run["val__disease"], np.argmax(data["splits"]["test"].labels, 1),
            run["disease"], "multiclass", title=f"Reliability {backbone} (full model, test split)",
            path=figures.record(f"reliability_{backbone}", f"Reliability {backbone} (full model, test split)"))
    return found


def write_report(config, metrics):
    """report.md: the preamble, calibration, Table 1 (full models), Table 2 (ablations), external sets, then the
    learning curves and figures."""
    table_, unit = metrics["table"], metrics["age_unit"]
    report = Report(
        "# Infant transfer (paper 002) — run report",
        preamble=["Data: " + ("synthetic phantom (adult + pediatric pretraining; pediatric normal vs abnormal with ages)"
                              if config.transfer_dir is None else f"pretraining `{list(_dirs(config.pretrain_dir))}`, "
                              f"transfer `{config.transfer_dir}` ({config.label_column}, {config.age_column})") +
                  f"; {config.image_size} px, seeds {list(config.seeds)}, α = {config.age_loss_weight}.",
                  "Quick or phantom runs only exercise the pipeline; they are not comparable with the paper.",
                  "Sizes: " + ", ".join(f"{k} {v}" for k, v in metrics["sizes"].items()) +
                  f"; classes {metrics['class_names']}.",
                  "**Readings of the paper** (it does not say; `Config` documents each): backbones start the "
                  "autoencoder " + ("from random weights" if config.backbone_weights in (None, "", "none") else
                                    f"from `{config.backbone_weights}` weights (a comparison, not the paper's reading)") +
                  f"; the pediatric test split is {config.test_fraction:.0%} of the patients held out (the paper's "
                  "accuracies are multiples of 1/38, a 38-image test set); the validation split selects the kept epoch."],
        warnings=[w for r in table_.values() for w in r["warnings"]],
        tail=engine.report_tail(config, metrics))
    if metrics.get("calibration"):
        report.section("Calibration of the full models' disease probabilities (test split, first seed)",
                       "Temperature fitted on the validation split (Guo et al. 2017); the paper reports none.",
                       calibration_table(metrics["calibration"]), "(reliability diagrams under Figures)")
    full = [b for b in config.backbones if f"{b}/full" in table_]
    report.section("Table 1: full model, mean ± sd over seeds (paper accuracy / recall / precision / F1 in brackets)",
                   table(["backbone", "accuracy", "recall", "precision", "F1", f"age MAE ({unit})", "age R²"], [
                       [b] + [beside(table_[f"{b}/full"][m], PAPER_TABLE_1[b][i] if b in PAPER_TABLE_1 else None, 4,
                                     "brackets") for i, m in enumerate(("accuracy", "recall", "precision", "f1"))]
                       + [mean_sd(table_[f"{b}/full"]["age_mae"][0], 2), mean_sd(table_[f"{b}/full"]["age_r2"][0])]
                       for b in full]))
    report.section("Table 2: ablations, accuracy mean ± sd (paper in brackets)", table(
        ["backbone", *config.variants],
        [[b] + [beside(table_[f"{b}/{v}"]["accuracy"], PAPER_TABLE_2[b][VARIANTS.index(v)] if b in PAPER_TABLE_2
                       else None, 4, "brackets") if f"{b}/{v}" in table_ else "—" for v in config.variants]
         for b in config.backbones]))
    probes = [b for b in config.backbones if f"{b}/linprobe" in table_]
    if probes:
        report.section("Linear probing of the autoencoder encoders (not in the paper; mae's protocol)",
                       "Frozen encoder, BatchNorm without affine, one linear disease head (`keras_cxr.recipes."
                       "protocols`); accuracy and macro F1, mean ± sd, beside the full model's:",
                       table(["backbone", "probe accuracy", "full accuracy", "probe F1", "full F1"],
                             [[b, mean_sd(table_[f"{b}/linprobe"]["accuracy"], 4),
                               mean_sd(table_.get(f"{b}/full", {}).get("accuracy"), 4),
                               mean_sd(table_[f"{b}/linprobe"]["f1"], 4), mean_sd(table_.get(f"{b}/full", {}).get("f1"), 4)]
                              for b in probes]))
    if "label_efficiency" in metrics:
        sweep = metrics["label_efficiency"]
        report.section(f"Label efficiency (not in the paper): test accuracy of {sweep['backbone']} vs labelled images",
                       protocols.label_efficiency_table(sweep["results"], metrics["sizes"]["train"]),
                       "(figure under Figures)")
    for set_name, rows in metrics.get("external", {}).items():
        report.section(f"External test set `{set_name}`: accuracy and macro F1, mean ± sd (own test split beside it)",
                       table(["model", "accuracy (external / own)", "F1 (external / own)"],
                             [[key] + [f"{mean_sd(r[m], 4)} / {mean_sd(table_[key][m][0], 4)}" for m in ("accuracy", "f1")]
                              for key, r in rows.items()]))
    return report.markdown()


def main(argv=None):
    """Command line: every Config field is a `--flag`; `--quick` starts from `Config.quick()`."""
    config = parse_config(Config, argv, description=__doc__.splitlines()[0])
    metrics = run(config)
    print(json.dumps({k: {m: v[m] for m in ("accuracy", "f1")} for k, v in metrics["table"].items()}, indent=2))
    print(f"report: {os.path.join(config.output_dir, 'report.md')}")
    return metrics
