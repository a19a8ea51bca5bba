"""Patient-level, stratified splits and nested label-fraction subsets.

A patient's images never cross a split (ChestX-ray14 has up to hundreds of images per patient; splitting by
image leaks the patient into the test set). Stratification uses one stratum per sample: its class for
one-hot labels, its rarest positive class for multi-hot labels (so rare findings spread over the splits),
and "no finding" for rows without positives.
"""

import numpy as np


def _strata(labels):
    """One stratum id per sample: the rarest positive class of the row, -1 when the row has none.

    For one-hot rows that is the class; for a single binary column 0 = positive, -1 = negative; NaN
    (unknown) counts as negative. A 1-D input is taken as class ids.
    """
    labels = np.asarray(labels)
    if labels.ndim == 1:
        return np.nan_to_num(labels.astype(float), nan=-1).astype(int)
    if labels.shape[1] == 0:
        return np.zeros(len(labels), int)
    positive = np.nan_to_num(labels.astype(float), nan=0.0) > 0.5
    frequency = positive.sum(0)
    rarity = np.where(positive, frequency[None, :], np.iinfo(np.int64).max)  # rarest positive column per row
    return np.where(positive.any(1), rarity.argmin(1), -1)


def _label_counts(stratify, strata):
    """(N, K) 0/1 matrix balanced by the split: multi-hot positives + a "none" column, or one-hot class ids."""
    stratify = np.asarray(stratify)
    if stratify.ndim == 2 and stratify.shape[1] > 0:
        positive = np.nan_to_num(stratify.astype(float), nan=0.0) > 0.5
        return np.concatenate([positive, ~positive.any(1, keepdims=True)], axis=1).astype(float)
    _, ids = np.unique(strata, return_inverse=True)
    return np.eye(ids.max() + 1 if len(ids) else 1)[ids]


def _group_ids(groups, num_samples):
    """Patient ids as strings; missing ids ("" / None / NaN) become one patient per sample."""
    if groups is None:
        return np.array([f"#{i}" for i in range(num_samples)])
    groups = np.asarray(groups, dtype=object)
    if len(groups) != num_samples:
        raise ValueError(f"groups has {len(groups)} entries for {num_samples} samples.")
    out = np.array([str(g) for g in groups], dtype=object)
    blank = np.array([g is None or (isinstance(g, float) and g != g) or str(g).strip() == "" for g in groups], bool)
    out[blank] = [f"#{i}" for i in np.flatnonzero(blank)]
    return out.astype(str)


def _patient_strata(strata, group_of, num_groups):
    """Most frequent stratum among each patient's images (ties → the lowest id)."""
    offset = strata.min() if len(strata) else 0
    counts = np.zeros((num_groups, strata.max() - offset + 1 if len(strata) else 1), int)
    np.add.at(counts, (group_of, strata - offset), 1)
    return counts.argmax(1) + offset


