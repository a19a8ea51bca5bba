"""Linear feature probe: a logistic regression on an encoder's frozen, standardized features, every N epochs."""

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from keras_cxr.callbacks.feature_probe import FeatureProbe


class LinearProbe(FeatureProbe):
    """Every `every` epochs: a multinomial logistic regression (scikit-learn, L2, `C`) fitted on the frozen pooled
    features of `train` (`keras_cxr.models.probe_features`; cross-validated on `train` when `test` is None, see
    `FeatureProbe`), standardized without learned scale or shift (as mae's
    `main_linprobe.py` puts a BatchNorm without affine parameters before its linear head), scored on `test`;
    logs `linear_auc` and `linear_accuracy`.

    The encoder gets no gradient: the probe is refitted from scratch on each call instead of trained online
    beside the encoder as solo-learn does, which costs a few hundred milliseconds on a few thousand rows and
    needs no change to the pretraining model's `train_step`.

    Args:
        train, test: (images, integer labels) numpy pairs, images (n, H, W, C) in the model's input range.
        C: inverse L2 strength (scikit-learn's default 1.0).
        every, batch_size, features, prefix, folds, groups, seed: as `KNNProbe`.
    """

    def __init__(self, train, test=None, C=1.0, every=1, batch_size=64, features=None, prefix="linear", folds=5,
                 groups=None, seed=0):
        super().__init__(train, test, every=every, batch_size=batch_size, features=features, prefix=prefix,
                         folds=folds, groups=groups, seed=seed)
        self.C = float(C)

    def probabilities(self, train_features, train_labels, test_features):
        probe = make_pipeline(StandardScaler(), LogisticRegression(C=self.C, max_iter=2000))
        probe.fit(train_features, train_labels)
        found = probe.predict_proba(test_features)
        full = np.zeros((len(test_features), self.num_classes), "float32")
        full[:, probe.classes_] = found
        return full
