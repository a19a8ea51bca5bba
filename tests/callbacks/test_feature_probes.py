"""kNN and linear feature probes: parity with scikit-learn, chance on random features, near 1 on separable ones,
encoder weights untouched, and the probe AUC logged into the History of a real fit."""

import math

import keras
import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

from keras_cxr.callbacks import KNNProbe, LinearProbe, knn_predict, probe_scores
from keras_cxr.models import create_model, probe_features


def _features(n, d, separation, rng, num_classes=2):
    """Gaussian classes around fresh random centres (for the parity test, where only equality matters)."""
    labels = rng.integers(0, num_classes, n)
    centres = rng.normal(size=(num_classes, d)) * separation
    return centres[labels] + rng.normal(size=(n, d)), labels


@pytest.mark.parametrize("k, num_classes", [(20, 2), (5, 3), (1, 2)])
def test_knn_equals_scikit_learn_cosine_distance_weighted(k, num_classes):
    rng = np.random.default_rng(k)
    train, labels = _features(200, 16, 0.7, rng, num_classes)
    query, _ = _features(80, 16, 0.7, rng, num_classes)
    reference = KNeighborsClassifier(n_neighbors=k, metric="cosine", weights="distance", algorithm="brute")
    expected = reference.fit(train, labels).predict_proba(query)
    np.testing.assert_allclose(knn_predict(train, labels, query, k=k), expected, atol=1e-5)


def test_probes_sit_at_chance_on_random_features_and_near_one_on_separable_ones():
    rng = np.random.default_rng(0)
    for separation, low, high in ((0.0, 0.35, 0.65), (3.0, 0.97, 1.0)):
        centres = rng.normal(size=(2, 32)) * separation  # the same class centres for the bank and the queries
        train_y, test_y = rng.integers(0, 2, 400), rng.integers(0, 2, 400)
        train = centres[train_y] + rng.normal(size=(400, 32))
        test = centres[test_y] + rng.normal(size=(400, 32))
        knn_auc, _ = probe_scores(test_y, knn_predict(train, train_y, test))
        probe = LinearProbe((np.zeros((2, 1, 1, 1)), [0, 1]), (np.zeros((2, 1, 1, 1)), [0, 1]))
        linear_auc, _ = probe_scores(test_y, probe.probabilities(train, train_y, test))
        assert low <= knn_auc <= high and low <= linear_auc <= high, (separation, knn_auc, linear_auc)


