"""Noise-induced modality-specific pretext learning for pediatric CXR classification (paper 003).

Reproduces Rajaraman, Liang, Xue & Antani, "Noise-induced modality-specific pretext learning for pediatric
chest X-ray image classification", Frontiers in Artificial Intelligence 7:1419638 (2024),
doi:10.3389/frai.2024.1419638:

1. (optional, §2.1) lung segmentation → crop to the lung bounding box → resize to 224 × 224, [0, 1];
2. (§2.2, §2.3.1) a VGG-16 Sharp U-Net learns to remove Gaussian noise (denoising) and, separately,
   Gaussian blur (deblurring) from pediatric CXRs; SSIM loss, Adam 1e-3, plateau halving; Table 2;
3. (§2.3.2) each trained encoder, truncated at its deepest convolution + GAP + softmax, is fine-tuned to
   classify normal vs abnormal pediatric CXRs (Den-P, Deb-P); baseline B is ImageNet VGG-16;
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
import time

import numpy as np

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


@dataclasses.dataclass
class Config:
    """Every setting of the study; defaults are the paper's, with their source."""

    output_dir: str = "runs/vgg16_sharp_unet"
    seed: int = 0
    # Data. None → the synthetic phantom. Real data: any image folder / Kermany layout / labels.csv folder.
    pretext_dir: str | None = None  # §2.1: Kermany pediatric pneumonia CXRs (labels unused)
    classify_dir: str | None = None  # §2.1: VinDr-PCXR (normal vs abnormal); or a labels.csv folder
    classify_csv: str | None = None  # VinDr-PCXR image_labels_{train,test}.csv or a labels.csv
    phantom_pretext_images: int = 1200  # not in the paper: size of the phantom stand-in for Kermany
    phantom_classify_images: int = 1200  # not in the paper: size of the phantom stand-in for VinDr-PCXR
    max_images: int | None = None  # not in the paper: cap on images read per real dataset (quick runs)
    split_fractions: tuple = (0.7, 0.1, 0.2)  # §2.1, Table 1: patient-level 70/10/20
    image_size: int = 224  # §2.1
    # Lung cropping (§2.1): the paper crops with a U-Net (Inception-V3 encoder) lung segmenter.
    lung_crop: bool = False
    segmentation_dir: str | None = None  # image+mask folder to train the lung segmenter (e.g. JSRT/SCR)
    segmentation_model: str | None = None  # or a saved .keras segmenter
    segmentation_epochs: int = 30  # not stated
    # Degradations (§2.2).
    noise_variance_factors: tuple = (0.02, 0.04, 0.06, 0.08, 0.1)  # §2.2 (i-iv)
    blur_kernel_sizes: tuple = (3, 5, 7, 9)  # §2.2 blur (i)
    # Pretext model and training (§2.3.1).
    width_multiplier: float = 1.0  # §2.3.1: 64-128-256-512-512 filters
    pretext_learning_rate: float = 1e-3  # §2.3.1 Adam
    plateau_factor: float = 0.5  # §2.3.1
    plateau_patience: int = 10  # §2.3.1
    min_learning_rate: float = 1e-6  # §2.3.1
    pretext_epochs: int = 100  # not stated
    pretext_batch_size: int = 16  # not stated
    # Classifiers (§2.3.2, §2.3.3).
    num_classes: int = 2  # §2.3.2: two softmax nodes
    classifier_learning_rate: float = 1e-3  # §2.3.3: SGD 1e-3
    classifier_momentum: float = 0.9  # not stated
    classifier_epochs: int = 64  # not stated
    classifier_batch_size: int = 16  # not stated
    baseline_weights: str | None = "imagenet"  # §2.3.2: ImageNet VGG-16; falls back to None offline
    ensemble_epochs: int = 32  # not stated (A-F head)
    threshold: float = 0.5  # §2.5.2
    confidence: float = 0.95  # §2.6: 95% CI, two-tailed, alpha 0.05
    ci_method: str = "wilson"  # not stated: the Wilson score interval
    num_cam_images: int = 6  # §2.4, Fig. 8
    verbose: int = 1  # Keras progress bars (1), one line per epoch (2), silent (0)
    resume: bool = True  # reuse models finished by an interrupted run in the same output_dir
    jit_compile: str = "auto"  # not in the paper: XLA on TensorFlow (faster on CPU too), see resolve_jit_compile
    dtype_policy: str = "float32"  # not in the paper: "mixed_bfloat16" on GPUs / bf16 CPUs (benchmarks/sharp_unet.py)

    @classmethod
    def quick(cls, **overrides):
        """A preset that runs end to end in minutes on a 2-core CPU (phantom, 64 px, 1/8 width)."""
        values = dict(
            output_dir="runs/vgg16_sharp_unet_quick", phantom_pretext_images=160, phantom_classify_images=240,
            image_size=64, width_multiplier=0.125, pretext_epochs=3, pretext_batch_size=16,
            classifier_epochs=4, classifier_batch_size=16, ensemble_epochs=3, classifier_learning_rate=1e-2,
            baseline_weights=None, segmentation_epochs=2, num_cam_images=4, verbose=2,
            jit_compile="false",  # tiny models, few steps: XLA compiling costs more than it saves
        )
        values.update(overrides)
        return cls(**values)


