"""Dual-masked autoencoder: online and EMA-target MAEs with independent masks (paper 000, §III.A)."""

import keras
from keras import ops

from keras_cxr.models.mae.mae import MAE, masked_mse


@keras.saving.register_keras_serializable(package="keras_cxr")
class DualMAE(keras.Model):
    """Online MAE (θ, trained) and target MAE (ξ, EMA of θ), each reconstructing the image from its own mask.

    Loss (Eq. 1): λ1·MSE(y1, y2) + λ2·MSE(x, y1) + λ3·MSE(x, y2), λ = 1 (§III.A). The target is updated
    only by `keras_cxr.callbacks.EMATargetUpdate` (Eq. 2, ξ ← τξ + (1 − τ)θ, τ = 0.99), never by the
    optimizer. Our reading of the points the paper leaves open:

    - MSE(x, y1) and MSE(x, y2) are MAE's loss: pixel MSE on the patches masked for that network;
    - MSE(y1, y2), the online-target consistency, is taken over all patches (both reconstructions cover
      the full image), with y2 treated as a constant (stop-gradient), as in BYOL-style targets;
    - λ3·MSE(x, y2) therefore has no gradient with respect to θ: it is reported (`target_loss`) and adds
      to the total, but only the first two terms train the online network.

    Both networks start from the same weights (copied when the model is built); their maskings use
    different seeds, so x1 and x2 are independent.

    Example:
    >>> import numpy as np
    >>> model = DualMAE(image_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=2, mlp_dim=64,
    ...                 decoder_dim=16, decoder_depth=1, decoder_num_heads=2, seed=0)
    >>> sorted(model(np.zeros((2, 32, 32, 1), "float32")))
    ['online', 'target']

    Reference:
        Yoon & Kang, "Dual-Masked Autoencoders: Application to Multi-Labeled Pediatric Thoracic Diseases",
        IEEE Access 12 (2024), doi:10.1109/ACCESS.2024.3418985, §III.A, Eq. 1–2.
    """

    def __init__(self, lambdas=(1.0, 1.0, 1.0), seed=None, **mae_kwargs):
        name = mae_kwargs.pop("name", "dual_mae")
        dtype = mae_kwargs.pop("dtype", None)
        trainable = mae_kwargs.pop("trainable", True)
        super().__init__(name=name, dtype=dtype, trainable=trainable)
        if len(lambdas) != 3:
            raise ValueError(f"lambdas must be (λ1, λ2, λ3); received {lambdas}.")
        self.lambdas, self.seed, self.mae_kwargs = tuple(float(v) for v in lambdas), seed, dict(mae_kwargs)
        target_seed = None if seed is None else seed + 1
        self.online = MAE(seed=seed, name="online", **mae_kwargs)
        self.target = MAE(seed=target_seed, name="target", **mae_kwargs)
        self.target.trainable = False
        self.trackers = {n: keras.metrics.Mean(name=n) for n in ("consistency_loss", "online_loss", "target_loss")}

    def build(self, input_shape):
        sample = ops.zeros((1,) + tuple(input_shape[1:]))
        self.online(sample)
        self.target(sample)
        copy_online_to_target(self.online, self.target, tau=0.0)
        # Freeze again, now that all sublayers exist (Keras propagates `trainable` only when it changes).
        self.target.trainable = True
        self.target.trainable = False
        self.built = True

    def call(self, images, training=None):
        return {"online": self.online(images, training=training), "target": self.target(images, training=False)}

    @property
    def metrics(self):
        return super().metrics + list(self.trackers.values())

    def loss_terms(self, images, y_pred):
        """The three terms of Eq. 1 as float32 scalars: (consistency, online, target)."""
        target_patches = self.online.targets(images)
        y1 = ops.cast(y_pred["online"]["reconstruction"], "float32")
        y2 = ops.stop_gradient(ops.cast(y_pred["target"]["reconstruction"], "float32"))
        consistency = ops.mean(ops.square(y1 - y2))
        online = masked_mse(target_patches, y1, ops.cast(y_pred["online"]["mask"], "float32"))
        target = masked_mse(target_patches, y2, ops.cast(y_pred["target"]["mask"], "float32"))
        return consistency, online, target

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if y_pred is None:
            y_pred = self(x, training=training)
        terms = self.loss_terms(x, y_pred)
        for tracker, value in zip(self.trackers.values(), terms):
            tracker.update_state(value)
        return sum(weight * term for weight, term in zip(self.lambdas, terms))

    def get_config(self):
        return {**super().get_config(), "lambdas": list(self.lambdas), "seed": self.seed, **self.mae_kwargs}


def copy_online_to_target(online, target, tau):
    """ξ ← τ·ξ + (1 − τ)·θ for the online network's trainable variables; other state (e.g. normalization
    statistics) copied as is; random-generator states left alone so the two maskings stay independent."""
    pairs = [(o, t) for o, t in zip(online.weights, target.weights) if "seed_generator" not in o.path]
    if len(online.weights) != len(target.weights):
        raise ValueError("online and target networks have different variables; build both with one configuration.")
    for o, t in pairs:
        if o.trainable and tau > 0:
            t.assign(tau * t + (1.0 - tau) * ops.cast(o, t.dtype))
        else:
            t.assign(ops.cast(o, t.dtype))
