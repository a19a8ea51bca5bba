"""`DatasetIndex`: the table of images (path, labels, patient, age, sex, view, split) every loader returns."""

import dataclasses
import json
import os
import re

import numpy as np

BASE_COLUMNS = ("path", "patient_id", "age", "sex", "view", "split")
TASKS = ("binary", "multiclass", "multilabel", "segmentation", "unlabeled")
SPLITS = ("train", "val", "test", "")
FRONTAL_VIEWS = ("PA", "AP")


class DatasetLayoutError(ValueError):
    """A dataset folder or table does not match its published layout; the message lists what is wrong."""


def list_problems(what, items, limit=10):
    """'3 missing image files: a.png, b.png, c.png' (the first `limit`, then the count of the rest).

    Example:
    >>> list_problems("unknown labels", ["x", "y", "z"], limit=2)
    '3 unknown labels: x, y ... and 1 more'
    """
    items = list(items)
    shown = ", ".join(str(i) for i in items[:limit])
    more = f" ... and {len(items) - limit} more" if len(items) > limit else ""
    return f"{len(items)} {what}: {shown}{more}"


_AGE_UNITS = {"y": 1.0, "m": 1.0 / 12.0, "w": 7.0 / 365.25, "d": 1.0 / 365.25}


def parse_age(value):
    """An age in years from the ways datasets write it; NaN when unknown.

    Numbers (`7`, `7.5`), DICOM age strings (`"006Y"`, `"011M"`, `"003W"`, `"020D"`, as in VinDr-PCXR
    headers and old ChestX-ray14 tables), an open bound (`"50+"` → 50) and decades in words
    (`"early 40s"` → 42, `"mid 50s"` → 55, `"late 30s"` → 38, `"40s"` → 45, as in the Figure 1 COVID table).

    Example:
    >>> [parse_age(v) for v in (7, "058Y", "006M", "50+", "early 40s", "", None)]
    [7.0, 58.0, 0.5, 50.0, 42.0, nan, nan]
    """
    if value is None:
        return float("nan")
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    text = str(value).strip().lower()
    if not text or text in ("nan", "none", "unknown", "?"):
        return float("nan")
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([ymwd])?\+?", text)
    if match:
        return float(match.group(1)) * _AGE_UNITS[match.group(2) or "y"]
    match = re.fullmatch(r"(early|mid|late)?\s*(\d)0'?s", text)
    if match:
        return float(match.group(2)) * 10 + {"early": 2.0, "mid": 5.0, "late": 8.0, None: 5.0}[match.group(1)]
    return float("nan")