# --------------------------------------------------------------------------------------------- data
def _split_arrays(arrays, fractions, seed, groups=None, stratify=None):
    """Patient-level (when groups are given) stratified split of parallel arrays into train/val/test."""
    from keras_cxr.data import patient_split_indices

    parts = patient_split_indices(len(arrays[0]), fractions=fractions, groups=groups, stratify=stratify, seed=seed)
    return {name: [a[idx] for a in arrays] for name, idx in parts.items()}


def _limit(index, config):
    """At most `config.max_images` rows, drawn with the run's seed (quick runs on large folders)."""
    if config.max_images is None or len(index) <= config.max_images:
        return index
    rows = np.random.default_rng(config.seed).permutation(len(index))[: config.max_images]
    return index.subset(np.sort(rows))


def _load_index(index, image_size, description):
    from keras_cxr.data import load_images

    return load_images(index.paths, image_size=image_size, description=description)


def _pretext_source(config):
    """Clean images for the pretext tasks, split 70/10/20 by patient."""
    if config.pretext_dir is None:
        from keras_cxr.data import make_phantom_dataset

        phantom = make_phantom_dataset(config.phantom_pretext_images, image_size=config.image_size,
                                       seed=config.seed + 1)
        images, masks, groups = phantom.images, phantom.masks, phantom.patient_ids
        stratify = phantom.abnormal
    else:
        from keras_cxr.data import index_any

        index = _limit(index_any(config.pretext_dir), config)
        images = _load_index(index, config.image_size, "reading pretext images")
        masks = None
        groups = index.frame["patient_id"].to_numpy()
        stratify = None
    return images, masks, groups, stratify


def _classify_source(config):
    """Images, binary labels (abnormal = 1), ground-truth boxes when known, and patient ids."""
    if config.classify_dir is None and config.classify_csv is None:
        from keras_cxr.data import make_phantom_dataset

        phantom = make_phantom_dataset(config.phantom_classify_images, image_size=config.image_size,
                                       seed=config.seed + 2)
        return phantom.images, phantom.abnormal.astype(np.int64), phantom.boxes, phantom.patient_ids, phantom.masks
    from keras_cxr.data import index_any

    index = index_any(config.classify_csv or config.classify_dir, binary=True)
    keep = ~np.isnan(index.labels).any(axis=1)
    index = _limit(index.subset(keep), config)
    labels = index.labels[:, -1].astype(np.int64) if index.labels.shape[1] else None
    images = _load_index(index, config.image_size, "reading classification images")
    return images, labels, _ground_truth_boxes(config, index), index.frame["patient_id"].to_numpy(), None


def _ground_truth_boxes(config, index):
    """VinDr-PCXR box annotations (annotations_{train,test}.csv beside the label CSVs), scaled to image_size."""
    from keras_cxr.data import image_size_from_header, read_vindr_boxes

    source = config.classify_csv or config.classify_dir
    root = source if os.path.isdir(source) else os.path.dirname(source)
    annotations = {**read_vindr_boxes(root, "train"), **read_vindr_boxes(root, "test")}
    boxes = []
    for path, image_id in zip(index.paths, index.frame["patient_id"].astype(str)):
        found = annotations.get(image_id, [])
        if found:
            height, width = image_size_from_header(path)
            sx, sy = config.image_size / width, config.image_size / height
            found = [(name, x0 * sx, y0 * sy, x1 * sx, y1 * sy) for name, x0, y0, x1, y1 in found]
        boxes.append(found)
    return boxes


