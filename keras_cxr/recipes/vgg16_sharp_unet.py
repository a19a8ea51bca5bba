"""Noise-induced modality-specific pretext learning for pediatric CXR classification (paper 003).

Reproduces Rajaraman, Liang, Xue & Antani, "Noise-induced modality-specific pretext learning for pediatric
chest X-ray image classification", Frontiers in Artificial Intelligence 7:1419638 (2024),
doi:10.3389/frai.2024.1419638:

1. (§2.1, on by default: `lung_crop=True`) lung segmentation → crop to the lung bounding box → resize to
   224 × 224, [0, 1], for both datasets. The paper segments with a U-Net on an Inception-V3 encoder
   (Rajaraman et al. 2023); we train a VGG-16 Sharp U-Net with Dice + BCE (`keras_cxr.losses.DiceBCELoss`,
   our choice: §2.1 names no loss) on `segmentation_dir` (a lung-mask layout `index_segmentation` reads:
   JSRT/SCR images/ + masks/, Montgomery, their Kaggle mirrors) or on the phantom's lung masks, or load a
   saved segmenter (`segmentation_model`); `--lung-crop false` skips it;
2. (§2.2, §2.3.1) a VGG-16 Sharp U-Net learns to remove Gaussian noise (denoising) and, separately,
   Gaussian blur (deblurring) from pediatric CXRs; SSIM loss, Adam 1e-3, plateau halving; Table 2;
3. (§2.3.2) each trained encoder, truncated at its deepest convolution + GAP + softmax, is fine-tuned to
   classify normal vs abnormal pediatric CXRs (Den-P, Deb-P); baseline B is ImageNet VGG-16 (weights fetched
   by Keras or a notop .h5 file; a run that cannot have them stops at its start and says how to supply
   them; `--baseline-weights none` trains B from random init and the report names it "B (random init)");
4. (§2.3.3) ensembles of Den-P and Deb-P: simple average (SA), SLSQP-weighted average (weights fitted on
   the validation split), attention-fuzzy (A-F) ensemble of the frozen members;
5. (§2.5, §2.6) Table 3 metrics, confusion matrices (Fig. 4–5), metric bars (Fig. 6), pairwise
   sensitivity Z-tests (Fig. 7), Score-CAM maps with boxes (Fig. 8).

Paper numbers (Kermany pediatric CXRs for the pretext tasks, VinDr-PCXR for classification):
Table 2 denoising PSNR 29.7535 / SSIM 0.6578 / HaarPSI 0.7909, deblurring 39.7211 / 0.9700 / 0.9502;
Table 3 sensitivity B 0.1983, Den-P 0.3130, Deb-P 0.3391, SA 0.2643, SLSQP-WA 0.3739, A-F 0.4991.

Hardware: the paper used one RTX 2080 Ti. The full configuration (224 px, full-width VGG-16) needs a
GPU; `Config.quick()` (64 px, 1/8 width, few epochs, small phantom) runs in minutes on a laptop CPU.
`dtype_policy="mixed_bfloat16"` (`--dtype-policy mixed_bfloat16`) trains the full-size U-Net 4.9x faster on
TensorFlow and 2.9x on PyTorch on a CPU with bf16 units (`benchmarks/sharp_unet.py`); the classifier heads
stay float32.
With no data folders the recipe runs on the embedded synthetic phantom (`keras_cxr.data.make_phantom_dataset`).

Choices where the paper is silent (each marked "not stated" below): epochs, batch sizes, SGD momentum,
the classifiers' plateau settings (we reuse the pretext ones), the A-F training schedule.
"""

import dataclasses
import json
import os
import warnings

import keras
import numpy as np
from sklearn.metrics import roc_auc_score

from keras_cxr import report as plots
from keras_cxr.data import (DegradationTarget, crop_and_resize, crop_boxes, image_size_from_header, index_any,
                            index_segmentation, lung_bbox, phantom_index, read_vindr_boxes, resize_boxes)
from keras_cxr.data.layouts import binary_index, index_with_official_split
from keras_cxr.data.phantom_source import index_arrays
from keras_cxr.data.readers import write_png
from keras_cxr.ensembles import average, build_attention_fuzzy_ensemble, slsqp_weights
from keras_cxr.explain import boxes_from_maps, max_iou, score_cam
from keras_cxr.losses import DiceBCELoss, SSIMLoss
from keras_cxr.metrics import PSNR, SSIM, classification_report, haarpsi, psnr, ssim
from keras_cxr.models import create_model, encoder_classifier, vgg16
from keras_cxr.recipes import engine, protocols
from keras_cxr.recipes._cli import parse_config
from keras_cxr.recipes.base import (RecipeConfig, limit, named_test_sets, run_recipe, split_index, stage, stage_path,
                                    stream)
from keras_cxr.report import (FigureLog, calibration_summary, calibration_table, report_warnings,
                              restoration_warnings)
from keras_cxr.report.document import Report, beside, image_row, table
from keras_cxr.stats import compare_sensitivities

PAPER_TABLE_2 = {
    "denoising": {"psnr": 29.7535, "ssim": 0.6578, "haarpsi": 0.7909},
    "deblurring": {"psnr": 39.7211, "ssim": 0.9700, "haarpsi": 0.9502},
}
PAPER_TABLE_3 = {
    "B": {"balanced_accuracy": 0.5654, "sensitivity": 0.1983, "specificity": 0.9344, "f1": 0.2977,
          "mcc": 0.1998, "kappa": 0.1599, "youden": 0.1327},
    "Den-P": {"balanced_accuracy": 0.5948, "sensitivity": 0.3130, "specificity": 0.8765, "f1": 0.4000,
              "mcc": 0.2289, "kappa": 0.2132, "youden": 0.1895},
    "Deb-P": {"balanced_accuracy": 0.5938, "sensitivity": 0.3391, "specificity": 0.8484, "f1": 0.4114,
              "mcc": 0.2150, "kappa": 0.2060, "youden": 0.1875},
    "SA": {"balanced_accuracy": 0.5892, "sensitivity": 0.2643, "specificity": 0.9140, "f1": 0.3671,
           "mcc": 0.2381, "kappa": 0.2080, "youden": 0.1783},
    "SLSQP-WA": {"balanced_accuracy": 0.6082, "sensitivity": 0.3739, "specificity": 0.8424, "f1": 0.4410,
                 "mcc": 0.2420, "kappa": 0.2345, "youden": 0.2163},
    "A-F": {"balanced_accuracy": 0.6376, "sensitivity": 0.4991, "specificity": 0.7760, "f1": 0.5102,
            "mcc": 0.2783, "kappa": 0.2782, "youden": 0.2751},
}
TABLE_3_METRICS = ("balanced_accuracy", "sensitivity", "specificity", "f1", "mcc", "kappa", "youden")
PRETEXT_TASKS = {"denoising": "noise", "deblurring": "blur"}
CLASS_NAMES = ["normal", "abnormal"]  # the classifiers' two softmax outputs (§2.3.2)
EXTERNAL = "external_"  # data["classify"] key prefix of the --test-dir sets


