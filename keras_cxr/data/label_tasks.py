"""Classification tasks over healthy / pneumonia / COVID-19 CXRs from any dataset's own labels (paper 001, §4.2).

Datasets name the same conditions differently (Kermany "NORMAL"/"PNEUMONIA"/"BACTERIA"/"VIRUS", COVIDx
"normal"/"pneumonia"/"COVID-19" or "negative"/"positive", the shared folders "No finding"/"COVID-19"). Each
row is first given one canonical label (`canonical_labels`), then a task (`task_index`) keeps the rows its
classes cover and one-hot encodes them. Paper 001's tasks:

| task | classes (column order) | paper |
|---|---|---|
| covid_vs_noncovid | non-covid, covid | Table 1 |
| healthy_vs_pathology | healthy, pathology (pneumonia + covid) | Table 2 |
| pneumonia_vs_covid | pneumonia, covid | Table 3 (left) |
| pneumonia_vs_nonpneumonia | non-pneumonia (healthy + covid), pneumonia | Table 3 (right), §3.2 |
| pneumonia_vs_healthy | healthy, pneumonia (covid left out) | §4.2's wording of Table 3; not a table |
| healthy_pneumonia_covid | healthy, pneumonia, covid | Table 4 |

The phantom has no COVID-19: its stand-ins are documented at `phantom_canonical_labels`.
"""

import re
import warnings

import numpy as np

CANONICAL = ("healthy", "pneumonia", "covid", "non-covid", "pathology")
_SYNONYMS = {
    "healthy": ("normal", "no finding", "healthy", "no_finding", "nofinding"),
    "pneumonia": ("pneumonia", "bacteria", "bacterial", "virus", "viral", "bacterial pneumonia", "viral pneumonia",
                  "lung opacity"),
    "covid": ("covid-19", "covid", "covid19", "covid_19", "positive", "sars-cov-2"),
    "non-covid": ("negative", "non-covid", "noncovid", "non_covid"),
    "pathology": ("abnormal", "pathology", "disease"),
}
_LOOKUP = {synonym: canonical for canonical, words in _SYNONYMS.items() for synonym in words}

# task: (class names in column order, {canonical label: class column})
CLASSIFICATION_TASKS = {
    "covid_vs_noncovid": (("non-covid", "covid"), {"healthy": 0, "pneumonia": 0, "non-covid": 0, "covid": 1}),
    "healthy_vs_pathology": (("healthy", "pathology"), {"healthy": 0, "pneumonia": 1, "covid": 1, "pathology": 1}),
    "pneumonia_vs_healthy": (("healthy", "pneumonia"), {"healthy": 0, "pneumonia": 1}),
    # Paper 001's Table 3 (right), §3.2: "Pneumonia vs Non-Pneumonia", COVID-19 among the negatives
    "pneumonia_vs_nonpneumonia": (("non-pneumonia", "pneumonia"), {"healthy": 0, "covid": 0, "non-pneumonia": 0,
                                                                   "pneumonia": 1}),
    "pneumonia_vs_covid": (("pneumonia", "covid"), {"pneumonia": 0, "covid": 1}),
    "healthy_pneumonia_covid": (("healthy", "pneumonia", "covid"), {"healthy": 0, "pneumonia": 1, "covid": 2}),
}


def canonical_label(name):
    """The canonical label of a dataset's class name ("NORMAL" → "healthy", "COVID-19" → "covid"), or None."""
    return _LOOKUP.get(re.sub(r"\s+", " ", str(name).strip().lower()))


def canonical_labels(index):
    """(N,) object array: each row's canonical label (None where unknown or not one of the five).

    Multi-class indexes: the row's class; multi-label ones (e.g. folders concatenated with different class
    sets): the one class a row has, None for rows with none or several. Binary indexes: the column's label when 1; when 0, "healthy" for
    a pneumonia / pathology column (Kermany's "PNEUMONIA", "abnormal") and "non-covid" for a COVID column.
    Unknown rows (all NaN, or no class set) are None; in a multi-class index NaN counts as 0 when the row has
    one class set (a class that another concatenated source lacks).
    """
    labels = index.labels
    out = np.full(len(index), None, dtype=object)
    if index.task == "binary":
        positive = canonical_label(index.class_names[0])
        negative = {"pneumonia": "healthy", "pathology": "healthy", "covid": "non-covid"}.get(positive)
        for i, value in enumerate(labels[:, 0]):
            if not np.isnan(value):
                out[i] = positive if value == 1 else negative
        return out
    if index.task in ("multiclass", "multilabel"):  # multi-label: rows with exactly one finding set
        names = [canonical_label(n) for n in index.class_names]
        for i, row in enumerate(np.nan_to_num(labels)):  # NaN: a class another concatenated source lacks
            if row.sum() == 1:
                out[i] = names[int(np.argmax(row))]
        return out
    raise ValueError(f"canonical_labels needs a labelled index; received task {index.task!r} "
                     f"(classes {index.class_names}). For the phantom use phantom_canonical_labels; for a labels.csv "
                     "folder pick its categorical column (e.g. --classify-label-column label).")


