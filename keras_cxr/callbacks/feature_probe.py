"""The shared part of the feature probes (kNN, linear): when to run, features in inference mode, how to score,
what to log."""

import math

import keras
import numpy as np


def probe_scores(labels, probabilities):
    """(AUC, accuracy) of class probabilities: binary AUC of the positive column, else macro one-vs-rest AUC
    over the classes present (NaN when fewer than two classes are present); accuracy of the arg-max."""
    from sklearn.metrics import roc_auc_score

    labels = np.asarray(labels).astype(int).ravel()
    probabilities = np.asarray(probabilities, np.float64)
    accuracy = float(np.mean(np.argmax(probabilities, axis=1) == labels))
    present = np.unique(labels)
    if len(present) < 2:
        return math.nan, accuracy
    if probabilities.shape[1] == 2:
        return float(roc_auc_score(labels, probabilities[:, 1])), accuracy
    aucs = [roc_auc_score(labels == c, probabilities[:, c]) for c in present]
    return float(np.mean(aucs)), accuracy


def probe_folds(labels, folds=5, groups=None, seed=0):
    """(fit rows, score rows) pairs of a stratified k-fold split of the probe images, grouped by patient when
    `groups` is given (scikit-learn's `StratifiedGroupKFold`, so no patient is on both sides); `folds` is
    capped by the smaller class's count (not in the papers: lightly / solo-learn probe on a held-out split;
    cross-validation is scikit-learn's standard answer when the labelled set is small).

    Example:
    >>> patients = np.array(["a", "a", "b", "b", "c", "d"])
    >>> folds = probe_folds([0, 0, 1, 1, 0, 1], folds=2, groups=patients)
    >>> [bool(set(patients[fit]) & set(patients[score])) for fit, score in folds]  # no patient on both sides
    [False, False]
    """
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    labels = np.asarray(labels).astype(int).ravel()
    folds = int(min(folds, np.bincount(labels)[np.unique(labels)].min()))
    if folds < 2:
        raise ValueError(f"probe: cross-validation needs >= 2 images of every class; class counts "
                         f"{np.bincount(labels).tolist()}.")
    if groups is None:
        return list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(labels, labels))
    return list(StratifiedGroupKFold(folds, shuffle=True, random_state=seed).split(labels, labels, groups))


class FeatureProbe(keras.callbacks.Callback):
    """Base of `KNNProbe` and `LinearProbe`: every `every` epochs (and after the last), the frozen pooled
    features of `self.model` (`keras_cxr.models.probe_features`, inference mode, no gradients) of the probe
    images, a classifier (`probabilities`, defined by the subclass) and its AUC / accuracy.

    Scoring: with `test` images, the classifier is fitted on `train` and scored on `test`; with `test=None`, it
    is cross-validated on `train` (`folds`-fold, stratified, grouped by `groups` = patient ids when given) and
    scored on the out-of-fold predictions of every image. Cross-validation is the default of the recipes: a
    quick preset has about a hundred validation images, on which the probe AUC moves ±0.05 between epochs for
    no reason; 5-fold over 512 labelled training images halves that.

    `<prefix>_auc` and `<prefix>_accuracy` go into the epoch's logs (NaN on epochs without a probe, so every
    History list keeps one entry per epoch) and `self.records` keeps (epoch, auc, accuracy). `evaluate()`
    before training gives the probe of the initial weights (the engine records it as the curve's epoch 0).
    Probes given the same image arrays share one feature pass per epoch.
    """

    _shared = {}  # (model id, epoch, image arrays' ids) -> features: KNN and linear probes of one model, one pass

    def __init__(self, train, test=None, every=1, batch_size=64, features=None, prefix="probe", folds=5,
                 groups=None, seed=0):
        super().__init__()
        self.train_images, self.train_labels = self._checked(train, "train")
        self.test_images, self.test_labels = (None, None) if test is None else self._checked(test, "test")
        if int(every) < 1:
            raise ValueError(f"{type(self).__name__}: every must be >= 1; received {every}.")
        self.every, self.batch_size, self.features, self.prefix = int(every), int(batch_size), features, prefix
        self.num_classes = int(max(self.train_labels.max(),
                                   -1 if self.test_labels is None else self.test_labels.max()) + 1)
        if len(np.unique(self.train_labels)) < 2:
            raise ValueError(f"{type(self).__name__}: the probe's training images hold one class only "
                             f"({np.unique(self.train_labels).tolist()}); give it labelled images of >= 2 classes.")
        if groups is not None and len(groups) != len(self.train_labels):
            raise ValueError(f"{type(self).__name__}: {len(groups)} groups for {len(self.train_labels)} images.")
        self.folds = None if test is not None else probe_folds(self.train_labels, folds, groups, int(seed))
        self.records = []

    @staticmethod
    def _checked(pair, name):
        images, labels = pair
        images, labels = np.asarray(images, "float32"), np.asarray(labels).astype(int).ravel()
        if images.ndim != 4 or len(images) != len(labels) or len(labels) == 0:
            raise ValueError(f"probe {name}: need (n, H, W, C) images and (n,) integer labels; received "
                             f"{images.shape} and {labels.shape}.")
        return images, labels

    def feature_model(self):
        from keras_cxr.models.probe_features import probe_features

        return (self.features or probe_features)(self.model)

    def probabilities(self, train_features, train_labels, test_features):
        raise NotImplementedError

    def _features(self, epoch=None):
        """Features of the probe images; at an epoch's end, shared with the other probes of the same arrays."""
        def compute():
            extractor = self.feature_model()
            return [None if x is None else extractor.predict(x, batch_size=self.batch_size, verbose=0)
                    for x in (self.train_images, self.test_images)]

        if epoch is None:
            return compute()
        key = (id(self.model), epoch, id(self.train_images), id(self.test_images), self.features)
        if key not in FeatureProbe._shared:
            FeatureProbe._shared.clear()  # one entry: the probes of this epoch
            FeatureProbe._shared[key] = compute()
        return FeatureProbe._shared[key]

    def evaluate(self, epoch=None):
        """(AUC, accuracy) of the probe on the current weights; probes evaluated under the same `epoch` label
        (an epoch's end, or -1 for the initial weights) share one feature pass of their image arrays."""
        train, test = self._features(epoch)
        if test is not None:
            return probe_scores(self.test_labels, self.probabilities(train, self.train_labels, test))
        found = np.zeros((len(train), self.num_classes), "float32")
        for fit_rows, score_rows in self.folds:
            found[score_rows] = self.probabilities(train[fit_rows], self.train_labels[fit_rows], train[score_rows])
        return probe_scores(self.train_labels, found)

    def on_train_begin(self, logs=None):
        FeatureProbe._shared.clear()

    on_train_end = on_train_begin

    def on_epoch_end(self, epoch, logs=None):
        last = self.params and epoch + 1 == self.params.get("epochs")
        auc = accuracy = math.nan
        if (epoch + 1) % self.every == 0 or last:
            auc, accuracy = self.evaluate(epoch)
            self.records.append((epoch + 1, auc, accuracy))
        if logs is not None:
            logs[f"{self.prefix}_auc"], logs[f"{self.prefix}_accuracy"] = auc, accuracy
