"""SS-CXR (paper 001): GMML pretraining of ViT-S on unlabeled CXRs → classification across data shifts → UNETR.

Reproduces Anwar et al., "SS-CXR: Multitask Representation Learning using Self Supervised Pre-training from
Chest X-Rays" (Children's National / University of Surrey):

1. (§3.1, Eq. 1–2, Algorithm 1) pretrain a ViT-S/16 as a group-masked autoencoder (`keras_cxr.models.GMML`):
   70 % of the image replaced by noise or 35 % by blocks of another CXR, a light decoder (FC 2048 → 2048 →
   256, transposed conv), L1 on the corrupted pixels only;
2. (§3.2, §4.2) fine-tune encoder + linear head on the class token at 256 × 256 (position table recomputed
   for the larger grid: our ViT's sin-cos positions need no interpolation), AdamW wd 0.05, lr 5e-4,
   100 epochs, for five tasks (covid vs non-covid, healthy vs pathology, pneumonia vs healthy, pneumonia vs
   covid, healthy/pneumonia/covid; `keras_cxr.data.CLASSIFICATION_TASKS`) and three strategies: ViT-S from
   scratch, SS-CXR (our GMML), SS-IN (GMML on ImageNet, only when `imagenet_weights` is given);
3. (§4.2.1–4.2.2, Tables 1–4) test every fine-tuned model on any number of named test sets (the same
   sites, unseen sites COHEN & ACTMED held out of pretraining and fine-tuning, pediatric data): TPR, FPR,
   FNR, AUC-PR, AUC-ROC per class and accuracy, with bootstrap CIs; ROC / PR curves; attention heat maps
   (Fig. 4: the class token's attention in the last block and attention rollout);
4. (§4.3, Table 5, Fig. 3) UNETR (ViT-S taps 3/6/9 + final norm, feature size 16) for lung segmentation
   from scratch and from the GMML encoder, AdamW wd 1e-5, lr 5e-4, 400 epochs, 256 × 256 (§4.3); the loss,
   Dice + BCE, is not named in the paper (UNETR's and MONAI's usual choice);
   IoU, Dice, HD95 and predicted vs true outlines.

Paper numbers: Table 1 covid vs non-covid accuracy (same sites / unseen / pediatric): ViT-S 89.25 / 71.53 /
68.42, SS-CXR 98.25 / 74.24 / 94.73; Table 5 Montgomery: UNETR Dice 0.9227, IoU 0.8566, HD95 16.70; UNETR +
SS-CXR Dice 0.9561, IoU 0.9160, HD95 9.73. Hardware: the paper pretrains on the 31k COVIDx CXR-3 images
(GPU-days); `Config.quick()` runs every stage on the phantom in minutes on a CPU.

Choices where the paper is silent (the field's usual ones, stated per field in `Config`): GMML pretraining
schedule (100 epochs, lr 5e-4, wd 0.05, batch 64, 10 warmup epochs + cosine; augmentation = random resized
crop 0.5–1 + flip, as paper 000 does for CXRs), pretraining size 224; DeiT's fine-tuning defaults (batch 64,
5 warmup epochs + cosine, label smoothing 0.1, stochastic depth 0.1, RandAugment m9; DeiT's random resized
crop and flip are an option (`finetune_crop_scale`, off by default), mixup / cutmix / random erasing / repeated
augmentation are left out: crops can cut lesions out
of a CXR (paper 000's remark) and the others are tuned for ImageNet's 1.28 M images); the epoch kept is the one
with the best validation AUC on the validation split (10 % of the fine-tuning data, patient level;
`finetune_monitor`); UNETR batch 8, no augmentation. Phantom stand-ins
for pneumonia and COVID-19: `keras_cxr.data.phantom_canonical_labels`.
"""

import dataclasses
import json
import os
import warnings

import keras
import numpy as np
from sklearn.metrics import roc_auc_score

from keras_cxr.data import (CLASSIFICATION_TASKS, MAEPretrainAugmentation, canonical_labels, covidx_split_files,
                            denormalize_imagenet, index_any, index_labels_csv, index_segmentation, index_sources,
                            load_images, normalize_imagenet, phantom_canonical_labels, phantom_index, randaugment,
                            split_sources, task_index)
from keras_cxr.data.layouts import index_with_official_split, official_test_split
from keras_cxr.explain import attention_rollout, class_token_attention
from keras_cxr.losses import DiceBCELoss
from keras_cxr.metrics import classification_report, dice, hausdorff_distance, iou
from keras_cxr.models import create_model, linear_probe
from keras_cxr.recipes import engine, protocols
from keras_cxr.recipes._cli import parse_config
from keras_cxr.recipes.base import (RecipeConfig, limit, named_test_sets, run_recipe, split_index, stage, stream,
                                    without_held_out)
from keras_cxr.report import (FigureLog, calibration_summary, plot_activation_maps, plot_image_grid, plot_mask_outlines,
                              plot_pr_curves, plot_roc_curves, report_warnings, segmentation_warnings)
from keras_cxr.report.document import Report, mean_sd, table
from keras_cxr.stats import bootstrap_ci

STRATEGIES = ("vit_scratch", "ss_in", "ss_cxr")  # §4.2: 1) supervised ViT-S, 2) SS-IN, 3) SS-CXR
# Tables 1-4. Table 3 (right) is "Pneumonia vs Non-Pneumonia" (300 / 100 test images, COVID-19 among the
# negatives: its header and §3.2); §4.2's text calls it "pneumonia vs healthy", which is the task
# `pneumonia_vs_healthy` (COVID-19 left out), kept for folders without COVID-19 (Kermany) but not a paper table.
TASKS = ("covid_vs_noncovid", "healthy_vs_pathology", "pneumonia_vs_covid", "pneumonia_vs_nonpneumonia",
         "healthy_pneumonia_covid")