@dataclasses.dataclass
class Config(RecipeConfig):
    """Every setting of the study; defaults are the paper's, with their source (the shared ones: `RecipeConfig`)."""

    output_dir: str = "runs/vgg16_sharp_unet"
    # Data. None → the synthetic phantom. Real data: any image folder / Kermany layout / labels.csv folder.
    pretext_dir: str | None = None  # §2.1: Kermany pediatric pneumonia CXRs (labels unused)
    classify_dir: str | None = None  # §2.1, Table 1: VinDr-PCXR (train + test CSVs pooled); or a labels.csv folder
    classify_csv: str | None = None  # one table only: VinDr-PCXR image_labels_{train,test}.csv or a labels.csv
    phantom_pretext_images: int = 1200  # not in the paper: size of the phantom stand-in for Kermany
    phantom_classify_images: int = 1200  # not in the paper: size of the phantom stand-in for VinDr-PCXR
    split_fractions: tuple = (0.7, 0.1, 0.2)  # §2.1, Table 1: patient-level 70/10/20
    image_size: int = 224  # §2.1
    # Lung cropping (§2.1): the paper crops with a U-Net (Inception-V3 encoder) lung segmenter.
    lung_crop: bool = True  # §2.1: both datasets are lung-cropped
    segmentation_dir: str | None = None  # image+mask folder to train the lung segmenter (JSRT/SCR, Montgomery)
    segmentation_model: str | None = None  # or a saved .keras segmenter
    segmentation_epochs: int = 30  # not stated
    # Degradations (§2.2).
    noise_variance_factors: tuple = (0.02, 0.04, 0.06, 0.08, 0.1)  # §2.2 (i-iv)
    blur_kernel_sizes: tuple = (3, 5, 7, 9)  # §2.2 blur (i)
    # Pretext model and training (§2.3.1).
    width_multiplier: float = 1.0  # §2.3.1: 64-128-256-512-512 filters
    pretext_learning_rate: float = 1e-3  # §2.3.1 Adam
    pretext_l1_weight: float = 0.0  # §2.3.1: SSIM loss alone (> 0 adds L1, `SSIMLoss(l1_weight=...)`; the quick preset)
    plateau_factor: float = 0.5  # §2.3.1
    plateau_patience: int = 10  # §2.3.1
    min_learning_rate: float = 1e-6  # §2.3.1
    pretext_epochs: int = 100  # not stated
    pretext_batch_size: int = 16  # not stated
    # Classifiers (§2.3.2, §2.3.3).
    num_classes: int = 2  # §2.3.2: two softmax nodes
    classifier_optimizer: str = "sgd"  # §2.3.3: SGD (the quick preset: Adam, see `quick`)
    classifier_learning_rate: float = 1e-3  # §2.3.3: SGD 1e-3
    classifier_momentum: float = 0.9  # not stated
    classifier_epochs: int = 64  # not stated
    classifier_batch_size: int = 16  # not stated
    baseline_weights: str | None = "imagenet"  # §2.3.2: ImageNet VGG-16; a notop .h5 path; "none": random init
    ensemble_epochs: int = 32  # not stated (A-F head)
    threshold: float = 0.5  # §2.5.2
    confidence: float = 0.95  # §2.6: 95% CI, two-tailed, alpha 0.05
    ci_method: str = "wilson"  # not stated: the Wilson score interval
    num_cam_images: int = 6  # §2.4, Fig. 8

    @classmethod
    def quick(cls, **overrides):
        """A preset that runs end to end in minutes on a 2-core CPU (phantom, 64 px, 1/8 width) and learns.

        Pretexts: 400 phantom images, 15 epochs at Adam 2e-3 (the paper's 1e-3 needs more epochs to leave the
        sigmoid's grey start), SSIM + 3 x L1 (`pretext_l1_weight`; with the paper's SSIM alone PSNR ends within
        ~1.5 dB of the degraded input, above or below it). Classifiers: 1,200 images (840 for training), Adam
        3e-4 x 15 epochs (`classifier_optimizer`; SGD, the paper's §2.3.3, does not move the 1/8-width network in
        that many steps), the He-initialized VGG-16 (`keras_cxr.models.vgg16`). Lung cropping (§2.1) is on: a
        segmenter is trained for `segmentation_epochs` on the phantom's masks first.

        Measured (PyTorch, 2-core AMD EPYC, one thread, beside another job: 570-610 s), test AUC / balanced
        accuracy of B, Den-P, Deb-P, SA, SLSQP-WA, A-F:
        seed 0: 0.917/0.813, 0.884/0.789, 0.905/0.846, 0.915/0.842, 0.905/0.846, 0.920/0.851;
        seed 1: 0.859/0.797, 0.793/0.715, 0.861/0.798, 0.853/0.781, 0.859/0.790, 0.852/0.777;
        seed 2: 0.874/0.799, 0.851/0.774, 0.794/0.715, 0.840/0.778, 0.847/0.778, 0.845/0.766.
        Seed 0: denoising 31.3 dB / SSIM 0.923 against the noisy input's 25.5 / 0.676, deblurring 31.7 / 0.945
        against 30.1 / 0.907 (seeds 1, 2: 30.8 / 29.8 and 32.5 / 29.6 dB, above their inputs). With the earlier
        preset (SGD, 400 images) every classifier was constant; B from scratch learns at every seed since
        `keras_cxr.models.vgg16` standardizes its inputs and draws fan-in kernels (it sat at ln 2 for seeds 1
        and 2 before). `tests/recipes/test_quick_presets.py` asserts the targets.

        Feature probes of the pretexts (the U-Net encoder's multi-scale pooled features, cross-validated on 512
        labelled images; PyTorch, seed 0): they do not rise. Linear: denoising 0.878 on the initial weights,
        0.883 after epoch 1, 0.874 after epoch 15; deblurring 0.868, 0.871, 0.867. kNN falls (0.84 -> 0.76 and
        0.84 -> 0.71). The He-initialized encoder's random multi-scale features already separate the phantom's
        findings at 0.85-0.90 AUC, and restoring noise or blur (solved mostly through the shallow skip connections)
        adds nothing a linear probe of the phantom's abnormal-vs-normal label can use. Not hidden by the probe's
        choice of layer: the bottleneck alone, the penultimate stage, max pooling and a 2 x 2 spatial grid behave
        alike (no rise after epoch 1), and the paper's learning rate of 1e-3 gives the same picture. Nor by this
        preset's size (denoising, linear probe on the initial weights -> last epoch): 840 pretext images
        0.853 -> 0.875, 30 epochs 0.858 -> 0.892, noise factors 0.2-0.4 (4x §2.2's) 0.877 -> 0.899, the same at
        1/4 width 0.899 -> 0.902: every trained encoder ends at 0.87-0.90, and the initial value alone moves
        0.85-0.90 between initializations, as much as training does. Nor by the phantom: denoising pretrained
        on the real pediatric images of `../shared/data/kermany_pediatric_224` (603 images, 64 px, no lung crop)
        takes their pneumonia-vs-normal probe from 0.965 to 0.941 (kNN 0.919 -> 0.888). Paper 003 compares its
        pretrained classifiers with an ImageNet-initialized VGG-16, not with random weights (§2.3.2).
        """
        values = dict(
            output_dir="runs/vgg16_sharp_unet_quick", phantom_pretext_images=400, phantom_classify_images=1200,
            image_size=64, width_multiplier=0.125, pretext_epochs=15, pretext_learning_rate=2e-3, pretext_l1_weight=3.0,
            pretext_batch_size=16,
            classifier_optimizer="adam", classifier_learning_rate=3e-4, classifier_epochs=15, classifier_batch_size=16,
            ensemble_epochs=5, baseline_weights="none", segmentation_epochs=2, num_cam_images=4, verbose=2,
            jit_compile="false",  # tiny models, few steps: XLA compiling costs more than it saves
            probe_images=512,  # feature probes of the pretexts on 512 labelled images (CI budget)
        )
        values.update(overrides)
        return cls(**values)


