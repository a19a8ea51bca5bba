"""External validation of a saved model: `evaluate_model` and `keras-cxr evaluate`.

Clinical readers believe a model once it has been validated on another site's images. `evaluate_model` takes a
`.keras` file saved by keras_cxr (its `ModelCard` says the input size, channels, normalization, task, class names
and threshold) and any folder `keras_cxr.data.index_any` reads (labels.csv folders, Kermany, ChestX-ray14,
CheXpert, VinDr-PCXR, COVIDx, Montgomery / Shenzhen ...), preprocesses the images as the model was trained, and
writes `metrics.json` and `report.md` with:

- per class: AUC, sensitivity, specificity at the card's threshold (multi-class: argmax), with 95 % CIs
  (stratified bootstrap for AUC; Wilson intervals for the proportions, `keras_cxr.stats`);
- ROC and precision-recall curves, the confusion matrix;
- calibration: expected calibration error (equal-width and adaptive bins, bootstrap CI) and a reliability
  diagram (`keras_cxr.metrics.calibration`). Temperature scaling needs labelled data the test never sees; pass
  `temperature=` (fitted on a validation split with `fit_temperature`) to report the calibrated probabilities too;
- a subgroup table by sex, age band and view where the index has those columns;
- disease + age models: the age's mean absolute error and R² beside the disease metrics; segmentation models:
  Dice, IoU and HD95 against the folder's masks.

A folder whose classes do not match the model's gets an error naming both class lists.
"""

import json
import os

import numpy as np
from sklearn.metrics import mean_absolute_error, r2_score, roc_auc_score

from keras_cxr.data import DatasetIndex, index_any, index_labels_csv, load_images, make_dataset
from keras_cxr.data.index import DatasetLayoutError
from keras_cxr.metrics import calibration as calib
from keras_cxr.metrics import classification_report, dice, hausdorff_distance, iou
from keras_cxr.models.model_card import CLASSIFIER_TASKS, ModelCardError, load_model
from keras_cxr.report import (Report, mean_sd, plot_confusion_matrix, plot_pr_curves, plot_reliability_diagram,
                              plot_roc_curves, table)
from keras_cxr.stats import bootstrap_ci, proportion_ci

AGE_BANDS = ((0, 1, "< 1 y"), (1, 5, "1–5 y"), (5, 10, "5–10 y"), (10, 18, "10–18 y"), (18, 40, "18–40 y"),
             (40, 60, "40–60 y"), (60, 200, "≥ 60 y"))
NORMAL_CLASS_NAMES = ("normal", "healthy", "no finding", "no_finding", "negative")


def read_labelled_folder(data_dir, label_column=None):
    """The index of `data_dir` (any layout `index_any` knows); `label_column` picks a labels.csv column
    (`index_labels_csv`) or one class column of another layout."""
    data_dir = os.fspath(data_dir)
    if label_column and os.path.isfile(os.path.join(data_dir, "labels.csv")):
        return index_labels_csv(data_dir, label_column=label_column)
    index = index_any(data_dir)
    if label_column:
        if label_column not in index.class_names:
            raise DatasetLayoutError(f"{data_dir}: no label column {label_column!r}; its classes are "
                                     f"{index.class_names}. Pass one of them as --label-column.")
        return DatasetIndex(index.frame.drop(columns=[c for c in index.class_names if c != label_column]),
                            [label_column], "binary")
    return index


