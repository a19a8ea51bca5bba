"""EMA update of a target network from an online network (paper 000, §III.A, Eq. 2; BYOL's target)."""

import keras
from keras import ops


def _paired_variables(online, target):
    """(online, target) variable pairs in creation order, random-generator states left out."""
    online_vars = [v for v in online.weights if "seed_generator" not in v.path]
    target_vars = [v for v in target.weights if "seed_generator" not in v.path]
    if len(online_vars) != len(target_vars) or any(tuple(o.shape) != tuple(t.shape)
                                                   for o, t in zip(online_vars, target_vars)):
        raise ValueError("The online and target networks have different variables; build both from one "
                         "configuration (and build both before the update).")
    return list(zip(online_vars, target_vars))


def ema_update(online, target, tau):
    """ξ ← τ·ξ + (1 − τ)·θ for every variable that is trainable in `online`; every other variable
    (normalization statistics, fixed tables) copied from `online`; random-generator states left alone, so
    the two networks keep independent random streams (e.g. independent masks). τ = 0 copies everything.

    Example:
    >>> import numpy as np
    >>> a, b = keras.layers.Dense(1), keras.layers.Dense(1)
    >>> a.build((None, 1)); b.build((None, 1))
    >>> a.set_weights([np.ones((1, 1)), np.ones(1)]); b.set_weights([np.zeros((1, 1)), np.zeros(1)])
    >>> ema_update(a, b, tau=0.75)
    >>> [float(np.ravel(keras.ops.convert_to_numpy(w))[0]) for w in b.weights]
    [0.25, 0.25]
    """
    tau = float(tau)
    for o, t in _paired_variables(online, target):
        value = ops.cast(o, t.dtype)
        if o.trainable and tau > 0:
            value = t * tau + value * (1.0 - tau)
        t.assign(value)


def _fast_update(online, target, tau):
    """`ema_update(online, target, tau)` as a function of no arguments, in the backend's fast form where
    there is one (PyTorch: one multi-tensor lerp; TensorFlow: one graph); the same arithmetic."""
    backend = keras.backend.backend()
    if backend == "torch":
        from keras_cxr.callbacks import _ema_torch

        pairs = _paired_variables(online, target)
        if _ema_torch.supported(pairs):
            return lambda: _ema_torch.update(pairs, float(tau))
    if backend == "tensorflow":
        from keras_cxr.callbacks import _ema_tensorflow

        return _ema_tensorflow.compile_update(lambda: ema_update(online, target, tau))
    return lambda: ema_update(online, target, tau)


@keras.saving.register_keras_serializable(package="keras_cxr")
class EMATargetUpdate(keras.callbacks.Callback):
    """After every training batch: ξ ← τ·ξ + (1 − τ)·θ (Eq. 2 of paper 000, τ = 0.99), where θ are the
    trainable variables of `model.<online>` and ξ those of `model.<target>`; non-trainable variables
    (normalization statistics etc.) are copied, random-generator states are not (see `ema_update`).

    Relation to Keras' optimizer EMA (`keras.optimizers.AdamW(use_ema=True, ema_momentum=…)`): that
    keeps a moving average of the *same* model's trainable weights inside the optimizer and swaps it into
    the model only for evaluation / at the end (`finalize_variable_values`), or every
    `ema_overwrite_frequency` steps. It cannot keep a second network whose averaged weights are *used in
    the loss at every step* — the dual-MAE's target, which reconstructs y2 from its own mask — and it
    never touches non-trainable variables. On PyTorch the update is one multi-tensor lerp and on
    TensorFlow one traced graph (3x faster than `ema_update` variable by variable; same arithmetic).
    The update runs in `on_train_batch_end`, i.e. once per
    `steps_per_execution` group of steps; leave that at 1 for Eq. 2 per step. It runs on every backend
    and under `tf.distribute` strategies (assignments in cross-replica context).

    Args:
        tau: target decay rate τ in [0, 1] (1 freezes the target, 0 copies the online network).
        online: attribute of the model holding the online network θ (trained by the optimizer).
        target: attribute holding the target network ξ (must not be trained by the optimizer).

    Example:
    >>> callback = EMATargetUpdate(tau=0.99)
    >>> callback.tau
    0.99
    """

    def __init__(self, tau=0.99, online="online", target="target"):
        super().__init__()
        if not 0 <= float(tau) <= 1:
            raise ValueError(f"tau must be in [0, 1]; received {tau}.")
        self.tau, self.online, self.target = float(tau), online, target

    def on_train_begin(self, logs=None):
        for name in (self.online, self.target):
            if not hasattr(self.model, name):
                raise AttributeError(f"EMATargetUpdate: the model has no attribute {name!r} (expected the online "
                                     "and target networks, e.g. keras_cxr.models.DualMAE).")
        trained = {id(v) for v in self.model.trainable_variables}
        if any(id(v) in trained for v in getattr(self.model, self.target).weights):
            raise ValueError(f"The target network {self.target!r} has variables the optimizer trains; set "
                             f"`model.{self.target}.trainable = False` (Eq. 2 updates it only by EMA).")

        self._update = _fast_update(getattr(self.model, self.online), getattr(self.model, self.target), self.tau)

    def on_train_batch_end(self, batch, logs=None):
        self._update()

    def get_config(self):
        return {"tau": self.tau, "online": self.online, "target": self.target}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