@dataclasses.dataclass
class DatasetIndex:
    """A dataset as a table: one row per image, one float column per class (0/1, NaN = unknown).

    Attributes:
        frame: pandas DataFrame with columns path (absolute), patient_id, age (years, NaN unknown), sex,
            view, split ("train" / "val" / "test" / "" unknown), one column per class, and optionally
            mask_path (segmentation; several masks to merge are joined by "|", see `read_mask`).
        class_names: the class columns, in order.
        task: "binary" (exactly one 0/1 column) | "multiclass" (one-hot columns) | "multilabel" (multi-hot)
            | "segmentation" (mask_path column) | "unlabeled" (no class columns).

    Raises:
        DatasetLayoutError: when the frame lacks a column or a class column holds values other than 0, 1
            or NaN.

    Example:
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"path": ["/a.png", "/b.png"], "patient_id": ["1", "2"], "age": [3.0, None],
    ...                       "sex": ["M", "F"], "view": ["AP", "AP"], "split": ["", ""], "PNEUMONIA": [1.0, 0.0]})
    >>> index = DatasetIndex(frame, ["PNEUMONIA"], "binary")
    >>> len(index), index.labels.tolist()
    (2, [[1.0], [0.0]])
    """

    frame: object
    class_names: list
    task: str = "binary"

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}; received {self.task!r}.")
        self.class_names = [str(c) for c in self.class_names]
        missing = [c for c in (*BASE_COLUMNS, *self.class_names) if c not in self.frame.columns]
        if missing:
            raise DatasetLayoutError(f"DatasetIndex frame lacks columns {missing}; it has {list(self.frame.columns)}.")
        if self.task == "binary" and len(self.class_names) != 1:
            raise ValueError(f"A binary DatasetIndex has exactly one 0/1 class column; received {self.class_names} "
                             "(use task='multiclass' for one-hot columns, 'multilabel' for multi-hot).")
        if self.task == "segmentation" and "mask_path" not in self.frame.columns:
            raise DatasetLayoutError("A segmentation DatasetIndex needs a mask_path column.")
        self.frame = self.frame.reset_index(drop=True)
        for name in self.class_names:
            column = self.frame[name]
            if column.dtype.kind in "biuf":
                values = numeric = column.to_numpy(np.float64)
            else:
                values = np.asarray(column, dtype=object)
                try:
                    numeric = values.astype(np.float64)
                except (TypeError, ValueError):
                    numeric = None
            bad = values if numeric is None else values[~(np.isnan(numeric) | (numeric == 0) | (numeric == 1))]
            if len(bad):
                raise DatasetLayoutError(f"Class column {name!r} must hold 0, 1 or NaN (unknown); found "
                                         f"{sorted({f'{b:g}' if isinstance(b, float) else str(b) for b in bad})[:10]}.")
            self.frame[name] = numeric.astype(np.float64)

    def __len__(self):
        return len(self.frame)

    def __repr__(self):
        counts = self.frame["split"].value_counts().to_dict() if len(self) else {}
        splits = ", ".join(f"{k or 'unassigned'}={v}" for k, v in sorted(counts.items()))
        return f"DatasetIndex({len(self)} images, task={self.task!r}, classes={self.class_names}, splits: {splits})"

    @property
    def paths(self):
        """(N,) array of absolute image paths."""
        return self.frame["path"].to_numpy(dtype=str)

    @property
    def mask_paths(self):
        """(N,) array of mask paths (segmentation indexes; "a|b" = union of several masks, see `read_mask`)."""
        if "mask_path" not in self.frame.columns:
            raise AttributeError(f"This {self.task} index has no mask_path column; build it with "
                                 "index_segmentation_pairs().")
        return self.frame["mask_path"].to_numpy(dtype=str)

    @property
    def labels(self):
        """(N, C) float32 labels (NaN = unknown)."""
        if not self.class_names:
            return np.zeros((len(self), 0), np.float32)
        return self.frame[self.class_names].to_numpy(dtype=np.float32)

    def subset(self, rows):
        """A new index of the selected rows (boolean mask of length N, or integer positions)."""
        rows = np.asarray(rows)
        if rows.dtype == bool:
            if len(rows) != len(self):
                raise ValueError(f"Boolean mask has {len(rows)} entries for an index of {len(self)} rows.")
            frame = self.frame[rows]
        else:
            frame = self.frame.iloc[rows.astype(np.int64).reshape(-1)]
        return DatasetIndex(frame.copy(), list(self.class_names), self.task)

    def split(self, name):
        """The rows whose split column equals `name` ("train", "val", "test", or "" for unassigned).

        Raises:
            ValueError: when no row has that split (the message lists the splits present).
        """
        known = sorted(set(self.frame["split"]))
        if name not in known:
            raise ValueError(f"No rows in split {name!r}; this index has splits {known}. Use patient_split() first.")
        return self.subset(self.frame["split"].to_numpy() == name)

    def filter_views(self, views, keep_unknown=True):
        """The rows whose view is one of `views`, e.g. `("PA", "AP")` for frontal images (see `frontal_only`).

        A view matches on its first word, case-insensitively: "AP erect", "ap_supine" and "AP-horizontal"
        count as "AP"; "Lateral", "LL" do not. Rows with an unknown view (an empty view column) are kept
        unless `keep_unknown=False`: most layouts have no view column (labels.csv folders without one,
        VinDr-PCXR, COVIDx, Kermany, plain image folders), so filtering such a source keeps all of it.

        Args:
            views: a view name or a sequence of them.
            keep_unknown: keep rows whose view is empty.

        Returns:
            A new `DatasetIndex` (same classes and task).

        Raises:
            ValueError: when `views` is empty.

        Example:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"path": ["/a.png", "/b.png", "/c.png", "/d.png"], "patient_id": "", "age": None,
        ...                       "sex": "", "view": ["PA", "Lateral", "", "AP erect"], "split": ""})
        >>> list(DatasetIndex(frame, [], "unlabeled").filter_views(("PA", "AP")).frame["view"])
        ['PA', '', 'AP erect']
        """
        views = (views,) if isinstance(views, str) else tuple(views)
        wanted = {str(v).strip().upper() for v in views} - {""}
        if not wanted:
            raise ValueError(f"views is empty ({views!r}); pass view names such as {FRONTAL_VIEWS}.")
        view = self.frame["view"].fillna("").astype(str).str.strip()
        first_word = view.str.split(r"[\s_\-]+", n=1, regex=True).str[0].str.upper()
        keep = first_word.isin(wanted).to_numpy() | (keep_unknown & (view == "").to_numpy())
        return self.subset(keep)

    def frontal_only(self, keep_unknown=True):
        """The rows with a frontal view (`FRONTAL_VIEWS`: PA or AP, see `filter_views`); unknown views are kept.

        Paper 000 pretrains on the frontal images of ChestX-ray14 and CheXpert.
        """
        return self.filter_views(FRONTAL_VIEWS, keep_unknown=keep_unknown)

    @classmethod
    def concat(cls, indexes, names=None):
        """One index holding the rows of several, e.g. ChestX-ray14 + CheXpert for pretraining (paper 000).

        - Rows: those of the first index, then of the second, and so on.
        - Classes: the union of the class columns, in order of first appearance; NaN (unknown) where a
          source lacks a class.
        - Task: the common task when every labelled index has the same task and classes (unlabeled indexes
          join any of them, their rows all NaN); "unlabeled" when all are; else "multilabel" (the union of
          different class sets is no longer one-hot).
        - A `source` column names the index each row came from; a row that already has a source (COVIDx's
          data source, an earlier concat) gets "name/old source".
        - Patient ids become "name:id", so equal ids in two datasets stay different patients for
          `patient_split`; empty ids (unknown: one patient per image) stay empty.
        - Other columns (mask_path, ...) are kept, "" where a source lacks them; splits are kept as they are.

        Args:
            indexes: a sequence of `DatasetIndex`, or a mapping name → `DatasetIndex`.
            names: one unique name per index (default: the mapping's keys, else the name of the folder
                holding each index's images, made unique with "-2", "-3", ...).

        Returns:
            A new `DatasetIndex`.

        Raises:
            ValueError: for no indexes, names that are not unique or not one per index, or segmentation
                indexes mixed with others.

        Example:
        >>> import pandas as pd
        >>> def one(paths, pid, **labels):
        ...     frame = pd.DataFrame({"path": paths, "patient_id": pid, "age": None, "sex": "", "view": "PA",
        ...                           "split": "", **labels})
        ...     return DatasetIndex(frame, list(labels), "multilabel")
        >>> index = DatasetIndex.concat({"nih": one(["/n/1.png"], "7", Mass=[1.0]),
        ...                              "chexpert": one(["/c/1.jpg"], "7", Edema=[0.0], Mass=[0.0])})
        >>> index.class_names, index.labels.tolist()
        (['Mass', 'Edema'], [[1.0, nan], [0.0, 0.0]])
        >>> list(index.frame["source"]), list(index.frame["patient_id"])
        (['nih', 'chexpert'], ['nih:7', 'chexpert:7'])
        """
        import pandas as pd

        if isinstance(indexes, DatasetIndex):
            raise TypeError("concat takes a sequence (or a name → index mapping) of DatasetIndex; received one "
                            "DatasetIndex. Wrap it in a list.")
        if hasattr(indexes, "keys"):
            if names is not None:
                raise ValueError("Pass names either as the mapping's keys or as names=, not both.")
            names, indexes = [str(k) for k in indexes.keys()], list(indexes.values())
        indexes = list(indexes)
        if not indexes:
            raise ValueError("concat needs at least one DatasetIndex; received none.")
        wrong = [type(i).__name__ for i in indexes if not isinstance(i, DatasetIndex)]
        if wrong:
            raise TypeError(f"concat takes DatasetIndex objects; received {wrong}.")
        if names is None:
            names = _unique([_folder_name(index, i) for i, index in enumerate(indexes)])
        names = [str(n) for n in names]
        if len(names) != len(indexes) or len(set(names)) != len(names) or not all(names):
            raise ValueError(f"names must be {len(indexes)} unique non-empty strings, one per index; received {names}.")
        tasks = [index.task for index in indexes]
        if "segmentation" in tasks and set(tasks) != {"segmentation"}:
            raise ValueError(f"Segmentation indexes can only be concatenated with segmentation indexes; received "
                             f"tasks {dict(zip(names, tasks))}.")
        class_names = list(dict.fromkeys(c for index in indexes for c in index.class_names))
        labelled = [index for index in indexes if index.task != "unlabeled"]
        if not labelled:
            task = "unlabeled"
        elif len({i.task for i in labelled}) == 1 and all(i.class_names == labelled[0].class_names for i in labelled):
            task = labelled[0].task
        else:
            task = "multilabel"
        frames = []
        for name, index in zip(names, indexes):
            frame = index.frame.copy()
            for c in class_names:
                if c not in frame.columns:
                    frame[c] = np.nan
            patient = frame["patient_id"].fillna("").astype(str)
            frame["patient_id"] = np.where(patient.str.strip() == "", "", name + ":" + patient)
            old = frame["source"].fillna("").astype(str) if "source" in frame.columns else pd.Series("", frame.index)
            frame["source"] = np.where(old.str.strip() == "", name, name + "/" + old)
            frames.append(frame)
        frame = pd.concat(frames, ignore_index=True, sort=False)
        for column in frame.columns:
            if column not in class_names and column != "age" and frame[column].dtype == object:
                frame[column] = frame[column].fillna("")
        order = [*BASE_COLUMNS, *class_names]
        frame = frame[order + [c for c in frame.columns if c not in order]]
        return cls(frame, class_names, task)

    def to_csv(self, path):
        """Writes the table as CSV with a `<path>.json` sidecar holding the class names and the task."""
        path = os.fspath(path)
        self.frame.to_csv(path, index=False)
        with open(f"{path}.json", "w") as f:
            json.dump({"class_names": self.class_names, "task": self.task}, f)

    @classmethod
    def from_csv(cls, path):
        """Reads an index written by `to_csv`.

        Without the `.json` sidecar, the class columns are the remaining columns holding only 0/1/empty,
        and the task is guessed (segmentation with mask_path, one column → binary, rows summing to one →
        multiclass, else multilabel).
        """
        import pandas as pd

        path = os.fspath(path)
        if not os.path.isfile(path):
            raise DatasetLayoutError(f"Index file '{path}' not found.")
        meta = None
        if os.path.isfile(f"{path}.json"):
            with open(f"{path}.json") as f:
                meta = json.load(f)
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        missing = [c for c in BASE_COLUMNS if c not in table.columns]
        if missing:
            raise DatasetLayoutError(f"'{path}' lacks index columns {missing}; it has {list(table.columns)}.")
        if meta is None:
            class_names = [c for c in table.columns if c not in BASE_COLUMNS and c != "mask_path"
                           and set(table[c]) <= {"0", "1", "0.0", "1.0", ""}]
        else:
            class_names = list(meta["class_names"])
        for name in ("age", *class_names):
            table[name] = pd.to_numeric(table[name].replace("", np.nan), errors="coerce").astype(np.float64)
        if meta is not None:
            task = meta["task"]
        elif "mask_path" in table.columns:
            task = "segmentation"
        elif not class_names:
            task = "unlabeled"
        elif len(class_names) == 1:
            task = "binary"
        else:
            sums = table[class_names].sum(axis=1, skipna=True).to_numpy()
            task = "multiclass" if np.all(sums == 1) else "multilabel"
        return cls(table, class_names, task)