def match_classes(card, index, model_path="the model", data_dir="the folder"):
    """(N, C) truth in the model's class order from `index`, matching names case-insensitively.

    A model over [negative, positive] (two softmax classes) reads a binary folder whose column is its positive
    class; a binary model reads its class's column from a multi-class or multi-label folder.

    Raises:
        ModelCardError: when a model class has no column in the folder (both class lists named).
    """
    wanted = [name.lower() for name in card.class_names]
    have = {name.lower(): i for i, name in enumerate(index.class_names)}
    labels = index.labels
    if card.task in ("multiclass", "disease_age") and len(wanted) == 2 and index.task == "binary" and wanted[1] in have:
        column = labels[:, have[wanted[1]]]
        return np.stack([1 - column, column], axis=1)
    if all(name in have for name in wanted):
        return labels[:, [have[name] for name in wanted]]
    raise ModelCardError(f"{model_path} predicts classes {card.class_names}, but {data_dir} has "
                         f"{index.class_names or 'no labels'}. Pick a folder with those classes, or name the matching "
                         "column with --label-column.")


def _normal_vs_abnormal(card):
    """Whether the model answers "normal or not": one class named abnormal, or two of which one is normal-like
    ("healthy vs pathology", paper 001's Table 2), so that it reads a folder's normal-vs-finding reduction."""
    names = [name.lower() for name in card.class_names]
    return names == ["abnormal"] or (card.task in ("multiclass", "disease_age") and len(names) == 2 and
                                     len(set(names) & set(NORMAL_CLASS_NAMES)) == 1)


def _normal_vs_abnormal_truth(card, abnormal):
    """(N, C) truth in the model's class order from a 0/1 abnormal column (`_normal_vs_abnormal` models)."""
    if len(card.class_names) == 1:
        return abnormal[:, None]
    normal_first = card.class_names[0].lower() in NORMAL_CLASS_NAMES
    return np.stack([1 - abnormal, abnormal] if normal_first else [abnormal, 1 - abnormal], axis=1)


def predict_index(model, card, index, batch_size=32):
    """The model's outputs on every image of `index`, preprocessed as its card says (a dict for dict outputs)."""
    height, width = card.input_size
    if height != width:
        raise ModelCardError(f"the card's input size {card.input_size} is not square; keras_cxr's pipeline resizes "
                             "to squares.")
    if card.channels != 1:
        raise ModelCardError(f"the model expects {card.channels} input channels; keras_cxr models take the gray "
                             "CXR as one channel (3-channel backbones repeat it inside).")
    frames = make_dataset(index, image_size=height, batch_size=batch_size, shuffle=False, target=None,
                          normalize=None if card.normalization == "none" else card.normalization, progress=False)
    return model.predict(frames, verbose=0)


def _probabilities(outputs):
    scores = np.asarray(outputs["disease"] if isinstance(outputs, dict) else outputs, dtype=np.float64)
    return scores.reshape(len(scores), -1)


def _class_rows(card, truth, scores, threshold, num_resamples, seed):
    """Per class: AUC with a bootstrap CI, sensitivity and specificity with Wilson CIs (one-vs-rest)."""
    if card.task == "binary":
        report = classification_report(truth[:, 0], scores[:, 0], threshold=threshold,
                                       class_names=[f"not {card.class_names[0]}", card.class_names[0]])
    elif card.task == "multiclass":
        report = classification_report(np.argmax(truth, 1), scores, class_names=card.class_names, task="multiclass")
    else:
        report = classification_report(truth, scores, class_names=card.class_names, task="multilabel",
                                       threshold=0.5 if threshold is None else threshold)
    rows = {}
    for c, name in enumerate(card.class_names):
        entry = report["per_class"][name]
        known = ~np.isnan(truth[:, c])
        y, s = truth[known, c], scores[known, c]
        auc = (bootstrap_ci(roc_auc_score, y, s, n_resamples=num_resamples, seed=seed)
               if 0 < y.sum() < len(y) else {"estimate": float("nan"), "low": float("nan"), "high": float("nan")})
        sens = proportion_ci(entry["tp"], entry["tp"] + entry["fn"]) if entry["tp"] + entry["fn"] else (np.nan,) * 2
        spec = proportion_ci(entry["tn"], entry["tn"] + entry["fp"]) if entry["tn"] + entry["fp"] else (np.nan,) * 2
        rows[name] = {"support": int(y.sum()), "num_images": int(known.sum()),
                      "auc": auc["estimate"], "auc_ci": [auc["low"], auc["high"]],
                      "sensitivity": entry["sensitivity"], "sensitivity_ci": list(map(float, sens)),
                      "specificity": entry["specificity"], "specificity_ci": list(map(float, spec)),
                      "accuracy": entry["accuracy"]}
    return report, rows


