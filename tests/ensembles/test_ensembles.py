import itertools

import keras
import numpy as np
import pytest
from sklearn.metrics import log_loss

from keras_cxr.ensembles import AttentionFuzzyHead, average, build_attention_fuzzy_ensemble, slsqp_weights
from keras_cxr.testing import assert_config_round_trip, assert_keras_round_trip


def _members(n=200, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    logits_a = 2.0 * (y - 0.5) + rng.normal(0, 1.0, n)
    logits_b = 2.0 * (y - 0.5) + rng.normal(0, 1.5, n)
    logits_c = rng.normal(0, 1.0, n)
    sig = lambda z: 1 / (1 + np.exp(-z))
    return y, [sig(logits_a), sig(logits_b), sig(logits_c)]


def test_average_equals_numpy_mean_and_weighted_sum():
    y, probs = _members()
    np.testing.assert_allclose(average(probs)[:, 1], np.mean(probs, axis=0), atol=1e-12)
    w = np.array([2.0, 1.0, 1.0])
    np.testing.assert_allclose(average(probs, w)[:, 1], (w / w.sum()) @ np.stack(probs), atol=1e-12)


@pytest.mark.parametrize("bad", [[], [np.ones(3), np.ones(4)], [np.full(3, np.nan)]])
def test_average_rejects_bad_input(bad):
    with pytest.raises(ValueError):
        average(bad)


def test_average_rejects_negative_weights():
    with pytest.raises(ValueError, match="non-negative"):
        average([np.ones(3) * 0.5, np.ones(3) * 0.5], weights=[1.0, -1.0])


def test_slsqp_matches_brute_force_simplex_search():
    y, probs = _members()
    weights = slsqp_weights(probs, y)
    assert np.all(weights >= 0) and abs(weights.sum() - 1) < 1e-9
    # Trusted reference: exhaustive grid over the simplex with sklearn's log_loss.
    grid = np.linspace(0, 1, 51)
    best = min(
        (log_loss(y, average(probs, [a, b, max(1 - a - b, 0.0)])), (a, b))
        for a, b in itertools.product(grid, grid)
        if a + b <= 1 + 1e-12
    )
    fitted = log_loss(y, average(probs, weights))
    assert fitted <= best[0] + 1e-6
    assert weights[2] < 0.1  # the uninformative member gets (almost) no weight


def test_slsqp_multiclass_one_hot_and_ids_agree():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 120)
    probs = [rng.dirichlet(np.ones(3), 120) * 0.5 + 0.5 * np.eye(3)[y] * k for k in (0.9, 0.3)]
    probs = [p / p.sum(1, keepdims=True) for p in probs]
    np.testing.assert_allclose(slsqp_weights(probs, y), slsqp_weights(probs, np.eye(3)[y]), atol=1e-6)


def test_slsqp_rejects_bad_labels():
    _, probs = _members(10)
    with pytest.raises(ValueError, match="integer class ids"):
        slsqp_weights(probs, np.full(10, 3))


def _member(n, size=16):
    x = keras.Input((size, size, 1))
    h = keras.layers.Conv2D(4, 3, activation="relu", name=f"conv_{n}")(x)
    h = keras.layers.GlobalAveragePooling2D(name=f"gap_{n}")(h)
    return keras.Model(x, keras.layers.Dense(2, activation="softmax")(h), name=f"member_{n}")


def test_head_output_and_fuzziness_semantics():
    head = AttentionFuzzyHead(num_classes=3, fuzziness=1.0)
    x = np.random.default_rng(0).normal(size=(5, 6)).astype("float32")
    p1 = keras.ops.convert_to_numpy(head(x))
    np.testing.assert_allclose(p1.sum(-1), 1.0, atol=1e-5)
    # Reference computed by hand from the head's own weights: softmax(phi * W_c (F * softmax(W_a x) * x)).
    wa, ba = [keras.ops.convert_to_numpy(v) for v in head.attention.weights]
    wc, bc = [keras.ops.convert_to_numpy(v) for v in head.classifier.weights]
    a = np.exp(x @ wa + ba); a /= a.sum(-1, keepdims=True)
    z = (6 * a * x) @ wc + bc
    for phi in (1.0, 3.0):
        head.fuzziness_weight.assign(phi)
        e = np.exp(phi * z - (phi * z).max(-1, keepdims=True))
        np.testing.assert_allclose(keras.ops.convert_to_numpy(head(x)), e / e.sum(-1, keepdims=True), atol=1e-5)
    assert len(head.trainable_weights) == 5
    assert_config_round_trip(AttentionFuzzyHead(num_classes=3, fuzziness=0.5))


def test_attention_fuzzy_ensemble_trains_only_head_and_round_trips():
    members = [_member(1), _member(2)]
    frozen_before = [keras.ops.convert_to_numpy(w).copy() for m in members for w in m.weights]
    ensemble = build_attention_fuzzy_ensemble(members)
    head = ensemble.get_layer("attention_fuzzy_head")
    assert {w.path for w in ensemble.trainable_weights} == {w.path for w in head.trainable_weights}
    rng = np.random.default_rng(0)
    x = rng.random((8, 16, 16, 1)).astype("float32")
    y = np.eye(2)[rng.integers(0, 2, 8)]
    ensemble.compile(optimizer=keras.optimizers.SGD(0.1), loss="categorical_crossentropy")
    head_before = [keras.ops.convert_to_numpy(w).copy() for w in head.trainable_weights]
    ensemble.train_on_batch(x, y)
    head_after = [keras.ops.convert_to_numpy(w) for w in head.trainable_weights]
    assert all(not np.array_equal(a, b) for a, b in zip(head_after, head_before))
    frozen_after = [keras.ops.convert_to_numpy(w) for m in members for w in m.weights]
    assert all(np.array_equal(a, b) for a, b in zip(frozen_after, frozen_before))
    assert_keras_round_trip(ensemble, x)


def test_ensemble_rejects_member_without_gap():
    x = keras.Input((16, 16, 1))
    flat = keras.Model(x, keras.layers.Dense(2)(keras.layers.Flatten()(x)), name="flat")
    with pytest.raises(ValueError, match="GlobalAveragePooling2D"):
        build_attention_fuzzy_ensemble([flat])
