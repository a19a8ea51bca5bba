"""kNN feature probe: how well a pretraining encoder's frozen features separate labelled images, every N epochs."""

import numpy as np

from keras_cxr.callbacks.feature_probe import FeatureProbe


def knn_predict(train_features, train_labels, query_features, k=20, num_classes=None):
    """Class probabilities of a cosine-similarity kNN with distance-weighted votes.

    Each query takes its `k` most cosine-similar training rows; each votes for its class with weight
    1 / (1 − cosine similarity), scikit-learn's `KNeighborsClassifier(metric="cosine", weights="distance")`
    (a neighbour at distance 0 takes the whole vote, shared between equal rows). lightly and solo-learn use
    k = 20 with exp(similarity / T) weights; the inverse distance is used here so the probe equals a
    well-kept reference exactly (tests compare with scikit-learn). numpy only: a probe runs on a few hundred
    to a few thousand rows.

    Args:
        train_features: (n, d) features of the labelled bank.
        train_labels: (n,) integer classes.
        query_features: (m, d) features to classify.
        k: neighbours (capped at n).
        num_classes: columns of the result; None → max(label) + 1.

    Returns:
        (m, num_classes) float32 probabilities (vote shares).

    Example:
    >>> bank = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    >>> knn_predict(bank, np.array([0, 0, 1]), np.array([[1.0, 0.05]]), k=2).round(2).tolist()
    [[1.0, 0.0]]
    """
    train = np.asarray(train_features, np.float64)
    query = np.asarray(query_features, np.float64)
    labels = np.asarray(train_labels).astype(int).ravel()
    if train.ndim != 2 or query.ndim != 2 or train.shape[1] != query.shape[1] or len(train) != len(labels):
        raise ValueError(f"knn_predict: need (n, d) train features, (n,) labels and (m, d) queries; received "
                         f"{train.shape}, {labels.shape} and {query.shape}.")
    num_classes = int(num_classes or labels.max() + 1)
    k = max(1, min(int(k), len(train)))

    def unit(x):
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    distance = np.clip(1.0 - unit(query) @ unit(train).T, 0.0, 2.0)
    nearest = np.argsort(distance, axis=1, kind="stable")[:, :k]
    near_distance = np.take_along_axis(distance, nearest, axis=1)
    exact = near_distance <= 1e-12
    weights = np.where(exact.any(axis=1, keepdims=True), exact.astype(float), 1.0 / np.maximum(near_distance, 1e-12))
    votes = np.zeros((len(query), num_classes))
    np.add.at(votes, (np.repeat(np.arange(len(query)), k), labels[nearest].ravel()), weights.ravel())
    return (votes / votes.sum(axis=1, keepdims=True)).astype("float32")


class KNNProbe(FeatureProbe):
    """Every `every` epochs: the kNN classifier (`knn_predict`, k = 20) of the encoder's frozen pooled features
    (`keras_cxr.models.probe_features`), fitted on `train` and scored on `test` (or cross-validated on `train`
    when `test` is None; see `FeatureProbe`); logs `knn_auc` and `knn_accuracy` into the epoch's logs, hence the
    History and the engine's saved history.

    Args:
        train, test: (images, integer labels) numpy pairs, images (n, H, W, C) in the model's input range;
            test None: `folds`-fold cross-validation on train, grouped by `groups` (patient ids) when given.
        k: neighbours (lightly's `KNNBenchmarkModule` and solo-learn default to 20).
        every: run after epochs every, 2·every, ... and after the last one.
        batch_size: feature batch size.
        features: None → `probe_features(model)` at each probe; or a function model → feature model.
        prefix: the log names' prefix.
        folds, groups, seed: the cross-validation (`probe_folds`) when `test` is None.

    Cost: one inference pass over train + test images per probe, shared with a `LinearProbe` of the same arrays (no gradients, no training-mode layers); on
    distributed runs each rank computes the same numbers from the same weights (nothing to reduce).
    """

    def __init__(self, train, test=None, k=20, every=1, batch_size=64, features=None, prefix="knn", folds=5,
                 groups=None, seed=0):
        super().__init__(train, test, every=every, batch_size=batch_size, features=features, prefix=prefix,
                         folds=folds, groups=groups, seed=seed)
        self.k = int(k)

    def probabilities(self, train_features, train_labels, test_features):
        return knn_predict(train_features, train_labels, test_features, k=self.k, num_classes=self.num_classes)