# --------------------------------------------------------------------------------------------- data
def _pretext_index(config):
    """Clean images for the pretext tasks (labels unused): the phantom, or any image folder / layout."""
    if config.pretext_dir is None:
        return phantom_index(config.phantom_pretext_images, config.image_size, seed=config.seed + 1,
                             labels="abnormal", cache_dir=config.cache_dir)
    return limit(index_any(config.pretext_dir), config)


def _classify_index(config):
    """Binary normal (0) / abnormal (1) images with ground-truth boxes (`boxes` column, at `image_size`).

    A VinDr-PCXR folder (`classify_dir` holding `image_labels_train.csv` and `image_labels_test.csv`) gives
    both official tables pooled, as Table 1 does before its 70/10/20 re-split (the paper counts 8,755
    images, 5,876 normal and 2,879 abnormal; the two tables hold 7,728 + 1,397 = 9,125 and the paper does
    not say which 370 it left out, so our counts are those of the tables). Abnormal = 1 − "No finding".
    `classify_csv` naming one table (e.g. image_labels_train.csv) uses that table only.
    """
    if config.classify_dir is None and config.classify_csv is None:
        return phantom_index(config.phantom_classify_images, config.image_size, seed=config.seed + 2,
                             labels="abnormal", cache_dir=config.cache_dir)
    source = config.classify_csv or config.classify_dir
    # §2.1, Table 1: every official table pooled (VinDr-PCXR's train + test CSVs) and re-split below
    index = index_any(source, binary=True) if config.classify_csv else binary_index(index_with_official_split(source))
    index = limit(index.subset(~np.isnan(index.labels).any(axis=1)), config)
    index.frame["boxes"] = _ground_truth_boxes(config, index)
    return index


def _external_index(path):
    """An external test set (`--test-dir NAME=PATH`): any layout `index_any` reads, binary normal (0) /
    abnormal (1), no boxes."""
    index = index_any(path, binary=True)
    index = index.subset(~np.isnan(index.labels).any(axis=1))
    index.frame["boxes"] = [[] for _ in range(len(index))]
    return index


def external_splits(data):
    """The names of the external test sets in `data["classify"]` (keys `external_<NAME>`)."""
    return [split for split in data["classify"] if split.startswith(EXTERNAL)]


def _ground_truth_boxes(config, index):
    """VinDr-PCXR box annotations (annotations_{train,test}.csv beside the label CSVs), scaled to image_size."""
    source = config.classify_csv or config.classify_dir
    root = source if os.path.isdir(source) else os.path.dirname(source)
    annotations = {**read_vindr_boxes(root, "train"), **read_vindr_boxes(root, "test")}
    boxes = []
    for path, image_id in zip(index.paths, index.frame["patient_id"].astype(str)):
        found = annotations.get(image_id, [])
        boxes.append(resize_boxes(found, image_size_from_header(path), config.image_size) if found else [])
    return boxes


def load_data(config):
    """Both datasets as `DatasetIndex`es over files (the phantom is written once to the cache folder), split
    70/10/20 by patient (stratified), lung-cropped unless `lung_crop=False` (§2.1). The images are streamed
    by every stage through `make_dataset`; nothing holds a dataset in memory.

    Returns:
        {"pretext": {"train" | "val" | "test": DatasetIndex}, "classify": {...: DatasetIndex (binary, boxes)}},
        and with lung cropping "lung_crop_uncropped" (see `crop_lungs`).
    """
    fractions = tuple(config.split_fractions)
    data = {"pretext": split_index(_pretext_index(config), fractions, config.seed),
            "classify": split_index(_classify_index(config), fractions, config.seed)}
    for name, index in named_test_sets(config, _external_index).items():  # --test-dir NAME=PATH
        data["classify"][EXTERNAL + name] = index
    if config.lung_crop:
        data = crop_lungs(config, data)
    return data


def labels_of(index):
    """(N,) int64 binary labels of a classification split."""
    return index.labels[:, -1].astype(np.int64)


def boxes_of(index):
    """Per image, the list of ground-truth boxes (empty where none)."""
    return index_arrays(index, "boxes")


def _read(config, index, rows=None):
    """A few images of an index as an array (figures, Score-CAM): never a whole dataset."""
    subset = index if rows is None else index.subset(np.asarray(rows, dtype=np.int64))
    return stream(config, subset, config.image_size, shuffle=False, target=None, batch_size=max(1, len(subset)))[0][0]