def _calibration(card, truth, scores, temperature, num_resamples, seed):
    """ECE (equal-width and adaptive bins, bootstrap CI) of the probabilities, and after `temperature`."""
    labels = np.argmax(truth, 1) if card.task == "multiclass" else truth
    probabilities = scores if card.task != "binary" else scores[:, 0]
    labels = labels if card.task != "binary" else truth[:, 0]
    task = "multilabel" if card.task == "disease_age" else card.task
    result = {}
    for strategy in ("uniform", "quantile"):
        ci = calib.calibration_error_ci(labels, probabilities, strategy=strategy, num_resamples=num_resamples,
                                        seed=seed)
        result[f"ece_{strategy}"] = ci
    if temperature:
        calibrated = calib.apply_temperature(probabilities, temperature, task=task)
        result["temperature"] = float(temperature)
        result["ece_uniform_after_temperature"] = calib.expected_calibration_error(labels, calibrated)
    return result


def _bands(ages):
    names = np.full(len(ages), "", dtype=object)
    for low, high, name in AGE_BANDS:
        names[(ages >= low) & (ages < high)] = name
    return names


def _subgroups(card, index, truth, scores, threshold, min_images=10):
    """{column: {group: {n, AUC, sensitivity, specificity}}} by sex, age band and view (binary: the positive
    class; otherwise the macro AUC over classes), for groups with at least `min_images` images."""
    frame = index.frame
    columns = {"sex": frame["sex"].astype(str).str.upper().to_numpy(), "age band": _bands(frame["age"].to_numpy()),
               "view": frame["view"].astype(str).str.upper().to_numpy()}
    found = {}
    for column, values in columns.items():
        groups = [g for g in np.unique(values) if g not in ("", "NAN", "NONE", "UNKNOWN")]
        if len(groups) < 2:
            continue
        known = ~np.isnan(truth).all(axis=1)
        table = {str(group): _group_metrics(card, truth[(values == group) & known], scores[(values == group) & known],
                                            threshold)
                 for group in groups if ((values == group) & known).sum() >= min_images}
        if table:
            found[column] = table
    return found


def _group_metrics(card, truth, scores, threshold):
    aucs = [roc_auc_score(truth[~np.isnan(truth[:, c]), c], scores[~np.isnan(truth[:, c]), c])
            for c in range(truth.shape[1]) if 0 < np.nansum(truth[:, c]) < np.sum(~np.isnan(truth[:, c]))]
    result = {"num_images": int(len(truth)), "auc": float(np.mean(aucs)) if aucs else float("nan")}
    if card.task in ("binary", "multiclass", "disease_age") and truth.shape[1] <= 2:
        column = 0 if truth.shape[1] == 1 or card.class_names[1].lower() in NORMAL_CLASS_NAMES else 1
        positive = truth[:, column] > 0.5
        predicted = (scores[:, 0] >= (threshold if threshold is not None else 0.5)) if card.task == "binary" \
            else np.argmax(scores, 1) == column
        result["sensitivity"] = float(np.mean(predicted[positive])) if positive.any() else float("nan")
        result["specificity"] = float(np.mean(~predicted[~positive])) if (~positive).any() else float("nan")
    return result


