"""Dual-masked autoencoders pretrained on adult CXRs, fine-tuned on multi-label pediatric CXRs (paper 000).

Reproduces Yoon & Kang, "Dual-Masked Autoencoders: Application to Multi-Labeled Pediatric Thoracic
Diseases", IEEE Access 12 (2024), doi:10.1109/ACCESS.2024.3418985:

1. (§III.A–B) pretrain MAE and dual-MAE (online + EMA target, Eq. 1–2) ViT-S/16 on unlabeled adult CXRs:
   resize 256, ImageNet standardization, random-resized-crop 224 (scale 0.5–1), flip; AdamW (0.9, 0.95),
   wd 0.05, lr 1.5e-4 · batch/256, 20 warmup epochs + cosine, 800 epochs;
2. (§III.B) fine-tune the online encoder + linear head on the class token, 6 sigmoid outputs, mean BCE;
   AdamW lr 2.5e-3, batch 128, 75 epochs (5 warmup) + cosine, layer decay 0.55, RandAugment m6, DropPath
   0.2, 3 seeds; (§IV.B) eight methods (`METHODS`): ResNet-34 and ViT-S each from scratch, ImageNet-
   pretrained (IN) and pretrained on adult X-rays, then MAE(X-ray) and dual-MAE(X-ray);
3. (Tables 2–6) per-class AUC, mean AUC, sensitivity / precision / F1, masking-ratio and label-fraction
   sweeps; we add bootstrap confidence intervals and DeLong tests.

Paper numbers (PediCXR test set, mean AUC, Table 3): ResNet-34 random 0.669 / IN 0.697 / X-ray 0.712, ViT-S
random 0.645 / IN 0.638 / X-ray 0.669, MAE(X-ray) 0.735, dual-MAE(X-ray) 0.752. Hardware: the paper pretrains on 303k images for 800 epochs
(GPU-days). `Config.quick()` runs the whole pipeline on the phantom in minutes on a CPU. On a GPU or a CPU
with bf16 units, `dtype_policy="mixed_bfloat16"` (`--dtype-policy mixed_bfloat16`) trains MAE faster than
float32: on this project's 2-core AMX CPU at batch 32, 33-36 against 11.5-12.3 images/s on PyTorch and 16.0
against 12.7 on TensorFlow (`benchmarks/mae_pretrain.py`); the losses and the classifier heads stay float32.

Baselines (§IV.B): the paper gives its fine-tuning recipe for "the ViT model" and says nothing more about
how the baselines were trained; our choices, applied to all of them: the same fine-tuning as MAE (AdamW
β 0.9 / 0.95, weight decay 0.05 without biases, norms and tokens, lr 2.5e-3 at batch 128, 75 epochs with 5
warmup + cosine, RandAugment m6, mean BCE over the 6 classes, 3 seeds), DropPath 0.2 for every ViT-S and
none for ResNet-34 (it has no such layer), layer-wise lr decay 0.55 only for MAE and dual-MAE (the
BEiT / MAE convention for masked-modelling encoders; the other ViT-S get one lr). IN: ResNet-34 from
torchvision's ImageNet weights (stem summed over RGB for the 1-channel input); ViT-S only from a weights
file the user gives (a timm / DeiT / MAE / medical_mae `.pth`, converted on load). X-ray: supervised on the
adult sets' labels (`pretrain_supervised`). A method whose initialization cannot be had is left out with
the reason (`resolve_methods`), never trained from random weights under its name.

Choices where the paper is silent: decoder size (MAE's default 512-d, 8 blocks, 16 heads), the threshold
for sensitivity/precision/F1 (Youden's J per class on the validation split), the test split for folders
without an official one (patient-level 20 %; with one, e.g. PediCXR's image_labels_test.csv, that one is
the test split and the official training images are split 80/20 by patient, as §IV.A does).
"""

import dataclasses
import json
import os
import warnings

import keras
import numpy as np
from sklearn.metrics import roc_auc_score

from keras_cxr.callbacks import EMATargetUpdate, scaled_lr
from keras_cxr.data import (DEFAULT_PREVALENCE, FINDINGS, DatasetIndex, MAEPretrainAugmentation, denormalize_imagenet,
                            index_any, index_labels_csv, index_sources, normalize_imagenet, phantom_index, randaugment)
from keras_cxr.data.layouts import index_with_official_split, official_test_split
from keras_cxr.metrics import classification_report, find_threshold
from keras_cxr.models import create_model
from keras_cxr.recipes import engine, protocols
from keras_cxr.recipes._cli import parse_config
from keras_cxr.recipes.base import (RecipeConfig, limit, named_test_sets, run_recipe, split_index, stage, stream,
                                    without_held_out)
from keras_cxr.report import (FigureLog, calibration_summary, calibration_table, plot_image_grid,
                              plot_label_efficiency, report_warnings)
from keras_cxr.report.document import Report, beside, mean_sd, table, warning_lines
from keras_cxr.stats import bootstrap_ci, delong_test

PAPER_TABLE_3_MEAN_AUC = {"resnet34_scratch": 0.669, "vit_scratch": 0.645, "resnet34_imagenet": 0.697,
                          "vit_imagenet": 0.638, "resnet34_xray": 0.712, "vit_xray": 0.669, "mae": 0.735,
                          "dual_mae": 0.752}
PAPER_TABLE_2 = {"mae": {0.65: 0.698, 0.70: 0.681, 0.75: 0.733, 0.80: 0.731, 0.85: 0.735, 0.90: 0.734, 0.95: 0.726},
                 "dual_mae": {0.65: 0.699, 0.70: 0.747, 0.75: 0.752, 0.80: 0.741, 0.85: 0.746, 0.90: 0.740, 0.95: 0.697}}
TABLE_5_METRICS = ("mean_auc", "sensitivity", "precision", "f1")
# Table 5 (dual-MAE(X-ray) per fraction of labelled fine-tuning data): AUC, sensitivity, precision, F1 (means).
PAPER_TABLE_5 = {0.01: (0.573, 0.680, 0.475, 0.540), 0.10: (0.620, 0.696, 0.479, 0.543),
                 0.50: (0.733, 0.730, 0.554, 0.599), 1.00: (0.752, 0.715, 0.563, 0.593)}
