"""Patient-level, stratified splits and nested label-fraction subsets."""

import numpy as np


def _strata(labels):
    """One stratum key per sample: the class id, or for multi-hot rows their argmax with 'none' = -1."""
    labels = np.asarray(labels)
    if labels.ndim == 1:
        return np.nan_to_num(labels.astype(float), nan=-1).astype(int)
    if labels.shape[1] == 0:
        return np.zeros(len(labels), int)
    filled = np.nan_to_num(labels.astype(float), nan=0.0)
    return np.where(filled.sum(1) > 0, filled.argmax(1), -1)


def patient_split_indices(num_samples, fractions=(0.7, 0.1, 0.2), groups=None, stratify=None, seed=0,
                          names=("train", "val", "test")):
    """Splits sample positions into parts by patient (no patient in two parts), stratified by label.

    Patients are shuffled with the seed, then assigned greedily per stratum (a patient's stratum is the
    most frequent stratum of its images) so each part receives its fraction of every stratum.

    Args:
        num_samples: N.
        fractions: fraction per part (normalized to sum 1), e.g. paper 003's 70/10/20 (Table 1).
        groups: (N,) patient ids (None: every sample its own patient).
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
    fractions = np.asarray(fractions, dtype=float)
    if len(fractions) != len(names) or np.any(fractions < 0) or fractions.sum() <= 0:
        raise ValueError(f"fractions must be {len(names)} non-negative numbers (one per part {names}); received {fractions}.")
    fractions = fractions / fractions.sum()
    groups = np.arange(num_samples) if groups is None else np.asarray(groups)
    if len(groups) != num_samples:
        raise ValueError(f"groups has {len(groups)} entries for {num_samples} samples.")
    strata = np.zeros(num_samples, int) if stratify is None else _strata(stratify)
    if len(strata) != num_samples:
        raise ValueError(f"stratify has {len(strata)} rows for {num_samples} samples.")
    unique_groups, group_of = np.unique(groups.astype(str), return_inverse=True)
    group_stratum = np.array([np.bincount(strata[group_of == g] - strata.min()).argmax() + strata.min()
                              for g in range(len(unique_groups))])
    group_sizes = np.bincount(group_of, minlength=len(unique_groups))
    rng = np.random.default_rng(seed)
    assignment = np.empty(len(unique_groups), int)
    for stratum in np.unique(group_stratum):
        members = rng.permutation(np.flatnonzero(group_stratum == stratum))
        target = fractions * group_sizes[members].sum()
        filled = np.zeros(len(names))
        for g in members:  # give each patient to the part furthest below its target
            part = int(np.argmax(target - filled))
            assignment[g] = part
            filled[part] += group_sizes[g]
    sample_part = assignment[group_of]
    return {name: np.flatnonzero(sample_part == i) for i, name in enumerate(names)}


def patient_split(index, fractions=(0.7, 0.1, 0.2), stratify=True, seed=0):
    """Fills the split column of a `DatasetIndex` with a patient-level, stratified train/val/test split.

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
    column = np.empty(len(index), dtype=object)
    for name, positions in parts.items():
        column[positions] = name
    result.frame["split"] = column
    return result


def label_fraction_subsets(index, fractions=(0.01, 0.1, 0.5, 1.0), seed=0):
    """Nested patient-level subsets of an index for label-efficiency studies (paper 000, Tables 5–6).

    One seeded, stratified ordering of the patients; each fraction takes a prefix of it, so
    1 % ⊂ 10 % ⊂ 50 % ⊂ 100 %. Each subset keeps at least one patient of every stratum when it can.

    Returns:
        dict {fraction: DatasetIndex}.

    Example:
    >>> import pandas as pd
    >>> from keras_cxr.data.index import DatasetIndex
    >>> frame = pd.DataFrame({"path": [f"/{i}.png" for i in range(100)], "patient_id": [str(i) for i in range(100)],
    ...     "age": 1.0, "sex": "M", "view": "AP", "split": "", "y": [i % 4 == 0 for i in range(100)]})
    >>> subsets = label_fraction_subsets(DatasetIndex(frame, ["y"]), (0.1, 0.5, 1.0))
    >>> [len(s) for s in subsets.values()]
    [10, 50, 100]
    """
    fractions = sorted(float(f) for f in fractions)
    if not fractions or fractions[0] <= 0 or fractions[-1] > 1:
        raise ValueError(f"fractions must lie in (0, 1]; received {fractions}.")
    patients, group_of = np.unique(index.frame["patient_id"].astype(str).to_numpy(), return_inverse=True)
    strata = _strata(index.labels) if index.class_names else np.zeros(len(index), int)
    patient_stratum = np.array([np.bincount(strata[group_of == g] + 1).argmax() - 1 for g in range(len(patients))])
    rng = np.random.default_rng(seed)
    # Interleave strata in proportion: rank each patient by (its position within its stratum + jitter) / size.
    order_key = np.empty(len(patients))
    for stratum in np.unique(patient_stratum):
        members = rng.permutation(np.flatnonzero(patient_stratum == stratum))
        order_key[members] = (np.arange(len(members)) + rng.random()) / len(members)
    order = np.argsort(order_key, kind="stable")
    rank = np.empty(len(patients), int)
    rank[order] = np.arange(len(patients))
    subsets = {}
    for fraction in fractions:
        count = max(1, int(round(fraction * len(patients))))
        subsets[fraction] = index.subset(rank[group_of] < count)
    return subsets
