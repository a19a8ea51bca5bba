"""Weighted averaging of member probabilities (paper 003, §2.3.3, Eq. 1)."""

import numpy as np


def _stack_probabilities(probabilities):
    """Returns a float64 array (M, N, C) from a list of M arrays (N,) or (N, C)."""
    members = list(probabilities)
    if len(members) == 0:
        raise ValueError("Expected at least one member's probabilities, received an empty sequence.")
    arrays = []
    for i, p in enumerate(members):
        p = np.asarray(p, dtype=np.float64)
        if p.ndim == 1:  # binary: probability of the positive class
            p = np.stack([1.0 - p, p], axis=1)
        if p.ndim != 2:
            raise ValueError(f"Member {i} probabilities must have shape (N,) or (N, C); received shape {p.shape}.")
        arrays.append(p)
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"All members must predict the same (N, C); received shapes {sorted(shapes)}.")
    stacked = np.stack(arrays)
    if not np.all(np.isfinite(stacked)):
        raise ValueError("Member probabilities contain NaN or inf; check the members' outputs.")
    return stacked


def _check_weights(weights, num_members):
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != (num_members,):
        raise ValueError(f"Expected {num_members} weights, one per member; received shape {weights.shape}.")
    if np.any(weights < 0) or weights.sum() <= 0:
        raise ValueError(f"Weights must be non-negative with a positive sum; received {weights.tolist()}.")
    return weights / weights.sum()


def average(probabilities, weights=None):
    """Averages the predicted probabilities of several models.

    With ``weights=None`` this is the simple-averaging (SA) ensemble of paper 003, Eq. 1:
    ``p(x) = (1/N) Σ_i p_i(x)``. With weights (e.g. from `slsqp_weights`) it is the weighted average
    ``Σ_i w_i p_i(x)``, weights normalized to sum to 1.

    Args:
        probabilities: sequence of M arrays, each (N,) (binary, probability of the positive class)
            or (N, C) (softmax or sigmoid outputs).
        weights: optional (M,) non-negative weights.

    Returns:
        np.ndarray of shape (N, C) (binary inputs give (N, 2)).

    Raises:
        ValueError: on an empty list, mismatched shapes, non-finite values or bad weights.

    Example:
    >>> import numpy as np
    >>> average([np.array([0.2, 0.8]), np.array([0.4, 0.6])])[:, 1].round(2).tolist()
    [0.3, 0.7]

    Reference:
        Rajaraman et al., Frontiers in AI 2024, doi:10.3389/frai.2024.1419638, §2.3.3, Eq. 1.
    """
    stacked = _stack_probabilities(probabilities)
    if weights is None:
        return stacked.mean(axis=0)
    weights = _check_weights(weights, stacked.shape[0])
    return np.tensordot(weights, stacked, axes=1)
