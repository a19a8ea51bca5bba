"""Masked autoencoder with a ViT encoder (He et al. 2022), for chest X-rays."""

import keras
from keras import ops

from keras_cxr.layers.mae_decoder import MAEDecoder
from keras_cxr.layers.patch_embedding import patchify, unpatchify
from keras_cxr.layers.random_patch_masking import RandomPatchMasking
from keras_cxr.models.contract import validate_head, validate_input_shape
from keras_cxr.models.registry import register_model
from keras_cxr.models.vit.vit import PRESETS, vit
from keras_cxr.models.weights import load_weights


def masked_mse(target, prediction, mask):
    """Mean squared error per patch, averaged over the masked patches only (MAE's loss).

    Args:
        target, prediction: (B, N, P) patches. mask: (B, N), 1 = masked.
    """
    per_patch = ops.mean(ops.square(prediction - target), axis=-1)
    return ops.sum(per_patch * mask) / ops.maximum(ops.sum(mask), 1.0)


@keras.saving.register_keras_serializable(package="keras_cxr")
class MAE(keras.Model):
    """Masked autoencoder: a ViT encoder on the visible patches, a small decoder reconstructing all patches.

    MAE's `MaskedAutoencoderViT` (He et al. 2022). `model.encoder` IS a `keras_cxr.models.vit` backbone
    (a functional model, no head): the MAE calls its layers in order — patch embedding + fixed sin-cos
    positions, then per-sample random masking (`mask_ratio`, the MAE's own layer), then class token,
    pre-norm blocks and norm — so what pretraining trains is the ViT a classifier or UNETR takes
    (`create_model("vit_small", weights=mae)` copies it; `feature_extractor(mae.encoder, ...)` taps its
    blocks). Then the decoder (`MAEDecoder`: learned
    mask token, its own fixed positions, `decoder_depth` blocks, a per-patch pixel prediction). The loss
    (`compute_loss`, overridden; `train_step` is Keras') is the pixel MSE averaged over the masked patches
    only, computed in float32 (so mixed precision is safe). `norm_pix_loss` (per-patch normalized
    targets, MAE's ImageNet default) is off by default: medical images reconstruct poorly with it
    (facebookresearch/mae issue 190).
    In training passes the decoder predicts only the masked patches (its last block and the prediction
    head skip the visible tokens; the loss is unchanged; float32 training of a ViT-S MAE with a 2-block
    decoder at batch 32 on a 2-core CPU: 12.7 against 12.0 images/s on PyTorch, 12.1 against 11.0 on
    TensorFlow with XLA); `decode_visible=True`
    decodes every patch in training too (DualMAE's online network, whose consistency term needs them).

    Defaults: ViT-S/16 encoder (384 wide, 12 blocks, 6 heads, MLP 1536), decoder 512 wide, 8 blocks,
    16 heads (MAE's), mask ratio 0.75, 224 × 224 × 1 input; Xavier-uniform Dense layers.

    Call returns {"reconstruction": (B, N, p²·C) patches, "mask": (B, N), 1 = masked}; `reconstruct(x)`
    gives (reconstruction, masked input) images for figures. For fine-tuning: `encoder` (the ViT itself,
    sharing these weights) or `build_classifier(num_classes, ...)` (a new ViT initialized from it).

    Example:
    >>> import numpy as np
    >>> mae = MAE(image_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=2, mlp_dim=64, decoder_dim=16,
    ...           decoder_depth=1, decoder_num_heads=2, seed=0)
    >>> out = mae(np.zeros((2, 32, 32, 1), "float32"))
    >>> tuple(out["reconstruction"].shape), tuple(out["mask"].shape)
    ((2, 16, 64), (2, 16))
    >>> mae.encoder.output_shape
    (None, 32)

    Reference:
        He, Chen, Xie, Li, Dollár & Girshick, "Masked Autoencoders Are Scalable Vision Learners", CVPR 2022.
    """

    def __init__(self, image_size=224, patch_size=16, channels=1, embed_dim=384, depth=12, num_heads=6,
                 mlp_dim=1536, decoder_dim=512, decoder_depth=8, decoder_num_heads=16, mask_ratio=0.75,
                 norm_pix_loss=False, seed=None, decode_visible=False, **kwargs):
        super().__init__(**kwargs)
        if image_size % patch_size:
            raise ValueError(f"image_size={image_size} must be divisible by patch_size={patch_size}.")
        self.image_size, self.patch_size, self.channels = int(image_size), int(patch_size), int(channels)
        self.embed_dim, self.depth, self.num_heads, self.mlp_dim = int(embed_dim), int(depth), int(num_heads), int(mlp_dim)
        self.decoder_dim, self.decoder_depth, self.decoder_num_heads = int(decoder_dim), int(decoder_depth), int(decoder_num_heads)
        self.mask_ratio, self.norm_pix_loss, self.seed = float(mask_ratio), bool(norm_pix_loss), seed
        self.decode_visible = bool(decode_visible)
        self.encoder = vit((self.image_size, self.image_size, self.channels), name="encoder",
                           patch_size=self.patch_size, embed_dim=self.embed_dim, depth=self.depth,
                           num_heads=self.num_heads, mlp_dim=self.mlp_dim)
        self.masking = RandomPatchMasking(self.mask_ratio, seed=seed, name="masking")
        self.decoder = MAEDecoder(self.patch_size**2 * self.channels, self.decoder_dim, self.decoder_depth,
                                  self.decoder_num_heads, name="decoder")
        self.num_patches = (self.image_size // self.patch_size) ** 2

    def encode(self, images, training=None, noise=None):
        """Visible-patch latents (B, 1 + K, D), the mask (B, N) and the restore indices (B, N).

        MAE's forward_encoder: the encoder's patch embedding + positions, random masking, then the
        encoder's class token, blocks and norm.
        """
        layer = self.encoder.get_layer
        tokens = layer("position")(layer("patch_embed")(images))
        visible, mask, restore = self.masking(tokens, noise=noise)
        x = layer("cls_token")(visible)
        for i in range(self.depth):
            x = layer(f"block_{i}")(x, training=training)
        return layer("norm")(x), mask, restore

    def call(self, images, training=None, noise=None):
        """{"reconstruction": (B, N, p²·C) predicted patches, "mask": (B, N), 1 = masked}.

        `noise` (B, N) fixes the masks (the lowest K scores are kept); None draws them from the seed.
        With `training=True` and `decode_visible=False` only the masked patches are predicted (the rows of
        visible patches are zeros): the loss needs no more, and the decoder's last block is cheaper.
        """
        latent, mask, restore = self.encode(images, training=training, noise=noise)
        masked_only = bool(training) and not self.decode_visible
        return {"reconstruction": self.decoder(latent, restore, training=training, masked_only=masked_only),
                "mask": mask}

    def targets(self, images):
        """Patchified images in float32 (B, N, p²·C), normalized per patch when `norm_pix_loss`."""
        target = patchify(ops.cast(images, "float32"), self.patch_size)
        if self.norm_pix_loss:
            mean = ops.mean(target, axis=-1, keepdims=True)
            var = ops.var(target, axis=-1, keepdims=True)
            target = (target - mean) / ops.sqrt(var + 1e-6)
        return target

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Mean over masked patches of the per-patch pixel MSE (MAE's loss), in float32. `y` and
        `sample_weight` are ignored (the target is the input itself)."""
        if y_pred is None:
            y_pred = self(x, training=training)
        return masked_mse(self.targets(x), ops.cast(y_pred["reconstruction"], "float32"),
                          ops.cast(y_pred["mask"], "float32"))

    def reconstruct(self, images, noise=None, paste_visible=True):
        """(reconstruction, masked input), both (B, S, S, C) images in the input's scale: MAE's Fig. 2.

        The reconstruction shows the predictions on the masked patches and, with `paste_visible`, the
        input on the visible ones (MAE's "reconstruction + visible"); the masked input is the input with
        masked patches set to 0. With `norm_pix_loss` the predictions are de-normalized with each patch's
        true mean and variance, for display only.
        """
        out = self(images, training=False, noise=noise)
        mask = ops.expand_dims(ops.cast(out["mask"], "float32"), -1)
        patches = patchify(ops.cast(images, "float32"), self.patch_size)
        prediction = ops.cast(out["reconstruction"], "float32")
        if self.norm_pix_loss:
            mean, var = ops.mean(patches, -1, keepdims=True), ops.var(patches, -1, keepdims=True)
            prediction = prediction * ops.sqrt(var + 1e-6) + mean
        if paste_visible:
            prediction = prediction * mask + patches * (1 - mask)
        shape = (self.patch_size, self.image_size, self.channels)
        return unpatchify(prediction, *shape), unpatchify(patches * (1 - mask), *shape)

    def build_classifier(self, num_classes=0, head_activation=None, drop_path_rate=0.0, pooling="token",
                         head_initializer=None):
        """A new ViT (`keras_cxr.models.vit`, same size) initialized with this encoder's weights.

        Args:
            num_classes, head_activation, drop_path_rate, pooling: as `vit` (paper 000 fine-tuning: 6,
                "sigmoid", 0.2, "token").
            head_initializer: None → TruncatedNormal(stddev=2e-5), MAE's fine-tuning head init.
        """
        if head_initializer is None:
            head_initializer = keras.initializers.TruncatedNormal(stddev=2e-5)
        return vit((self.image_size, self.image_size, self.channels), num_classes, head_activation, self.encoder,
                   name="vit", patch_size=self.patch_size, embed_dim=self.embed_dim, depth=self.depth,
                   num_heads=self.num_heads, mlp_dim=self.mlp_dim, drop_path_rate=drop_path_rate, pooling=pooling,
                   head_initializer=head_initializer)

    def _ensure_built(self):
        if not self.built:
            self(ops.zeros((1, self.image_size, self.image_size, self.channels)))

    def get_config(self):
        return {**super().get_config(), "image_size": self.image_size, "patch_size": self.patch_size,
                "channels": self.channels, "embed_dim": self.embed_dim, "depth": self.depth,
                "num_heads": self.num_heads, "mlp_dim": self.mlp_dim, "decoder_dim": self.decoder_dim,
                "decoder_depth": self.decoder_depth, "decoder_num_heads": self.decoder_num_heads,
                "mask_ratio": self.mask_ratio, "norm_pix_loss": self.norm_pix_loss, "seed": self.seed,
                "decode_visible": self.decode_visible}


def _mae_preset(size, model_class, prefix):
    width, depth, heads, mlp = PRESETS[size]
    builder_name = f"{prefix}_vit_{size}"

    def builder(input_shape=(224, 224, 1), num_classes=0, head_activation=None, weights=None, name=builder_name,
                **kwargs):
        height, width_, channels = validate_input_shape(input_shape, builder_name)
        if height != width_:
            raise ValueError(f"{builder_name} takes square images; received input_shape {input_shape}.")
        if validate_head(num_classes, head_activation, builder_name)[0]:
            raise ValueError(f"{builder_name} is a pretraining model without a head; received num_classes="
                             f"{num_classes}. Fine-tune with model.build_classifier(num_classes) or "
                             f"create_model('vit_{size}', num_classes=..., weights=model).")
        arguments = dict(patch_size=16, embed_dim=width, depth=depth, num_heads=heads, mlp_dim=mlp)
        arguments.update(kwargs)
        model = model_class(image_size=height, channels=channels, name=name, **arguments)
        if weights is not None:
            model(ops.zeros((1, height, height, channels)))
        return load_weights(model, weights, builder=builder_name)

    builder.__name__ = builder.__qualname__ = builder_name
    builder.__doc__ = f"""`{model_class.__name__}` with a ViT-{size[0].upper()}/16 encoder ({width} wide, {depth} blocks, {heads} heads).

    The builder contract (`input_shape` square, `num_classes` must be 0: no head, `weights`, `name`); other
    arguments go to `{model_class.__name__}` (decoder size, `mask_ratio`, `seed`, ...; `patch_size`,
    `embed_dim`, ... depart from the preset).
    """
    return register_model(builder, kind="pretraining", normalization="imagenet",
                          test_overrides={"input_shape": (32, 32, 1)},
                          test_note="32 × 32 input (4 patches); encoder and decoder at full size")


mae_vit_small = _mae_preset("small", MAE, "mae")
