"""SLSQP-optimized ensemble weights (paper 003, §2.3.3, Eq. 2)."""

import numpy as np
import scipy.optimize

from keras_cxr.ensembles.averaging import _stack_probabilities


def _one_hot_truth(y_true, num_classes, num_samples):
    y = np.asarray(y_true)
    if y.ndim == 2 and y.shape == (num_samples, num_classes):
        return y.astype(np.float64)
    y = y.reshape(-1)
    if y.shape[0] != num_samples:
        raise ValueError(f"y_true has {y.shape[0]} samples but the probabilities have {num_samples}.")
    if not np.all((y >= 0) & (y < num_classes) & (y == np.round(y))):
        raise ValueError(f"y_true must hold integer class ids in [0, {num_classes}); received values {np.unique(y)[:10]}.")
    return np.eye(num_classes)[y.astype(int)]


def slsqp_weights(probabilities, y_true, *, eps=1e-7, max_iter=200):
    """Fits non-negative ensemble weights summing to 1 that minimize the log loss.

    Solves ``min_w  -1/N Σ_n Σ_c y_nc log(Σ_i w_i p_inc)`` subject to ``w_i ≥ 0`` and ``Σ_i w_i = 1``
    with Sequential Least-Squares Programming (``scipy.optimize.minimize(method="SLSQP")``), starting
    from uniform weights. Paper 003's Eq. 2 is garbled in our text; this is the standard form of the
    SLSQP-weighted averaging it cites (Marques et al., 2021): weights that minimize the logarithmic loss of
    the weighted average. Fit the weights on the validation split, never on the test split.

    Args:
        probabilities: sequence of M arrays (N,) or (N, C), as for `average`.
        y_true: (N,) integer class ids or (N, C) one-hot / multi-hot truth.
        eps: probabilities are clipped to [eps, 1 - eps] inside the log.
        max_iter: SLSQP iteration limit.

    Returns:
        np.ndarray (M,) of non-negative weights summing to 1.

    Raises:
        ValueError: on mismatched inputs.
        RuntimeError: when SLSQP does not converge (the message says why).

    Example:
    >>> import numpy as np
    >>> y = np.array([0, 1, 1, 0])
    >>> good, noise = np.array([0.1, 0.9, 0.8, 0.2]), np.array([0.5, 0.5, 0.5, 0.5])
    >>> slsqp_weights([good, noise], y).round(2).tolist()
    [1.0, 0.0]

    Reference:
        Rajaraman et al., Frontiers in AI 2024, doi:10.3389/frai.2024.1419638, §2.3.3, Eq. 2;
        Kraft, "A software package for sequential quadratic programming", 1988 (SLSQP).
    """
    stacked = _stack_probabilities(probabilities)
    num_members, num_samples, num_classes = stacked.shape
    truth = _one_hot_truth(y_true, num_classes, num_samples)

    def log_loss(weights):
        mixed = np.clip(np.tensordot(weights, stacked, axes=1), eps, 1.0 - eps)
        return -np.mean(np.sum(truth * np.log(mixed), axis=1))

    def gradient(weights):
        mixed = np.clip(np.tensordot(weights, stacked, axes=1), eps, 1.0 - eps)
        return -np.mean(np.sum(truth[None] * stacked / mixed[None], axis=2), axis=1)

    result = scipy.optimize.minimize(
        log_loss,
        x0=np.full(num_members, 1.0 / num_members),
        jac=gradient,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * num_members,
        constraints=[{"type": "eq", "fun": lambda w: np.sum(w) - 1.0, "jac": lambda w: np.ones_like(w)}],
        options={"maxiter": max_iter, "ftol": 1e-10},
    )
    if not result.success:
        raise RuntimeError(f"SLSQP did not converge: {result.message}")
    weights = np.clip(result.x, 0.0, None)
    return weights / weights.sum()
