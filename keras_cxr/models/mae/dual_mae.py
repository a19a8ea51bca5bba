"""Dual-masked autoencoder: online and EMA-target MAEs with independent masks (paper 000, §III.A)."""

import keras
from keras import ops

from keras_cxr.callbacks.ema import ema_update
from keras_cxr.models.mae.mae import MAE, _mae_preset, masked_mse


@keras.saving.register_keras_serializable(package="keras_cxr")
class DualMAE(keras.Model):
    """Online MAE (weights θ, trained by the optimizer) and target MAE (ξ, an EMA of θ), each encoding its
    own random subset of the patches of the same image and reconstructing the full image.

    Loss (Eq. 1): L = λ1·L1 + λ2·L2 + λ3·L3, λ = (1, 1, 1), with L1 = MSE(y1, y2), L2 = MSE(x, y1),
    L3 = MSE(x, y2), where y1, y2 are the online and target reconstructions from the visible tokens x1,
    x2 of two independent masks. The target is updated only by `keras_cxr.callbacks.EMATargetUpdate`
    (Eq. 2: ξ ← τξ + (1 − τ)θ, τ = 0.99), never by the optimizer: `model.target.trainable` is False.
    `compute_loss` is overridden (Keras' `train_step` is kept); L1, L2, L3 are logged as the metrics
    `consistency_loss`, `online_loss`, `target_loss`, and `loss` is Eq. 1's total.

    How we read what the paper leaves open:

    - L2 and L3 are "in alignment with the vanilla MAE approach": the pixel MSE averaged over the patches
      masked for that network (its own mask), as MAE's loss, with the same `norm_pix_loss` option
      (off by default);
    - L1 compares the two full reconstructed images ("reconstructed images ... in pixel space"), so it
      averages over all patches (neither reconstruction is pasted with visible pixels);
    - gradients: ξ is not trained by the optimizer, so nothing flows into the target network; y2 is
      wrapped in `stop_gradient` (a BYOL-style constant target), and L1 trains θ towards y2. L3 depends
      on ξ only, so it contributes no gradient at all: it is included in the reported total and logged
      (it tracks how well the EMA target reconstructs), but training is driven by λ1·L1 + λ2·L2. The
      paper's remark that "the target network actively contributes to training the online network by
      providing reconstructed images, y2" agrees with this reading.

    Both networks start from identical weights (copied when the model is built, as BYOL / Eq. 2 imply);
    their masking layers are seeded differently (`seed` and `seed + 1`), so the masks are independent.
    The pretrained encoder is `model.online.encoder` (a `keras_cxr.models.vit` backbone);
    `create_model("vit_small", weights=dual_mae)` and `build_classifier` take it.

    Args:
        lambdas: (λ1, λ2, λ3).
        seed: masking seed of the online network (the target uses seed + 1); None → random.
        **mae_kwargs: `keras_cxr.models.MAE` arguments shared by both networks (image_size, patch_size,
            embed_dim, depth, ..., mask_ratio, norm_pix_loss).

    Example:
    >>> import numpy as np
    >>> model = DualMAE(image_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=2, mlp_dim=64,
    ...                 decoder_dim=16, decoder_depth=1, decoder_num_heads=2, seed=0)
    >>> sorted(model(np.zeros((2, 32, 32, 1), "float32")))
    ['online', 'target']
    >>> model.target.trainable, len(model.target.trainable_weights)
    (False, 0)

    Reference:
        Yoon & Kang, "Dual-Masked Autoencoders: Application to Multi-Labeled Pediatric Thoracic Diseases",
        IEEE Access 12 (2024), doi:10.1109/ACCESS.2024.3418985, §III.A, Eq. 1–2; Grill et al., "Bootstrap
        Your Own Latent", NeurIPS 2020 (the EMA target).
    """

    def __init__(self, lambdas=(1.0, 1.0, 1.0), seed=None, **mae_kwargs):
        name = mae_kwargs.pop("name", "dual_mae")
        dtype = mae_kwargs.pop("dtype", None)
        trainable = mae_kwargs.pop("trainable", True)
        super().__init__(name=name, dtype=dtype, trainable=trainable)
        if len(lambdas) != 3:
            raise ValueError(f"lambdas must be (λ1, λ2, λ3); received {lambdas}.")
        self.lambdas, self.seed, self.mae_kwargs = tuple(float(v) for v in lambdas), seed, dict(mae_kwargs)
        # L1 compares whole images, so the online network decodes the visible patches in training too.
        self.online = MAE(seed=seed, name="online", decode_visible=True, **mae_kwargs)
        self.target = MAE(seed=None if seed is None else seed + 1, name="target", **mae_kwargs)
        self.target.trainable = False
        self.trackers = {n: keras.metrics.Mean(name=n) for n in ("consistency_loss", "online_loss", "target_loss")}

    def build(self, input_shape):
        sample = ops.zeros((1,) + tuple(input_shape[1:]))
        self.online(sample)
        self.target(sample)
        ema_update(self.online, self.target, tau=0.0)  # ξ_0 = θ_0
        # Freeze again now that all sublayers exist: Keras propagates `trainable` only when it changes.
        self.target.trainable = True
        self.target.trainable = False
        self.built = True

    def call(self, images, training=None, noise=None):
        """{"online": MAE output, "target": MAE output}; `noise` = (online noise, target noise) fixes masks."""
        noise_online, noise_target = (None, None) if noise is None else noise
        return {"online": self.online(images, training=training, noise=noise_online),
                "target": self.target(images, training=False, noise=noise_target)}

    @property
    def metrics(self):
        return super().metrics + list(self.trackers.values())

    def loss_terms(self, images, y_pred):
        """(L1 consistency, L2 online, L3 target) of Eq. 1 as float32 scalars."""
        target_patches = self.online.targets(images)
        y1 = ops.cast(y_pred["online"]["reconstruction"], "float32")
        y2 = ops.stop_gradient(ops.cast(y_pred["target"]["reconstruction"], "float32"))
        consistency = ops.mean(ops.square(y1 - y2))
        online = masked_mse(target_patches, y1, ops.cast(y_pred["online"]["mask"], "float32"))
        target = masked_mse(target_patches, y2, ops.cast(y_pred["target"]["mask"], "float32"))
        return consistency, online, target

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Eq. 1's total; `y` and `sample_weight` are ignored (the target is the input)."""
        if y_pred is None:
            y_pred = self(x, training=training)
        terms = self.loss_terms(x, y_pred)
        for tracker, value in zip(self.trackers.values(), terms):
            tracker.update_state(value)
        return sum(weight * term for weight, term in zip(self.lambdas, terms))

    def build_classifier(self, num_classes=0, head_activation=None, drop_path_rate=0.0, pooling="token",
                         head_initializer=None):
        """A new ViT initialized from the online encoder (paper 000 §III.B fine-tunes the online one)."""
        return self.online.build_classifier(num_classes, head_activation, drop_path_rate, pooling, head_initializer)

    def get_config(self):
        return {**super().get_config(), "lambdas": list(self.lambdas), "seed": self.seed, **self.mae_kwargs}


dual_mae_vit_small = _mae_preset("small", DualMAE, "dual_mae")


def copy_online_to_target(online, target, tau):
    """Alias of `keras_cxr.callbacks.ema.ema_update` (ξ ← τξ + (1 − τ)θ; non-trainable state copied)."""
    ema_update(online, target, tau)
