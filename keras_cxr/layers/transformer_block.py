"""Pre-norm transformer encoder block with stochastic depth (ViT / MAE)."""

import keras

from keras_cxr.layers.drop_path import DropPath


@keras.saving.register_keras_serializable(package="keras_cxr")
class TransformerBlock(keras.layers.Layer):
    """x + DropPath(MHSA(LN(x))), then x + DropPath(MLP(LN(x))) with a GELU MLP; LayerNorm eps 1e-6.

    Dense layers use Xavier-uniform initialization and zero biases (as MAE's ViT).

    Args:
        num_heads: attention heads.
        mlp_dim: hidden width of the MLP (4 × width for ViT-S: 1536).
        drop_path_rate: stochastic-depth rate of this block.

    Example:
    >>> import numpy as np
    >>> tuple(TransformerBlock(2, 16)(np.zeros((1, 5, 8), "float32")).shape)
    (1, 5, 8)
    """

    def __init__(self, num_heads=6, mlp_dim=1536, drop_path_rate=0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_heads, self.mlp_dim, self.drop_path_rate = int(num_heads), int(mlp_dim), float(drop_path_rate)

    def build(self, input_shape):
        dim = input_shape[-1]
        if dim % self.num_heads:
            raise ValueError(f"Token width {dim} must be divisible by num_heads={self.num_heads}.")
        init = dict(kernel_initializer="glorot_uniform", bias_initializer="zeros")
        self.norm1 = keras.layers.LayerNormalization(epsilon=1e-6, name="norm1")
        self.attention = keras.layers.MultiHeadAttention(self.num_heads, dim // self.num_heads, name="attention", **init)
        self.norm2 = keras.layers.LayerNormalization(epsilon=1e-6, name="norm2")
        self.fc1 = keras.layers.Dense(self.mlp_dim, activation="gelu", name="fc1", **init)
        self.fc2 = keras.layers.Dense(dim, name="fc2", **init)
        self.drop_path = DropPath(self.drop_path_rate, name="drop_path")
        self.norm1.build(input_shape)
        self.attention.build(input_shape, input_shape)
        self.norm2.build(input_shape)
        self.fc1.build(input_shape)
        self.fc2.build(tuple(input_shape[:-1]) + (self.mlp_dim,))

    def call(self, x, training=None):
        h = self.norm1(x)
        x = x + self.drop_path(self.attention(h, h, training=training), training=training)
        return x + self.drop_path(self.fc2(self.fc1(self.norm2(x))), training=training)

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "mlp_dim": self.mlp_dim,
                "drop_path_rate": self.drop_path_rate}