PAPER_TABLES = {  # accuracy (%) per test paradigm, Tables 1–4
    "covid_vs_noncovid": {"vit_scratch": {"same sites": 89.25, "unseen": 71.53, "pediatric": 68.42},
                          "ss_in": {"same sites": 98.25, "unseen": 69.81, "pediatric": 59.26},
                          "ss_cxr": {"same sites": 98.25, "unseen": 74.24, "pediatric": 94.73}},
    "healthy_vs_pathology": {"vit_scratch": {"same sites": 94.50, "unseen": 61.51, "pediatric": 68.42},
                             "ss_in": {"same sites": 96.25, "unseen": 58.08, "pediatric": 64.02},
                             "ss_cxr": {"same sites": 97.00, "unseen": 61.08, "pediatric": 97.36}},
    "pneumonia_vs_covid": {"vit_scratch": {"same sites": 96.0}, "ss_in": {"same sites": 98.30},
                           "ss_cxr": {"same sites": 99.67}},
    "pneumonia_vs_nonpneumonia": {"vit_scratch": {"same sites": 96.0}, "ss_in": {"same sites": 98.0},
                                  "ss_cxr": {"same sites": 98.0}},
    "healthy_pneumonia_covid": {"vit_scratch": {"same sites": 92.50}, "ss_in": {"same sites": 96.0},
                                "ss_cxr": {"same sites": 96.0}},
}
# The paper's rate columns as printed, (TPR, "FPR", "FNR", AUC-PR, AUC-ROC) per strategy and test paradigm
# (Tables 1-3; Table 4: per class 0 / 1 / 2). In almost every row "FPR" = 1 - TPR, i.e. the printed "FPR" is the
# positive class's miss rate (FNR) and the printed "FNR" is not 1 - TPR: the two columns read as swapped. Our
# tables use the standard definitions per class (FPR = FP / (FP + TN), FNR = FN / (FN + TP)) and show these
# rows beside them unchanged, so a reader can compare either way.
PAPER_RATES = {
    "covid_vs_noncovid": {
        "vit_scratch": {"same sites": (0.975, 0.025, 0.190, 0.972, 0.977), "unseen": (0.740, 0.260, 0.319, 0.693, 0.755),
                        "pediatric": (0.522, 0.478, 0.118, 0.619, 0.702)},
        "ss_in": {"same sites": (1.0, 0.0, 0.035, 0.998, 0.998), "unseen": (0.762, 0.237, 0.389, 0.650, 0.723),
                  "pediatric": (0.855, 0.144, 0.646, 0.642, 0.605)},
        "ss_cxr": {"same sites": (1.0, 0.0, 0.035, 0.999, 0.999), "unseen": (0.779, 0.220, 0.308, 0.726, 0.789),
                   "pediatric": (0.952, 0.048, 0.059, 0.997, 0.997)}},
    "healthy_vs_pathology": {
        "vit_scratch": {"same sites": (0.980, 0.020, 0.067, 0.995, 0.985), "unseen": (0.438, 0.562, 0.176, 0.559, 0.539),
                        "pediatric": (0.524, 0.476, 0.118, 0.620, 0.689)},
        "ss_in": {"same sites": (0.980, 0.020, 0.043, 0.996, 0.986), "unseen": (0.332, 0.668, 0.078, 0.551, 0.672),
                  "pediatric": (0.711, 0.299, 0.424, 0.693, 0.661)},
        "ss_cxr": {"same sites": (0.970, 0.030, 0.030, 0.997, 0.992), "unseen": (0.463, 0.537, 0.153, 0.665, 0.679),
                   "pediatric": (0.952, 0.048, 0.0, 1.0, 1.0)}},
    "pneumonia_vs_covid": {"vit_scratch": {"same sites": (0.960, 0.040, 0.040, 0.994, 0.989)},
                           "ss_in": {"same sites": (1.0, 0.0, 0.025, 0.999, 0.999)},
                           "ss_cxr": {"same sites": (1.0, 0.0, 0.005, 1.0, 0.999)}},
    "pneumonia_vs_nonpneumonia": {"vit_scratch": {"same sites": (0.973, 0.027, 0.080, 0.961, 0.978)},
                                  "ss_in": {"same sites": (0.990, 0.010, 0.060, 0.984, 0.989)},
                                  "ss_cxr": {"same sites": (0.990, 0.010, 0.050, 0.988, 0.995)}},
    "healthy_pneumonia_covid": {  # per class 0 (healthy), 1 (pneumonia), 2 (covid)
        "vit_scratch": {"same sites": ((0.990, 0.010, 0.077, 0.953, 0.987), (0.890, 0.110, 0.013, 0.958, 0.978),
                                       (0.910, 0.090, 0.015, 0.984, 0.987))},
        "ss_in": {"same sites": ((0.990, 0.010, 0.047, 0.965, 0.990), (0.940, 0.060, 0.007, 0.986, 0.993),
                                 (0.955, 0.045, 0.0, 0.997, 0.995))},
        "ss_cxr": {"same sites": ((0.980, 0.020, 0.043, 0.972, 0.991), (0.950, 0.050, 0.007, 0.987, 0.995),
                                  (0.955, 0.005, 0.005, 0.997, 0.997))}},
}
PAPER_TABLE_5 = {"unetr_scratch": {"iou": 0.8566, "dice": 0.9227, "hd95": 16.70},
                 "unetr_ss_in": {"iou": 0.8963, "dice": 0.9453, "hd95": 9.07},
                 "unetr_ss_cxr": {"iou": 0.9160, "dice": 0.9561, "hd95": 9.73}}
# The labelled phantom stands in for COVIDx CXR-3, whose classes are far from the phantom's default mix (about
# half of COVIDx is COVID-19): consolidation (pneumonia's stand-in) and the interstitial pattern (COVID-19's)
# at 0.3 each give about 36 % healthy, 21 % pneumonia, 21 % covid (`phantom_canonical_labels`); not in the paper.
PHANTOM_PREVALENCE = {"consolidation": 0.3, "interstitial": 0.3, "cardiomegaly": 0.1, "effusion": 0.1, "nodule": 0.1}
SAME_SITES = "test"  # the name of the held-out split of the fine-tuning data (Table 1's "RSNA & RICORD")