# Table 6 (mean AUC of every method at 10 / 50 / 100 % of the labels).
PAPER_TABLE_6 = {"resnet34_scratch": {0.1: 0.551, 0.5: 0.639, 1.0: 0.667}, "vit_scratch": {0.1: 0.560, 0.5: 0.579, 1.0: 0.644},
                 "resnet34_imagenet": {0.1: 0.589, 0.5: 0.639, 1.0: 0.694}, "vit_imagenet": {0.1: 0.623, 0.5: 0.661, 1.0: 0.655},
                 "resnet34_xray": {0.1: 0.569, 0.5: 0.670, 1.0: 0.694}, "vit_xray": {0.1: 0.576, 0.5: 0.611, 1.0: 0.654},
                 "mae": {0.1: 0.636, 0.5: 0.686, 1.0: 0.732}, "dual_mae": {0.1: 0.620, 0.5: 0.733, 1.0: 0.752}}
# §IV.B, Tables 3, 4, 6: each backbone from scratch, ImageNet-pretrained (IN), pretrained on adult X-rays, then
# MAE(X-ray) and dual-MAE(X-ray).
METHODS = ("resnet34_scratch", "vit_scratch", "resnet34_imagenet", "vit_imagenet", "resnet34_xray", "vit_xray",
           "mae", "dual_mae")
QUICK_METHODS = ("vit_scratch", "mae", "dual_mae")  # Config.quick(): the ViT beside its pretrained twins, to stay fast
# Registered models (keras_cxr.models.list_models()) of each method: pretraining, then fine-tuning (§IV.B).
PRETRAINING_MODELS = {"mae": "mae_vit_small", "dual_mae": "dual_mae_vit_small", "resnet34_xray": "resnet34",
                      "vit_xray": "vit_small"}
FINETUNE_MODELS = {"resnet34_scratch": "resnet34", "vit_scratch": "vit_small", "resnet34_imagenet": "resnet34",
                   "vit_imagenet": "vit_small", "resnet34_xray": "resnet34", "vit_xray": "vit_small",
                   "mae": "vit_small", "dual_mae": "vit_small"}


@dataclasses.dataclass
class Config(RecipeConfig):
    """Settings of the study; defaults are the paper's, with their source (the shared ones: `RecipeConfig`)."""

    output_dir: str = "runs/dual_mae"
    pretrain_dir: tuple = ()  # §IV.A: ChestX-ray14 + CheXpert frontal: one or more folders (frontal views kept)
    finetune_dir: str | None = None  # §IV.A: PediCXR (VinDr-PCXR layout) or a labels.csv folder
    finetune_csv: str | None = None
    finetune_label_column: str | None = None  # labels.csv folders: e.g. "finding_labels" (NIH's 14, multi-label)
    phantom_pretrain_images: int = 2000  # not in the paper: adult phantom stand-in
    phantom_finetune_images: int = 1000  # not in the paper: pediatric phantom stand-in
    # not in the paper: the phantom findings drawn and classified in the pediatric stand-in (the others are not
    # drawn, so "no finding" stays true); the quick preset leaves out the nodule, 2-3 px at 64 px
    phantom_findings: tuple = FINDINGS
    image_size: int = 224  # §III.B
    resize_to: int = 256  # §III.B
    crop_scale: tuple = (0.5, 1.0)  # §III.B
    patch_size: int = 16  # §III.A: 16 × 16 patches
    embed_dim: int = 384  # ViT-S (§IV.B)
    depth: int = 12  # ViT-S
    num_heads: int = 6  # ViT-S
    mlp_dim: int = 1536  # ViT-S
    decoder_dim: int = 512  # not stated: MAE default
    decoder_depth: int = 8  # not stated: MAE default
    decoder_num_heads: int = 16  # not stated: MAE default
    mask_ratio_mae: float = 0.85  # §IV.C, Table 2: best for MAE
    mask_ratio_dual: float = 0.75  # §IV.C, Table 2: best for dual-MAE
    mask_ratio_sweep: tuple = ()  # Table 2: e.g. 0.65 0.7 0.75 0.8 0.85 0.9 0.95
    tau: float = 0.99  # §III.A, Eq. 2
    lambdas: tuple = (1.0, 1.0, 1.0)  # §III.A, Eq. 1
    pretrain_base_lr: float = 1.5e-4  # §III.B (scaled by batch / 256)
    pretrain_batch_size: int = 256  # §III.B
    pretrain_epochs: int = 800  # §III.B
    pretrain_warmup_epochs: int = 20  # §III.B
    weight_decay: float = 0.05  # §III.B
    beta_2: float = 0.95  # §III.B (beta_1 = 0.9)
    finetune_lr: float = 2.5e-3  # §III.B
    finetune_batch_size: int = 128  # §III.B
    finetune_epochs: int = 75  # §III.B
    finetune_warmup_epochs: int = 5  # §III.B
    layer_decay: float = 0.55  # §III.B
    randaugment_magnitude: int = 6  # §III.B
    # Not stated for fine-tuning: () = the images resized to image_size; (min, max) = §III.B's pretraining
    # augmentation (resize to resize_to, random-resized crop of that area range, horizontal flip) in fine-tuning
    # too, as MAE's fine-tuning recipe crops and flips (the Kermany command: RandAugment is slow on a CPU).
    finetune_crop_scale: tuple = ()
    drop_path_rate: float = 0.2  # §III.B
    seeds: tuple = (0, 1, 2)  # §III.B: three runs
    label_fractions: tuple = (0.01, 0.1, 0.5, 1.0)  # Table 5: dual-MAE fine-tuned on these fractions of labels
    table_6_fractions: tuple = (0.1, 0.5, 1.0)  # Table 6: every method on these fractions
    validation_fraction: float = 0.2  # §IV.A: 20 % of PediCXR training data for validation
    methods: tuple = METHODS  # §IV.B: the eight methods of Tables 3, 4 and 6
    # ImageNet initializations (§IV.B "IN"): "imagenet" fetches torchvision's resnet34-b627a593.pth through
    # Keras' cache (keras_cxr.models.load_torchvision_weights converts it), or a path (.pth / .weights.h5 /
    # .keras); "none" leaves the method out. vit_imagenet: a timm / DeiT / MAE / medical_mae ViT-S/16 .pth
    # (keras_cxr.models.load_torch_vit_checkpoint converts it on load, e.g. medical_mae's vit-s_CXR_0.3M_mae.pth)
    # or a keras_cxr vit_small .weights.h5 / .keras file, of this Config's ViT size; nothing is downloaded.
    resnet34_imagenet_weights: str | None = "imagenet"
    vit_imagenet_weights: str | None = None
    xray_pretrain_epochs: int = 100  # not stated: supervised pretraining of ResNet-34(X-ray) / ViT-S(X-ray)
    # not stated: the fine-tuned model kept is the epoch with the best validation macro AUC (the 20 %
    # validation split of §IV.A); "val_loss", or "last" for the last epoch (MAE's main_finetune keeps the last)
    finetune_monitor: str = "val_auc"
    # Linear probing beside fine-tuning (not in paper 000; facebookresearch/mae's main_linprobe.py protocol):
    # each self-supervised encoder (MAE, dual-MAE) frozen, BatchNorm without affine, one linear layer, SGD
    # momentum 0.9 (mae: LARS at batch 16,384, which small batches do not need) at lr = blr x batch / 256 on
    # warm-up + cosine, no weight decay; reported as "<method>_linprobe" rows. False: fine-tuning only.
    # (`keras_cxr.recipes.protocols`; linprobe_blr / _epochs / _warmup_epochs: RecipeConfig's, mae's defaults)
    linear_probe: bool = True
    bootstrap_resamples: int = 1000  # not in the paper: CIs on mean AUC

    @classmethod
    def quick(cls, **overrides):
        """Minutes on a 2-core CPU: phantom, 64 px, patch 8, a 2-block ViT, one seed; Tables 5-6 only at 100 %
        of the labels (the main run, no extra training); 3 of the 8 methods (`QUICK_METHODS`: the ViT from
        scratch beside MAE and dual-MAE), so ResNet-34 and the ImageNet and X-ray-pretrained baselines are
        skipped and the report says so (pass `methods=METHODS` / `--methods ...` to run them).

        Departures from the paper's fine-tuning, for a ViT that learns from 1,000 images in 30 epochs (with the
        paper's RandAugment m6, DropPath 0.2 and 3 epochs the ViT's validation AUC stayed at 0.52-0.58):
        no RandAugment, no DropPath, lr 2e-3 (batch 32) with a 3-epoch warm-up, 30 epochs. Pretraining: 2,000
        adult phantom images x 8 epochs (MAE's loss falls 1.65 -> 1.13, dual-MAE's 3.85 -> 2.34; with 600
        images x 8 epochs MAE and dual-MAE fine-tuned to mean AUC 0.70-0.73 only).

        The pediatric phantom draws and classifies four findings (`phantom_findings`): its nodules are 2-3 px at
        64 px, and with them every method sat at chance on that class (AUC 0.44-0.50), which the report flagged.

        Measured (PyTorch, seed 0, 2-core AMD EPYC, alone: 451 s for the whole test): test mean AUC ViT from
        scratch 0.87, MAE 0.83, dual-MAE 0.78 (`tests/recipes/test_quick_presets.py` asserts >= 0.70), no
        degenerate-model warning; linear probe on the initial weights -> last epoch: MAE 0.63 -> 0.71, dual-MAE
        0.66 -> 0.69 (best 0.71)."""
        values = dict(output_dir="runs/dual_mae_quick", phantom_pretrain_images=2000, phantom_finetune_images=1600,
                      image_size=64, resize_to=72, patch_size=8, embed_dim=64, depth=2, num_heads=2, mlp_dim=128,
                      decoder_dim=32, decoder_depth=1, decoder_num_heads=2, pretrain_batch_size=32,
                      pretrain_epochs=8, pretrain_warmup_epochs=1, pretrain_base_lr=1.5e-3, finetune_batch_size=32,
                      finetune_epochs=30, finetune_warmup_epochs=3, finetune_lr=2e-3, randaugment_magnitude=0,
                      drop_path_rate=0.0, seeds=(0,), bootstrap_resamples=200, verbose=2,
                      linear_probe=False, linprobe_epochs=15, linprobe_warmup_epochs=1,  # --linear-probe true adds it
                      label_fractions=(1.0,), table_6_fractions=(1.0,),  # Tables 5-6 from the main run only
                      methods=QUICK_METHODS,  # 3 of the 8 methods; the report lists the others as not requested
                      phantom_findings=FINDINGS[:4],  # no nodule: 2-3 px at 64 px, every method sat at chance on it
                      jit_compile="false",  # tiny models, few steps: XLA compiling costs more than it saves
                      probe_images=512)  # feature probes on 512 labelled images (CI budget)
        values.update(overrides)
        return cls(**values)