def _folder_name(index, position):
    """The name of the folder holding all of an index's images ("source<position>" when it has none)."""
    if not len(index):
        return f"source{position}"
    paths = index.frame["path"].astype(str)
    try:
        common = os.path.commonpath([os.path.dirname(paths.min()), os.path.dirname(paths.max())])
    except ValueError:  # relative and absolute paths mixed
        common = ""
    return os.path.basename(common) or f"source{position}"


def _unique(names):
    """names with repeats suffixed "-2", "-3", ... (["a", "a", "b"] → ["a", "a-2", "b"])."""
    seen, out = {}, []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        candidate = name if seen[name] == 1 else f"{name}-{seen[name]}"
        while candidate in out:
            seen[name] += 1
            candidate = f"{name}-{seen[name]}"
        out.append(candidate)
    return out


def make_frame(paths, labels=None, class_names=(), patient_ids=None, ages=None, sexes=None, views=None, splits=None,
               check_files=True, missing_images="error", **extra):
    """Builds an index frame from parallel sequences; verifies that the image files exist.

    Args:
        missing_images: "error" (raise, listing them) or "drop" (keep only rows whose file exists).

    Raises:
        DatasetLayoutError: listing missing image files.
    """
    import pandas as pd

    if missing_images not in ("error", "drop"):
        raise ValueError(f"missing_images must be 'error' or 'drop'; received {missing_images!r}.")
    paths = [os.path.abspath(os.fspath(p)) for p in paths]
    n = len(paths)

    def column(values, default):
        values = list(values) if values is not None else [default] * n
        if len(values) != n:
            raise ValueError(f"Got {len(values)} values for {n} images.")
        return values

    def text(value):
        return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value).strip()

    frame = pd.DataFrame({
        "path": paths,
        "patient_id": [text(p) for p in column(patient_ids, "")],
        "age": np.array([parse_age(a) for a in column(ages, None)], dtype=np.float64),
        "sex": [text(s) for s in column(sexes, "")],
        "view": [text(v) for v in column(views, "")],
        "split": [text(s) for s in column(splits, "")],
    })
    if labels is not None and len(class_names):
        labels = np.asarray(labels, dtype=np.float64).reshape(n, len(class_names))
        for c, name in enumerate(class_names):
            frame[name] = labels[:, c]
    for key, values in extra.items():
        frame[key] = column(values, "")
    if check_files:
        exists = np.array([os.path.isfile(p) for p in paths], dtype=bool)
        if not exists.all():
            if missing_images == "error":
                raise DatasetLayoutError(list_problems("missing image files", np.array(paths)[~exists]) +
                                         ". Check the dataset root and that the images were extracted (or pass "
                                         "missing_images='drop' to index the files present).")
            frame = frame[exists].reset_index(drop=True)
    return frame