@dataclasses.dataclass
class Config(RecipeConfig):
    """Settings of the study; defaults are the paper's, with their source (the shared ones: `RecipeConfig`)."""

    output_dir: str = "runs/ss_cxr"
    # data (§4.1)
    pretrain_dir: tuple = ()  # §4.1: COVIDx CXR-3 without labels (any folders; COHEN/ACTMED rows dropped)
    classify_dir: str | None = None  # §4.1: COVIDx CXR-3 (train.txt / test.txt), Kermany, or a labels.csv folder
    label_column: str | None = None  # labels.csv folders: the categorical column (default "label")
    exclude_sources: tuple = ("cohen", "actmed")  # §4.1: held out of pretraining and fine-tuning → "unseen"
    segmentation_dir: str | None = None  # §4.3: Shenzhen + Belarus (any lung-mask layout)
    segmentation_test_dir: str | None = None  # §4.3: Montgomery (else 20 % of segmentation_dir)
    # SS-IN: GMML's ImageNet ViT-S/16 as its PyTorch .pth (converted on load; any timm / DeiT / MAE / medical_mae
    # ViT-S/16 .pth too) or as a keras_cxr ViT / GMML .keras / .weights.h5
    imagenet_weights: str | None = None
    phantom_pretrain_images: int = 2000  # not in the paper: adult phantom stand-in
    phantom_classify_images: int = 1000  # not in the paper: adult phantom, labelled
    phantom_pediatric_images: int = 300  # not in the paper: the shifted (pediatric) test set
    phantom_segmentation_images: int = 300  # not in the paper: phantom lung masks
    tasks: tuple = TASKS  # §4.2, Tables 1–4
    strategies: tuple = STRATEGIES  # §4.2 (ss_in only with imagenet_weights)
    # ViT-S/16 (§4.2: embedding 384, 22 M parameters)
    patch_size: int = 16
    embed_dim: int = 384
    depth: int = 12
    num_heads: int = 6
    mlp_dim: int = 1536
    # GMML pretraining (§3.1)
    pretrain_image_size: int = 224  # not stated: GMML's (and ViT-S/16's) 224
    resize_to: int = 256  # not stated: load size before the random resized crop
    crop_scale: tuple = (0.5, 1.0)  # not stated: paper 000's CXR crop scale
    noise_ratio: float = 0.7  # §3.1: 70 % of the image replaced by noise
    replace_ratio: float = 0.35  # §3.1: 35 % replaced by another CXR
    decoder_dim: int = 2048  # §3.1
    bottleneck_dim: int = 256  # §3.1
    pretrain_epochs: int = 100  # not stated
    pretrain_batch_size: int = 64  # not stated
    pretrain_lr: float = 5e-4  # not stated: the fine-tuning lr of §4.2
    pretrain_warmup_epochs: int = 10  # not stated
    pretrain_weight_decay: float = 0.05  # not stated: §4.2's
    # classification fine-tuning (§4.2; DeiT where silent)
    image_size: int = 256  # §4.2
    finetune_lr: float = 5e-4  # §4.2
    weight_decay: float = 0.05  # §4.2
    finetune_epochs: int = 100  # §4.2
    finetune_batch_size: int = 64  # not stated: DeiT's per-GPU batch
    finetune_warmup_epochs: int = 5  # not stated: DeiT
    label_smoothing: float = 0.1  # not stated: DeiT
    drop_path_rate: float = 0.1  # not stated: DeiT-S
    randaugment_magnitude: int = 9  # not stated: DeiT's rand-m9
    # not stated: () = no crop (the default: crops can cut lesions out of a CXR, paper 000's remark); (min, max) =
    # DeiT's random resized crop of that area range (DeiT: (0.08, 1.0)) from resize_to, plus a horizontal flip
    finetune_crop_scale: tuple = ()
    validation_fraction: float = 0.1  # not stated: patient-level share of the fine-tuning data
    # not stated: the classifier kept is the epoch with the best validation AUC; "last" keeps the last (DeiT)
    finetune_monitor: str = "val_auc"
    test_fraction: float = 0.2  # folders without an official test split: patient-level share held out
    bootstrap_resamples: int = 1000  # not in the paper: 95 % CIs
    num_attention_images: int = 4  # Fig. 4
    # UNETR lung segmentation (§4.3)
    segmentation_image_size: int = 256  # §4.3
    feature_size: int = 16  # §4.3 / MONAI default
    segmentation_lr: float = 5e-4  # §4.3
    segmentation_weight_decay: float = 1e-5  # §4.3
    segmentation_epochs: int = 400  # §4.3
    segmentation_batch_size: int = 8  # not stated
    segmentation_strategies: tuple = ("unetr_scratch", "unetr_ss_in", "unetr_ss_cxr")  # Table 5

    @classmethod
    def quick(cls, **overrides):
        """Minutes on a 2-core CPU: phantom, 64 px, patch 8 on a 2-block ViT (embedding 64), every stage, task
        and strategy the run can do (ViT from scratch beside SS-CXR; SS-IN needs weights).

        Departures from the paper / DeiT settings, for a ViT that learns from ~1,000 images in 20 epochs: no
        RandAugment, no stochastic depth, lr 2e-3 with a 2-epoch warm-up; GMML on 600 adult phantom images x 8
        epochs; UNETR on 128 images x 10 epochs (three decoder levels at patch 8). The labelled phantom draws
        COVIDx-like classes (`PHANTOM_PREVALENCE`).

        Why patch 8 (the paper's is 16): at 64 px, patch 16 leaves a 4 x 4 grid of 16 tokens, and GMML's
        feature probe (linear, cross-validated on 512 labelled images) stayed where the initial weights put it
        (0.67 -> 0.67 over 8 epochs; 0.61 -> 0.65 over 16). With 64 tokens it rises at every epoch:
        0.63 at the start, 0.69 after epoch 1, 0.78 after epoch 8 (kNN 0.45 -> 0.62); the run takes ~30 % longer.

        Measured (PyTorch, seed 0, 2-core AMD EPYC, alone: 592 s): test AUC of the binary tasks, ViT from scratch /
        SS-CXR: covid 0.84 / 0.87, healthy vs pathology 0.86 / 0.88, pneumonia vs covid 0.92 / 0.95, pneumonia vs
        non-pneumonia 0.94 / 0.98; the 3-class task's accuracy 0.74 / 0.79 against 0.45 for the majority class;
        UNETR Dice 0.984 / 0.984. With the earlier preset (400 images, 4 epochs, RandAugment m9) every task was a
        constant predictor. `tests/recipes/test_quick_presets.py` asserts the targets."""
        values = dict(output_dir="runs/ss_cxr_quick", phantom_pretrain_images=600, phantom_classify_images=1500,
                      phantom_pediatric_images=120, phantom_segmentation_images=160, embed_dim=64, depth=2,
                      num_heads=2, mlp_dim=128, patch_size=8, pretrain_image_size=64, resize_to=72, image_size=64,
                      decoder_dim=128, bottleneck_dim=64, pretrain_epochs=8, pretrain_batch_size=32,
                      pretrain_lr=1e-3, pretrain_warmup_epochs=1, finetune_epochs=20, finetune_batch_size=32,
                      finetune_lr=2e-3, finetune_warmup_epochs=2, randaugment_magnitude=0, drop_path_rate=0.0,
                      segmentation_image_size=64, feature_size=8, segmentation_epochs=10, segmentation_batch_size=16,
                      segmentation_lr=2e-3, bootstrap_resamples=200, verbose=2, jit_compile="false", probe_images=512)
        values.update(overrides)
        return cls(**values)


