"""GMML: a ViT trained as a group-masked autoencoder (paper 001, §3.1, Eq. 1, Algorithm 1)."""

import keras
from keras import ops

from keras_cxr.layers.group_patch_masking import GroupPatchMasking
from keras_cxr.models.mae.mae import _mae_preset
from keras_cxr.models.vit.vit import vit


def masked_l1(target, reconstruction, mask):
    """Mean absolute error over the manipulated pixels only (Eq. 1): Σ|x̄ − x|·M / Σ M."""
    error = ops.abs(reconstruction - target) * mask
    channels = ops.cast(ops.shape(target)[-1], "float32")
    return ops.sum(error) / ops.maximum(ops.sum(mask) * channels, 1.0)


@keras.saving.register_keras_serializable(package="keras_cxr")
class GMML(keras.Model):
    """Group masked model learning: corrupt groups of patches, restore the image from the ViT's tokens.

    `model.encoder` IS a `keras_cxr.models.vit` backbone (as for `MAE`): the corrupted image (not a subset
    of tokens) goes through the whole encoder, and the light decoder of §3.1 maps every patch token to its
    pixels: Dense 2048 (GELU) → Dense 2048 (GELU) → Dense 256 (the bottleneck), then a transposed
    convolution with kernel = stride = patch size back to image space (`decoder_fc1`, `decoder_fc2`,
    `decoder_bottleneck`, `decoder_to_image`). The loss (`compute_loss`, overridden) is Eq. 1: the L1
    distance between the reconstruction and the clean image, averaged over the manipulated pixels only,
    in float32. After pretraining the decoder is dropped: `create_model("vit_small", weights=gmml)` or
    `build_classifier` take the encoder.

    Args:
        image_size, patch_size, channels, embed_dim, depth, num_heads, mlp_dim: the ViT (ViT-S/16 default).
        decoder_dim: width of the two hidden layers (2048, §3.1). bottleneck_dim: 256 (§3.1).
        noise_ratio, replace_ratio, noise_rate, max_block_ratio, seed: `GroupPatchMasking`'s (0.7 and 0.35
            from §3.1).

    Call returns {"reconstruction": (B, H, W, C), "mask": (B, H, W, 1), "corrupted": (B, H, W, C)}.

    Example:
    >>> import numpy as np
    >>> model = GMML(image_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=2, mlp_dim=64, decoder_dim=64,
    ...              bottleneck_dim=16, seed=0)
    >>> {k: tuple(v.shape) for k, v in model(np.zeros((2, 32, 32, 1), "float32")).items()}
    {'reconstruction': (2, 32, 32, 1), 'mask': (2, 32, 32, 1), 'corrupted': (2, 32, 32, 1)}

    Reference:
        Anwar et al., "SS-CXR", §3.1, Eq. 1, Algorithm 1, Fig. 2; Atito et al., arXiv:2104.03602 (GMML).
    """

    def __init__(self, image_size=224, patch_size=16, channels=1, embed_dim=384, depth=12, num_heads=6, mlp_dim=1536,
                 decoder_dim=2048, bottleneck_dim=256, noise_ratio=0.7, replace_ratio=0.35, noise_rate=0.5,
                 max_block_ratio=0.1, seed=None, **kwargs):
        super().__init__(**kwargs)
        if image_size % patch_size:
            raise ValueError(f"image_size={image_size} must be divisible by patch_size={patch_size}.")
        self.image_size, self.patch_size, self.channels = int(image_size), int(patch_size), int(channels)
        self.embed_dim, self.depth, self.num_heads, self.mlp_dim = int(embed_dim), int(depth), int(num_heads), int(mlp_dim)
        self.decoder_dim, self.bottleneck_dim = int(decoder_dim), int(bottleneck_dim)
        self.noise_ratio, self.replace_ratio, self.noise_rate = float(noise_ratio), float(replace_ratio), float(noise_rate)
        self.max_block_ratio, self.seed = float(max_block_ratio), seed
        self.encoder = vit((self.image_size, self.image_size, self.channels), name="encoder",
                           patch_size=self.patch_size, embed_dim=self.embed_dim, depth=self.depth,
                           num_heads=self.num_heads, mlp_dim=self.mlp_dim)
        self.corruption = GroupPatchMasking(self.patch_size, self.noise_ratio, self.replace_ratio, self.noise_rate,
                                            self.max_block_ratio, seed=seed, name="corruption")
        self.decoder_fc1 = keras.layers.Dense(self.decoder_dim, activation="gelu", name="decoder_fc1")
        self.decoder_fc2 = keras.layers.Dense(self.decoder_dim, activation="gelu", name="decoder_fc2")
        self.decoder_bottleneck = keras.layers.Dense(self.bottleneck_dim, name="decoder_bottleneck")
        self.decoder_to_image = keras.layers.Conv2DTranspose(self.channels, self.patch_size, strides=self.patch_size,
                                                             name="decoder_to_image", dtype="float32")

    def restore(self, corrupted, training=None):
        """(B, H, W, C) reconstruction of (corrupted) images: encoder tokens → light decoder → pixels."""
        layer = self.encoder.get_layer
        x = layer("cls_token")(layer("position")(layer("patch_embed")(corrupted)))
        for i in range(self.depth):
            x = layer(f"block_{i}")(x, training=training)
        tokens = layer("norm")(x)[:, 1:]  # patch tokens only
        tokens = self.decoder_bottleneck(self.decoder_fc2(self.decoder_fc1(tokens)))
        grid = self.image_size // self.patch_size
        return self.decoder_to_image(ops.reshape(tokens, (-1, grid, grid, self.bottleneck_dim)))

    def call(self, images, training=None):
        corrupted, mask = self.corruption(images)
        return {"reconstruction": self.restore(corrupted, training=training), "mask": mask, "corrupted": corrupted}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Eq. 1 in float32; `y` and `sample_weight` are ignored (the target is the clean input)."""
        if y_pred is None:
            y_pred = self(x, training=training)
        return masked_l1(ops.cast(x, "float32"), ops.cast(y_pred["reconstruction"], "float32"),
                         ops.cast(y_pred["mask"], "float32"))

    def build_classifier(self, num_classes=0, head_activation=None, drop_path_rate=0.0, pooling="token",
                         image_size=None):
        """A new ViT initialized from the encoder, on `image_size` (e.g. 256 for §4.2's fine-tuning: the fixed
        sin-cos positions are recomputed for the larger grid)."""
        size = int(image_size or self.image_size)
        return vit((size, size, self.channels), num_classes, head_activation, self.encoder, name="vit",
                   patch_size=self.patch_size, embed_dim=self.embed_dim, depth=self.depth, num_heads=self.num_heads,
                   mlp_dim=self.mlp_dim, drop_path_rate=drop_path_rate, pooling=pooling)

    def get_config(self):
        return {**super().get_config(), "image_size": self.image_size, "patch_size": self.patch_size,
                "channels": self.channels, "embed_dim": self.embed_dim, "depth": self.depth,
                "num_heads": self.num_heads, "mlp_dim": self.mlp_dim, "decoder_dim": self.decoder_dim,
                "bottleneck_dim": self.bottleneck_dim, "noise_ratio": self.noise_ratio,
                "replace_ratio": self.replace_ratio, "noise_rate": self.noise_rate,
                "max_block_ratio": self.max_block_ratio, "seed": self.seed}


gmml_vit_small = _mae_preset("small", GMML, "gmml")