def load_data(config):
    """Loads (or synthesizes) both datasets, optionally lung-crops them, and splits them 70/10/20 by patient.

    Returns:
        dict with "pretext" and "classify", each {"train"|"val"|"test": dict of arrays}.
    """
    pretext_images, pretext_masks, pretext_groups, pretext_strata = _pretext_source(config)
    images, labels, boxes, groups, masks = _classify_source(config)
    if config.lung_crop:
        pretext_images, images, boxes = crop_lungs(config, pretext_images, pretext_masks, images, boxes, masks)
    fractions = tuple(config.split_fractions)
    pretext = _split_arrays([pretext_images], fractions, config.seed, pretext_groups, pretext_strata)
    box_array = np.empty(len(boxes), dtype=object)
    box_array[:] = boxes
    classify = _split_arrays([images, labels, box_array], fractions, config.seed, groups, labels)
    return {
        "pretext": {k: {"images": v[0]} for k, v in pretext.items()},
        "classify": {k: {"images": v[0], "labels": v[1], "boxes": list(v[2])} for k, v in classify.items()},
    }


def crop_lungs(config, pretext_images, pretext_masks, images, boxes, masks):
    """§2.1: crops every image to the bounding box of its predicted lungs and resizes back.

    The segmenter is `config.segmentation_model` (a saved .keras model mapping (H, W, 1) images in [0, 1]
    to lung probabilities) or is trained here on `config.segmentation_dir` (image + mask folders, e.g.
    JSRT/SCR) or, on the phantom, on the phantom's own lung masks. The paper's segmenter is a U-Net with an
    Inception-V3 encoder; we train our VGG-16 Sharp U-Net with a Dice + BCE loss (same role, one builder).
    Ground-truth boxes are mapped into the cropped frame.
    """
    import keras

    from keras_cxr.data import lung_bbox, crop_and_resize
    from keras_cxr.models import create_model

    size = config.image_size
    if config.segmentation_model:
        segmenter = keras.saving.load_model(config.segmentation_model)
    else:
        if config.segmentation_dir:
            from keras_cxr.data import index_segmentation_pairs, load_images

            pairs = index_segmentation_pairs(os.path.join(config.segmentation_dir, "images"),
                                             [os.path.join(config.segmentation_dir, "masks")])
            seg_x = load_images(pairs.paths, image_size=size, description="reading segmentation images")
            seg_y = (load_images(pairs.frame["mask_path"].to_numpy(), image_size=size,
                                 description="reading lung masks") > 0.5).astype("float32")
        elif pretext_masks is not None:
            seg_x, seg_y = pretext_images, pretext_masks
        else:
            raise ValueError("lung_crop=True needs segmentation_model, segmentation_dir, or the phantom's masks; "
                             "pass --segmentation-dir (images/ + masks/) or --segmentation-model.")
        segmenter = create_model("vgg16_sharp_unet", input_shape=(size, size, 1),
                                 width_multiplier=config.width_multiplier, name="lung_segmenter")
        segmenter.compile(optimizer=keras.optimizers.Adam(config.pretext_learning_rate),
                          loss=keras.losses.Dice(), metrics=["binary_accuracy"])
        segmenter.fit(seg_x, seg_y, batch_size=config.pretext_batch_size, epochs=config.segmentation_epochs,
                      validation_split=0.1, verbose=config.verbose)
        segmenter.save(os.path.join(config.output_dir, "models", "lung_segmenter.keras"))

    def crop(batch, batch_boxes=None):
        predicted = segmenter.predict(batch, batch_size=config.pretext_batch_size, verbose=0) > 0.5
        out, new_boxes = np.empty_like(batch), []
        for i in range(len(batch)):
            box = lung_bbox(predicted[i, ..., 0])
            out[i, ..., 0] = crop_and_resize(batch[i, ..., 0], box, size)
            if batch_boxes is not None:
                x0, y0, x1, y1 = box
                sx, sy = size / max(x1 - x0, 1), size / max(y1 - y0, 1)
                new_boxes.append([(b[0], (b[1] - x0) * sx, (b[2] - y0) * sy, (b[3] - x0) * sx, (b[4] - y0) * sy)
                                  for b in batch_boxes[i]])
        return out, new_boxes

    pretext_images, _ = crop(pretext_images)
    images, boxes = crop(images, boxes)
    return pretext_images, images, boxes


