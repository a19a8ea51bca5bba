"""UNETR in 2-D on the shared ViT backbone (Hatamizadeh et al. 2022; paper 001 §3.2 / §4.3 lung segmentation)."""

import os

import keras

from keras_cxr.models.contract import HEAD_ACTIVATIONS, output_dtype, validate_input_shape
from keras_cxr.models.features import feature_extractor
from keras_cxr.models.registry import register_model
from keras_cxr.models.vit.vit import PRESETS, vit
from keras_cxr.models.weights import TORCH_SUFFIXES, load_weights

_LEAKY_SLOPE = 0.01  # MONAI's UnetResBlock activation


def _conv(x, filters, kernel, name, stride=1, transposed=False):
    """MONAI's `get_conv_layer(conv_only=True)`: no bias, 'same' padding (k = 2, s = 2 for up-sampling)."""
    layer = keras.layers.Conv2DTranspose if transposed else keras.layers.Conv2D
    return layer(filters, kernel, strides=stride, padding="same", use_bias=False, name=name)(x)


def _instance_norm(x, name):
    """MONAI's "instance" norm: per-sample, per-channel, no affine parameters (InstanceNorm2d's default)."""
    return keras.layers.GroupNormalization(groups=-1, epsilon=1e-5, center=False, scale=False, name=name)(x)


def _res_block(x, filters, name):
    """MONAI's UnetResBlock: conv-norm-lrelu-conv-norm + (1 × 1 conv-norm when channels change), lrelu."""
    residual = x
    y = keras.layers.LeakyReLU(_LEAKY_SLOPE, name=f"{name}_act1")(_instance_norm(_conv(x, filters, 3, f"{name}_conv1"),
                                                                               f"{name}_norm1"))
    y = _instance_norm(_conv(y, filters, 3, f"{name}_conv2"), f"{name}_norm2")
    if x.shape[-1] != filters:
        residual = _instance_norm(_conv(x, filters, 1, f"{name}_conv3"), f"{name}_norm3")
    return keras.layers.LeakyReLU(_LEAKY_SLOPE, name=f"{name}_out")(keras.layers.Add(name=f"{name}_add")([y, residual]))


def _tokens_to_grid(tokens, grid, name):
    """(B, 1 + N, D) tokens → (B, gh, gw, D) map: MONAI's `proj_feat`, after dropping our class token."""
    x = _DropClassToken(name=f"{name}_patch_tokens")(tokens)
    return keras.layers.Reshape((*grid, tokens.shape[-1]), name=f"{name}_grid")(x)


@keras.saving.register_keras_serializable(package="keras_cxr")
class _DropClassToken(keras.layers.Layer):
    """(B, 1 + N, D) → (B, N, D)."""

    def call(self, tokens):
        return tokens[:, 1:]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], None if input_shape[1] is None else input_shape[1] - 1, input_shape[2])


_DECODER_LEVELS = {8: 3, 16: 4}  # patch size -> decoder levels (x2 up-samplings from the token grid)


def _projection_up(x, filters, num_layers, name):
    """MONAI's UnetrPrUpBlock (res_block): transposed conv, then `num_layers` × (transposed conv + res block)."""
    x = _conv(x, filters, 2, f"{name}_up0", stride=2, transposed=True)
    for i in range(1, num_layers + 1):
        x = _res_block(_conv(x, filters, 2, f"{name}_up{i}", stride=2, transposed=True), filters, f"{name}_res{i}")
    return x


def _up(x, skip, filters, name):
    """MONAI's UnetrUpBlock: transposed conv ×2, concatenation with the skip, res block."""
    x = _conv(x, filters, 2, f"{name}_up", stride=2, transposed=True)
    return _res_block(keras.layers.Concatenate(name=f"{name}_concat")([x, skip]), filters, f"{name}_res")