def patient_split_indices(num_samples, fractions=(0.7, 0.1, 0.2), groups=None, stratify=None, seed=0,
                          names=("train", "val", "test")):
    """Splits sample positions into parts by patient (no patient in two parts), stratified by label.

    A patient's stratum is the most frequent one among its images. Strata are visited from the largest to
    the smallest; within one, patients are shuffled with the seed (the largest first) and each goes to the
    part furthest below its targets — `fraction × images assigned so far` and, for each of the patient's
    labels (every positive class, or "no finding"), `fraction × positives assigned so far` — counted over
    all strata (a greedy form of iterative stratification, Sechidis et al. 2011, on patients). Every part
    thus receives about its fraction of every class, and the rounding left by small strata carries over
    (200 single-patient strata split 70/10/20 give 140/20/40 patients) instead of always favouring the
    largest part. Parts with a positive fraction that end up empty take one patient
    from the largest part when that part has more than one.

    Args:
        num_samples: N.
        fractions: fraction per part (normalized to sum 1; 0 allowed), e.g. paper 003's 70/10/20 (Table 1).
        groups: (N,) patient ids (None, or empty ids: every such sample its own patient).
        stratify: (N,) class ids or (N, C) labels (None: no stratification).
        seed: random seed.
        names: part names.

    Returns:
        dict {name: sorted np.ndarray of positions}.

    Example:
    >>> parts = patient_split_indices(10, (0.5, 0.5), groups=[0, 0, 1, 1, 2, 2, 3, 3, 4, 4], names=("a", "b"))
    >>> sorted(len(v) for v in parts.values())
    [4, 6]
    """
    fractions = np.asarray(fractions, dtype=float).reshape(-1)
    if len(fractions) != len(names) or np.any(fractions < 0) or not np.isfinite(fractions).all() \
            or fractions.sum() <= 0:
        raise ValueError(f"fractions must be {len(names)} non-negative numbers (one per part {tuple(names)}) with "
                         f"a positive sum; received {fractions.tolist()}.")
    fractions = fractions / fractions.sum()
    group_ids = _group_ids(groups, num_samples)
    strata = np.zeros(num_samples, int) if stratify is None else _strata(stratify)
    if len(strata) != num_samples:
        raise ValueError(f"stratify has {len(strata)} rows for {num_samples} samples.")
    if num_samples == 0:
        return {name: np.zeros(0, np.int64) for name in names}
    unique_groups, group_of = np.unique(group_ids, return_inverse=True)
    group_stratum = _patient_strata(strata, group_of, len(unique_groups))
    group_sizes = np.bincount(group_of, minlength=len(unique_groups))
    rng = np.random.default_rng(seed)
    strata_ids = np.unique(group_stratum)
    stratum_sizes = np.array([group_sizes[group_stratum == s].sum() for s in strata_ids])
    # Largest strata first, so the small ones (rare classes) are placed where the running deficits point.
    strata_order = strata_ids[np.lexsort((rng.random(len(strata_ids)), -stratum_sizes))]
    usable = np.where(fractions > 0, 0.0, -np.inf)
    # Per-patient label counts (one column per class + "no finding"), balanced alongside the image counts.
    group_labels = np.zeros((len(unique_groups), 0))
    if stratify is not None:
        sample_labels = _label_counts(stratify, strata)
        group_labels = np.zeros((len(unique_groups), sample_labels.shape[1]))
        np.add.at(group_labels, group_of, sample_labels)
    assignment = np.empty(len(unique_groups), int)
    processed, filled = 0.0, np.zeros(len(names))
    processed_labels, filled_labels = np.zeros(group_labels.shape[1]), np.zeros((len(names), group_labels.shape[1]))
    for stratum in strata_order:
        members = rng.permutation(np.flatnonzero(group_stratum == stratum))
        members = members[np.argsort(-group_sizes[members], kind="stable")]  # big patients first, then fill in
        for g in members:
            processed += group_sizes[g]
            processed_labels += group_labels[g]
            deficit = fractions * processed - filled
            label_deficit = (fractions[:, None] * processed_labels[None, :] - filled_labels) @ group_labels[g]
            part = int(np.argmax(deficit + label_deficit + usable))
            assignment[g] = part
            filled[part] += group_sizes[g]
            filled_labels[part] += group_labels[g]
    for part in np.flatnonzero(fractions > 0):  # no empty part when a patient can be spared
        if not np.any(assignment == part):
            counts = np.bincount(assignment, minlength=len(names))
            donor = int(np.argmax(counts))
            if counts[donor] > 1:
                candidates = np.flatnonzero(assignment == donor)
                assignment[candidates[np.argmin(group_sizes[candidates])]] = part
    sample_part = assignment[group_of]
    return {name: np.flatnonzero(sample_part == i) for i, name in enumerate(names)}


def patient_split(index, fractions=(0.7, 0.1, 0.2), stratify=True, seed=0):
    """Fills the split column of a `DatasetIndex` with a patient-level, stratified train/val/test split.

    Args:
        index: a `DatasetIndex` (its existing split column is replaced; to split only the official
            training part, pass `index.split("train")` with e.g. fractions (0.8, 0.2, 0.0)).
        fractions: (train, val, test) fractions, normalized to sum 1; a zero leaves that part empty.
        stratify: stratify by the labels (rarest positive class per row, see `patient_split_indices`).
        seed: random seed.

    Returns:
        a new `DatasetIndex` (same rows and order) with split "train" / "val" / "test".

    Example:
    >>> import pandas as pd
    >>> from keras_cxr.data.index import DatasetIndex
    >>> frame = pd.DataFrame({"path": [f"/{i}.png" for i in range(20)], "patient_id": [str(i // 2) for i in range(20)],
    ...     "age": 1.0, "sex": "M", "view": "AP", "split": "", "y": [i % 2 for i in range(20)]})
    >>> split = patient_split(DatasetIndex(frame, ["y"]), seed=1)
    >>> sorted(set(split.frame["split"]))
    ['test', 'train', 'val']
    """
    labels = index.labels if stratify and index.class_names else None
    parts = patient_split_indices(len(index), fractions, groups=index.frame["patient_id"].to_numpy(),
                                  stratify=labels, seed=seed)
    result = index.subset(np.arange(len(index)))
    column = np.full(len(index), "", dtype=object)
    for name, positions in parts.items():
        column[positions] = name
    result.frame["split"] = column
    return result