# --------------------------------------------------------------------------------------------- models
def _callbacks(config, checkpoint_path, monitor="val_loss"):
    import keras

    return [
        keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=config.plateau_factor,
                                          patience=config.plateau_patience, min_lr=config.min_learning_rate),
        keras.callbacks.ModelCheckpoint(checkpoint_path, monitor=monitor, save_best_only=True),
        keras.callbacks.BackupAndRestore(checkpoint_path + ".backup"),
    ]


def _finished(config, path):
    return config.resume and os.path.exists(path) and os.path.exists(path + ".done")


def _mark_done(path):
    with open(path + ".done", "w") as f:
        f.write(time.strftime("%Y-%m-%d %H:%M:%S"))


def build_pretext_model(config):
    """The VGG-16 Sharp U-Net of §2.3.1, compiled with the SSIM loss and the paper's monitors."""
    import keras

    from keras_cxr.losses import SSIMLoss
    from keras_cxr.metrics import PSNR, SSIM
    from keras_cxr.models import create_model, resolve_jit_compile

    model = create_model("vgg16_sharp_unet", input_shape=(config.image_size, config.image_size, 1),
                         width_multiplier=config.width_multiplier)
    model.compile(optimizer=keras.optimizers.Adam(config.pretext_learning_rate), loss=SSIMLoss(),
                  metrics=["mse", "mae", PSNR(), SSIM()], jit_compile=resolve_jit_compile(config.jit_compile))
    return model


def degrade(config, images, task, seed):
    """Degrades each image once with a factor / kernel drawn from the paper's lists (§2.2)."""
    from keras_cxr.data import degrade_batch

    kind = PRETEXT_TASKS[task]
    options = config.noise_variance_factors if kind == "noise" else config.blur_kernel_sizes
    degraded, _ = degrade_batch(images, kind=kind, seed=seed, choices=options)
    return degraded


def pretrain(config, data, task):
    """Trains one pretext model (denoising or deblurring) and reports Table 2 metrics on the test split."""
    import keras

    from keras_cxr.metrics import haarpsi, psnr, ssim

    path = os.path.join(config.output_dir, "models", f"{task}.keras")
    splits = data["pretext"]
    inputs = {name: degrade(config, split["images"], task, config.seed + i) for i, (name, split) in
              enumerate(splits.items())}
    history = None
    if _finished(config, path):
        model = keras.saving.load_model(path)
    else:
        model = build_pretext_model(config)
        history = model.fit(inputs["train"], splits["train"]["images"],
                            validation_data=(inputs["val"], splits["val"]["images"]),
                            epochs=config.pretext_epochs, batch_size=config.pretext_batch_size,
                            callbacks=_callbacks(config, path), verbose=config.verbose).history
        model = keras.saving.load_model(path)  # best validation loss (§2.3.1)
        _mark_done(path)
    clean = splits["test"]["images"]
    restored = model.predict(inputs["test"], batch_size=config.pretext_batch_size, verbose=0)
    scores = {
        "psnr": float(np.mean(keras.ops.convert_to_numpy(psnr(clean, restored, data_range=1.0)))),
        "ssim": float(np.mean(keras.ops.convert_to_numpy(ssim(clean, restored, data_range=1.0)))),
        "haarpsi": float(np.mean(keras.ops.convert_to_numpy(haarpsi(clean, restored, data_range=1.0)))),
        "degraded_psnr": float(np.mean(keras.ops.convert_to_numpy(psnr(clean, inputs["test"], data_range=1.0)))),
    }
    return {"model": model, "scores": scores, "history": history,
            "examples": {"original": clean[:3], "degraded": inputs["test"][:3], "restored": restored[:3]}}


def _to_one_hot(labels, num_classes):
    return np.eye(num_classes, dtype="float32")[labels]


