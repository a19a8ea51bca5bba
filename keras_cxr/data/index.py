"""`DatasetIndex`: the table of images (path, labels, patient, age, sex, view, split) every loader returns."""

import dataclasses
import json
import os

import numpy as np

BASE_COLUMNS = ("path", "patient_id", "age", "sex", "view", "split")
TASKS = ("binary", "multiclass", "multilabel", "segmentation", "unlabeled")


class DatasetLayoutError(ValueError):
    """A dataset folder or table does not match its published layout; the message lists what is wrong."""


def list_problems(what, items, limit=10):
    """'3 missing image files: a.png, b.png, c.png' (the first `limit`, then the count of the rest)."""
    items = list(items)
    shown = ", ".join(str(i) for i in items[:limit])
    more = f" ... and {len(items) - limit} more" if len(items) > limit else ""
    return f"{len(items)} {what}: {shown}{more}"


@dataclasses.dataclass
class DatasetIndex:
    """A dataset as a table: one row per image, one float column per class (0/1, NaN = unknown).

    Attributes:
        frame: pandas DataFrame with columns path (absolute), patient_id, age (years, NaN unknown), sex,
            view, split ("train" / "val" / "test" / "" unknown), one column per class, and optionally
            mask_path (segmentation).
        class_names: the class columns, in order.
        task: "binary" | "multiclass" | "multilabel" | "segmentation" | "unlabeled".

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
        missing = [c for c in (*BASE_COLUMNS, *self.class_names) if c not in self.frame.columns]
        if missing:
            raise DatasetLayoutError(f"DatasetIndex frame lacks columns {missing}; it has {list(self.frame.columns)}.")
        self.class_names = list(self.class_names)
        self.frame = self.frame.reset_index(drop=True)

    def __len__(self):
        return len(self.frame)

    @property
    def paths(self):
        """(N,) array of absolute image paths."""
        return self.frame["path"].to_numpy(dtype=str)

    @property
    def labels(self):
        """(N, C) float32 labels (NaN = unknown)."""
        if not self.class_names:
            return np.zeros((len(self), 0), np.float32)
        return self.frame[self.class_names].to_numpy(dtype=np.float32)

    def subset(self, rows):
        """A new index of the selected rows (boolean mask or integer positions)."""
        rows = np.asarray(rows)
        frame = self.frame[rows] if rows.dtype == bool else self.frame.iloc[rows]
        return DatasetIndex(frame.copy(), list(self.class_names), self.task)

    def split(self, name):
        """The rows whose split column equals `name`."""
        known = sorted(set(self.frame["split"]))
        if name not in known:
            raise ValueError(f"No rows in split {name!r}; this index has splits {known}. Use patient_split() first.")
        return self.subset(self.frame["split"].to_numpy() == name)

    def to_csv(self, path):
        """Writes the table and its metadata (class names, task) as CSV with a `.json` sidecar."""
        self.frame.to_csv(path, index=False)
        with open(f"{path}.json", "w") as f:
            json.dump({"class_names": self.class_names, "task": self.task}, f)

    @classmethod
    def from_csv(cls, path):
        """Reads an index written by `to_csv`."""
        import pandas as pd

        with open(f"{path}.json") as f:
            meta = json.load(f)
        frame = pd.read_csv(path, dtype={"patient_id": str, "sex": str, "view": str, "split": str},
                            keep_default_na=False, na_values={"age": [""], **{c: [""] for c in meta["class_names"]}})
        return cls(frame, meta["class_names"], meta["task"])


def make_frame(paths, labels=None, class_names=(), patient_ids=None, ages=None, sexes=None, views=None, splits=None,
               check_files=True, **extra):
    """Builds an index frame from parallel sequences; verifies that the image files exist.

    Raises:
        DatasetLayoutError: listing missing image files.
    """
    import pandas as pd

    paths = [os.path.abspath(os.fspath(p)) for p in paths]
    if check_files:
        missing = [p for p in paths if not os.path.isfile(p)]
        if missing:
            raise DatasetLayoutError(list_problems("missing image files", missing) +
                                     ". Check the dataset root and that the images were extracted.")
    n = len(paths)

    def column(values, default):
        return list(values) if values is not None else [default] * n

    frame = pd.DataFrame({
        "path": paths,
        "patient_id": [str(p) for p in column(patient_ids, "")],
        "age": pd.to_numeric(pd.Series(column(ages, np.nan)), errors="coerce").astype(float).to_numpy(),
        "sex": [str(s) if s is not None and s == s else "" for s in column(sexes, "")],
        "view": [str(v) if v is not None and v == v else "" for v in column(views, "")],
        "split": [str(s) for s in column(splits, "")],
    })
    if labels is not None and len(class_names):
        labels = np.asarray(labels, dtype=np.float32).reshape(n, len(class_names))
        for c, name in enumerate(class_names):
            frame[name] = labels[:, c]
    for key, values in extra.items():
        frame[key] = list(values)
    return frame