def _squares(n, size, rng):
    """Bright square (class 1) or none (class 0) on noise: a task any encoder's features separate."""
    images = rng.uniform(0.0, 0.3, (n, size, size, 1)).astype("float32")
    labels = rng.integers(0, 2, n)
    for image, label in zip(images, labels):
        if label:
            top, left = rng.integers(0, size // 2, 2)
            image[top:top + size // 2, left:left + size // 2] += 0.6
    return images, labels


@pytest.mark.parametrize("name, kwargs", [
    ("mae_vit_small", {"patch_size": 8, "embed_dim": 32, "depth": 1, "num_heads": 2, "mlp_dim": 64,
                       "decoder_dim": 16, "decoder_depth": 1, "decoder_num_heads": 2}),
    # 43 s on TensorFlow (CI budget): PyTorch runs it; TF probes the MAE encoder here and vgg16's in its notebook
    pytest.param("vgg16_sharp_unet", {"width_multiplier": 0.0625}, marks=pytest.mark.slow_on_tensorflow),
])
def test_probes_log_into_history_and_leave_the_encoder_alone(name, kwargs):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    images, labels = _squares(96, 32, rng)
    model = create_model(name, input_shape=(32, 32, 1), **kwargs)
    model(images[:2])
    probes = [KNNProbe((images[:64], labels[:64]), (images[64:], labels[64:]), every=2),
              LinearProbe((images[:64], labels[:64]), (images[64:], labels[64:]), every=2)]
    before = [keras.ops.convert_to_numpy(w).copy() for w in model.weights]
    for probe in probes:  # a probe alone changes nothing
        probe.set_model(model)
        auc, accuracy = probe.evaluate()
        assert 0.0 <= auc <= 1.0 and 0.0 <= accuracy <= 1.0
    for b, w in zip(before, model.weights):
        np.testing.assert_array_equal(b, keras.ops.convert_to_numpy(w))
    assert tuple(probe_features(model).output.shape)[0] is None

    model.compile(optimizer=keras.optimizers.Adam(1e-3), **({} if name.startswith("mae") else {"loss": "mae"}))
    target = None if name.startswith("mae") else images
    history = model.fit(images, target, epochs=3, batch_size=32, verbose=0, callbacks=probes).history
    for prefix in ("knn", "linear"):
        values = history[f"{prefix}_auc"]
        assert len(values) == 3 and math.isnan(values[0]) and not math.isnan(values[1]) and not math.isnan(values[2])
    assert [epoch for epoch, *_ in probes[0].records] == [2, 3]
    assert max(probes[1].records[-1][1], probes[0].records[-1][1]) > 0.7, probes[0].records + probes[1].records


@pytest.mark.parametrize("name, kwargs", [
    ("mae_vit_small", {"patch_size": 8, "embed_dim": 32, "depth": 1, "num_heads": 2, "mlp_dim": 64,
                       "decoder_dim": 16, "decoder_depth": 1, "decoder_num_heads": 2}),
    ("vgg16_sharp_unet", {"width_multiplier": 0.0625}),
])
def test_linear_probing_trains_the_head_only(name, kwargs):
    """mae's linear probing: after fitting, every encoder weight is unchanged, the head moved, and the
    normalization has no scale or shift."""
    from keras_cxr.models import linear_probe

    keras.utils.set_random_seed(0)
    images, labels = _squares(64, 32, np.random.default_rng(1))
    pretrained = create_model(name, input_shape=(32, 32, 1), **kwargs)
    pretrained(images[:2])
    probe = linear_probe(probe_features(pretrained), 2)
    features = probe.layers[1]
    before = [keras.ops.convert_to_numpy(w).copy() for w in features.weights]
    head = keras.ops.convert_to_numpy(probe.get_layer("predictions").kernel).copy()
    assert [w.name for w in probe.get_layer("probe_norm").trainable_weights] == []
    probe.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss="sparse_categorical_crossentropy")
    history = probe.fit(images, labels, epochs=5, batch_size=16, verbose=0).history["loss"]
    for b, w in zip(before, features.weights):
        np.testing.assert_array_equal(b, keras.ops.convert_to_numpy(w))
    assert not np.allclose(head, keras.ops.convert_to_numpy(probe.get_layer("predictions").kernel))
    assert history[-1] < history[0]


def test_cross_validated_probes_equal_scikit_learn_out_of_fold_predictions():
    """test=None: the probe's AUC is that of scikit-learn's out-of-fold predictions on the same folds (a
    standardized logistic regression; a cosine, distance-weighted kNN)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(5)
    labels = rng.integers(0, 2, 120)
    images = (rng.normal(size=(120, 4, 4, 1)) + 0.4 * labels[:, None, None, None] * rng.normal(size=(1, 4, 4, 1)))
    images = images.astype("float32")
    flat = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten()])
    folds = StratifiedKFold(5, shuffle=True, random_state=3)
    features = images.reshape(120, -1)
    linear = cross_val_predict(make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)), features, labels,
                               cv=folds, method="predict_proba")[:, 1]
    knn = cross_val_predict(KNeighborsClassifier(20, metric="cosine", weights="distance", algorithm="brute"),
                            features, labels, cv=folds, method="predict_proba")[:, 1]
    same = dict(seed=3, features=lambda model: model)  # the flattened images are the features
    for probe, reference in ((LinearProbe((images, labels), **same), linear), (KNNProbe((images, labels), **same), knn)):
        probe.set_model(flat)
        auc, _ = probe.evaluate()
        assert auc == pytest.approx(roc_auc_score(labels, reference), abs=1e-6), type(probe).__name__


def test_probe_features_of_a_unet_pool_every_encoder_stage():
    """A CNN encoder's probe features: the global average of the last map of each resolution up to the
    bottleneck (block1_conv2 ... block5_conv3 of the Sharp U-Net), concatenated shallow to deep."""
    from keras_cxr.models import vgg16_sharp_unet

    keras.utils.set_random_seed(1)
    model = vgg16_sharp_unet((32, 32, 1), width_multiplier=0.0625)
    images = np.random.default_rng(2).random((3, 32, 32, 1)).astype("float32")
    names = ["block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3"]
    maps = keras.Model(model.inputs, [model.get_layer(n).output for n in names]).predict(images, verbose=0)
    expected = np.concatenate([np.asarray(m).mean(axis=(1, 2)) for m in maps], axis=1)
    np.testing.assert_allclose(probe_features(model).predict(images, verbose=0), expected, rtol=1e-5, atol=1e-6)