def _segmenter(config, data):
    """The lung segmenter of §2.1: a saved model, or a VGG-16 Sharp U-Net trained on `segmentation_dir`
    (a layout of `index_segmentation`: images/ + masks/, Montgomery, Kaggle mirrors) or on the phantom's own
    lung masks (its pretext training split), Adam at `pretext_learning_rate`, `segmentation_epochs` epochs,
    10 % held out for validation.
    Loss as implemented: Dice + binary cross-entropy, each weighted 1 (`keras_cxr.losses.DiceBCELoss`:
    Keras' `Dice` plus `BinaryCrossentropy` on the sigmoid output), our choice: §2.1 names the segmenter
    (a U-Net with an Inception-V3 encoder, Rajaraman et al. 2023) and no loss.
    Image and mask pairs stream from the index (`labels="mask_path"`: each mask read and resized with its image)."""
    if config.segmentation_model:
        return keras.saving.load_model(config.segmentation_model)
    size = config.image_size
    if config.segmentation_dir:
        pairs = index_segmentation(config.segmentation_dir)
    elif "mask_path" in data["pretext"]["train"].frame:
        pairs = data["pretext"]["train"]
    else:
        raise ValueError("lung_crop=True (the default, §2.1) needs a lung segmenter: segmentation_model, "
                         "segmentation_dir, or the phantom's masks; none was given for pretext_dir="
                         f"{config.pretext_dir!r}. Pass --segmentation-dir (a lung-mask layout: images/ + masks/, e.g. "
                         "JSRT/SCR), --segmentation-model (a saved .keras segmenter), or --lung-crop false to "
                         "train on uncropped images.")

    cut = max(1, int(round(len(pairs) * 0.9)))  # 10 % held out for validation
    train, val = pairs.subset(np.arange(cut)), pairs.subset(np.arange(cut, len(pairs)))
    model, _ = engine.fit_stage(
        config, "lung_segmenter",
        lambda: create_model("vgg16_sharp_unet", input_shape=(size, size, 1), width_multiplier=config.width_multiplier,
                             name="lung_segmenter"),
        lambda: stream(config, train, size, labels="mask_path", batch_size=config.pretext_batch_size, seed=config.seed),
        validation=lambda: stream(config, val, size, labels="mask_path", batch_size=config.pretext_batch_size,
                                  shuffle=False) if len(val) else None,
        epochs=config.segmentation_epochs,
        optimizer=engine.make_optimizer("adam", config.pretext_learning_rate), loss=DiceBCELoss(),
        metrics=["binary_accuracy"], monitor="val_loss",
        card=dict(task="segmentation", class_names=["lung"], input_size=(size, size), threshold=0.5,
                  notes="paper 003 §2.1: lung mask probability per pixel; lungs at >= 0.5"))
    return model


def crop_lungs(config, data):
    """§2.1: every image cropped to the bounding box of its predicted lungs and resized back, written once as
    16-bit PNGs (sBIT 16, `keras_cxr.data.readers.write_png`, so `read_image` keeps their 65535 scale) under
    `output_dir/lung_crop/` (a resumable stage per split); boxes mapped into the crop.

    An image whose predicted mask is empty is kept whole (its box is the full image) and counted; a
    warning and metrics.json's `lung_crop_uncropped` give the counts per split.

    Returns `data` with every index pointing at the cropped files, plus `"lung_crop_uncropped"`:
    {"dataset/split": count}.
    """
    segmenter = _segmenter(config, data)
    size, out, uncropped_counts = config.image_size, {}, {}
    for dataset, splits in data.items():
        out[dataset] = {}
        for split, index in splits.items():
            folder = os.path.join(config.output_dir, "lung_crop", dataset, split)

            def crop(index=index, folder=folder):
                os.makedirs(folder, exist_ok=True)
                frames = stream(config, index, size, shuffle=False, target=None, batch_size=config.pretext_batch_size)
                paths, boxes, position, uncropped = [], [], 0, 0
                for (batch,) in frames:
                    masks = segmenter.predict(batch, verbose=0) > 0.5
                    for image, mask in zip(batch[..., 0], masks[..., 0]):
                        if mask.any():
                            box = lung_bbox(mask)
                        else:  # no lung found: keep the whole image rather than stop the run (counted)
                            box, uncropped = (0, 0, mask.shape[1], mask.shape[0]), uncropped + 1
                        path = os.path.join(folder, f"{position:07d}.png")
                        # sBIT 16: read_image keeps the 65535 scale even for a crop darker than 1/4.
                        write_png(path, np.round(np.clip(crop_and_resize(image, box, size), 0, 1) * 65535)
                                  .astype(np.uint16), significant_bits=16)
                        boxes.append([list(b) for b in crop_boxes(boxes_of(index)[position], box, size)])
                        paths.append(path)
                        position += 1
                return {"paths": paths, "boxes": boxes, "uncropped": uncropped}

            done = stage(config, f"lung_crop_{dataset}_{split}", crop, kind="json")
            if done.get("uncropped"):
                warnings.warn(f"lung cropping: the segmenter found no lung in {done['uncropped']} of {len(index)} "
                              f"{dataset}/{split} images; they are kept uncropped. Train the segmenter longer "
                              "(--segmentation-epochs) or check --segmentation-dir.", RuntimeWarning, stacklevel=2)
            uncropped_counts[f"{dataset}/{split}"] = int(done.get("uncropped", 0))
            cropped = index.subset(np.arange(len(index)))
            cropped.frame["path"] = done["paths"]
            cropped.frame["boxes"] = [[tuple(b) for b in row] for row in done["boxes"]]
            out[dataset][split] = cropped
    out["lung_crop_uncropped"] = uncropped_counts
    return out


# --------------------------------------------------------------------------------------------- models
def _plateau(config):
    """§2.3.1's schedule: the learning rate halved after `plateau_patience` epochs without a lower
    validation loss, down to `min_learning_rate`."""
    return {"factor": config.plateau_factor, "patience": config.plateau_patience, "min_lr": config.min_learning_rate,
            "monitor": "val_loss"}


def build_pretext_model(config):
    """The VGG-16 Sharp U-Net of §2.3.1 (compiled by the engine with the SSIM loss and the paper's monitors)."""
    return create_model("vgg16_sharp_unet", input_shape=(config.image_size, config.image_size, 1),
                        width_multiplier=config.width_multiplier)


def _pairs(config, task):
    """The (degraded, clean) target of a pretext task: a fresh factor / kernel per image from §2.2's lists."""
    kind = PRETEXT_TASKS[task]
    return DegradationTarget(kind, config.noise_variance_factors if kind == "noise" else config.blur_kernel_sizes)