# ------------------------------------------------------------------------------------------- data
def _pretrain_dirs(config):
    return (config.pretrain_dir,) if isinstance(config.pretrain_dir, str) else tuple(config.pretrain_dir or ())


def _finetune_index(config):
    """The labelled pediatric index: the phantom (findings + "no finding"), or the user's folder / table."""
    path = config.finetune_csv or config.finetune_dir
    if path is None:
        index = phantom_index(config.phantom_finetune_images, config.resize_to, seed=config.seed + 20,
                              cache_dir=config.cache_dir, prevalence=_phantom_prevalence(config))
    elif config.finetune_label_column:
        if not os.path.isfile(os.path.join(path, "labels.csv")):
            raise ValueError(f"--finetune-label-column needs a labels.csv folder; {path!r} has no labels.csv. "
                             "Drop the option to use the layout's own labels.")
        index = index_labels_csv(path, label_column=config.finetune_label_column)
    else:
        index = index_with_official_split(path)
    index = limit(index, config)
    if path is None:  # paper 000's "No finding" class beside the findings
        left_out = [name for name in index.class_names if name not in config.phantom_findings]  # never drawn
        frame = index.frame.drop(columns=left_out)
        frame.insert(0, "no finding", (np.nan_to_num(index.labels).sum(1) == 0).astype(float))
        index = DatasetIndex(frame, ["no finding", *[n for n in index.class_names if n not in left_out]], "multilabel")
    elif index.task not in ("multilabel", "binary"):
        index.frame[index.class_names] = np.nan_to_num(index.labels)
    return index


def _phantom_prevalence(config):
    """The phantom's default prevalence for `phantom_findings`, 0 for the others; None (the cached default
    folder) when every finding is kept. Raises ValueError naming an unknown finding."""
    unknown = sorted(set(config.phantom_findings) - set(FINDINGS))
    if unknown or not config.phantom_findings:
        raise ValueError(f"phantom_findings must be a non-empty subset of {FINDINGS}; received "
                         f"{tuple(config.phantom_findings)} (unknown: {unknown}).")
    if set(config.phantom_findings) == set(FINDINGS):
        return None
    return {name: DEFAULT_PREVALENCE[name] if name in config.phantom_findings else 0.0 for name in FINDINGS}


