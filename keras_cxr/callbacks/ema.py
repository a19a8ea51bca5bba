"""EMA update of a target network from an online network (paper 000, §III.A, Eq. 2)."""

import keras

from keras_cxr.models.mae.dual_mae import copy_online_to_target


@keras.saving.register_keras_serializable(package="keras_cxr")
class EMATargetUpdate(keras.callbacks.Callback):
    """After every training batch: ξ ← τ·ξ + (1 − τ)·θ (Eq. 2, τ = 0.99), non-trainable state copied.

    Keras' optimizer EMA (`use_ema=True`) keeps an average of a model's own weights and swaps it in for
    evaluation; it cannot drive a separate target network that the loss reads at every step, nor copy
    non-trainable variables, so the dual-MAE needs this callback.

    Args:
        tau: target decay rate in [0, 1].
        online: attribute name of the online network on the model.
        target: attribute name of the target network.

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

    def on_train_batch_end(self, batch, logs=None):
        copy_online_to_target(getattr(self.model, self.online), getattr(self.model, self.target), self.tau)

    def get_config(self):
        return {"tau": self.tau, "online": self.online, "target": self.target}
