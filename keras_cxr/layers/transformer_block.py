"""Pre-norm transformer encoder block with stochastic depth (ViT / MAE)."""

import keras
from keras import ops

from keras_cxr.layers.drop_path import DropPath

_XAVIER = dict(kernel_initializer="glorot_uniform", bias_initializer="zeros")


def _fused_attention_pays(x):
    """False for half-precision tokens off a GPU, where the explicit attention is faster (see below)."""
    if keras.backend.standardize_dtype(x.dtype) not in ("bfloat16", "float16"):
        return True
    device = str(getattr(x, "device", "")).lower()
    return "cuda" in device or "gpu" in device


@keras.saving.register_keras_serializable(package="keras_cxr")
class MultiHeadSelfAttention(keras.layers.Layer):
    """Multi-head self-attention with one fused qkv projection, as timm's / MAE's `Attention`.

    One Dense(3·D) gives queries, keys and values (laid out [q | k | v], heads contiguous, so timm and MAE
    checkpoints map onto it by a transpose), then `keras.ops.dot_product_attention` (the backend's fused
    kernel where there is one, e.g. torch's scaled_dot_product_attention) and a Dense(D) output projection.
    In bfloat16 / float16 off a GPU the attention is written out instead (q scaled first, then q·kᵀ and the
    weighted sum as batched matmuls and a softmax in the compute dtype, which PyTorch's CPU kernel
    accumulates in float32; casting the (B, heads, N, N) logits to float32 and back took longer than the
    two matmuls): PyTorch's fused CPU kernel runs its backward pass in half
    precision 2-4x slower than in float32 (ViT-S shapes, this project's 2-core AMX CPU: 5.7 against 1.6 ms
    for 8 × 6 heads × 50 tokens, 37 against 18 ms for the 197-token decoder), while AMX makes the plain
    bfloat16 matmuls fast. TensorFlow's `dot_product_attention` is this same explicit form.
    Xavier-uniform kernels over the full (D, 3D) and (D, D) matrices, zero biases: MAE's `_init_weights`
    exactly, which `keras.layers.MultiHeadAttention` cannot reproduce (its per-head kernels count fans
    per head).

    Args:
        num_heads: attention heads; the token width must be divisible by it.

    Example:
    >>> import numpy as np
    >>> tuple(MultiHeadSelfAttention(2)(np.zeros((1, 5, 8), "float32")).shape)
    (1, 5, 8)
    """

    def __init__(self, num_heads=6, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)

    def build(self, input_shape):
        dim = input_shape[-1]
        if dim % self.num_heads:
            raise ValueError(f"Token width {dim} must be divisible by num_heads={self.num_heads}.")
        self.qkv = keras.layers.Dense(3 * dim, name="qkv", **_XAVIER)
        self.proj = keras.layers.Dense(dim, name="proj", **_XAVIER)
        self.qkv.build(input_shape)
        self.proj.build(input_shape)

    def call(self, x, query_start=0):
        """(B, N − query_start, D): tokens from `query_start` on attend to all N tokens (0: plain MHSA)."""
        dim = x.shape[-1]
        head_dim = dim // self.num_heads
        length = x.shape[1] if x.shape[1] is not None else ops.shape(x)[1]
        qkv = ops.reshape(self.qkv(x), (-1, length, 3, self.num_heads, head_dim))
        q, k, v = qkv[:, query_start:, 0], qkv[:, :, 1], qkv[:, :, 2]  # (B, N, heads, head_dim)
        if _fused_attention_pays(x):
            out = ops.dot_product_attention(q, k, v, scale=head_dim**-0.5)
        else:
            q, k, v = (ops.transpose(t, (0, 2, 1, 3)) for t in (q, k, v))  # (B, heads, N, head_dim)
            logits = ops.matmul(q * ops.cast(head_dim**-0.5, q.dtype), ops.transpose(k, (0, 1, 3, 2)))
            out = ops.transpose(ops.matmul(ops.softmax(logits, axis=-1), v), (0, 2, 1, 3))
        return self.proj(ops.reshape(out, (-1, length - query_start, dim)))

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads}


@keras.saving.register_keras_serializable(package="keras_cxr")
class TransformerBlock(keras.layers.Layer):
    """x + DropPath(MHSA(LN(x))), then x + DropPath(MLP(LN(x))): timm / MAE's ViT `Block`.

    LayerNorm with eps 1e-6, a GELU (erf) MLP, Xavier-uniform Dense kernels and zero biases (MAE's init),
    stochastic depth (`DropPath`) on both residual branches.

    Args:
        num_heads: attention heads.
        mlp_dim: hidden width of the MLP (4 × width; 1536 for ViT-S).
        drop_path_rate: stochastic-depth rate of this block.

    Call arguments:
        x: (B, N, D) tokens. training: enables DropPath. query_start: return only the tokens from this
            index on (default 0: all), e.g. the tokens a loss needs in the last block.

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
        self.norm1 = keras.layers.LayerNormalization(epsilon=1e-6, name="norm1")
        self.attention = MultiHeadSelfAttention(self.num_heads, name="attention")
        self.norm2 = keras.layers.LayerNormalization(epsilon=1e-6, name="norm2")
        self.fc1 = keras.layers.Dense(self.mlp_dim, activation="gelu", name="fc1", **_XAVIER)
        self.fc2 = keras.layers.Dense(dim, name="fc2", **_XAVIER)
        self.drop_path = DropPath(self.drop_path_rate, name="drop_path")
        for layer in (self.norm1, self.attention, self.norm2, self.fc1):
            layer.build(input_shape)
        self.fc2.build(tuple(input_shape[:-1]) + (self.mlp_dim,))

    def call(self, x, training=None, query_start=0):
        """`query_start` > 0 returns only tokens[query_start:] (their keys and values still come from all
        tokens): the same numbers as `block(x)[:, query_start:]` without computing the other outputs."""
        attended = self.attention(self.norm1(x), query_start=query_start)
        x = x[:, query_start:] + self.drop_path(attended, training=training)
        return x + self.drop_path(self.fc2(self.fc1(self.norm2(x))), training=training)

    def compute_output_shape(self, input_shape):
        return input_shape  # for the default query_start=0 (functional models never pass it)

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "mlp_dim": self.mlp_dim,
                "drop_path_rate": self.drop_path_rate}
