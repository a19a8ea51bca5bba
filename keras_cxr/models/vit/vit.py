"""Vision Transformer: the one ViT encoder of keras_cxr (classifiers, MAE, DualMAE, GMML and UNETR share it)."""

import os

import keras
from keras import ops

from keras_cxr.layers.patch_embedding import ClassToken, PatchEmbedding
from keras_cxr.layers.position_embedding import LearnedPositionEmbedding, SinCosPositionEmbedding
from keras_cxr.layers.transformer_block import TransformerBlock
from keras_cxr.models.contract import classification_head, validate_head, validate_input_shape
from keras_cxr.models.registry import register_model
from keras_cxr.models.weights import TORCH_SUFFIXES, load_weights

POSITION_EMBEDDINGS = ("sincos", "learned")

PRESETS = {  # (width, depth, heads, MLP width), timm's vit_{tiny,small,base}_patch16_224
    "tiny": (192, 12, 3, 768),
    "small": (384, 12, 6, 1536),  # ViT-S/16 of papers 000 and 001
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


def vit(input_shape=(224, 224, 1), num_classes=0, head_activation=None, weights=None, name="vit", *,
        patch_size=16, embed_dim=384, depth=12, num_heads=6, mlp_dim=1536, drop_path_rate=0.0, pooling="token",
        head_initializer="glorot_uniform", position_embedding=None):
    """Builds a ViT (Dosovitskiy et al. 2021) as a functional Keras model, MAE's variant of it.

    patch embedding → + positions (fixed 2-D sin-cos, or learned) → class token → `depth` pre-norm blocks →
    LayerNorm → class token (or mean of the patch tokens) → optional linear head. Dense layers Xavier-uniform,
    class token N(0, 0.02²) (MAE's init). Stochastic depth rises linearly from 0 to `drop_path_rate` over the
    blocks (timm / MAE). Layers: `patch_embed`, `position`, `cls_token`, `block_{i}` (0-based), `norm`,
    `pool`, `head`; `keras_cxr.models.MAE` and `DualMAE` hold this same model as their `encoder`, calling
    its layers around their masking, and `keras_cxr.optimizers.LayerDecayAdamW` finds the block index in
    each variable path. Features by name (`keras_cxr.models.feature_extractor`): `block_{i}` outputs and
    `norm`, (B, 1 + N, D) token sequences.

    The position table is fixed (sin-cos) by default, so weights copied from a model pretrained on another
    image size (`weights=` a model or a `.keras` file) fit any input size divisible by the patch size: the
    table is recomputed for the new grid rather than interpolated. `weights=` a PyTorch ViT checkpoint (timm,
    DeiT, MAE, medical_mae, GMML: `.pth` / `.pt` / `.bin` / `.safetensors`) is converted on load
    (`keras_cxr.models.vit.load_torch_vit_checkpoint`: learned positions resampled bicubically to this grid, an
    RGB stem summed for one input channel, a head of another class count left as initialized); the
    architecture arguments must match the checkpoint's (`vit_from_torch_checkpoint` reads them from it).

    Args:
        input_shape, num_classes, head_activation, weights, name: the builder contract
            (`keras_cxr.models.contract`); height and width divisible by `patch_size`.
        patch_size, embed_dim, depth, num_heads, mlp_dim: patch side, width, blocks, heads, MLP width.
        drop_path_rate: stochastic depth of the last block (paper 000 fine-tuning: 0.2).
        pooling: "token" (class token: paper 000, MAE with `--cls_token`) or "mean".
        head_initializer: initializer of the head kernel (MAE fine-tuning uses TruncatedNormal(2e-5)).
        position_embedding: "sincos" (MAE's fixed table) or "learned" (ViT / DeiT / timm's trainable
            table, `LearnedPositionEmbedding`); None → "sincos", unless `weights` is a PyTorch checkpoint whose
            table is not MAE's sin-cos one (timm / DeiT / GMML), then "learned".

    Returns:
        `keras.Model` from (B, H, W, C) images to (B, num_classes), or (B, embed_dim) pooled features.

    Example:
    >>> model = vit((32, 32, 1), num_classes=3, patch_size=8, embed_dim=32, depth=2, num_heads=2, mlp_dim=64)
    >>> model.output_shape
    (None, 3)
    """
    height, width, channels = validate_input_shape(input_shape, name, divisible_by=patch_size)
    num_classes, head_activation = validate_head(num_classes, head_activation, name)
    if position_embedding not in (None,) + POSITION_EMBEDDINGS:
        raise ValueError(f"{name}: position_embedding must be one of {POSITION_EMBEDDINGS} (or None); received "
                         f"{position_embedding!r}.")
    converter = None
    if isinstance(weights, (str, os.PathLike)) and os.fspath(weights).lower().endswith(TORCH_SUFFIXES):
        from keras_cxr.models.vit import torch_checkpoint  # imported here: that module builds models with vit()

        checkpoint = torch_checkpoint.read_torch_vit_checkpoint(weights)  # read once: it also picks the positions
        position_embedding = position_embedding or checkpoint.position_embedding

        def converter(model, path):
            torch_checkpoint.load_torch_vit_checkpoint(model, checkpoint)
    position_embedding = position_embedding or "sincos"
    inputs = keras.Input((height, width, channels), name="image")
    x = PatchEmbedding(patch_size, embed_dim, name="patch_embed")(inputs)
    grid = (height // patch_size, width // patch_size)
    if position_embedding == "sincos":
        x = SinCosPositionEmbedding(class_token=False, grid_size=grid, name="position")(x)
    else:
        x = LearnedPositionEmbedding(grid_size=grid, name="position")(x)
    x = ClassToken(name="cls_token")(x)
    for i in range(depth):
        rate = drop_path_rate * i / max(depth - 1, 1)
        x = TransformerBlock(num_heads, mlp_dim, drop_path_rate=rate, name=f"block_{i}")(x)
    x = keras.layers.LayerNormalization(epsilon=1e-6, name="norm")(x)
    x = TokenPooling(pooling, name="pool")(x)
    x = classification_head(x, num_classes, head_activation, kernel_initializer=head_initializer)
    return load_weights(keras.Model(inputs, x, name=name), weights, builder=name, torch_converter=converter)


ViT = vit  # the builder under the class-like name used in papers


def _preset(size):
    width, depth, heads, mlp = PRESETS[size]

    def builder(input_shape=(224, 224, 1), num_classes=0, head_activation=None, weights=None, name=f"vit_{size}",
                **kwargs):
        arguments = dict(patch_size=16, embed_dim=width, depth=depth, num_heads=heads, mlp_dim=mlp)
        arguments.update(kwargs)
        return vit(input_shape, num_classes, head_activation, weights, name, **arguments)

    builder.__name__ = builder.__qualname__ = f"vit_{size}"
    builder.__doc__ = f"""ViT-{size[0].upper()}/16: {width} wide, {depth} blocks, {heads} heads, MLP {mlp} (timm's
    `vit_{size}_patch16_224`, with MAE's fixed sin-cos positions unless `position_embedding="learned"`).

    The builder contract (`input_shape=(224, 224, 1)`, `num_classes=0` → pooled class token,
    `head_activation`, `weights`, `name`); any other `keras_cxr.models.vit` argument (`drop_path_rate`,
    `pooling`, `head_initializer`, `position_embedding`, or `patch_size` / `embed_dim` / ... to depart from
    the preset). `weights=` a timm / DeiT / MAE / medical_mae / GMML ViT-{size[0].upper()}/16 `.pth` converts on load.
    """
    return register_model(builder, test_overrides={"input_shape": (32, 32, 1), "num_classes": 2,
                                                   "head_activation": "softmax"}, normalization="imagenet")


vit_tiny, vit_small, vit_base = _preset("tiny"), _preset("small"), _preset("base")
