"""Vision Transformer builders: ViT-Ti/S/B with patch 16, fixed sin-cos positions, 1-channel input by default."""

import keras
from keras import ops

from keras_cxr.layers.patch_embedding import ClassToken, PatchEmbedding
from keras_cxr.layers.position_embedding import SinCosPositionEmbedding
from keras_cxr.layers.transformer_block import TransformerBlock

PRESETS = {  # (width, depth, heads, MLP width), timm's vit_{tiny,small,base}_patch16_224
    "tiny": (192, 12, 3, 768),
    "small": (384, 12, 6, 1536),  # ViT-S/16 of paper 000
    "base": (768, 12, 12, 3072),
}


@keras.saving.register_keras_serializable(package="keras_cxr")
class TokenPooling(keras.layers.Layer):
    """Picks the class token ("token") or averages the patch tokens ("mean") of a (B, 1 + N, D) sequence.

    Example:
    >>> import numpy as np
    >>> tuple(TokenPooling()(np.zeros((2, 5, 8), "float32")).shape)
    (2, 8)
    """

    def __init__(self, mode="token", **kwargs):
        super().__init__(**kwargs)
        if mode not in ("token", "mean"):
            raise ValueError(f"mode must be 'token' or 'mean'; received {mode!r}.")
        self.mode = mode

    def call(self, tokens):
        return tokens[:, 0] if self.mode == "token" else ops.mean(tokens[:, 1:], axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


def vit(image_size=224, patch_size=16, channels=1, embed_dim=384, depth=12, num_heads=6, mlp_dim=1536,
        num_classes=0, head_activation=None, drop_path_rate=0.0, pooling="token", head_initializer="glorot_uniform",
        name="vit"):
    """Builds a ViT (Dosovitskiy et al. 2021) as a functional Keras model, MAE's variant of it.

    patch embedding → + fixed 2-D sin-cos positions → class token → `depth` pre-norm blocks → LayerNorm →
    class token (or mean of the patch tokens) → optional linear head. Dense layers Xavier-uniform, class
    token N(0, 0.02²) (MAE's init). Stochastic depth rises linearly from 0 to `drop_path_rate` over the
    blocks (timm / MAE). Layer names (`patch_embed`, `position`, `cls_token`, `block_{i}`, `norm`, `head`)
    match `keras_cxr.models.MAE`, so pretrained encoder weights transfer by name (`vit_from_mae`) and
    `keras_cxr.optimizers.LayerDecayAdamW` finds the block index in each variable path.

    Args:
        image_size: side of the square input, or (height, width).
        channels: input channels (1 for chest X-rays).
        embed_dim, depth, num_heads, mlp_dim: width, blocks, heads, MLP width.
        num_classes: 0 → the pooled features (B, embed_dim); else a Dense head (float32 under mixed precision).
        head_activation: e.g. "sigmoid" for multi-label outputs (paper 000), None for logits.
        drop_path_rate: stochastic depth of the last block (paper 000 fine-tuning: 0.2).
        pooling: "token" (class token: paper 000, MAE with `--cls_token`) or "mean".
        head_initializer: initializer of the head kernel (MAE fine-tuning uses TruncatedNormal(2e-5)).

    Returns:
        `keras.Model` from (B, H, W, channels) images.

    Example:
    >>> model = vit(image_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, mlp_dim=64, num_classes=3)
    >>> model.output_shape
    (None, 3)
    """
    height, width = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    inputs = keras.Input((height, width, channels), name="image")
    x = PatchEmbedding(patch_size, embed_dim, name="patch_embed")(inputs)
    x = SinCosPositionEmbedding(class_token=False, grid_size=(height // patch_size, width // patch_size),
                                name="position")(x)
    x = ClassToken(name="cls_token")(x)
    for i in range(depth):
        rate = drop_path_rate * i / max(depth - 1, 1)
        x = TransformerBlock(num_heads, mlp_dim, drop_path_rate=rate, name=f"block_{i}")(x)
    x = keras.layers.LayerNormalization(epsilon=1e-6, name="norm")(x)
    x = TokenPooling(pooling, name="pool")(x)
    if num_classes:
        x = keras.layers.Dense(num_classes, activation=head_activation, kernel_initializer=head_initializer,
                               name="head", dtype="float32")(x)
    return keras.Model(inputs, x, name=name)


ViT = vit  # the builder under the class-like name used in papers and in the issue


def _preset(size):
    def builder(image_size=224, patch_size=16, channels=1, num_classes=0, head_activation=None,
                drop_path_rate=0.0, pooling="token", **kwargs):
        width, depth, heads, mlp = PRESETS[size]
        return vit(image_size, patch_size, channels, width, depth, heads, mlp, num_classes, head_activation,
                   drop_path_rate, pooling, **{"name": f"vit_{size}", **kwargs})

    builder.__name__ = builder.__qualname__ = f"vit_{size}"
    width, depth, heads, mlp = PRESETS[size]
    builder.__doc__ = f"""ViT-{size[0].upper()}/16: {width} wide, {depth} blocks, {heads} heads, MLP {mlp}.

    Defaults: 224 × 224 × 1 input, patch 16, no head (pooled class token). Other arguments as `vit`
    (`num_classes`, `head_activation`, `drop_path_rate`, `pooling`, `head_initializer`, `name`).
    """
    return builder


vit_tiny, vit_small, vit_base = _preset("tiny"), _preset("small"), _preset("base")