# ------------------------------------------------------------------------------------------- data
def _dirs(value):
    return (value,) if isinstance(value, str) else tuple(value or ())


def _labelled_index(config, path):
    """A labelled folder: labels.csv folders by `label_column` (default "label"), else its published layout."""
    if os.path.isfile(os.path.join(path, "labels.csv")):
        return index_labels_csv(path, label_column=config.label_column or "label")
    return index_any(path)


def _drop_sources(config, index):
    """(kept, held out) by `exclude_sources` where the index records a data source (COVIDx)."""
    if "source" not in index.frame.columns or not config.exclude_sources:
        return index, None
    kept, held = split_sources(index, config.exclude_sources)
    return kept, (held if len(held) else None)


def _canonical(index):
    return phantom_canonical_labels(index) if index.task == "multilabel" and "consolidation" in index.class_names \
        else canonical_labels(index)


def load_data(config):
    """Pretraining images, the labelled fine-tuning splits and every named test set, as `DatasetIndex`es.

    Phantom by default: adult phantom images for pretraining (age 18–90), an adult labelled phantom split
    patient-level into train / val / test ("test" = the same distribution), a pediatric phantom (age 0–18)
    as the shifted test set, and phantom lung masks for segmentation. Real folders: `pretrain_dir` (rows of
    `exclude_sources` dropped), `classify_dir` (a COVIDx folder uses its official test.txt and holds its
    excluded sources out as the "unseen" test set; other folders are split patient-level), `test_dir`
    NAME=PATH sets, `segmentation_dir` / `segmentation_test_dir` (Montgomery, Shenzhen, JSRT/SCR, images + masks).

    Returns:
        {"pretrain": DatasetIndex, "classify": {"train" | "val": DatasetIndex}, "tests": {name: DatasetIndex},
         "segmentation": {"train" | "test": DatasetIndex}, "notes": [str]} — labelled indexes carry their own
        classes; `task_index` maps them to each task's classes later.
    """
    notes = []
    dirs = _dirs(config.pretrain_dir)
    if dirs:
        pretrain, held = _drop_sources(config, index_sources(dirs, view_filter="frontal"))
        if held is not None:
            notes.append(f"pretraining: {len(held)} images of the held-out sources {list(config.exclude_sources)} "
                         "left out (§4.1)")
    else:
        pretrain = phantom_index(config.phantom_pretrain_images, config.resize_to, seed=config.seed + 10,
                                 age_range=(18.0, 90.0), cache_dir=config.cache_dir)
    pretrain = limit(pretrain, config)

    tests = {}
    fractions = ((1 - config.test_fraction) * (1 - config.validation_fraction),
                 (1 - config.test_fraction) * config.validation_fraction, config.test_fraction)
    if config.classify_dir is None:
        labelled = phantom_index(config.phantom_classify_images, config.image_size, seed=config.seed + 20,
                                 age_range=(18.0, 90.0), cache_dir=config.cache_dir, prevalence=PHANTOM_PREVALENCE)
        splits = split_index(labelled, fractions, config.seed)
        tests[SAME_SITES] = splits.pop("test")
        tests["pediatric"] = phantom_index(config.phantom_pediatric_images, config.image_size, seed=config.seed + 30,
                                           age_range=(0.0, 18.0), cache_dir=config.cache_dir,
                                           prevalence=PHANTOM_PREVALENCE)
        notes.append("phantom: fine-tuning on adult phantom images, 'pediatric' = phantom aged 0–18 (shifted data)")
    else:
        path = config.classify_dir
        covidx = covidx_split_files(path)  # CXR-3's train/test_COVIDx9A.txt (3 classes) or train/test.txt
        labelled = index_with_official_split(path) if covidx else _labelled_index(config, path)
        labelled, held = _drop_sources(config, labelled)
        if covidx:  # §4.1: the official 400-image test split (RSNA & RICORD)
            official, _ = official_test_split(labelled)
            tests[SAME_SITES] = labelled.subset(official)
            splits = split_index(limit(labelled.subset(~official), config),
                                 (1 - config.validation_fraction, config.validation_fraction), config.seed,
                                 names=("train", "val"))
            notes.append(f"COVIDx: official {covidx[1]} as the same-sites test set (training file {covidx[0]})")
        else:
            splits = split_index(limit(labelled, config), fractions, config.seed)
            tests[SAME_SITES] = splits.pop("test")
            notes.append(f"{path}: patient-level {config.test_fraction:.0%} held out as the same-distribution test set")
        if held is not None:
            tests["unseen"] = held
            notes.append(f"sources {list(config.exclude_sources)}: {len(held)} images held out as the 'unseen' test set")
    tests.update(named_test_sets(config, lambda path: _labelled_index(config, path)))  # §4.2: unseen sites
    if dirs:
        pretrain, dropped = without_held_out(pretrain, *tests.values())
        if dropped:
            notes.append(f"pretraining: {dropped} images of test patients left out")

    if config.segmentation_dir:
        pairs = index_segmentation(config.segmentation_dir)
        if config.segmentation_test_dir:
            segmentation = {"train": pairs, "test": index_segmentation(config.segmentation_test_dir)}
        else:
            segmentation = split_index(pairs, (1 - config.test_fraction, config.test_fraction), config.seed,
                                       names=("train", "test"), stratify=False)
    else:
        masks = phantom_index(config.phantom_segmentation_images, config.segmentation_image_size,
                              seed=config.seed + 40, age_range=(18.0, 90.0), cache_dir=config.cache_dir)
        segmentation = split_index(masks, (0.8, 0.2), config.seed, names=("train", "test"), stratify=False)
    return {"pretrain": pretrain, "classify": splits, "tests": tests, "segmentation": segmentation, "notes": notes}


# ------------------------------------------------------------------------------------------- models
def _vit_kwargs(config):
    return dict(patch_size=config.patch_size, embed_dim=config.embed_dim, depth=config.depth,
                num_heads=config.num_heads, mlp_dim=config.mlp_dim)