def _segmentation(model, card, index, batch_size):
    if "mask_path" not in index.frame:
        raise DatasetLayoutError("a segmentation model needs a folder with masks (an index with mask_path: "
                                 "keras_cxr.data.index_segmentation_pairs).")
    predicted = np.asarray(predict_index(model, card, index, batch_size))[..., 0]
    masks = load_images(index.frame["mask_path"], card.input_size[0], masks=True, progress=False)[..., 0]
    rows = {"dice": [float(dice(t, p)) for t, p in zip(masks, predicted)],
            "iou": [float(iou(t, p)) for t, p in zip(masks, predicted)],
            "hd95": [float(hausdorff_distance(t, p)) for t, p in zip(masks, predicted)]}
    return {k: {"mean": float(np.nanmean(v)), "sd": float(np.nanstd(v)), "per_image": v} for k, v in rows.items()}


def evaluate_model(model, data_dir, output_dir=None, *, label_column=None, card=None, threshold=None,
                   temperature=None, batch_size=32, num_resamples=1000, seed=0):
    """Evaluates a saved model on a labelled folder (external validation) and writes its report.

    Args:
        model: a `.keras` path saved by keras_cxr (`keras_cxr.models.save_model`, or any recipe), or a
            `keras.Model` carrying `model.card`.
        data_dir: a folder (or table) any layout of `keras_cxr.data.index_any` reads.
        output_dir: where `metrics.json`, `report.md` and `figures/` go (None: nothing written).
        label_column: the labels.csv column (or class column) to evaluate against.
        card: a `ModelCard` replacing the file's (for a model saved without one).
        threshold: decision threshold replacing the card's (binary / multi-label).
        temperature: a temperature fitted on validation data (`fit_temperature`) replacing the card's
            (`ModelCard.temperature`, recorded by the recipes); the report adds the ECE after scaling.
        batch_size: images per prediction batch.
        num_resamples: bootstrap resamples of the CIs.
        seed: seed of the bootstrap.

    Returns:
        dict of the metrics (also `metrics.json`).

    Raises:
        ModelCardError: the model has no card and none was given, or its classes are not in the folder.
    """
    path = os.fspath(model) if isinstance(model, (str, os.PathLike)) else getattr(model, "name", "model")
    model = load_model(path, compile=False) if isinstance(model, (str, os.PathLike)) else model
    card = card or getattr(model, "card", None)
    if card is None:
        raise ModelCardError(f"{path} carries no ModelCard (input size, normalization, classes): save it with "
                             "keras_cxr.models.save_model, or pass card=ModelCard(...).")
    index = read_labelled_folder(data_dir, label_column)
    metrics = {"model": path, "data_dir": os.fspath(data_dir), "num_images": len(index), "card": card.__dict__}
    figures = {}
    if card.task == "segmentation":
        metrics["segmentation"] = _segmentation(model, card, index, batch_size)
    elif card.task in CLASSIFIER_TASKS:
        try:
            truth = match_classes(card, index, path, data_dir)
        except ModelCardError:
            if label_column or not _normal_vs_abnormal(card):
                raise
            index = index_any(data_dir, binary=True)  # normal vs any finding, as paper 003 reads every folder
            truth = _normal_vs_abnormal_truth(card, index.labels[:, 0])
        outputs = predict_index(model, card, index, batch_size)
        scores = _probabilities(outputs)
        threshold = threshold if threshold is not None else card.threshold
        report, rows = _class_rows(card, truth, scores, threshold, num_resamples, seed)
        metrics.update(classes=rows, classification=report,
                       calibration=_calibration(card, truth, scores, temperature or card.temperature,
                                                num_resamples, seed),
                       subgroups=_subgroups(card, index, truth, scores, threshold))
        if card.task == "disease_age" and isinstance(outputs, dict) and "age" in outputs:
            ages, known = index.frame["age"].to_numpy(float), ~np.isnan(index.frame["age"].to_numpy(float))
            predicted_age = np.asarray(outputs["age"]).reshape(-1)[known]
            metrics["age"] = {"mae_years": float(mean_absolute_error(ages[known], predicted_age)),
                              "r2": float(r2_score(ages[known], predicted_age)) if known.sum() > 1 else float("nan")}
        if output_dir is not None:
            figures = _figures(card, truth, scores, report, output_dir)
    else:
        raise ModelCardError(f"{path}: a {card.task!r} model has no outputs to validate against labels; evaluate "
                             "classifiers, disease + age models or segmentation models.")
    if output_dir is not None:
        _write(metrics, figures, output_dir)
    return metrics