def _fit_classifier(config, model, data, name):
    import keras

    from keras_cxr.models import resolve_jit_compile

    path = os.path.join(config.output_dir, "models", f"{name}.keras")
    history = None
    if _finished(config, path):
        return keras.saving.load_model(path), None
    model.compile(optimizer=keras.optimizers.SGD(config.classifier_learning_rate, momentum=config.classifier_momentum),
                  loss="categorical_crossentropy", metrics=["accuracy"],
                  jit_compile=resolve_jit_compile(config.jit_compile))
    train, val = data["classify"]["train"], data["classify"]["val"]
    epochs = config.ensemble_epochs if name == "A-F" else config.classifier_epochs
    history = model.fit(train["images"], _to_one_hot(train["labels"], config.num_classes),
                        validation_data=(val["images"], _to_one_hot(val["labels"], config.num_classes)),
                        epochs=epochs, batch_size=config.classifier_batch_size,
                        callbacks=_callbacks(config, path), verbose=config.verbose).history
    model = keras.saving.load_model(path)  # lowest validation loss (§2.3.3)
    _mark_done(path)
    return model, history


def finetune(config, data, pretext_models):
    """§2.3.2: Den-P, Deb-P from the pretext encoders and the ImageNet baseline B, each fine-tuned."""
    from keras_cxr.models import encoder_classifier, vgg16_imagenet_classifier

    size = config.image_size
    candidates = {
        "B": lambda: vgg16_imagenet_classifier((size, size, 1), num_classes=config.num_classes,
                                               weights=config.baseline_weights,
                                               width_multiplier=config.width_multiplier),
        "Den-P": lambda: encoder_classifier(pretext_models["denoising"], num_classes=config.num_classes, name="den_p"),
        "Deb-P": lambda: encoder_classifier(pretext_models["deblurring"], num_classes=config.num_classes, name="deb_p"),
    }
    models, histories = {}, {}
    for name, build in candidates.items():
        models[name], histories[name] = _fit_classifier(config, build(), data, name)
    return models, histories


def ensemble(config, data, models):
    """§2.3.3: SA, SLSQP-WA (weights from the validation split) and the A-F ensemble of Den-P and Deb-P."""
    from keras_cxr.ensembles import average, build_attention_fuzzy_ensemble, slsqp_weights

    def predict(model, split):
        return model.predict(data["classify"][split]["images"], batch_size=config.classifier_batch_size, verbose=0)

    members = ("Den-P", "Deb-P")
    probabilities = {split: {name: predict(models[name], split) for name in models} for split in ("val", "test")}
    weights = slsqp_weights([probabilities["val"][m] for m in members], data["classify"]["val"]["labels"])
    af_model, af_history = _fit_classifier(config, build_attention_fuzzy_ensemble([models[m] for m in members],
                                                                                  num_classes=config.num_classes),
                                           data, "A-F")
    for split in ("val", "test"):
        probabilities[split]["SA"] = average([probabilities[split][m] for m in members])
        probabilities[split]["SLSQP-WA"] = average([probabilities[split][m] for m in members], weights)
        probabilities[split]["A-F"] = predict(af_model, split)
    return probabilities, {"slsqp_weights": dict(zip(members, weights.tolist()))}, af_model, af_history


# --------------------------------------------------------------------------------------------- evaluation
def evaluate(config, data, probabilities, models):
    """Table 3 metrics, pairwise sensitivity Z-tests (§2.6) and Score-CAM boxes (§2.4) on the test split."""
    from keras_cxr.explain import boxes_from_maps, max_iou, score_cam
    from keras_cxr.metrics import classification_report
    from keras_cxr.stats import compare_sensitivities

    test = data["classify"]["test"]
    y_true = test["labels"]
    reports, predictions = {}, {}
    for name, prob in probabilities["test"].items():
        reports[name] = classification_report(y_true, prob, threshold=config.threshold,
                                              class_names=["normal", "abnormal"])
        predictions[name] = (prob[:, 1] >= config.threshold).astype(np.int64)
    z_tests = compare_sensitivities({name: (y_true, pred) for name, pred in predictions.items()},
                                    confidence=config.confidence, method=config.ci_method)
    abnormal = np.flatnonzero(y_true == 1)[: config.num_cam_images]
    cams = {}
    for name in ("B", "Den-P", "Deb-P"):
        maps = np.asarray(score_cam(models[name], test["images"][abnormal], class_index=1))
        boxes = [[box] for box in boxes_from_maps(maps)]
        ious = [max_iou(pred, [b[-4:] for b in test["boxes"][i]]) for pred, i in zip(boxes, abnormal)
                if test["boxes"][i]]
        cams[name] = {"maps": maps, "boxes": boxes, "mean_iou": float(np.mean(ious)) if ious else None}
    return {"reports": reports, "z_tests": z_tests, "cams": cams, "cam_indices": abnormal}