def pretrain(config, data):
    """GMML pretraining (§3.1) on the unlabeled images, streamed; a resumable stage (`models/gmml.keras`).

    Returns (model, its per-epoch history)."""
    def images():
        dataset = stream(config, data["pretrain"], config.pretrain_image_size, batch_size=config.pretrain_batch_size,
                         augment=MAEPretrainAugmentation(config.pretrain_image_size, config.resize_to, config.crop_scale),
                         normalize="imagenet", target=None, seed=config.seed, drop_remainder=True)
        if len(dataset) == 0:
            raise ValueError(f"pretrain_batch_size={config.pretrain_batch_size} exceeds the {len(data['pretrain'])} "
                             "pretraining images; lower it.")
        return dataset

    return engine.fit_stage(
        config, "gmml",
        lambda: create_model("gmml_vit_small", input_shape=(config.pretrain_image_size, config.pretrain_image_size, 1),
                             seed=config.seed, noise_ratio=config.noise_ratio, replace_ratio=config.replace_ratio,
                             decoder_dim=config.decoder_dim, bottleneck_dim=config.bottleneck_dim, **_vit_kwargs(config)),
        images, epochs=config.pretrain_epochs, keep="last", monitor="loss",
        optimizer=lambda steps: engine.make_optimizer(
            "adamw", config.pretrain_lr, schedule="cosine", steps_per_epoch=steps, epochs=config.pretrain_epochs,
            warmup_epochs=config.pretrain_warmup_epochs, weight_decay=config.pretrain_weight_decay),
        callbacks=lambda: engine.feature_probes(config, data["classify"]["train"],
                                                config.pretrain_image_size, normalize="imagenet"))


def _imagenet_gmml(config):
    """SS-IN's encoder: the user's GMML ImageNet checkpoint, or None (the report says why)."""
    if not config.imagenet_weights:
        return None
    if not os.path.exists(config.imagenet_weights):
        raise FileNotFoundError(f"--imagenet-weights {config.imagenet_weights!r} does not exist; pass GMML's "
                                "ImageNet-1K ViT-S .pth (or a timm / DeiT / MAE one), or a keras_cxr ViT-S or GMML "
                                ".keras / .weights.h5 file.")
    return config.imagenet_weights


def strategies(config):
    """The fine-tuning strategies run, and the reasons for those left out."""
    run, left_out = [], {}
    for strategy in config.strategies:
        if strategy not in STRATEGIES:
            raise ValueError(f"Unknown strategy {strategy!r}; strategies: {STRATEGIES}.")
        if strategy == "ss_in" and _imagenet_gmml(config) is None:
            left_out[strategy] = ("no ImageNet GMML weights were given (--imagenet-weights PATH); SS-IN is left out "
                                  "rather than trained from a random 'pretrained' model")
            continue
        run.append(strategy)
    return run, left_out


def build_classifier(config, strategy, gmml, num_classes):
    """ViT-S + linear softmax head on the class token (§3.2) at `image_size`, from scratch or initialized
    from the GMML encoder (SS-CXR) or the ImageNet checkpoint (SS-IN); `num_classes=0`: no head (features)."""
    weights = {"vit_scratch": None, "ss_cxr": gmml, "ss_in": _imagenet_gmml(config)}[strategy]
    return create_model("vit_small", input_shape=(config.image_size, config.image_size, 1), num_classes=num_classes,
                        head_activation="softmax", weights=weights, drop_path_rate=config.drop_path_rate,
                        **_vit_kwargs(config))


def finetune(config, data, task, strategy, gmml, fraction=1.0, protocol="finetune"):
    """Fine-tunes one classifier (§4.2) on `task`; a resumable stage whose result holds the validation and
    every test set's probabilities and labels, the loss history and the attention maps of Fig. 4
    (`results/finetune_<task>_<strategy>.npz`). `fraction` < 1 trains on that share of the training labels;
    `protocol="linear_probe"` trains a linear probe of the strategy's frozen pretrained ViT instead (mae's
    settings, `keras_cxr.recipes.protocols`); neither keeps attention maps."""
    suffix = protocols.stage_suffix(fraction, protocol)
    name = f"finetune_{task}_{strategy}{suffix}"
    class_names = list(CLASSIFICATION_TASKS[task][0])

    def indexes():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # rows outside the task: counted in the report instead
            found = {}
            for split, index in (*data["classify"].items(), *data["tests"].items()):
                try:  # training and validation need every class of the task; a test set may lack one
                    found[split] = task_index(index, task, _canonical(index), name=split,
                                              require_all_classes=split in data["classify"])
                except ValueError as error:
                    if "no image belongs" not in str(error):
                        raise
                    continue  # the test set has no image of this task's classes: no column in its table
        return found

    def train():
        keras.utils.set_random_seed(config.seed)
        sets = indexes()
        train_index = protocols.labelled_fraction(sets["train"], fraction, config.seed)
        probing = protocol == "linear_probe"
        batch_size = min(config.finetune_batch_size, len(train_index))
        if probing:  # the pretrained ViT's class token after the final norm (num_classes=0), frozen
            model = linear_probe(build_classifier(config, strategy, gmml, 0), len(class_names))
            epochs, optimizer = config.linprobe_epochs, protocols.probe_optimizer(config, batch_size)
        else:
            model = build_classifier(config, strategy, gmml, len(class_names))
            epochs = config.finetune_epochs
            optimizer = lambda steps: engine.make_optimizer(  # noqa: E731
                "adamw", config.finetune_lr, schedule="cosine", steps_per_epoch=steps, epochs=epochs,
                warmup_epochs=config.finetune_warmup_epochs, weight_decay=config.weight_decay)
        scale = tuple(map(float, config.finetune_crop_scale))  # the CLI gives strings for an empty default
        crop = MAEPretrainAugmentation(config.image_size, config.resize_to, scale) if scale else None
        dataset = stream(config, train_index, config.image_size, labels=train_index.labels, augment=crop,
                         batch_size=batch_size, seed=config.seed, normalize="imagenet",
                         batch_augment=None if probing else randaugment(config.randaugment_magnitude, seed=config.seed))
        validation = stream(config, sets["val"], config.image_size, labels=sets["val"].labels, batch_size=64,
                            shuffle=False, normalize="imagenet")
        history = engine.fit(
            config, name, model, dataset, validation=validation, epochs=epochs, optimizer=optimizer,
            loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.0 if probing else config.label_smoothing),
            metrics=["accuracy", keras.metrics.AUC(name="auc")],
            monitor="loss" if config.finetune_monitor == "last" else config.finetune_monitor,
            keep="last" if config.finetune_monitor == "last" else "best")
        result = {"loss": np.asarray(history["loss"])}
        for split, index in sets.items():
            if split == "train":
                continue
            result[f"{split}__probabilities"] = engine.predict(config, model, index, config.image_size,
                                                               normalize="imagenet")
            result[f"{split}__labels"] = index.labels
        engine.save_trained(config, name, model, task="multiclass", class_names=class_names, normalization="imagenet",
                            validation=(result["val__labels"], result["val__probabilities"]),
                            notes=f"paper 001 task {task}: argmax of the softmax" + (", linear probe" if probing
                                                                                     else ""))
        if suffix:
            return result
        shown = sets[SAME_SITES] if SAME_SITES in sets else sets["val"]
        images = stream(config, shown.subset(np.arange(min(config.num_attention_images, len(shown)))),
                        config.image_size, shuffle=False, target=None, batch_size=config.num_attention_images)[0][0]
        standardized = normalize_imagenet(images)
        result.update(attention_images=images, attention_last=class_token_attention(model, standardized),
                      attention_rollout=attention_rollout(model, standardized))
        return result

    saved = stage(config, name, train, kind="npz")
    splits = sorted({k.split("__")[0] for k in saved if "__" in k})
    return {"class_names": class_names, "loss": saved["loss"].tolist(),
            "sets": {s: {"probabilities": saved[f"{s}__probabilities"], "labels": saved[f"{s}__labels"]}
                     for s in splits},
            "attention": {k: saved[k] for k in ("attention_images", "attention_last", "attention_rollout")
                          if k in saved}}