def load_data(config):
    """Unlabeled adult pretraining images and pediatric multi-label train / val / test splits, as
    `DatasetIndex`es over files (the phantom is written once to the cache folder and indexed the same way).

    Several `pretrain_dir` folders are concatenated (`keras_cxr.data.index_sources`, frontal views only
    where the layout records views: CheXpert, ChestX-ray14). Test split (§IV.A): the dataset's official
    one whenever its layout has one (`official_test_split`: VinDr-PCXR / PediCXR image_labels_test.csv,
    ChestX-ray14 test_list.txt, CheXpert test.csv else valid.csv, a labels table's split column); the
    remaining images are split by patient into train and `validation_fraction` validation (§IV.A: 80/20).
    Without an official split (the phantom, plain folders) the test split is a patient-level 20 %, then
    the same train / validation split of the rest. Which one was used is in `test_split` (and the report).

    Returns:
        {"pretrain": DatasetIndex, "splits": {"train" | "val" | "test": DatasetIndex}, "class_names": [...],
        "test_split": a sentence naming the test split used}.
    """
    dirs = _pretrain_dirs(config)
    if dirs:
        pretrain = index_sources(dirs, view_filter="frontal")
    else:
        pretrain = phantom_index(config.phantom_pretrain_images, config.resize_to, seed=config.seed + 10,
                                 age_range=(18.0, 90.0), cache_dir=config.cache_dir)
    pretrain = limit(pretrain, config)
    index = _finetune_index(config)
    test_rows, test_split = official_test_split(index)
    if test_rows is None:
        test_fraction = 0.2
        fractions = ((1 - test_fraction) * (1 - config.validation_fraction),
                     (1 - test_fraction) * config.validation_fraction, test_fraction)
        splits = split_index(index, fractions, config.seed)
    else:
        rest = index.subset(np.flatnonzero(~test_rows))
        splits = split_index(rest, (1 - config.validation_fraction, config.validation_fraction), config.seed,
                             names=("train", "val"))
        splits["test"] = index.subset(np.flatnonzero(test_rows))
        shared = set(splits["test"].frame["patient_id"].astype(str)) & set(rest.frame["patient_id"].astype(str))
        shared.discard("")
        if shared:
            warnings.warn(f"{len(shared)} patients of the official test split also have images outside it (e.g. "
                          f"{sorted(shared)[:3]}); their other images stay in train / validation.", stacklevel=2)
    external = named_test_sets(config, lambda path: _external_index(config, path, index.class_names))
    pretrain, dropped = without_held_out(pretrain, splits["test"], *external.values())
    if dropped:
        test_split += (f"; {dropped} pretraining images of test patients left out of pretraining "
                       "(`without_held_out`)")
    return {"pretrain": pretrain, "splits": splits, "class_names": index.class_names, "test_split": test_split,
            "external": external}


def _external_index(config, path, class_names):
    """An external test set (`--test-dir NAME=PATH`) read as the fine-tuning folder is (`--finetune-label-column`
    or the layout's own labels), its columns put in the fine-tuning classes' order; a class the set does not
    label is NaN there (left out of its AUCs)."""
    found = index_labels_csv(path, label_column=config.finetune_label_column) if config.finetune_label_column \
        and os.path.isfile(os.path.join(path, "labels.csv")) else index_any(path)
    shared = [c for c in class_names if c in found.class_names]
    if not shared:
        raise ValueError(f"--test-dir {path!r} labels {found.class_names}, none of the fine-tuning classes "
                         f"{class_names}; pass a folder labelled like the fine-tuning data (same --finetune-label-column).")
    frame = found.frame.drop(columns=found.class_names)
    for c in class_names:
        frame[c] = found.frame[c].to_numpy(np.float64) if c in shared else np.nan
    return DatasetIndex(frame, list(class_names), "multilabel")


# ------------------------------------------------------------------------------------------- models
def _vit_kwargs(config):
    """The ViT-S/16 preset's size as the Config states it (quick presets shrink it)."""
    return dict(patch_size=config.patch_size, embed_dim=config.embed_dim, depth=config.depth,
                num_heads=config.num_heads, mlp_dim=config.mlp_dim)


def _adamw(config, lr, epochs, warmup_epochs, layer_decay=None):
    """§III.B's optimizer as a function of the steps per epoch: AdamW (β 0.9 / `beta_2`, `weight_decay`) on
    warm-up + cosine, biases, norms and tokens excluded from weight decay as facebookresearch/mae does; with
    `layer_decay`, MAE's layer-wise learning-rate decay."""
    return lambda steps: engine.make_optimizer(
        "adamw", lr, schedule="cosine", steps_per_epoch=steps, epochs=epochs, warmup_epochs=warmup_epochs,
        weight_decay=config.weight_decay, beta_2=config.beta_2, layer_decay=layer_decay,
        num_layers=config.depth if layer_decay is not None else None)


def pretrain(config, data, method, mask_ratio, callbacks=()):
    """Pretrains MAE or dual-MAE (§III.B), streaming the images from disk; a resumable stage.

    The finished model is the stage's result (`models/<method>_mask<ratio>.keras`); a killed run restarts
    from its last finished epoch (`backup_and_restore`, under `output_dir/backup/<method>_mask<ratio>`).
    Extra `callbacks` are appended (e.g. a progress logger). Returns (model, its per-epoch history).
    """
    tag = f"{method}_mask{int(round(mask_ratio * 100))}"
    extra = {"lambdas": config.lambdas} if method == "dual_mae" else {}

    def images():
        dataset = stream(config, data["pretrain"], config.image_size, batch_size=config.pretrain_batch_size,
                         augment=MAEPretrainAugmentation(config.image_size, config.resize_to, config.crop_scale),
                         normalize="imagenet", target=None, seed=config.seed, drop_remainder=True)
        if len(dataset) == 0:
            raise ValueError(f"pretrain_batch_size={config.pretrain_batch_size} exceeds the {len(data['pretrain'])} "
                             "pretraining images; lower it.")
        return dataset

    return engine.fit_stage(
        config, tag,
        lambda: create_model(PRETRAINING_MODELS[method], input_shape=(config.image_size, config.image_size, 1),
                             seed=config.seed, mask_ratio=mask_ratio, decoder_dim=config.decoder_dim,
                             decoder_depth=config.decoder_depth, decoder_num_heads=config.decoder_num_heads,
                             **_vit_kwargs(config), **extra),
        images, epochs=config.pretrain_epochs, keep="last", monitor="loss",
        optimizer=_adamw(config, scaled_lr(config.pretrain_base_lr, config.pretrain_batch_size), config.pretrain_epochs,
                         config.pretrain_warmup_epochs),
        callbacks=lambda: [*callbacks, *([EMATargetUpdate(config.tau)] if method == "dual_mae" else []),
                           *engine.feature_probes(config, data["splits"]["train"],
                                                  config.image_size, normalize="imagenet")])


def _none(value):
    return value is None or str(value).strip().lower() in ("", "none")