def _figures(card, truth, scores, report, output_dir):
    folder = os.path.join(output_dir, "figures")
    binary_scores = scores[:, 0] if card.task == "binary" else scores
    figures = {"ROC curves": "figures/roc.png", "Precision-recall curves": "figures/pr.png",
               "Confusion matrix": "figures/confusion.png", "Reliability diagram": "figures/reliability.png"}
    names = card.class_names
    plot_roc_curves(truth, scores, names, path=os.path.join(folder, "roc.png"))
    plot_pr_curves(truth, scores, names, path=os.path.join(folder, "pr.png"))
    matrix = np.asarray(report["confusion_matrix"])
    plot_confusion_matrix(matrix if matrix.ndim == 2 else matrix[0], names if matrix.ndim == 2 and
                          len(names) == len(matrix) else None, path=os.path.join(folder, "confusion.png"))
    labels = np.argmax(truth, 1) if card.task == "multiclass" else (truth[:, 0] if card.task == "binary" else truth)
    plot_reliability_diagram(labels, binary_scores, path=os.path.join(folder, "reliability.png"))
    return figures


def _format_ci(value, ci):
    return f"{value:.3f} ({ci[0]:.3f}–{ci[1]:.3f})" if np.isfinite(value) else "n/a"


def _write(metrics, figures, output_dir):
    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(output_dir, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v))
    card = metrics["card"]
    report = Report(f"# External validation of {os.path.basename(metrics['model'])}", preamble=[
        f"{metrics['num_images']} images of `{metrics['data_dir']}`; the model's card: task {card['task']}, input "
        f"{tuple(card['input_size'])}, normalization {card['normalization']}, threshold {card['threshold']}"
        + (f", temperature {card['temperature']:.3f}" if card.get("temperature") else "") + "."])
    if "classes" in metrics:
        report.section("Per class (95 % CIs: stratified bootstrap for AUC, Wilson for the proportions)", table(
            ["class", "positives / images", "AUC", "sensitivity", "specificity"],
            [[name, f"{row['support']} / {row['num_images']}"] + [_format_ci(row[k], row[f"{k}_ci"]) for k in
                                                                  ("auc", "sensitivity", "specificity")]
             for name, row in metrics["classes"].items()]))
        report.section("Calibration", [
            f"- {key}: {value['estimate']:.4f} (95 % CI {value['low']:.4f}–{value['high']:.4f})"
            if isinstance(value, dict) else f"- {key}: {value:.4f}" for key, value in metrics["calibration"].items()])
        for column, groups in metrics.get("subgroups", {}).items():
            report.section(f"Subgroups by {column}", table(
                ["group", "images", "AUC", "sensitivity", "specificity"],
                [[g, str(r["num_images"]), mean_sd(r["auc"]), mean_sd(r.get("sensitivity")),
                  mean_sd(r.get("specificity"))] for g, r in groups.items()]))
        if "age" in metrics:
            report.section("Age", f"MAE {metrics['age']['mae_years']:.2f} years, R² {metrics['age']['r2']:.3f}.")
    if "segmentation" in metrics:
        report.section("Segmentation", table(["metric", "mean", "sd"], [[k, v["mean"], v["sd"]] for k, v in
                                                                        metrics["segmentation"].items()]))
    for title, relative in figures.items():
        report.section(title, f"![{title}]({relative})")
    with open(os.path.join(output_dir, "report.md"), "w") as f:
        f.write(report.markdown())