def label_fraction_subsets(index, fractions=(0.01, 0.1, 0.5, 1.0), seed=0, min_per_class=True):
    """Nested patient-level subsets of an index for label-efficiency studies (paper 000, Tables 5–6).

    One seeded ordering of the patients interleaves the strata in proportion (stratified), and each fraction
    takes the shortest prefix of it whose image count is closest to `fraction × N`; hence
    1 % ⊂ 10 % ⊂ 50 % ⊂ 100 % and no patient is split. With `min_per_class`, the ordering starts with a
    few patients chosen so that every class with a positive image — and the all-negative ("no finding")
    group when present — has at least one image in every subset; a subset therefore has at least that
    many patients, which can exceed `fraction × N` on tiny datasets.

    Args:
        index: a `DatasetIndex` (usually its training split).
        fractions: fractions of the images in (0, 1].
        seed: random seed.
        min_per_class: guarantee one positive per class (and one all-negative image) in every subset.

    Returns:
        dict {fraction: DatasetIndex}, in increasing fraction.

    Example:
    >>> import pandas as pd
    >>> from keras_cxr.data.index import DatasetIndex
    >>> frame = pd.DataFrame({"path": [f"/{i}.png" for i in range(100)], "patient_id": [str(i) for i in range(100)],
    ...     "age": 1.0, "sex": "M", "view": "AP", "split": "", "y": [i % 4 == 0 for i in range(100)]})
    >>> subsets = label_fraction_subsets(DatasetIndex(frame, ["y"]), (0.1, 0.5, 1.0))
    >>> [len(s) for s in subsets.values()], [int(s.labels.sum()) for s in subsets.values()]
    ([10, 50, 100], [2, 12, 25])
    """
    fractions = sorted(float(f) for f in fractions)
    if not fractions or fractions[0] <= 0 or fractions[-1] > 1:
        raise ValueError(f"fractions must lie in (0, 1]; received {fractions}.")
    if len(index) == 0:
        raise ValueError("label_fraction_subsets received an empty index.")
    group_ids = _group_ids(index.frame["patient_id"].to_numpy(), len(index))
    patients, group_of = np.unique(group_ids, return_inverse=True)
    sizes = np.bincount(group_of, minlength=len(patients))
    labels = index.labels
    strata = _strata(labels) if index.class_names else np.zeros(len(index), int)
    patient_stratum = _patient_strata(strata, group_of, len(patients))
    rng = np.random.default_rng(seed)
    # Interleave strata in proportion: rank each patient by (its position within its stratum + offset) / size.
    order_key = np.empty(len(patients))
    for stratum in np.unique(patient_stratum):
        members = rng.permutation(np.flatnonzero(patient_stratum == stratum))
        order_key[members] = (np.arange(len(members)) + rng.random()) / len(members)
    order = np.argsort(order_key, kind="stable")
    if min_per_class and index.class_names:
        positive = np.nan_to_num(labels, nan=0.0) > 0.5
        patient_positive = np.zeros((len(patients), positive.shape[1] + 1), bool)
        np.logical_or.at(patient_positive, group_of, np.concatenate([positive, ~positive.any(1, keepdims=True)], 1))
        if index.task == "multiclass":
            patient_positive[:, -1] = False  # one-hot rows always have a class; no separate "none" group
        cover, covered = [], np.zeros(patient_positive.shape[1], bool)
        for column in np.argsort(patient_positive.sum(0), kind="stable"):  # rarest first
            if covered[column] or not patient_positive[:, column].any():
                continue
            first = next(p for p in order if patient_positive[p, column])
            cover.append(first)
            covered |= patient_positive[first]
        cover = sorted(cover, key=lambda p: order_key[p])
        chosen = set(cover)
        order = np.array(cover + [p for p in order if p not in chosen], dtype=int)
    else:
        cover = []
    cumulative = np.cumsum(sizes[order])
    rank = np.empty(len(patients), int)
    rank[order] = np.arange(len(patients))
    subsets = {}
    for fraction in fractions:
        count = int(np.argmin(np.abs(cumulative - fraction * len(index)))) + 1
        count = len(patients) if fraction == 1.0 else max(count, len(cover), 1)
        subsets[fraction] = index.subset(rank[group_of] < count)
    return subsets