def unetr(input_shape=(224, 224, 1), num_classes=1, head_activation="sigmoid", weights=None, name="unetr", *,
          patch_size=16, embed_dim=384, depth=12, num_heads=6, mlp_dim=1536, feature_size=16, taps=(3, 6, 9),
          drop_path_rate=0.0):
    """UNETR (2-D): a `keras_cxr.models.vit` encoder tapped at three blocks and its final norm, and MONAI's
    convolutional decoder (`monai.networks.nets.UNETR(spatial_dims=2)` block for block).

    The encoder is the same ViT a classifier or a GMML / MAE pretraining uses, asked for its features by
    name (`feature_extractor(vit, ["block_3", "block_6", "block_9", "norm"])`, held as the nested model
    `encoder`), so `weights=` a pretrained GMML / MAE / ViT (or its `.keras` file) initializes it by layer
    name ("UNETR + SS-CXR", paper 001 Table 5). Decoder, as MONAI with `res_block=True`, `norm_name="instance"`:
    encoder1 = res block on the image (feature_size), encoder2/3/4 = projection-up blocks on the taps (2, 1, 0
    extra up-samplings; 2, 4, 8 × feature_size), decoder5..2 = up blocks from the final tokens, out = 1 × 1
    convolution. Convolutions have no bias, norms no affine parameters, activations LeakyReLU(0.01), as MONAI.

    Where we differ from MONAI's UNETR: its ViT has learned positions, no class token and no qkv bias;
    ours is keras_cxr's ViT (fixed sin-cos positions, a class token dropped before the decoder). The taps
    follow MONAI's code, `hidden_states_out[3, 6, 9]` = the outputs of the 4th, 7th and 10th blocks
    (`block_3`, `block_6`, `block_9`), whereas the UNETR paper writes z3, z6, z9 (`taps=(2, 5, 8)` gives those).

    Args:
        input_shape, weights, name: the builder contract; sides divisible by `patch_size` (paper 001: 256).
        num_classes: output channels (1: the lung mask); head_activation: "sigmoid" (probabilities),
            "softmax" (several classes), "linear" / None (logits).
        patch_size, embed_dim, depth, num_heads, mlp_dim, drop_path_rate: the ViT (ViT-S/16 default). Patch 16
            (paper 001, MONAI) up-samples the tokens through four decoder levels; patch 8 (not in MONAI, which
            fixes 16; for small images, e.g. 64 px) through three: encoder4 and decoder5 are left out, so the
            last tap (`taps[2]`) is unused.
        feature_size: decoder width unit (16, paper 001 and MONAI's default).
        taps: 0-based indices of the blocks whose outputs feed encoder2, encoder3, encoder4.

    Example:
    >>> model = unetr((64, 64, 1), embed_dim=32, depth=4, num_heads=2, mlp_dim=64, taps=(0, 1, 2), feature_size=4)
    >>> model.output_shape
    (None, 64, 64, 1)

    Reference:
        Hatamizadeh et al., "UNETR: Transformers for 3D Medical Image Segmentation", WACV 2022,
        arXiv:2103.10504; Anwar et al., "SS-CXR", §3.2, §4.3, Table 5.
    """
    height, width, channels = validate_input_shape(input_shape, name, divisible_by=patch_size)
    if int(num_classes) < 1 or head_activation not in HEAD_ACTIVATIONS:
        raise ValueError(f"{name}: num_classes (output channels) must be >= 1 and head_activation one of "
                         f"{HEAD_ACTIVATIONS}; received {num_classes}, {head_activation!r}.")
    if patch_size not in _DECODER_LEVELS:
        raise ValueError(f"{name}: the decoder up-samples the token grid by 2 per level, so patch_size must be one of "
                         f"{sorted(_DECODER_LEVELS)}; received {patch_size}.")
    levels = _DECODER_LEVELS[patch_size]
    taps = tuple(int(t) for t in taps)
    if len(taps) != 3 or not all(0 <= t < depth for t in taps):
        raise ValueError(f"{name}: taps must be three block indices in [0, {depth}); received {taps}.")
    # A PyTorch ViT checkpoint (timm / DeiT / MAE / GMML .pth) initializes the ViT itself, converted on load;
    # keras_cxr files are loaded into the whole UNETR below.
    torch_file = isinstance(weights, (str, os.PathLike)) and os.fspath(weights).lower().endswith(TORCH_SUFFIXES)
    backbone = vit((height, width, channels), name="vit", patch_size=patch_size, embed_dim=embed_dim, depth=depth,
                   num_heads=num_heads, mlp_dim=mlp_dim, drop_path_rate=drop_path_rate,
                   weights=weights if torch_file else None)
    encoder = feature_extractor(backbone, [f"block_{t}" for t in taps] + ["norm"], name="encoder")
    grid = (height // patch_size, width // patch_size)
    inputs = keras.Input((height, width, channels), name="image")
    features = encoder(inputs)
    maps = [_tokens_to_grid(features[key], grid, f"z{i}") for i, key in
            enumerate([f"block_{t}" for t in taps] + ["norm"], start=1)]
    skips = {1: _res_block(inputs, feature_size, "encoder1")}
    for level, tapped in zip((2, 3, 4), maps[:3]):  # encoder<level>: 1 / 2^(level-1) of the image side
        if level <= levels:  # patch 16: encoder2, 3, 4 with 2, 1, 0 extra up-samplings; patch 8: encoder2, 3
            skips[level] = _projection_up(tapped, feature_size * 2 ** (level - 1), levels - level, f"encoder{level}")
    x = maps[3]
    for level in range(levels, 0, -1):  # decoder<level+1> joins encoder<level>
        x = _up(x, skips[level], feature_size * 2 ** (level - 1), f"decoder{level + 1}")
    activation = None if head_activation == "linear" else head_activation
    outputs = keras.layers.Conv2D(int(num_classes), 1, activation=activation, name="segmentation",
                                  dtype=output_dtype())(x)
    return load_weights(keras.Model(inputs, outputs, name=name), None if torch_file else weights, builder=name)


@register_model(test_overrides={"input_shape": (32, 32, 1)},
                test_note="32 × 32 input (2 × 2 patches); ViT-S and the decoder at full size",
                kind="segmentation", normalization="imagenet")
def unetr_vit_small(input_shape=(224, 224, 1), num_classes=1, head_activation="sigmoid", weights=None,
                    name="unetr_vit_small", **kwargs):
    """UNETR on ViT-S/16 (paper 001 §4.3: 256 × 256 input, feature size 16); other arguments as `unetr`."""
    width, depth, heads, mlp = PRESETS["small"]
    arguments = dict(embed_dim=width, depth=depth, num_heads=heads, mlp_dim=mlp)
    arguments.update(kwargs)
    return unetr(input_shape, num_classes, head_activation, weights, name, **arguments)