def phantom_canonical_labels(index):
    """Canonical labels of the phantom's findings (multi-label `phantom_index`): the phantom draws no COVID-19.

    Stand-ins (not in any paper; chosen for the radiological pattern): healthy = no finding at all;
    pneumonia = lobar consolidation without interstitial change; covid = bilateral interstitial change
    without consolidation (COVID-19's typical ground-glass / interstitial pattern). Rows with both, or with
    only cardiomegaly / effusion / nodule, are None (left out).
    """
    names = list(index.class_names)
    labels = np.nan_to_num(index.labels)
    consolidation = labels[:, names.index("consolidation")] == 1
    interstitial = labels[:, names.index("interstitial")] == 1
    out = np.full(len(index), None, dtype=object)
    out[labels.sum(1) == 0] = "healthy"
    out[consolidation & ~interstitial] = "pneumonia"
    out[interstitial & ~consolidation] = "covid"
    return out


def task_index(index, task, canonical=None, name="dataset", require_all_classes=True):
    """The rows of `index` that task `task` covers, one-hot over the task's classes (a multi-class index).

    Args:
        index: a `DatasetIndex` (binary or multi-class; or any index with `canonical` given).
        task: a key of `CLASSIFICATION_TASKS`.
        canonical: optional (N,) canonical labels (default `canonical_labels(index)`).
        name: the dataset's name in warnings and errors.
        require_all_classes: raise when a class of the task has no image (a training split of a task must have
            every class; a test set may lack one: False).

    Returns:
        `DatasetIndex` (task "multiclass", columns = the task's classes).

    Raises:
        ValueError: unknown task, no row left at all, or (require_all_classes) no row for some class (names
            the counts found).

    Example:
    >>> import pandas as pd
    >>> from keras_cxr.data import DatasetIndex
    >>> frame = pd.DataFrame({"path": list("abc"), "patient_id": list("abc"), "age": [1.0] * 3, "sex": [""] * 3,
    ...                       "view": [""] * 3, "split": [""] * 3, "NORMAL": [1.0, 0, 0], "COVID-19": [0.0, 1, 0],
    ...                       "BACTERIA": [0.0, 0, 1]})
    >>> index = DatasetIndex(frame, ["NORMAL", "COVID-19", "BACTERIA"], "multiclass")
    >>> task_index(index, "healthy_vs_pathology").labels.tolist()
    [[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]
    """
    from keras_cxr.data.index import DatasetIndex

    if task not in CLASSIFICATION_TASKS:
        raise ValueError(f"Unknown task {task!r}; tasks: {', '.join(CLASSIFICATION_TASKS)}.")
    class_names, mapping = CLASSIFICATION_TASKS[task]
    canonical = canonical_labels(index) if canonical is None else np.asarray(canonical, dtype=object)
    columns = np.array([mapping.get(c, -1) if c is not None else -1 for c in canonical])
    dropped = {}
    for original, c in zip(canonical, columns):
        if c < 0:
            dropped[original] = dropped.get(original, 0) + 1
    if dropped:
        summary = ", ".join(f"{k or 'unknown/other'}: {v}" for k, v in sorted(dropped.items(), key=str))
        warnings.warn(f"{name}: task {task} leaves out {int(sum(dropped.values()))} of {len(index)} images ({summary}).",
                      stacklevel=2)
    keep = columns >= 0
    frame = index.frame[keep].drop(columns=list(index.class_names)).copy()
    for c, class_name in enumerate(class_names):
        frame[class_name] = (columns[keep] == c).astype(float)
    if keep.sum() == 0:
        raise ValueError(f"{name}: no image belongs to task {task} (classes {list(class_names)}); labels found: "
                         f"{sorted(dropped, key=str)}.")
    counts = {class_name: int((columns[keep] == c).sum()) for c, class_name in enumerate(class_names)}
    if require_all_classes and min(counts.values()) == 0:
        raise ValueError(f"{name}: task {task} has no image of class(es) "
                         f"{[c for c, n in counts.items() if n == 0]} (images per class: {counts}; labels left out: "
                         f"{sorted(dropped, key=str)}). This dataset cannot train the task: leave it out (--tasks).")
    return DatasetIndex(frame, list(class_names), "multiclass")
