"""The lightweight MAE decoder: visible latents + mask tokens → pixel predictions per patch."""

import keras
from keras import ops

from keras_cxr.layers.position_embedding import SinCosPositionEmbedding
from keras_cxr.layers.transformer_block import TransformerBlock


@keras.saving.register_keras_serializable(package="keras_cxr")
class MAEDecoder(keras.layers.Layer):
    """Embeds encoder outputs to `decoder_dim`, fills masked positions with a learned mask token, restores
    the patch order, adds the fixed sin-cos position embedding, runs `depth` transformer blocks, and
    predicts `patch_dim` pixel values per patch (He et al. 2022, §3 "MAE decoder"; `MaskedAutoencoderViT`'s
    forward_decoder: Xavier-uniform Dense layers, mask token N(0, 0.02²), LayerNorm eps 1e-6).

    Args:
        patch_dim: pixels per patch (patch_size² · channels).
        decoder_dim, depth, num_heads: decoder width, blocks and heads (MAE: 512, 8, 16).

    Call arguments:
        latent: (B, 1 + K, D) encoder output (class token first).
        restore_indices: (B, N) from `RandomPatchMasking`.
        masked_only: predict only the N − K masked patches, which are all MAE's loss uses. The tokens then
            stay in the masking's order (visible first; each token carries its own position embedding,
            and attention does not depend on token order) and the last block computes outputs for the
            masked tokens only: the same predictions as the full pass, with no final reordering of the
            tokens and about 3/4 of the last block's and the prediction head's work.

    Returns:
        (B, N, patch_dim) predictions for every patch (class token dropped); with `masked_only`, the
        visible patches' rows are zeros.

    Example:
    >>> import numpy as np
    >>> decoder = MAEDecoder(patch_dim=16, decoder_dim=8, depth=1, num_heads=2)
    >>> restore = np.tile(np.arange(4), (2, 1))
    >>> tuple(decoder(np.zeros((2, 3, 12), "float32"), restore).shape)
    (2, 4, 16)
    """

    def __init__(self, patch_dim, decoder_dim=512, depth=8, num_heads=16, **kwargs):
        super().__init__(**kwargs)
        self.patch_dim, self.decoder_dim, self.depth, self.num_heads = int(patch_dim), int(decoder_dim), int(depth), int(num_heads)
        init = dict(kernel_initializer="glorot_uniform", bias_initializer="zeros")
        self.embed = keras.layers.Dense(self.decoder_dim, name="decoder_embed", **init)
        self.blocks = [TransformerBlock(self.num_heads, 4 * self.decoder_dim, name=f"decoder_block_{i}")
                       for i in range(self.depth)]
        self.position = SinCosPositionEmbedding(class_token=True, name="decoder_position")
        self.norm = keras.layers.LayerNormalization(epsilon=1e-6, name="decoder_norm")
        self.prediction = keras.layers.Dense(self.patch_dim, name="decoder_prediction", **init)

    def build(self, latent_shape, restore_indices_shape=None):
        self.mask_token = self.add_weight(name="mask_token", shape=(1, 1, self.decoder_dim),
                                          initializer=keras.initializers.RandomNormal(stddev=0.02))
        self.embed.build(latent_shape)
        if restore_indices_shape is None or restore_indices_shape[1] is None:
            raise ValueError("MAEDecoder needs restore indices with a static patch count.")
        shape = (latent_shape[0], restore_indices_shape[1] + 1, self.decoder_dim)
        self.position.build(shape)
        for block in self.blocks:
            block.build(shape)
        self.norm.build(shape)
        self.prediction.build(shape)

    def call(self, latent, restore_indices, training=None, masked_only=False):
        x = self.embed(latent)
        batch, num_patches = ops.shape(x)[0], restore_indices.shape[1]
        num_visible = x.shape[1] - 1
        masks = ops.broadcast_to(ops.cast(self.mask_token, x.dtype),
                                 (batch, num_patches - num_visible, self.decoder_dim))
        patches = ops.concatenate([x[:, 1:], masks], axis=1)  # in the masking's (shuffled) order
        restore = ops.expand_dims(ops.cast(restore_indices, "int32"), -1)
        # The class token skips the masking and the reordering (MAE: x[:, :1] kept in front).
        if not masked_only:
            x = self.position(ops.concatenate([x[:, :1], ops.take_along_axis(patches, restore, axis=1)], axis=1))
            for block in self.blocks:
                x = block(x, training=training)
            return self.prediction(self.norm(x))[:, 1:]
        table = ops.cast(self.position.embedding, x.dtype)  # (1, 1 + N, D), class token first
        shuffle = ops.expand_dims(ops.cast(ops.argsort(restore_indices, axis=1), "int32"), -1)
        positions = ops.take_along_axis(ops.broadcast_to(table[:, 1:], ops.shape(patches)), shuffle, axis=1)
        x = ops.concatenate([x[:, :1] + table[:, :1], patches + positions], axis=1)
        for i, block in enumerate(self.blocks):
            x = block(x, training=training, query_start=1 + num_visible if i == self.depth - 1 else 0)
        if self.depth == 0:
            x = x[:, 1 + num_visible:]
        masked = self.prediction(self.norm(x))  # (B, N − K, patch_dim), masked patches in shuffled order
        padded = ops.concatenate([ops.zeros((batch, num_visible, self.patch_dim), masked.dtype), masked], axis=1)
        return ops.take_along_axis(padded, restore, axis=1)

    def compute_output_shape(self, latent_shape, restore_indices_shape):
        return (latent_shape[0], restore_indices_shape[1], self.patch_dim)

    def get_config(self):
        return {**super().get_config(), "patch_dim": self.patch_dim, "decoder_dim": self.decoder_dim,
                "depth": self.depth, "num_heads": self.num_heads}