def pretrain(config, data, task):
    """Trains one pretext model (denoising or deblurring) on streamed (degraded, clean) pairs; a resumable
    stage (`models/<task>.keras`, the epoch with the lowest validation loss, §2.3.1). Reports Table 2 metrics
    on the test split, each test image degraded once with a fixed seed."""
    splits = data["pretext"]
    pairs = dict(target=_pairs(config, task), batch_size=config.pretext_batch_size)
    model, history = engine.fit_stage(
        config, task, lambda: build_pretext_model(config),
        lambda: stream(config, splits["train"], config.image_size, seed=config.seed, **pairs),
        validation=lambda: stream(config, splits["val"], config.image_size, shuffle=False, seed=config.seed + 1, **pairs),
        epochs=config.pretext_epochs, optimizer=engine.make_optimizer("adam", config.pretext_learning_rate),
        loss=SSIMLoss(l1_weight=config.pretext_l1_weight), metrics=["mse", "mae", PSNR(), SSIM()], monitor="val_loss",
        plateau=_plateau(config),
        callbacks=lambda: engine.feature_probes(config, data["classify"]["train"],
                                                config.image_size))
    scores = {"psnr": [], "ssim": [], "haarpsi": [], "degraded_psnr": [], "degraded_ssim": []}
    examples = None
    test = stream(config, splits["test"], config.image_size, shuffle=False, seed=config.seed + 2,
                  target=_pairs(config, task), batch_size=config.pretext_batch_size)
    c = _numpy
    for degraded, clean in test:
        restored = model.predict_on_batch(degraded)
        scores["psnr"] += list(c(psnr(clean, restored, data_range=1.0)))
        scores["ssim"] += list(c(ssim(clean, restored, data_range=1.0)))
        scores["haarpsi"] += list(c(haarpsi(clean, restored, data_range=1.0)))
        scores["degraded_psnr"] += list(c(psnr(clean, degraded, data_range=1.0)))
        scores["degraded_ssim"] += list(c(ssim(clean, degraded, data_range=1.0)))
        if examples is None:
            examples = {"original": clean[:3], "degraded": degraded[:3], "restored": c(restored)[:3]}
    return {"model": model, "scores": {k: float(np.mean(v)) for k, v in scores.items()}, "history": history,
            "examples": examples}


def _numpy(value):
    return np.asarray(keras.ops.convert_to_numpy(value))


def _to_one_hot(labels, num_classes):
    return np.eye(num_classes, dtype="float32")[labels]


def _fit_classifier(config, build, data, name, fraction=1.0):
    """Trains a classifier (or the A-F head) with SGD (§2.3.3; `classifier_optimizer`) on streamed images, the paper's plateau
    schedule, keeping the epoch with the lowest validation loss (§2.3.3); a resumable stage
    (`models/<name>.keras`; `fraction` < 1 trains on that share of the labels, `protocols.labelled_fraction`,
    as `models/<name>_fraction<pct>.keras`). Returns (model, history)."""
    train_index = protocols.labelled_fraction(data["classify"]["train"], fraction, config.seed)
    val_index = data["classify"]["val"]
    name += protocols.stage_suffix(fraction)
    one_hot = lambda index: _to_one_hot(labels_of(index), config.num_classes)  # noqa: E731
    options = dict(image_size=config.image_size, batch_size=config.classifier_batch_size)
    epochs = config.ensemble_epochs if name == "A-F" else config.classifier_epochs
    return engine.fit_stage(
        config, name, build,
        lambda: stream(config, train_index, labels=one_hot(train_index), seed=config.seed, **options),
        validation=lambda: stream(config, val_index, labels=one_hot(val_index), shuffle=False, **options),
        epochs=epochs, optimizer=engine.make_optimizer(config.classifier_optimizer, config.classifier_learning_rate,
                                                       momentum=config.classifier_momentum),
        loss="categorical_crossentropy", metrics=["accuracy", keras.metrics.AUC(name="auc")],
        monitor="val_loss", plateau=_plateau(config),
        card=dict(task="multiclass", class_names=CLASS_NAMES, input_size=(config.image_size,) * 2,
                  notes="paper 003: normal vs abnormal, argmax of the softmax (threshold 0.5 on abnormal)"))


def baseline_weights(config):
    """Baseline B's initialization (§2.3.2), validated before anything trains.

    Returns "imagenet" (keras.applications' VGG-16 "notop" file, fetched or read from Keras' cache), the
    path of such a file, or None for random initialization (`baseline_weights` None, "none" or "random";
    the report then names the model "B (random init)"). There is no silent fallback: weights that cannot be
    had raise, naming how to supply them.

    Raises:
        ValueError: ImageNet weights asked for at `width_multiplier` != 1 (none exist there), or a path that
            does not exist.
        OSError: the ImageNet weights cannot be fetched (offline): the message names the file, where to put
            it, `--baseline-weights PATH` and `--baseline-weights none`.
    """
    weights = config.baseline_weights
    if weights is None or str(weights).strip().lower() in ("none", "random", ""):
        return None
    fix = ("Pass --baseline-weights none (baseline_weights='none') to train B from random initialization; the "
           "report then names it 'B (random init)'.")
    if float(config.width_multiplier) != 1.0:
        raise ValueError(f"baseline_weights={weights!r} needs width_multiplier=1.0 (ImageNet VGG-16 weights exist "
                         f"only at full width); received width_multiplier={config.width_multiplier}. {fix}")
    if weights != "imagenet" and not os.path.isfile(weights):
        raise ValueError(f"baseline_weights={weights!r} is neither 'imagenet', 'none' nor an existing file. Pass the "
                         f"path of keras.applications' vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5. {fix}")
    return weights


def baseline_name(config):
    """"B" for the ImageNet baseline of §2.3.2, "B (random init)" when it starts from random weights."""
    return "B" if baseline_weights(config) else "B (random init)"


def _check_baseline_weights(config):
    """Fails at the start of a run, not after the pretext training, when B's ImageNet weights are missing."""
    weights = baseline_weights(config)
    if weights is None or (config.resume and os.path.exists(stage_path(config, "B"))):
        return
    try:
        vgg16((32, 32, 1), weights=weights, name="baseline_weights_check")
    except OSError as error:
        raise OSError(f"Baseline B (§2.3.2) needs ImageNet VGG-16 weights: {error} Then rerun with "
                      "--baseline-weights <path to the .h5 file> (or keep 'imagenet' once the file is in Keras' "
                      "cache). To train B from random initialization instead, pass --baseline-weights none; the "
                      "report then names it 'B (random init)'.") from error


