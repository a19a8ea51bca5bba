"""Several datasets in one run: index each path with `index_any`, filter views, concatenate.

Paper 000 pretrains on the frontal images of ChestX-ray14 and CheXpert together; a recipe's
`--pretrain-dir A --pretrain-dir B` becomes `index_sources([A, B], view_filter="frontal")`.
"""

import os

from keras_cxr.data.index import FRONTAL_VIEWS, DatasetIndex, DatasetLayoutError, _unique
from keras_cxr.data.layouts import index_any


def _source_name(path):
    """A folder's name; for a table file, its folder's name and the file stem ("chexpert-valid")."""
    path = os.path.normpath(os.path.abspath(path))
    if os.path.isfile(path):
        folder = os.path.basename(os.path.dirname(path))
        return f"{folder}-{os.path.splitext(os.path.basename(path))[0]}" if folder else os.path.basename(path)
    return os.path.basename(path) or path


def index_sources(paths, view_filter=None, names=None, keep_unknown_views=True, binary=False):
    """Indexes every path with `index_any`, keeps the wanted views, and concatenates (`DatasetIndex.concat`).

    Args:
        paths: dataset folders or label tables (one path or a list), e.g. the ChestX-ray14 folder holding
            Data_Entry_2017.csv and the CheXpert folder holding train.csv.
        view_filter: None (every row), "frontal" (`FRONTAL_VIEWS`: PA, AP) or a sequence of view names;
            see `DatasetIndex.filter_views`. CheXpert is frontal-only already (`index_chexpert`'s default).
        names: one name per path for the `source` column and the patient-id prefix (default: each
            folder's name, or folder-stem for a table file, made unique).
        keep_unknown_views: keep rows whose view is empty; most folders have no view column, so the
            default keeps them whole.
        binary: passed to `index_any` (one "abnormal" column per source).

    Returns:
        The concatenated `DatasetIndex` (a `source` column names each row's dataset).

    Raises:
        DatasetLayoutError: for a path that does not exist (named, with the fix), for a source with no row
            left after the view filter, or a malformed dataset.
        ValueError: for no paths or a bad `view_filter`.

    Example:
    >>> import cv2, numpy as np, tempfile, os
    >>> roots = [tempfile.mkdtemp(), tempfile.mkdtemp()]
    >>> for root in roots:
    ...     _ = cv2.imwrite(os.path.join(root, "1.png"), np.zeros((9, 9), np.uint8))
    >>> index = index_sources(roots, view_filter="frontal", names=["nih", "chexpert"])
    >>> len(index), list(index.frame["source"]), index.task
    (2, ['nih', 'chexpert'], 'unlabeled')
    """
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not paths:
        raise ValueError("index_sources needs at least one dataset path; received none.")
    paths = [os.fspath(p) for p in paths]
    for i, path in enumerate(paths):
        if not os.path.exists(path):
            raise DatasetLayoutError(f"Dataset source {i + 1} of {len(paths)}, '{path}', does not exist. Pass a "
                                     "dataset folder (e.g. the one holding Data_Entry_2017.csv or train.csv) or a "
                                     "label table, or remove it from the list.")
    if view_filter is None:
        views = None
    elif isinstance(view_filter, str) and view_filter.strip().lower() == "frontal":
        views = FRONTAL_VIEWS
    elif isinstance(view_filter, str):
        views = (view_filter,)
    else:
        views = tuple(view_filter)
        if not views or not all(isinstance(v, str) for v in views):
            raise ValueError(f"view_filter must be None, 'frontal' or a sequence of view names such as "
                             f"{FRONTAL_VIEWS}; received {view_filter!r}.")
    names = _unique([_source_name(p) for p in paths]) if names is None else [str(n) for n in names]
    if len(names) != len(paths):
        raise ValueError(f"names has {len(names)} entries for {len(paths)} paths; pass one name per path.")
    indexes = []
    for name, path in zip(names, paths):
        index = index_any(path, binary=binary)
        if views is not None:
            kept = index.filter_views(views, keep_unknown=keep_unknown_views)
            if not len(kept):
                found = sorted(set(index.frame["view"].astype(str)))[:10]
                raise DatasetLayoutError(f"No image of source '{path}' has a view in {list(views)} (its views: "
                                         f"{found}). Pass view_filter=None to keep every view, or drop the source.")
            index = kept
        indexes.append(index)
    return DatasetIndex.concat(indexes, names=names)