def _table_3_row(report):
    source = report.get("binary", report)
    return {m: float(source[m]) for m in TABLE_3_METRICS}


def report(config, data, pretext_results, evaluation, extras, histories):
    """Writes metrics.json, the figures and report.md (paper numbers beside ours) into `config.output_dir`."""
    from keras_cxr import report as plots

    out = config.output_dir
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
        "split_sizes": {k: {s: len(v["images"]) for s, v in data[k].items()} for k in data},
    }
    with open(os.path.join(out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2, default=_json_default)

    figures = {}
    for task, result in pretext_results.items():
        figures[f"{task}_examples"] = f"figures/{task}_examples.png"
        plots.plot_image_grid(result["examples"], title=f"{task}: original / degraded / restored",
                              path=os.path.join(out, figures[f"{task}_examples"]))
        if result["history"]:
            figures[f"{task}_curves"] = f"figures/{task}_training.png"
            plots.plot_training_curves(result["history"], metrics=["loss", "psnr", "ssim"] if "psnr" in
                                       result["history"] else None, title=f"{task} pretext training",
                                       path=os.path.join(out, figures[f"{task}_curves"]))
    for name, rep in evaluation["reports"].items():
        key = f"confusion_{name}"
        figures[key] = f"figures/confusion_{name}.png"
        plots.plot_confusion_matrix(rep["confusion_matrix"], ["normal", "abnormal"], title=name,
                                    path=os.path.join(out, figures[key]))
    figures["metric_bars"] = "figures/metric_bars.png"
    plots.plot_metric_bars(table_3, metrics=TABLE_3_METRICS, path=os.path.join(out, figures["metric_bars"]))
    figures["sensitivity_z_tests"] = "figures/sensitivity_z_tests.png"
    plots.plot_sensitivity_differences(z_records, alpha=1 - config.confidence,
                                       path=os.path.join(out, figures["sensitivity_z_tests"]))
    test = data["classify"]["test"]
    images = test["images"][evaluation["cam_indices"]]
    gt = [test["boxes"][i] for i in evaluation["cam_indices"]]
    for name, cam in evaluation["cams"].items():
        key = f"score_cam_{name}"
        figures[key] = f"figures/score_cam_{name}.png"
        plots.plot_activation_maps(images, cam["maps"], boxes=cam["boxes"], gt_boxes=gt,
                                   title=f"Score-CAM {name} (yellow: from map, green: ground truth)",
                                   path=os.path.join(out, figures[key]))
    for name, history in histories.items():
        if history:
            key = f"{name}_curves"
            figures[key] = f"figures/{name}_training.png"
            plots.plot_training_curves(history, metrics=["loss", "accuracy"], title=f"{name} fine-tuning",
                                       path=os.path.join(out, figures[key]))
    _write_markdown(config, metrics, figures)
    return metrics


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _write_markdown(config, metrics, figures):
    data_note = "synthetic phantom (embedded default)" if config.pretext_dir is None else (
        f"pretext: `{config.pretext_dir}`, classification: `{config.classify_csv or config.classify_dir}`")
    lines = [
        "# VGG-16 Sharp U-Net pretext learning (paper 003) — run report", "",
        f"Data: {data_note}. Image size {config.image_size}, width multiplier {config.width_multiplier}, "
        f"seed {config.seed}. Split sizes: `{json.dumps(metrics['split_sizes'])}`.", "",
        "Paper numbers come from Kermany + VinDr-PCXR at 224 px with full-width models; a quick or phantom run "
        "is not expected to match them, only to exercise every step.", "",
        "## Table 2 — denoising / deblurring (test split)", "",
        "| task | PSNR (ours) | PSNR (paper) | SSIM (ours) | SSIM (paper) | HaarPSI (ours) | HaarPSI (paper) | "
        "PSNR of degraded input |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for task, ours in metrics["table_2"].items():
        paper = PAPER_TABLE_2[task]
        lines.append(f"| {task} | {ours['psnr']:.4f} | {paper['psnr']:.4f} | {ours['ssim']:.4f} | {paper['ssim']:.4f} "
                     f"| {ours['haarpsi']:.4f} | {paper['haarpsi']:.4f} | {ours['degraded_psnr']:.4f} |")
    lines += ["", "| denoising | deblurring |", "|---|---|",
              f"| ![]({figures['denoising_examples']}) | ![]({figures['deblurring_examples']}) |", "",
              "## Table 3 — classification (test split, threshold 0.5); each cell: ours / paper", "",
              "| model | " + " | ".join(TABLE_3_METRICS) + " |", "|---" * (len(TABLE_3_METRICS) + 1) + "|"]
    for name, ours in metrics["table_3"].items():
        paper = PAPER_TABLE_3[name]
        lines.append(f"| {name} | " + " | ".join(f"{ours[m]:.4f} / {paper[m]:.4f}" for m in TABLE_3_METRICS) + " |")
    lines += ["", f"SLSQP weights (fitted on the validation split): `{metrics['slsqp_weights']}`", "",
              f"![metric bars]({figures['metric_bars']})", "",
              "| " + " | ".join(f"confusion {n}" for n in metrics["table_3"]) + " |",
              "|---" * len(metrics["table_3"]) + "|",
              "| " + " | ".join(f"![]({figures['confusion_' + n]})" for n in metrics["table_3"]) + " |", "",
              "## Pairwise sensitivity Z-tests (§2.6, Eq. 9–12)", "",
              "| pair | Δ sensitivity | Δ SE | z | p | significant |", "|---|---|---|---|---|---|"]
    for r in metrics["sensitivity_z_tests"]:
        lines.append(f"| {r['model_b']} − {r['model_a']} | {r['delta_sensitivity']:.4f} | {r['delta_se']:.4f} | "
                     f"{r['z']:.3f} | {r['p']:.4g} | {r['significant']} |")
    lines += ["", f"![z tests]({figures['sensitivity_z_tests']})", "",
              "## Score-CAM (§2.4) on abnormal test images", "",
              "Mean IoU of the map's box with the best-matching ground-truth box: "
              f"`{metrics['score_cam_mean_iou']}`", ""]
    lines += [f"![{k}]({v})" for k, v in figures.items() if k.startswith("score_cam")]
    lines += ["", "## Training curves", ""] + [f"![{k}]({v})" for k, v in figures.items() if k.endswith("_curves")]
    with open(os.path.join(config.output_dir, "report.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


def _write_config(config):
    from keras_cxr.recipes._cli import write_config

    write_config(config, os.path.join(config.output_dir, "config.json"))

def run(config=None):
    """Runs the whole study and returns its metrics (the content of `metrics.json`).

    Example:
    >>> from keras_cxr.recipes import vgg16_sharp_unet
    >>> metrics = vgg16_sharp_unet.run(vgg16_sharp_unet.Config.quick(output_dir="/tmp/sharp"))  # doctest: +SKIP
    >>> sorted(metrics["table_3"])  # doctest: +SKIP
    ['A-F', 'B', 'Deb-P', 'Den-P', 'SA', 'SLSQP-WA']
    """
    from keras_cxr.recipes._dtype_policy import dtype_policy_scope

    config = config or Config()
    with dtype_policy_scope(config.dtype_policy):
        return _run(config)


def _run(config):
    import keras

    os.makedirs(os.path.join(config.output_dir, "models"), exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    _write_config(config)
    data = load_data(config)
    pretext_results = {task: pretrain(config, data, task) for task in PRETEXT_TASKS}
    models, histories = finetune(config, data, {task: r["model"] for task, r in pretext_results.items()})
    probabilities, extras, af_model, af_history = ensemble(config, data, models)
    histories["A-F"] = af_history
    evaluation = evaluate(config, data, probabilities, models)
    return report(config, data, pretext_results, evaluation, extras, histories)


def main(argv=None):
    """Command line: every Config field is a `--flag`; `--quick` starts from `Config.quick()`."""
    from keras_cxr.recipes._cli import parse_config

    config = parse_config(Config, argv, description=__doc__.splitlines()[0])
    metrics = run(config)
    print(json.dumps({"table_2": metrics["table_2"], "table_3": metrics["table_3"]}, indent=2))
    print(f"report: {os.path.join(config.output_dir, 'report.md')}")
    return metrics