def _classifiers(config, pretext_models):
    """§2.3.2's classifiers as builders: the baseline B (ImageNet VGG-16, or random init when
    `baseline_weights` is "none"), Den-P and Deb-P from the pretext encoders."""
    size = config.image_size
    return {
        "B": lambda: vgg16((size, size, 1), num_classes=config.num_classes, head_activation="softmax",
                           weights=baseline_weights(config), width_multiplier=config.width_multiplier,
                           name="vgg16_classifier"),
        "Den-P": lambda: encoder_classifier(pretext_models["denoising"], num_classes=config.num_classes, name="den_p"),
        "Deb-P": lambda: encoder_classifier(pretext_models["deblurring"], num_classes=config.num_classes, name="deb_p"),
    }


def finetune(config, data, pretext_models):
    """§2.3.2: Den-P, Deb-P and the baseline B (`_classifiers`), each fine-tuned."""
    models, histories = {}, {}
    for name, build in _classifiers(config, pretext_models).items():
        models[name], histories[name] = _fit_classifier(config, build, data, name)
    return models, histories


def _test_auc(config, data, model):
    """AUC of the abnormal probability on the test split."""
    test = data["classify"]["test"]
    probabilities = engine.predict(config, model, test, config.image_size, batch_size=config.classifier_batch_size)
    return float(roc_auc_score(labels_of(test), probabilities[:, 1])) if len(np.unique(labels_of(test))) > 1 \
        else float("nan")


def linear_probes(config, data, pretext_models):
    """Linear probing (not in paper 003; `keras_cxr.recipes.protocols`, mae's settings) of the denoising and
    deblurring encoders, frozen: {"Den-P": {"auc": test AUC}, "Deb-P": ...}, beside their fine-tuned twins.
    Each probe is a resumable stage (`models/Den-P_linprobe.keras`)."""
    found = {}
    train_index, val_index = data["classify"]["train"], data["classify"]["val"]
    one_hot = lambda index: _to_one_hot(labels_of(index), config.num_classes)  # noqa: E731
    batch_size = min(config.classifier_batch_size, len(train_index))
    options = dict(image_size=config.image_size, batch_size=batch_size)
    for name, task in (("Den-P", "denoising"), ("Deb-P", "deblurring")):
        model, _ = engine.fit_stage(
            config, name + protocols.stage_suffix(protocol="linear_probe"),
            lambda task=task: protocols.probe_model(pretext_models[task], config.num_classes),
            lambda: stream(config, train_index, labels=one_hot(train_index), seed=config.seed, **options),
            validation=lambda: stream(config, val_index, labels=one_hot(val_index), shuffle=False, **options),
            epochs=config.linprobe_epochs, optimizer=protocols.probe_optimizer(config, batch_size),
            loss="categorical_crossentropy", metrics=["accuracy", keras.metrics.AUC(name="auc")], monitor="val_loss",
            card=dict(task="multiclass", class_names=CLASS_NAMES, input_size=(config.image_size,) * 2,
                      notes=f"linear probe of the frozen {task} encoder (mae main_linprobe protocol)"))
        found[name] = {"auc": _test_auc(config, data, model)}
    return found


def label_efficiency(config, data, pretext_models, figures):
    """The label-efficiency sweep (not in paper 003; `keras_cxr.recipes.protocols`): B, Den-P and Deb-P
    fine-tuned on each of `label_fractions` of the training labels; {method: {fraction: (test AUC, 0)}}
    (one seed), drawn as AUC vs labelled images. Fraction 1.0 is the main run's models (not retrained)."""
    builders = _classifiers(config, pretext_models)
    results = protocols.label_efficiency(config.label_fractions, list(builders), lambda name, fraction, seed: _test_auc(
        config, data, _fit_classifier(config, builders[name], data, name, fraction)[0]))
    named = {baseline_name(config) if k == "B" else k: v for k, v in results.items()}
    protocols.draw_label_efficiency(figures, named, len(data["classify"]["train"]), "test AUC",
                                    title="Label efficiency (B vs the pretext-pretrained Den-P, Deb-P)")
    return results


def ensemble(config, data, models):
    """§2.3.3: SA, SLSQP-WA (weights from the validation split) and the A-F ensemble of Den-P and Deb-P."""
    def predict(model, split):
        return engine.predict(config, model, data["classify"][split], config.image_size,
                              batch_size=config.classifier_batch_size)

    members = ("Den-P", "Deb-P")
    splits = ("val", "test", *external_splits(data))
    probabilities = {split: {name: predict(models[name], split) for name in models} for split in splits}
    weights = slsqp_weights([probabilities["val"][m] for m in members], labels_of(data["classify"]["val"]))
    af_model, af_history = _fit_classifier(
        config, lambda: build_attention_fuzzy_ensemble([models[m] for m in members], num_classes=config.num_classes),
        data, "A-F")
    for split in splits:
        probabilities[split]["SA"] = average([probabilities[split][m] for m in members])
        probabilities[split]["SLSQP-WA"] = average([probabilities[split][m] for m in members], weights)
        probabilities[split]["A-F"] = predict(af_model, split)
    return probabilities, {"slsqp_weights": dict(zip(members, weights.tolist()))}, af_model, af_history


# --------------------------------------------------------------------------------------------- evaluation
def evaluate(config, data, probabilities, models, figures):
    """Table 3 metrics, pairwise sensitivity Z-tests (§2.6) and Score-CAM boxes (§2.4) on the test split."""
    test = data["classify"]["test"]
    y_true, test_boxes = labels_of(test), boxes_of(test)
    reports, predictions = {}, {}
    for name, prob in probabilities["test"].items():
        reports[name] = classification_report(y_true, prob, threshold=config.threshold,
                                              class_names=CLASS_NAMES)
        predictions[name] = (prob[:, 1] >= config.threshold).astype(np.int64)
    z_tests = compare_sensitivities({name: (y_true, pred) for name, pred in predictions.items()},
                                    confidence=config.confidence, method=config.ci_method)
    y_val = labels_of(data["classify"]["val"])
    calibration = {name: calibration_summary(y_val, probabilities["val"][name][:, 1], y_true, prob[:, 1], "binary",
                                             path=figures.record(f"reliability_{name}", f"reliability {name}"),
                                             title=f"Reliability {name} (test split)")
                   for name, prob in probabilities["test"].items()}
    abnormal = np.flatnonzero(y_true == 1)[: config.num_cam_images]
    images = _read(config, test, abnormal)
    cams = {}
    for name in ("B", "Den-P", "Deb-P"):
        maps = np.asarray(score_cam(models[name], images, class_index=1))
        boxes = [[box] for box in boxes_from_maps(maps)]
        ious = [max_iou(pred, test_boxes[i]) for pred, i in zip(boxes, abnormal) if test_boxes[i]]
        cams[name] = {"maps": maps, "boxes": boxes, "mean_iou": float(np.mean(ious)) if ious else None}
    external = {}
    for split in external_splits(data):
        truth = labels_of(data["classify"][split])
        external[split[len(EXTERNAL):]] = {
            name: classification_report(truth, prob, threshold=config.threshold, class_names=CLASS_NAMES)
            for name, prob in probabilities[split].items()}
    return {"reports": reports, "z_tests": z_tests, "cams": cams, "cam_indices": abnormal, "cam_images": images,
            "external": external, "calibration": calibration}


