"""The shared part of the feature probes (kNN, linear): when to run, features in inference mode, what to log."""

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


class FeatureProbe(keras.callbacks.Callback):
    """Base of `KNNProbe` and `LinearProbe`: every `every` epochs (and after the last), the frozen pooled
    features of `self.model` (`keras_cxr.models.probe_features`, inference mode, no gradients) of the `train`
    and `test` images, a classifier fitted on the first and scored on the second (`probabilities`, defined by
    the subclass); `<prefix>_auc` and `<prefix>_accuracy` go into the epoch's logs (NaN on epochs without a
    probe, so every History list keeps one entry per epoch) and `self.records` keeps (epoch, auc, accuracy).
    """

    def __init__(self, train, test, every=1, batch_size=64, features=None, prefix="probe"):
        super().__init__()
        self.train_images, self.train_labels = self._checked(train, "train")
        self.test_images, self.test_labels = self._checked(test, "test")
        if int(every) < 1:
            raise ValueError(f"{type(self).__name__}: every must be >= 1; received {every}.")
        self.every, self.batch_size, self.features, self.prefix = int(every), int(batch_size), features, prefix
        self.num_classes = int(max(self.train_labels.max(), self.test_labels.max()) + 1)
        if len(np.unique(self.train_labels)) < 2:
            raise ValueError(f"{type(self).__name__}: the probe's training images hold one class only "
                             f"({np.unique(self.train_labels).tolist()}); give it labelled images of >= 2 classes.")
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

    def evaluate(self):
        """(AUC, accuracy) of the probe on the current weights."""
        extractor = self.feature_model()
        train, test = (extractor.predict(x, batch_size=self.batch_size, verbose=0)  # numpy already
                       for x in (self.train_images, self.test_images))
        return probe_scores(self.test_labels, self.probabilities(train, self.train_labels, test))

    def on_epoch_end(self, epoch, logs=None):
        last = self.params and epoch + 1 == self.params.get("epochs")
        auc = accuracy = math.nan
        if (epoch + 1) % self.every == 0 or last:
            auc, accuracy = self.evaluate()
            self.records.append((epoch + 1, auc, accuracy))
        if logs is not None:
            logs[f"{self.prefix}_auc"], logs[f"{self.prefix}_accuracy"] = auc, accuracy