def segment(config, data, strategy, gmml):
    """Trains UNETR for lung segmentation (§4.3) from scratch or from a GMML encoder; a resumable stage saved
    as `models/<strategy>.keras` (`unetr_scratch`, `unetr_ss_cxr`, `unetr_ss_in`). Segmentation sets are
    small (hundreds of images: Montgomery 138, Shenzhen + Belarus 663), so they are read into arrays."""
    weights = {"unetr_scratch": None, "unetr_ss_cxr": gmml, "unetr_ss_in": _imagenet_gmml(config)}[strategy]
    depth, size = config.depth, config.segmentation_image_size

    def build():
        keras.utils.set_random_seed(config.seed)
        return create_model("unetr_vit_small", input_shape=(size, size, 1), weights=weights, name=strategy,
                            feature_size=config.feature_size, taps=(depth // 4, depth // 2, 3 * depth // 4),
                            **_vit_kwargs(config))

    model, _ = engine.fit_stage(
        config, strategy, build,
        lambda: stream(config, data["segmentation"]["train"], size, labels="mask_path", normalize="imagenet",
                       batch_size=config.segmentation_batch_size, seed=config.seed),
        epochs=config.segmentation_epochs, keep="last", monitor="loss",
        optimizer=engine.make_optimizer("adamw", config.segmentation_lr, weight_decay=config.segmentation_weight_decay,
                                        skip_weight_decay_1d=False),
        loss=DiceBCELoss(),
        card=dict(task="segmentation", class_names=["lung"], input_size=(size, size), normalization="imagenet",
                  threshold=0.5, notes="paper 001 §4.3: UNETR lung mask probability per pixel; lungs at >= 0.5"))
    return model


def _segmentation_arrays(config, index):
    """(images standardized as in pretraining, 0/1 masks), both (N, S, S, 1) float32."""
    size = config.segmentation_image_size
    x = load_images(index.paths, image_size=size, description="reading segmentation images",
                    progress=bool(config.verbose))
    y = load_images(index.mask_paths, image_size=size, masks=True, description="reading lung masks",
                    progress=bool(config.verbose))
    return normalize_imagenet(x).astype("float32"), y


# ------------------------------------------------------------------------------------------- evaluation
def evaluate_classifier(config, result, name, figures):
    """Tables 1–4 for one fine-tuned model: per test set TPR, FPR, FNR, AUC-PR, AUC-ROC per class, accuracy,
    bootstrap 95 % CIs of accuracy and macro AUC-ROC, and warnings for degenerate predictions."""
    class_names = result["class_names"]
    table = {}
    for split, found in result["sets"].items():
        y, p = found["labels"], found["probabilities"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a class absent from a test set: NaN, stated in the table
            report = classification_report(y, p, class_names=class_names, task="multiclass")
        truth = np.argmax(y, axis=1)
        row = {"num_images": int(len(y)), "class_counts": {c: int((truth == i).sum()) for i, c in enumerate(class_names)},
               "accuracy": report["overall"]["accuracy"],
               "per_class": {c: {"tpr": m["sensitivity"], "fpr": m["fpr"], "fnr": m["fnr"], "auc_pr": m["auc_pr"],
                                 "auc_roc": m["auc_roc"]} for c, m in report["per_class"].items()},
               "confusion_matrix": report["confusion_matrix"]}
        present = [i for i in range(len(class_names)) if 0 < (truth == i).sum() < len(truth)]

        def macro_auc(t, s):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return float(np.mean([roc_auc_score(t == i, s[:, i]) for i in present]))

        def accuracy(t, s):
            return float(np.mean(np.argmax(s, axis=1) == t))

        row["accuracy_ci95"] = _ci(bootstrap_ci(accuracy, truth, p, n_resamples=config.bootstrap_resamples,
                                                seed=config.seed))
        if present:
            row["macro_auc_roc"] = macro_auc(truth, p)
            row["macro_auc_roc_ci95"] = _ci(bootstrap_ci(macro_auc, truth, p, n_resamples=config.bootstrap_resamples,
                                                         seed=config.seed))
        row["warnings"] = [] if split == "val" else report_warnings(report, f"{name} on {split}")
        if split != "val" and "val" in result["sets"]:
            val = result["sets"]["val"]
            slug = "".join(ch if ch.isalnum() else "_" for ch in f"{name}_{split}").strip("_")
            row["calibration"] = calibration_summary(
                np.argmax(val["labels"], axis=1), val["probabilities"], truth, p, "multiclass",
                path=figures.record(f"reliability_{slug}", f"Reliability {name} on {split}"),
                title=f"Reliability {name} on {split}")
        table[split] = row
    return table


def _ci(found):
    return (float(found["low"]), float(found["high"]))


def evaluate_segmentation(config, model, index):
    """Table 5: Dice, IoU (Jaccard), HD95 (pixels of the segmentation size) per test image, mean ± sd;
    returns (summary, images, true masks, predicted masks)."""
    x, y = _segmentation_arrays(config, index)
    predicted = model.predict(x, batch_size=config.segmentation_batch_size, verbose=0)
    scores = {"dice": dice(y, predicted), "iou": iou(y, predicted),
              "hd95": hausdorff_distance(y[..., 0], predicted[..., 0], percentile=95)}
    summary = {k: (float(np.nanmean(v)), float(np.nanstd(v))) for k, v in scores.items()}
    summary["num_images"] = int(len(x))
    summary["warnings"] = segmentation_warnings(model.name, y, predicted)
    return summary, x, y, predicted


# ------------------------------------------------------------------------------------------- figures
def _reconstruction_figure(config, model, index, figures):
    """Corrupted / reconstructed / original (Fig. 2) for a few pretraining images."""
    images = stream(config, index.subset(np.arange(min(4, len(index)))), config.pretrain_image_size, shuffle=False,
                    target=None, batch_size=4)[0][0]
    out = model(normalize_imagenet(images))
    columns = {k: denormalize_imagenet(keras.ops.convert_to_numpy(out[k])) for k in ("corrupted", "reconstruction")}
    figures.draw(plot_image_grid, "gmml_reconstruction", {"corrupted": columns["corrupted"],
                                                          "reconstructed": columns["reconstruction"], "original": images},
                 caption="Fig. 2: GMML corrupted / reconstructed / original")


def _figures(figures, task, strategy, result):
    for split, found in result["sets"].items():
        if split == "val":
            continue
        truth = np.argmax(found["labels"], axis=1)
        if len(set(truth.tolist())) < 2:
            continue
        title = f"{task} · {strategy} · {split}"
        figures.draw(plot_roc_curves, f"roc_{task}_{strategy}_{split}", truth, found["probabilities"],
                     result["class_names"], title=f"ROC {title}", caption=f"ROC {title}")
        figures.draw(plot_pr_curves, f"pr_{task}_{strategy}_{split}", truth, found["probabilities"],
                     result["class_names"], title=f"PR {title}", caption=f"PR {title}")
    attention = result["attention"]
    for kind, what in (("last", "class-token attention, last block"), ("rollout", "attention rollout")):
        figures.draw(plot_activation_maps, f"attention_{kind}_{task}_{strategy}", attention["attention_images"],
                     attention[f"attention_{kind}"], title=f"{task} · {strategy}: {what}",
                     caption=f"{task} · {strategy}: {what}")


# ------------------------------------------------------------------------------------------- run
def run(config=None):
    """Runs pretraining, fine-tuning, segmentation and evaluation; writes the output folder; returns the metrics.

    Example:
    >>> from keras_cxr.recipes import ss_cxr
    >>> metrics = ss_cxr.run(ss_cxr.Config.quick(output_dir="/tmp/ss_cxr"))  # doctest: +SKIP
    """
    return run_recipe(config or Config(), _steps, write_report)


def _steps(config):
    data = load_data(config)
    figures = FigureLog(config.output_dir)
    gmml, _ = (pretrain(config, data) if "ss_cxr" in config.strategies or "unetr_ss_cxr" in
               config.segmentation_strategies else (None, None))
    if gmml is not None:
        _reconstruction_figure(config, gmml, data["pretrain"], figures)
    run_strategies, left_out = strategies(config)
    classification = {}
    for task in config.tasks:
        reason = _unsupported(data, task)
        if reason:
            left_out[task] = reason
            continue
        classification[task] = {}
        for strategy in run_strategies:
            result = finetune(config, data, task, strategy, gmml)
            classification[task][strategy] = evaluate_classifier(config, result, f"{strategy} ({task})", figures)
            _figures(figures, task, strategy, result)
        for strategy in [s for s in run_strategies if s != "vit_scratch"] if config.linear_probe else []:
            result = finetune(config, data, task, strategy, gmml, protocol="linear_probe")
            classification[task][f"{strategy}_linprobe"] = evaluate_classifier(
                config, result, f"{strategy} linear probe ({task})", figures)
    label_efficiency = _label_efficiency(config, data, gmml, list(classification), run_strategies, figures)
    segmentation, outlines = {}, {}
    for strategy in config.segmentation_strategies:
        if strategy == "unetr_ss_in" and _imagenet_gmml(config) is None:
            left_out[strategy] = left_out.get("ss_in", "no ImageNet GMML weights were given (--imagenet-weights)")
            continue
        model = segment(config, data, strategy, gmml)
        segmentation[strategy], x, y, predicted = evaluate_segmentation(config, model, data["segmentation"]["test"])
        outlines[strategy] = predicted[:4]
    if outlines:
        figures.draw(plot_mask_outlines, "segmentation_outlines", denormalize_imagenet(x[:4]), y[:4], outlines,
                     title="lung outlines: truth (green), prediction", caption="Table 5: lung outlines")
    return {"classification": classification, "segmentation": segmentation, "left_out": left_out,
            **({"label_efficiency": label_efficiency} if label_efficiency else {}),
            "notes": data["notes"], "figures": figures.entries,
            "sizes": {"pretrain": len(data["pretrain"]), **{f"classify_{k}": len(v) for k, v in data["classify"].items()},
                      **{f"test_{k}": len(v) for k, v in data["tests"].items()},
                      **{f"segmentation_{k}": len(v) for k, v in data["segmentation"].items()}}}


def _label_efficiency(config, data, gmml, tasks, run_strategies, figures):
    """The label-efficiency sweep (`keras_cxr.recipes.protocols`; paper 001 reports none, its claim is about
    scarce labels): every strategy fine-tuned on each of `label_fractions` of the first task's training labels;
    {"task", "num_labelled", "results": {strategy: {fraction: (accuracy on the held-out split, 0)}}}, drawn as
    accuracy vs labelled images. Fraction 1.0 is the main run (not retrained). None when off."""
    if not config.label_fractions or not tasks:
        return None
    task = tasks[0]

    def score(strategy, fraction, seed):
        found = finetune(config, data, task, strategy, gmml, fraction)["sets"][SAME_SITES]
        return float(np.mean(np.argmax(found["probabilities"], 1) == np.argmax(found["labels"], 1)))

    results = protocols.label_efficiency(config.label_fractions, run_strategies, score)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # rows outside the task are counted in the report instead
        num_labelled = len(task_index(data["classify"]["train"], task, _canonical(data["classify"]["train"])))
    protocols.draw_label_efficiency(figures, results, num_labelled, f"accuracy ({task})",
                                    title="Label efficiency (ViT from scratch vs self-supervised)")
    return {"task": task, "num_labelled": num_labelled, "results": results}


def _unsupported(data, task):
    """Why the labelled data cannot train `task` (a class of it has no training image, e.g. Kaggle's binary
    COVIDx positive / negative for the pneumonia tasks), or None."""
    index = data["classify"]["train"]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            task_index(index, task, _canonical(index), name="training split")
    except ValueError as error:
        return f"not trainable on this data: {error}"
    return None


def _classification_cell(task, strategy, split, row):
    """One strategy × test-set cell: accuracy % [95 % CI] (paper), per-class rates, ECE before → after T."""
    if row is None:
        return "—"
    low, high = row["accuracy_ci95"]
    paper_split = "same sites" if split == SAME_SITES else split
    paper = PAPER_TABLES.get(task, {}).get(strategy, {}).get(paper_split)
    per_class = "; ".join(f"{c}: " + "/".join(mean_sd(m[k]) for k in ("tpr", "fpr", "fnr", "auc_pr", "auc_roc"))
                          for c, m in row["per_class"].items())
    rates = PAPER_RATES.get(task, {}).get(strategy, {}).get(paper_split)
    rates = "" if rates is None else "<br>paper (as printed): " + "; ".join(
        "/".join(mean_sd(v) for v in r) for r in (rates if isinstance(rates[0], tuple) else (rates,)))
    calibration = row.get("calibration")
    calibration = "" if calibration is None else (
        f"<br>ECE {calibration['ece']:.3f} → {calibration['ece_after_temperature']:.3f} after temperature "
        f"{calibration['temperature']:.2f}")
    return (f"{100 * row['accuracy']:.2f} [{100 * low:.1f}–{100 * high:.1f}]" + (f" (paper {paper})" if paper is not None
            else "") + f"<br>n={row['num_images']}; {per_class}" + rates + calibration)


def write_report(config, metrics):
    """report.md: the preamble, one section per classification task (Tables 1–4), Table 5 (segmentation),
    then the learning curves and figures."""
    found = [w for task in metrics["classification"].values() for table_ in task.values() for row in table_.values()
             for w in row["warnings"]] + [w for row in metrics["segmentation"].values() for w in row.get("warnings", [])]
    report = Report(
        "# SS-CXR (paper 001) — run report",
        preamble=["Data: " + ("synthetic phantom (adult pretraining and fine-tuning, pediatric shifted test set)"
                              if config.classify_dir is None else
                              f"pretraining `{list(_dirs(config.pretrain_dir)) or 'phantom'}`, fine-tuning "
                              f"`{config.classify_dir}`") +
                  f"; ViT {config.embed_dim}/{config.depth}/{config.num_heads}, pretraining "
                  f"{config.pretrain_image_size} px, fine-tuning {config.image_size} px, seed {config.seed}.",
                  "Quick or phantom runs only exercise the pipeline; they are not comparable with the paper.",
                  *(f"- {note}" for note in metrics["notes"]),
                  "Sizes: " + ", ".join(f"{k} {v}" for k, v in metrics["sizes"].items()),
                  *(["**Left out:**", *(f"- {k}: {v}" for k, v in metrics["left_out"].items())]
                    if metrics["left_out"] else []),
                  "Rates: ours per class with the standard definitions (FPR = FP / (FP + TN), FNR = FN / (FN + TP)). "
                  "The paper's rows are shown as printed (TPR / FPR / FNR / AUC-PR / AUC-ROC); in almost every row its "
                  "FPR equals 1 − TPR, so its FPR and FNR columns read as swapped (`PAPER_RATES`)."
                  if any(task in PAPER_RATES for task in metrics["classification"]) else None],
        warnings=found,
        tail=engine.report_tail(config, metrics))
    for task, by_strategy in metrics["classification"].items():
        splits = sorted({s for table_ in by_strategy.values() for s in table_ if s != "val"},
                        key=lambda s: (s != SAME_SITES, s))
        report.section(f"{task} (paper Table {_table_of(task)}): accuracy % [95 % CI], per class TPR / FPR / FNR / "
                       "AUC-PR / AUC-ROC; expected calibration error (15 bins) before → after temperature scaling "
                       "fitted on the validation split (Guo et al. 2017; `figures/reliability_*.png`)",
                       table(["strategy", *splits], [[strategy] + [_classification_cell(task, strategy, split,
                                                                                        table_.get(split))
                                                                   for split in splits]
                                                     for strategy, table_ in by_strategy.items()]))
    if "label_efficiency" in metrics:
        sweep = metrics["label_efficiency"]
        report.section(f"Label efficiency (not in the paper): accuracy on `{SAME_SITES}` vs labelled training images "
                       f"of {sweep['task']}", protocols.label_efficiency_table(sweep["results"], sweep["num_labelled"]),
                       "(figure under Figures)")
    if metrics["segmentation"]:
        report.section("Table 5: lung segmentation (mean ± sd over test images; HD95 in pixels)", table(
            ["model", "IoU", "Dice", "HD95", "paper IoU / Dice / HD95"],
            [[strategy, mean_sd(row["iou"], 4), mean_sd(row["dice"], 4), mean_sd(row["hd95"], 2),
              " / ".join(str(PAPER_TABLE_5.get(strategy, {}).get(k, "—")) for k in ("iou", "dice", "hd95"))]
             for strategy, row in metrics["segmentation"].items()]))
    return report.markdown()


def _table_of(task):
    return {"covid_vs_noncovid": "1", "healthy_vs_pathology": "2", "pneumonia_vs_covid": "3 (left)",
            "pneumonia_vs_nonpneumonia": "3 (right)", "healthy_pneumonia_covid": "4",
            "pneumonia_vs_healthy": "— (§4.2's wording of Table 3, COVID-19 left out; not a paper table)",
            }.get(task, "—")


def main(argv=None):
    """Command line: every Config field is a `--flag`; `--quick` starts from `Config.quick()`."""
    config = parse_config(Config, argv, description=__doc__.splitlines()[0])
    metrics = run(config)
    print(json.dumps({task: {s: {split: round(r["accuracy"], 4) for split, r in t.items()} for s, t in by.items()}
                      for task, by in metrics["classification"].items()}, indent=2))
    print(json.dumps(metrics["segmentation"], indent=2))
    print(f"report: {os.path.join(config.output_dir, 'report.md')}")
    return metrics