def _table_3_row(report):
    source = report.get("binary", report)
    return {m: float(source[m]) for m in TABLE_3_METRICS}


def report(config, data, pretext_results, evaluation, extras, figures):
    """The run's metrics (metrics.json) and figures (drawn through `figures`, a `FigureLog`)."""
    table_2 = {task: result["scores"] for task, result in pretext_results.items()}
    table_3 = {name: _table_3_row(rep) for name, rep in evaluation["reports"].items()}
    z_records = evaluation["z_tests"].to_dict("records") if hasattr(evaluation["z_tests"], "to_dict") \
        else list(evaluation["z_tests"])
    metrics = {
        "table_2": table_2,
        "table_3": table_3,
        "sensitivity_z_tests": z_records,
        "slsqp_weights": extras["slsqp_weights"],
        "score_cam_mean_iou": {name: cam["mean_iou"] for name, cam in evaluation["cams"].items()},
        "classification_reports": evaluation["reports"],
        "split_sizes": {k: {s: len(v) for s, v in data[k].items()} for k in ("pretext", "classify")},
        "baseline": {"name": baseline_name(config), "weights": baseline_weights(config)},
        "calibration": evaluation["calibration"],
        **{k: extras[k] for k in ("linear_probe", "label_efficiency") if k in extras},
    }
    if "lung_crop_uncropped" in data:
        metrics["lung_crop_uncropped"] = data["lung_crop_uncropped"]
    splits = np.concatenate([index.frame["split"].astype(str).to_numpy() for index in data["classify"].values()])
    if not config.classify_csv and {"train", "test"} <= set(splits):
        metrics["classify_pool"] = (f"the official train and test tables pooled, {int(np.sum(splits == 'train'))} + "
                                    f"{int(np.sum(splits == 'test'))} images, re-split 70/10/20 by patient as in Table 1")
    metrics["external"] = {set_name: {name: {**_table_3_row(rep), "auc_roc": float(rep["binary"]["auc_roc"]),
                                             "num_images": int(rep["num_samples"])} for name, rep in reports.items()}
                           for set_name, reports in evaluation["external"].items()}
    metrics.update(_degenerate(table_2, evaluation["reports"]))
    for record in z_records:
        record["note"] = plots.comparison_note(record["model_a"], record["model_b"], metrics["degenerate"])
    for task, result in pretext_results.items():
        figures.draw(plots.plot_image_grid, f"{task}_examples", result["examples"],
                     title=f"{task}: original / degraded / restored", caption=task)
    for name, rep in evaluation["reports"].items():
        figures.draw(plots.plot_confusion_matrix, f"confusion_{name}", rep["confusion_matrix"], ["normal", "abnormal"],
                     title=name, caption=f"confusion {name}")
    figures.draw(plots.plot_metric_bars, "metric_bars", table_3, metrics=TABLE_3_METRICS,
                 caption="Fig. 6: classification metrics")
    figures.draw(plots.plot_sensitivity_differences, "sensitivity_z_tests", z_records, alpha=1 - config.confidence,
                 caption="Fig. 7: pairwise sensitivity z-tests")
    gt = [boxes_of(data["classify"]["test"])[i] for i in evaluation["cam_indices"]]
    for name, cam in evaluation["cams"].items():
        figures.draw(plots.plot_activation_maps, f"score_cam_{name}", evaluation["cam_images"], cam["maps"],
                     boxes=cam["boxes"], gt_boxes=gt, caption=f"Score-CAM {name}",
                     title=f"Score-CAM {name} (yellow: from map, green: ground truth)")
    metrics["figures"] = figures.entries
    return metrics


def _degenerate(table_2, reports):
    """{"warnings": sentences, "degenerate": model names}: restorations no better than their input, classifiers
    that predict one class for every test image or rank at chance (`keras_cxr.report.degenerate`)."""
    found, names = [], []
    for task, scores in table_2.items():
        sentences = restoration_warnings(task, scores["psnr"], scores["degraded_psnr"], scores["ssim"],
                                         scores["degraded_ssim"])
        found += sentences
        names += [task] if sentences else []
    for name, rep in reports.items():
        sentences = report_warnings(rep, name)
        found += sentences
        names += [name] if sentences else []
    return {"warnings": found, "degenerate": names}


def _lung_crop_note(config, metrics):
    if not config.lung_crop:
        return "off (`lung_crop=False`): the models see whole images, unlike the paper"
    source = (f"the saved segmenter `{config.segmentation_model}`" if config.segmentation_model else
              f"a VGG-16 Sharp U-Net trained with Dice + BCE on `{config.segmentation_dir}`" if config.segmentation_dir
              else "a VGG-16 Sharp U-Net trained with Dice + BCE on the phantom's lung masks")
    note = f"on, both datasets cropped to the predicted lungs' bounding box by {source} (the paper: a U-Net " \
           "with an Inception-V3 encoder)"
    missed = {k: v for k, v in metrics.get("lung_crop_uncropped", {}).items() if v}
    if missed:
        note += f"; kept uncropped because the segmenter found no lung: {missed}"
    return note


def _external_rows(metrics, set_name, label):
    """Each model's AUC, balanced accuracy, sensitivity and specificity on external set `set_name`, beside the
    same numbers on the run's own test split."""
    rows = []
    for name, row in metrics["external"][set_name].items():
        own = {**metrics["table_3"][name], "auc_roc": metrics["classification_reports"][name]["binary"]["auc_roc"]}
        rows.append([label(name)] + [beside(row[m], own[m]) for m in ("auc_roc", "balanced_accuracy", "sensitivity",
                                                                      "specificity")])
    return table(["model", "AUC", "balanced accuracy", "sensitivity", "specificity"], rows)