def resolve_methods(config, data):
    """Which of `config.methods` can run, checked before anything trains: ({method: initialization},
    {method: reason it is left out}).

    Initialization: None (scratch, MAE, dual-MAE: their own pretraining), "imagenet" or a weights path
    (the ImageNet methods), "xray" (supervised pretraining on the adult images, `pretrain_supervised`).
    An ImageNet method whose weights cannot be had, or an X-ray method without labelled adult images, is
    left out with the reason (report.md and metrics.json `methods_left_out`), never trained from random
    weights under a "pretrained" name.

    Raises:
        ValueError: an unknown method, or a weights path that does not exist.
    """
    unknown = [m for m in config.methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown methods {unknown}; choose from {list(METHODS)}.")
    run, left_out = {}, {}
    for method in config.methods:
        if method.endswith("_imagenet"):
            weights = config.resnet34_imagenet_weights if method == "resnet34_imagenet" else config.vit_imagenet_weights
            flag = "--resnet34-imagenet-weights" if method == "resnet34_imagenet" else "--vit-imagenet-weights"
            if _none(weights):
                left_out[method] = (
                    f"no ImageNet weights given ({flag} is none)" if method == "resnet34_imagenet" else
                    f"no ViT-S/16 weights given ({flag} is none); pass a timm / DeiT / MAE / medical_mae .pth "
                    "(keras_cxr's converter reads it) or a keras_cxr vit_small .weights.h5 / .keras file")
                continue
            if weights != "imagenet" and not os.path.exists(weights):
                raise ValueError(f"{flag} {weights!r} does not exist; pass an existing weights file, 'imagenet' "
                                 "(ResNet-34 only) or none to leave the method out.")
            try:  # fetch / convert once now, on a small input, so a missing file is known before training
                size = 32 if method == "resnet34_imagenet" else config.image_size  # a ViT file fixes its size
                create_model(FINETUNE_MODELS[method], input_shape=(size, size, 1), weights=weights,
                             **({} if method == "resnet34_imagenet" else _vit_kwargs(config)))
            except (OSError, ValueError) as error:
                left_out[method] = f"the ImageNet weights cannot be had: {error}"
                continue
            run[method] = weights
        elif method.endswith("_xray"):
            if not data["pretrain"].class_names:
                left_out[method] = ("the adult pretraining images carry no labels; §IV.B's X-ray-pretrained "
                                    "baselines are trained on labelled adult X-rays (ChestX-ray14 / CheXpert layouts)")
                continue
            run[method] = "xray"
        else:
            run[method] = None
    return run, left_out


def pretrain_supervised(config, data, method):
    """ResNet-34(X-ray) / ViT-S(X-ray) (§IV.B): the backbone trained supervised on the labelled adult
    pretraining images, a resumable stage (`models/<method>_pretrain.keras`).

    The paper does not say how these baselines were pretrained; our reading: multi-label sigmoid + mean
    BCE over the adult sets' own findings (ChestX-ray14's 14, CheXpert's 14 observations with U-Zeros; a
    finding a source lacks counts as negative), frontal views, the fine-tuning optimizer of §III.B (AdamW
    `finetune_lr` on warmup + cosine, no decay on biases / norms / tokens, RandAugment, DropPath for the
    ViT) for `xray_pretrain_epochs`. The fine-tuning then copies every layer but the head.
    """
    index = data["pretrain"]
    options = {} if PRETRAINING_MODELS[method] == "resnet34" else dict(_vit_kwargs(config),
                                                                       drop_path_rate=config.drop_path_rate)
    model, _ = engine.fit_stage(
        config, f"{method}_pretrain",
        lambda: create_model(PRETRAINING_MODELS[method], input_shape=(config.image_size, config.image_size, 1),
                             num_classes=len(index.class_names), head_activation="sigmoid", **options),
        lambda: stream(config, index, config.image_size, labels=np.nan_to_num(index.labels),
                       batch_size=min(config.finetune_batch_size, len(index)), seed=config.seed,
                       batch_augment=randaugment(config.randaugment_magnitude, seed=config.seed), normalize="imagenet"),
        epochs=config.xray_pretrain_epochs, keep="last", monitor="loss",
        optimizer=_adamw(config, config.finetune_lr, config.xray_pretrain_epochs, config.finetune_warmup_epochs),
        loss=keras.losses.BinaryCrossentropy())
    return model


def build_classifier(config, method, pretrained, num_classes):
    """Fine-tuning model (§III.B, §IV.B): `FINETUNE_MODELS[method]` with a linear sigmoid head on the class
    token (or ResNet-34's pooled features), initialized from `pretrained` when given: an MAE / dual-MAE
    (its online encoder), an X-ray-pretrained classifier (every layer but a head of another size), or
    ImageNet weights ("imagenet" or a file)."""
    name = FINETUNE_MODELS[method]
    shape = (config.image_size, config.image_size, 1)
    if name == "resnet34":
        return create_model(name, input_shape=shape, num_classes=num_classes, head_activation="sigmoid",
                            weights=pretrained)
    options = dict(_vit_kwargs(config), drop_path_rate=config.drop_path_rate)
    if pretrained is not None:  # MAE's fine-tuning head init; weights copied from the (online) encoder
        options.update(weights=pretrained, head_initializer=keras.initializers.TruncatedNormal(stddev=2e-5))
    return create_model(name, input_shape=shape, num_classes=num_classes, head_activation="sigmoid", **options)


def finetune(config, data, method, pretrained, seed, fraction=1.0, variant="", protocol="finetune"):
    """Fine-tunes one model (§III.B) on a label fraction, streaming the images; a resumable stage whose
    result is the validation and test probabilities and the loss history (`results/finetune_*.npz`).
    `variant` names another pretraining of the same method (Table 2's masking ratios: "_mask65").
    `protocol="linear_probe"` trains a linear probe of the frozen pretrained encoder instead
    (`keras_cxr.models.linear_probe`; `Config.linear_probe` says which settings; `results/linprobe_*.npz`)."""
    probing = protocol == "linear_probe"
    name = f"{'linprobe' if probing else 'finetune'}_{method}{variant}_seed{seed}_fraction{int(round(fraction * 100))}"

    def train():
        keras.utils.set_random_seed(seed)
        train_index = protocols.labelled_fraction(data["splits"]["train"], fraction, seed)
        if probing:
            model = protocols.probe_model(pretrained, len(data["class_names"]), "sigmoid")
        else:
            model = build_classifier(config, method, pretrained, len(data["class_names"]))
        batch_size = min(config.finetune_batch_size, len(train_index))
        scale = tuple(map(float, config.finetune_crop_scale))  # the CLI gives strings for an empty default
        crop = MAEPretrainAugmentation(config.image_size, config.resize_to, scale) if scale else None
        dataset = stream(config, train_index, config.image_size, labels=np.nan_to_num(train_index.labels),
                         batch_size=batch_size, seed=seed, normalize="imagenet", augment=crop,
                         batch_augment=None if probing else randaugment(config.randaugment_magnitude, seed=seed))
        val_index = data["splits"]["val"]
        validation = stream(config, val_index, config.image_size, labels=np.nan_to_num(val_index.labels),
                            batch_size=64, shuffle=False, normalize="imagenet")
        layer_decay = config.layer_decay if method in ("mae", "dual_mae") else None
        if probing:
            epochs, optimizer = config.linprobe_epochs, protocols.probe_optimizer(config, batch_size)
        else:
            epochs = config.finetune_epochs
            optimizer = _adamw(config, config.finetune_lr, epochs, config.finetune_warmup_epochs, layer_decay)
        history = engine.fit(config, name, model, dataset, validation=validation, epochs=epochs, optimizer=optimizer,
                             loss=keras.losses.BinaryCrossentropy(),  # mean of per-class BCE (§III.B)
                             metrics=[keras.metrics.AUC(multi_label=True, name="auc")],
                             monitor="loss" if config.finetune_monitor == "last" else config.finetune_monitor,
                             keep="last" if config.finetune_monitor == "last" else "best")

        def predict(split):
            return engine.predict(config, model, data["splits"][split], config.image_size, normalize="imagenet")

        external = {f"external__{n}": engine.predict(config, model, index, config.image_size, normalize="imagenet")
                    for n, index in data.get("external", {}).items()}
        val = predict("val")
        engine.save_trained(config, name, model, task="multilabel", class_names=data["class_names"],
                            normalization="imagenet", threshold=find_threshold(np.nan_to_num(val_index.labels), val),
                            validation=(val_index.labels, val),
                            notes="thresholds: Youden's J on the validation split, per class")
        return {"val": val, "test": predict("test"), "loss": np.asarray(history["loss"]), **external}

    result = stage(config, name, train, kind="npz")
    return {"val": result["val"], "test": result["test"], "history": {"loss": result["loss"].tolist()},
            "external": {k[len("external__"):]: v for k, v in result.items() if k.startswith("external__")}}


# ------------------------------------------------------------------------------------------- evaluation
def evaluate(config, data, predictions, figures=None):
    """Tables 3–4 (mean ± sd over seeds), bootstrap CI of mean AUC, DeLong dual-MAE vs each method.

    Classes without a positive or a negative test case get NaN AUC and are left out of the mean (a warning
    names them); DeLong p-values are given for classes with at least two of each.
    """
    names = data["class_names"]
    y_val, y_test = data["splits"]["val"].labels, data["splits"]["test"].labels
    counts = [(np.nansum(y_test[:, c] == 1), np.nansum(y_test[:, c] == 0)) for c in range(len(names))]
    valid = [c for c, (pos, neg) in enumerate(counts) if pos >= 1 and neg >= 1]  # an AUC exists
    testable = [c for c, (pos, neg) in enumerate(counts) if pos >= 2 and neg >= 2]  # DeLong's variance exists
    if len(valid) < len(names):
        warnings.warn("mean AUC leaves out classes with no positive or no negative test case: "
                      f"{[names[c] for c in range(len(names)) if c not in valid]}", stacklevel=2)

    def mean_auc(y, p):
        # In a bootstrap resample a rare class can vanish: its AUC is NaN and the resample is dropped.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(np.mean([roc_auc_score(y[:, c], p[:, c]) for c in valid]))

    results = {}
    for method, runs in predictions.items():
        rows, found = [], []
        for run in runs:
            thresholds = find_threshold(np.nan_to_num(y_val), run["val"], rule="youden")
            report = classification_report(y_test, run["test"], threshold=thresholds, class_names=names,
                                           task="multilabel")
            found += [w for w in report_warnings(report, method) if w not in found]
            if np.ptp(run["test"]) <= 1e-4:
                found.insert(0, f"{method} gives every test image and class the same score: a constant predictor.")
            rows.append({"auc_per_class": {n: report["per_class"][n]["auc_roc"] for n in names},
                         "mean_auc": mean_auc(y_test, run["test"]),
                         **{m: report["macro"][m] for m in ("sensitivity", "precision", "f1", "accuracy")}})
        summary = {k: (float(np.mean([r[k] for r in rows])), float(np.std([r[k] for r in rows])))
                   for k in ("mean_auc", "sensitivity", "precision", "f1", "accuracy")}
        with warnings.catch_warnings():  # a class absent from the test split has NaN AUC in every seed
            warnings.simplefilter("ignore", RuntimeWarning)
            summary["auc_per_class"] = {n: (float(np.nanmean([r["auc_per_class"][n] for r in rows])),
                                            float(np.nanstd([r["auc_per_class"][n] for r in rows]))) for n in names}
        average = np.mean([run["test"] for run in runs], axis=0)
        ci = bootstrap_ci(mean_auc, y_test, average, n_resamples=config.bootstrap_resamples, seed=config.seed,
                          stratified=False)
        summary["mean_auc_ci95"] = (ci["low"], ci["high"])
        summary["calibration"] = calibration_summary(
            y_val, np.mean([run["val"] for run in runs], axis=0), y_test, average, "multilabel",
            path=None if figures is None else figures.record(f"reliability_{method}",
                                                             f"Reliability {method} (test split, seed-averaged)"),
            title=f"Reliability {method} (test split, seed-averaged, all classes)")
        if summary["mean_auc"][0] <= 0.55:
            found.insert(0, f"{method} has mean AUC {summary['mean_auc'][0]:.3f}, at or near chance (0.5): it has "
                            "not learned the findings.")
        summary["warnings"] = found  # keras_cxr.report.degenerate: a class never predicted, chance AUC
        summary["degenerate"] = bool(summary["mean_auc"][0] <= 0.55 or any("same score" in w for w in found))
        summary["seed_average_probabilities"] = average
        results[method] = summary
    if "dual_mae" in results:
        reference = results["dual_mae"]["seed_average_probabilities"]
        for method, summary in results.items():
            if method != "dual_mae":
                summary["delong_vs_dual_mae"] = {
                    names[c]: delong_test(y_test[:, c], summary["seed_average_probabilities"][:, c],
                                          reference[:, c])["p"] for c in testable}
    for summary in results.values():
        summary.pop("seed_average_probabilities")
    return results


def evaluate_external(data, predictions):
    """Mean AUC (over the classes each `--test-dir` set labels with positives and negatives), mean ± sd over
    seeds, per external set and method: {set: {method: (mean, sd)}}."""
    found = {}
    for set_name, index in data.get("external", {}).items():
        y = index.labels
        usable = [c for c in range(y.shape[1]) if len(np.unique(y[np.isfinite(y[:, c]), c])) == 2]
        found[set_name] = {}
        for method, runs in predictions.items():
            values = []
            for run in runs:
                scores = run["external"][set_name]
                values.append(np.mean([roc_auc_score(y[np.isfinite(y[:, c]), c], scores[np.isfinite(y[:, c]), c])
                                       for c in usable]) if usable else np.nan)
            found[set_name][method] = (float(np.mean(values)), float(np.std(values)))
    return found


def label_fraction_tables(config, data, pretrained, full):
    """Table 5 (dual-MAE on each of `label_fractions`: AUC, sensitivity, precision, F1) and Table 6 (every
    method on each of `table_6_fractions`: mean AUC), each cell (mean, sd) over the seeds.

    A fraction keeps that share of the training patients (stratified, per seed; `finetune`); fraction 1.0
    is the main run (`full`, Tables 3-4), not trained again. Returns {"table_5": {fraction: {metric:
    (mean, sd)}}, "table_6": {method: {fraction: (mean, sd)}}}, leaving out a table with no fraction.
    """
    cache = {1.0: full}

    def results(fraction, methods):
        found = cache.setdefault(fraction, {})
        missing = [m for m in methods if m not in found]
        if missing:
            runs = {m: [finetune(config, data, m, pretrained.get(m), seed, fraction) for seed in config.seeds]
                    for m in missing}
            found.update(evaluate(config, data, runs))
        return found

    tables = {}
    if "dual_mae" in full and config.label_fractions:
        tables["table_5"] = {float(f): {k: results(float(f), ["dual_mae"])["dual_mae"][k] for k in TABLE_5_METRICS}
                             for f in sorted(set(config.label_fractions))}
    if config.table_6_fractions:
        methods = [m for m in config.methods if m in full]
        tables["table_6"] = {m: {} for m in methods}
        for f in sorted(set(config.table_6_fractions)):
            row = results(float(f), methods)
            for m in methods:
                tables["table_6"][m][float(f)] = row[m]["mean_auc"]
    return tables


def _reconstruction_figure(model, images, method, figures):
    """Masked input / online / target reconstruction / original (dual-MAE), or MAE's three panels."""
    x = normalize_imagenet(images)
    network = getattr(model, "online", model)
    online, masked = (keras.ops.convert_to_numpy(v) for v in network.reconstruct(x))
    columns = {"masked input": masked}
    columns["online" if hasattr(model, "online") else "reconstruction"] = online
    if hasattr(model, "target"):
        columns["target"] = keras.ops.convert_to_numpy(model.target.reconstruct(x)[0])
    columns["original"] = x
    columns = {k: denormalize_imagenet(v) for k, v in columns.items()}
    figures.draw(plot_image_grid, f"reconstruction_{method}", columns, caption=f"{method}: " + " / ".join(columns))


def run(config=None):
    """Runs pretraining, fine-tuning, sweeps and evaluation; writes the output folder; returns the metrics.

    Example:
    >>> from keras_cxr.recipes import dual_mae
    >>> metrics = dual_mae.run(dual_mae.Config.quick(output_dir="/tmp/dual"))  # doctest: +SKIP
    """
    return run_recipe(config or Config(), _steps, write_report)


def _steps(config):
    data = load_data(config)
    figures = FigureLog(config.output_dir)
    sample = stream(config, data["splits"]["test"], config.image_size, shuffle=False, target=None,
                    batch_size=4)[0][0]
    methods, left_out = resolve_methods(config, data)
    pretrained = {}
    for method, initialization in methods.items():
        if initialization == "xray":
            pretrained[method] = pretrain_supervised(config, data, method)
        elif initialization is not None:
            pretrained[method] = initialization
    ratios = {"mae": config.mask_ratio_mae, "dual_mae": config.mask_ratio_dual}
    for method, ratio in ratios.items():
        if method in methods:
            pretrained[method], _ = pretrain(config, data, method, ratio)
            _reconstruction_figure(pretrained[method], sample, method, figures)
    predictions = {m: [finetune(config, data, m, pretrained.get(m), seed) for seed in config.seeds]
                   for m in methods}
    if config.linear_probe:  # the frozen self-supervised encoders, beside their fine-tuned twins
        for method in ("mae", "dual_mae"):
            if method in methods:
                predictions[f"{method}_linprobe"] = [finetune(config, data, method, pretrained[method], seed,
                                                              protocol="linear_probe") for seed in config.seeds]
    metrics = {"class_names": data["class_names"], "table_3_4": evaluate(config, data, predictions, figures),
               "methods_run": list(methods), "methods_left_out": left_out,
               "methods_not_requested": [m for m in METHODS if m not in config.methods],
               "split_sizes": {"pretrain": len(data["pretrain"]),
                               **{k: len(v) for k, v in data["splits"].items()}},
               "test_split": data["test_split"], "external": evaluate_external(data, predictions)}
    if config.mask_ratio_sweep:
        metrics["table_2"] = {}
        for method in ("mae", "dual_mae"):
            for ratio in config.mask_ratio_sweep:
                if method in methods and abs(ratio - ratios[method]) < 1e-9:  # the main run's pretraining
                    metrics["table_2"].setdefault(method, {})[ratio] = metrics["table_3_4"][method]["mean_auc"]
                    continue
                model, _ = pretrain(config, data, method, ratio)
                variant = f"_mask{int(round(ratio * 100))}"
                runs = {method: [finetune(config, data, method, model, seed, variant=variant) for seed in config.seeds]}
                metrics["table_2"].setdefault(method, {})[ratio] = evaluate(config, data, runs)[method]["mean_auc"]
    metrics.update(label_fraction_tables(config, data, pretrained, metrics["table_3_4"]))
    if len({f for row in metrics.get("table_6", {}).values() for f in row}) > 1:
        figures.draw(plot_label_efficiency, "label_efficiency", metrics["table_6"], metrics["split_sizes"]["train"],
                     PAPER_TABLE_6, title="Table 6: mean AUC vs labelled images (hollow: the paper at the same fraction)",
                     caption="label efficiency (Table 6)")
    metrics["figures"] = figures.entries
    return metrics


def _method_lines(metrics):
    """Which of the paper's eight methods ran, which were left out and why, which were not requested."""
    ran = metrics.get("methods_run", list(metrics["table_3_4"]))
    lines = [f"Methods: {len(ran)} of the paper's {len(METHODS)} ran ({', '.join(ran)})."]
    for method, reason in metrics.get("methods_left_out", {}).items():
        lines.append(f"- **{method} left out**: {reason}.")
    if metrics.get("methods_not_requested"):
        lines.append(f"- Not requested in this run (`methods`; `Config.quick()` runs {len(QUICK_METHODS)} of "
                     f"{len(METHODS)} to stay fast): {', '.join(metrics['methods_not_requested'])}.")
    return lines


def _delong_section(metrics):
    """DeLong p-values of dual-MAE against each method, per class (* p < 0.05)."""
    table_ = metrics["table_3_4"]
    delong = {method: r["delong_vs_dual_mae"] for method, r in table_.items() if "delong_vs_dual_mae" in r}
    if not delong:
        return []
    tested = [n for n in metrics["class_names"] if any(n in p for p in delong.values())]
    involved = [m for m in delong if table_[m].get("degenerate")] + (["dual_mae"] if table_["dual_mae"].get(
        "degenerate") else [])
    return ["DeLong p-values against dual_mae per class (seed-averaged probabilities; classes with ≥ 2 positives and "
            "negatives in the test split; * p < 0.05):", "",
            *table(["method", *tested], [[method] + [f"{p[n]:.3f}{'*' if p[n] < 0.05 else ''}" if n in p else "—"
                                                     for n in tested] for method, p in delong.items()]),
            *(["", f"These tests involve degenerate models ({', '.join(involved)}): their p-values compare predictors "
               "that learned nothing and are not evidence about the method."] if involved else [])]


def write_report(config, metrics):
    """report.md: the preamble, Tables 3–4 (with per-class AUC, calibration, DeLong tests and external sets),
    Table 2 (masking ratios), Tables 5–6 (label fractions), then the learning curves and figures."""
    table_ = metrics["table_3_4"]
    degenerate = [m for m, r in table_.items() if r.get("degenerate")]
    report = Report(
        "# Dual-MAE (paper 000) — run report",
        preamble=["Data: " + ("synthetic phantom (adult pretraining, pediatric multi-label fine-tuning)"
                              if not _pretrain_dirs(config) else f"pretraining `{list(_pretrain_dirs(config))}`, "
                              f"fine-tuning `{config.finetune_csv or config.finetune_dir}`") +
                  f"; {config.image_size} px, ViT {config.embed_dim}/{config.depth}/{config.num_heads}, seeds "
                  f"{list(config.seeds)}.",
                  f"Test split: {metrics.get('test_split', 'not recorded')}; validation: "
                  f"{config.validation_fraction:.0%} of the remaining images by patient (§IV.A). Split sizes: "
                  + ", ".join(f"{k} {v}" for k, v in metrics["split_sizes"].items()) + ".",
                  *_method_lines(metrics),
                  "Quick or phantom runs only exercise the pipeline; they are not comparable with the paper."],
        tail=engine.report_tail(config, metrics))
    report.section(
        "Tables 3–4: test metrics, mean ± sd over seeds (thresholds: Youden's J on validation)",
        warning_lines([w for r in table_.values() for w in r.get("warnings", ())],
                      "**Warnings.** " + (f"Degenerate models (constant or chance-level): {', '.join(degenerate)}; "
                                          "their numbers below are not results. " if degenerate else "") +
                      "Train longer or tune the learning rates where a class is never predicted or ranks at chance:"),
        table(["method", "mean AUC", "95% CI (bootstrap)", "paper mean AUC", "sensitivity", "precision", "F1",
               "accuracy"],
              [[method, mean_sd(r["mean_auc"]), f"{r['mean_auc_ci95'][0]:.3f}–{r['mean_auc_ci95'][1]:.3f}",
                str(PAPER_TABLE_3_MEAN_AUC.get(method, "—"))] + [mean_sd(r[k]) for k in ("sensitivity", "precision",
                                                                                        "f1", "accuracy")]
               for method, r in table_.items()]),
        "Accuracy: per class at its threshold, macro-averaged (for a two-class folder such as Kermany's NORMAL / "
        "PNEUMONIA, the binary accuracy; not a column of the paper).",
        ["Per-class AUC (mean over seeds):", "", *table(
            ["method", *metrics["class_names"]],
            [[method] + [mean_sd(r["auc_per_class"][n][0]) for n in metrics["class_names"]]
             for method, r in table_.items()])],
        ["Calibration of the seed-averaged test probabilities (every class's sigmoid output pooled; temperature "
         "fitted on the validation split, Guo et al. 2017; the paper reports none):", "",
         *calibration_table({m: r["calibration"] for m, r in table_.items()}), "", "(reliability diagrams under Figures)"]
        if table_ else [],
        _delong_section(metrics))
    for set_name, rows in metrics.get("external", {}).items():
        report.section(f"External test set `{set_name}`: mean AUC, mean ± sd over seeds (own test split beside it)",
                       table(["method", "external", "own test split"],
                             [[m, mean_sd(v), mean_sd(table_[m]["mean_auc"])] for m, v in rows.items()]), level=3)
    if "table_2" in metrics:
        report.section("Table 2: mean AUC vs masking ratio (ours / paper)", [
            f"- {method}: " + ", ".join(f"{k}: {mean_sd(v)} / {PAPER_TABLE_2[method].get(round(k, 2), '—')}"
                                        for k, v in row.items()) for method, row in metrics["table_2"].items()])
    if "table_5" in metrics:
        report.section("Table 5: dual-MAE vs fraction of labelled fine-tuning data, mean ± sd over seeds (paper in "
                       "brackets)", table(["labelled data", "AUC", "sensitivity", "precision", "F1"], [
                           [f"{fraction:.0%}"] + [beside(row[k], paper[i] if paper else None, 3, "brackets")
                                                  for i, k in enumerate(TABLE_5_METRICS)]
                           for fraction, row in metrics["table_5"].items()
                           for paper in [PAPER_TABLE_5.get(round(fraction, 2))]]))
    if "table_6" in metrics:
        fractions = sorted({f for row in metrics["table_6"].values() for f in row})
        report.section("Table 6: mean AUC of every method vs fraction of labelled data, mean ± sd over seeds (paper "
                       "in brackets)", table(["method", *(f"{f:.0%}" for f in fractions)], [
                           [method] + [beside(row[f], PAPER_TABLE_6.get(method, {}).get(round(f, 2)), 3, "brackets")
                                       if f in row else "—" for f in fractions]
                           for method, row in metrics["table_6"].items()]))
    return report.markdown()


def main(argv=None):
    """Command line: every Config field is a `--flag`; `--quick` starts from `Config.quick()`."""
    config = parse_config(Config, argv, description=__doc__.splitlines()[0])
    metrics = run(config)
    print(json.dumps({m: r["mean_auc"] for m, r in metrics["table_3_4"].items()}, indent=2))
    print(f"report: {os.path.join(config.output_dir, 'report.md')}")
    return metrics