def write_report(config, metrics):
    """report.md: the preamble, then Table 2, Table 3 (with external sets and calibration), the Z-tests (§2.6)
    and Score-CAM (§2.4), then the learning curves."""
    figures = FigureLog(config.output_dir, metrics["figures"])

    def label(name):  # "B (random init)" when B was not ImageNet-initialized
        return metrics["baseline"]["name"] if name == "B" else name

    data_note = "synthetic phantom (embedded default)" if config.pretext_dir is None else (
        f"pretext: `{config.pretext_dir}`, classification: `{config.classify_csv or config.classify_dir}`")
    if metrics.get("classify_pool"):
        data_note += f" ({metrics['classify_pool']})"
    report = Report(
        "# VGG-16 Sharp U-Net pretext learning (paper 003) — run report",
        preamble=[f"Data: {data_note}. Image size {config.image_size}, width multiplier {config.width_multiplier}, "
                  f"seed {config.seed}. Split sizes: `{json.dumps(metrics['split_sizes'])}`.",
                  f"Lung cropping (§2.1): {_lung_crop_note(config, metrics)}.",
                  "Paper numbers come from Kermany + VinDr-PCXR at 224 px with full-width models; a quick or phantom "
                  "run is not expected to match them, only to exercise every step."],
        warnings=metrics.get("warnings", ()), tail=engine.learning_curves(config))
    report.section("Table 2 — denoising / deblurring (test split); each cell: ours / paper", table(
        ["task", "PSNR", "SSIM", "HaarPSI", "PSNR of degraded input"],
        [[task] + [beside(ours[m], PAPER_TABLE_2[task][m]) for m in ("psnr", "ssim", "haarpsi")] + [ours["degraded_psnr"]]
         for task, ours in metrics["table_2"].items()]),
        image_row({task: f"figures/{task}_examples.png" for task in metrics["table_2"]}))
    random_baseline = not metrics["baseline"]["weights"]
    report.section(f"Table 3 — classification (test split, threshold {config.threshold}); each cell: ours / paper", table(
        ["model", *TABLE_3_METRICS],
        [[label(name)] + [beside(ours[m], None if name == "B" and random_baseline else PAPER_TABLE_3[name][m])
                          for m in TABLE_3_METRICS] for name, ours in metrics["table_3"].items()]),
        "B (random init) is VGG-16 trained from random initialization (`--baseline-weights none`), not the paper's "
        "ImageNet-pretrained B, so no paper numbers stand beside it." if random_baseline else [],
        f"SLSQP weights (fitted on the validation split): `{metrics['slsqp_weights']}`",
        figures.markdown("metric_bars"),
        image_row({f"confusion {label(n)}": f"figures/confusion_{n}.png" for n in metrics["table_3"]}))
    for set_name, rows in metrics["external"].items():
        report.section(f"External test set `{set_name}` ({next(iter(rows.values()))['num_images']} images); each "
                       "cell: external / own test split", _external_rows(metrics, set_name, label), level=3)
    report.section("Calibration of the abnormal probability (test split)",
                   "Expected calibration error before and after temperature scaling fitted on the validation split "
                   "(Guo et al. 2017); the paper reports none.",
                   calibration_table({label(n): row for n, row in metrics["calibration"].items()}),
                   image_row({f"reliability {label(n)}": f"figures/reliability_{n}.png" for n in metrics["calibration"]}),
                   level=3)
    if "linear_probe" in metrics:
        report.section("Linear probing of the pretext encoders (not in the paper; mae's protocol)",
                       "Frozen encoder, BatchNorm without affine, one linear layer (`keras_cxr.recipes.protocols`); "
                       "test AUC beside the fine-tuned classifier's:",
                       table(["encoder", "linear probe AUC", "fine-tuned AUC"],
                             [[name, row["auc"], metrics["classification_reports"][name]["binary"]["auc_roc"]]
                              for name, row in metrics["linear_probe"].items()]), level=3)
    if "label_efficiency" in metrics:
        report.section("Label efficiency (not in the paper): test AUC vs labelled training images",
                       protocols.label_efficiency_table({label(k): v for k, v in metrics["label_efficiency"].items()},
                                                        metrics["split_sizes"]["classify"]["train"]),
                       figures.markdown("label_efficiency"), level=3)
    report.section("Pairwise sensitivity Z-tests (§2.6, Eq. 9–12)", table(
        ["pair", "Δ sensitivity", "Δ SE", "z", "p", "significant"],
        [[f"{label(r['model_b'])} − {label(r['model_a'])}", r["delta_sensitivity"], r["delta_se"], f"{r['z']:.3f}",
          f"{r['p']:.4g}", f"{r['significant']} ({r['note']})" if r.get("note") else str(r["significant"])]
         for r in metrics["sensitivity_z_tests"]]), figures.markdown("sensitivity_z_tests"))
    report.section("Score-CAM (§2.4) on abnormal test images",
                   f"Mean IoU of the map's box with the best-matching ground-truth box: `{metrics['score_cam_mean_iou']}`",
                   figures.markdown("score_cam"))
    return report.markdown()


def run(config=None):
    """Runs the whole study and returns its metrics (the content of `metrics.json`).

    Example:
    >>> from keras_cxr.recipes import vgg16_sharp_unet
    >>> metrics = vgg16_sharp_unet.run(vgg16_sharp_unet.Config.quick(output_dir="/tmp/sharp"))  # doctest: +SKIP
    >>> sorted(metrics["table_3"])  # doctest: +SKIP
    ['A-F', 'B', 'Deb-P', 'Den-P', 'SA', 'SLSQP-WA']
    """
    return run_recipe(config or Config(), _steps, write_report)


def _steps(config):
    _check_baseline_weights(config)
    data = load_data(config)
    pretext_results = {task: pretrain(config, data, task) for task in PRETEXT_TASKS}
    models, _ = finetune(config, data, {task: r["model"] for task, r in pretext_results.items()})
    probabilities, extras, _, _ = ensemble(config, data, models)
    figures = FigureLog(config.output_dir)
    evaluation = evaluate(config, data, probabilities, models, figures)
    encoders = {task: r["model"] for task, r in pretext_results.items()}
    if config.linear_probe:
        extras["linear_probe"] = linear_probes(config, data, encoders)
    if config.label_fractions:
        extras["label_efficiency"] = label_efficiency(config, data, encoders, figures)
    return report(config, data, pretext_results, evaluation, extras, figures)


def main(argv=None):
    """Command line: every Config field is a `--flag`; `--quick` starts from `Config.quick()`."""
    config = parse_config(Config, argv, description=__doc__.splitlines()[0])
    metrics = run(config)
    print(json.dumps({"table_2": metrics["table_2"], "table_3": metrics["table_3"]}, indent=2))
    print(f"report: {os.path.join(config.output_dir, 'report.md')}")
    return metrics
