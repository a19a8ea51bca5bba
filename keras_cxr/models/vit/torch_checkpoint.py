"""PyTorch ViT checkpoints (timm, DeiT, MAE, medical_mae, GMML) converted into keras_cxr's ViT.

Written here because no Keras library reads these state dicts into a channels-last Keras 3 ViT that runs on
both backends; the conversion is layer-for-layer and exact (tests/models/test_vit_torch_checkpoints.py
compares it with a plain-torch forward pass of the same state dict). Nothing here downloads: the user passes
the file (e.g. medical_mae's `vit-s_CXR_0.3M_mae.pth`, ViT-S/16 pretrained by MAE on ~0.3 M chest X-rays).

Key layout read (timm's `VisionTransformer`; MAE's, DeiT's and GMML's encoders use the same names):
`cls_token` (1, 1, D), `pos_embed` (1, 1 + N, D), `patch_embed.proj.weight` (D, C, p, p) / `.bias`,
`blocks.{i}.norm1.*`, `blocks.{i}.attn.qkv.*` (3D, D), `blocks.{i}.attn.proj.*`, `blocks.{i}.norm2.*`,
`blocks.{i}.mlp.fc1.*`, `blocks.{i}.mlp.fc2.*`, `norm.*`, `head.*`. A checkpoint may wrap the state dict
(`{"model": ...}` MAE / DeiT, `{"SiT_model": ...}` GMML, `"state_dict"`, `"teacher"`, `"student"`) and prefix
its keys (`module.` from DistributedDataParallel, GMML's `backbone.`): the ViT is found by its `cls_token`.
"""

import dataclasses
import math
import os
import re

import keras
import numpy as np

from keras_cxr.layers.patch_embedding import ClassToken, PatchEmbedding
from keras_cxr.layers.position_embedding import (LearnedPositionEmbedding, SinCosPositionEmbedding,
                                                 sincos_position_embedding)
from keras_cxr.layers.transformer_block import TransformerBlock
from keras_cxr.models.vit.vit import PRESETS, vit

DEFAULT_NUM_HEADS = {**{width: heads for width, _, heads, _ in PRESETS.values()}, 1024: 16, 1280: 16}  # + ViT-L, H
WRAPPER_KEYS = ("model", "state_dict", "SiT_model", "teacher", "student", "model_ema")
_DECODER_PREFIXES = ("decoder_", "mask_token")  # MAE's decoder: not part of the encoder
_HEAD_PREFIXES = ("head.", "head_dist.", "head_class.", "head_data.")  # timm / DeiT / GMML heads
_BLOCK_PARTS = {"norm1": "norm1", "attn.qkv": "attention.qkv", "attn.proj": "attention.proj", "norm2": "norm2",
                "mlp.fc1": "fc1", "mlp.fc2": "fc2"}  # timm name → TransformerBlock attribute path


@dataclasses.dataclass
class TorchViTCheckpoint:
    """A ViT state dict read from a PyTorch checkpoint, with the architecture its shapes tell.

    Attributes:
        arrays: {timm key: float32 numpy array}, wrapper and prefix removed.
        source: where it came from (the file path), for messages.
        outside: keys of the file outside the ViT (another prefix, e.g. GMML's `head_recons`), not loaded.
        embed_dim, patch_size, channels, depth, mlp_dim: read from the shapes.
        grid_size: (rows, columns) of the checkpoint's position table.
        prefix_rows: position rows before the grid (1: the class token's, timm; 2: a distilled DeiT's; 0: timm's
            `no_embed_class`).
        position_embedding: "sincos" when the grid rows equal MAE's fixed table (MAE / medical_mae), else
            "learned".
    """

    arrays: dict
    source: str
    outside: list
    embed_dim: int
    patch_size: int
    channels: int
    depth: int
    mlp_dim: int
    grid_size: tuple
    prefix_rows: int
    position_embedding: str

    @property
    def distilled(self):
        """A distilled DeiT: a second prefix token (`dist_token`) and head (`head_dist`)."""
        return "dist_token" in self.arrays


def _to_numpy(value):
    """A torch tensor (float16 / bfloat16 too) or array as a float32 numpy array; None for anything else."""
    if hasattr(value, "detach"):  # a torch.Tensor; duck-typed so a dict of numpy arrays needs no torch
        value = value.detach().cpu()
        return value.float().numpy() if value.is_floating_point() else value.numpy()
    if isinstance(value, np.ndarray):
        return value.astype(np.float32) if np.issubdtype(value.dtype, np.floating) else value
    return None


def _load_file(path):
    """The object stored in a `.pth` / `.pt` / `.bin` (torch) or `.safetensors` file."""
    if path.lower().endswith(".safetensors"):
        try:
            from safetensors.numpy import load_file
        except ImportError as error:
            raise ImportError(f"Reading {path!r} needs the safetensors package: pip install safetensors (or pass "
                              "the checkpoint's pytorch_model.bin / .pth instead).") from error
        return load_file(path)
    try:
        import argparse

        import torch  # a .pth is a torch pickle: reading it needs torch, the rest of keras_cxr does not
    except ImportError as error:
        raise ImportError(f"Reading the PyTorch checkpoint {path!r} needs torch (pip install torch; the CPU wheel is "
                          "enough), or pass its state dict as a dict of numpy arrays.") from error
    try:  # weights only (no code runs); MAE / GMML checkpoints also hold their argparse.Namespace of settings
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - torch raises UnpicklingError, RuntimeError, EOFError ...
        refused = re.search(r"GLOBAL (\S+) was not an allowed global", str(error))
        if refused is None:
            lines = [line.strip() for line in str(error).splitlines()
                     if line.strip() and not line.strip().startswith("Check the documentation")]
            raise ValueError(f"{path!r} could not be read as a PyTorch checkpoint ({type(error).__name__}: "
                             f"{(lines or [''])[-1][:200]}); pass a .pth / .pt file written by torch.save.") from error
        raise ValueError(f"{path!r} holds Python objects besides tensors that torch.load(weights_only=True) refuses "
                         f"({refused.group(1)}). If you trust the file, keep only its state dict: "
                         f"torch.save(torch.load({path!r}, weights_only=False)['model'], 'vit.pth') (the key holding "
                         "the ViT: 'model', 'state_dict', 'teacher', ...), and pass vit.pth.") from error


def _unwrap(obj, checkpoint_key, source):
    """The mapping of arrays holding the ViT: `obj[checkpoint_key]`, or found through `WRAPPER_KEYS`."""
    if checkpoint_key is not None:
        if not isinstance(obj, dict) or checkpoint_key not in obj:
            keys = list(obj)[:20] if isinstance(obj, dict) else type(obj).__name__
            raise ValueError(f"{source}: no key {checkpoint_key!r} at the top level (it has {keys}).")
        return obj[checkpoint_key]
    if not isinstance(obj, dict):
        raise ValueError(f"{source} holds a {type(obj).__name__}, not a state dict; save model.state_dict() instead "
                         "of the module.")
    if any(str(k).split(".")[-1] == "cls_token" for k in obj):
        return obj
    for key in WRAPPER_KEYS:
        if isinstance(obj.get(key), dict):
            return _unwrap(obj[key], None, source)
    return obj  # no ViT here: read_torch_vit_checkpoint says so with the keys it saw


def _square_side(count):
    side = math.isqrt(count) if count > 0 else 0
    return side if side * side == count else None


def read_torch_vit_checkpoint(checkpoint, checkpoint_key=None):
    """Reads a timm / DeiT / MAE / medical_mae / GMML ViT checkpoint and the architecture its shapes tell.

    The heads cannot be read from the shapes (the qkv matrix is (3D, D) for any head count):
    `vit_from_torch_checkpoint` takes `num_heads`, by default the preset's for the width (`DEFAULT_NUM_HEADS`:
    192 → 3, 384 → 6, 768 → 12, 1024 and 1280 → 16).

    Args:
        checkpoint: a file path (`.pth`, `.pt`, `.bin`: read with `torch.load(weights_only=True)`, which needs
            torch; `.safetensors`: needs safetensors), or a state dict (torch tensors or numpy arrays), or an
            already read `TorchViTCheckpoint` (returned as is).
        checkpoint_key: the top-level key holding the state dict, when it is not one of `WRAPPER_KEYS`.

    Returns:
        `TorchViTCheckpoint`.

    Raises:
        FileNotFoundError: the path does not exist.
        ValueError: the file holds no ViT with a class token (names the file, the keys seen and the fix), or a
            layout this converter does not read (a non-square position table, a missing `pos_embed`).

    Example:
    >>> import numpy as np
    >>> state = {"cls_token": np.zeros((1, 1, 8)), "pos_embed": np.zeros((1, 5, 8)),
    ...          "patch_embed.proj.weight": np.zeros((8, 3, 4, 4)), "blocks.0.attn.qkv.weight": np.zeros((24, 8)),
    ...          "blocks.0.mlp.fc1.weight": np.zeros((32, 8))}
    >>> info = read_torch_vit_checkpoint(state)
    >>> info.embed_dim, info.patch_size, info.depth, info.grid_size, info.position_embedding
    (8, 4, 1, (2, 2), 'learned')

    Reference:
        Dosovitskiy et al. 2021, arXiv:2010.11929 (ViT); Touvron et al. 2021, arXiv:2012.12877 (DeiT); He et al.
        2022, arXiv:2111.06377 (MAE); Xiao et al. 2023, arXiv:2210.12843 (medical_mae).
    """
    if isinstance(checkpoint, TorchViTCheckpoint):
        return checkpoint
    if isinstance(checkpoint, (str, os.PathLike)):
        source = os.fspath(checkpoint)
        if not os.path.exists(source):
            raise FileNotFoundError(f"The ViT checkpoint {source!r} does not exist; pass the path of a timm / DeiT / "
                                    "MAE / GMML .pth file.")
        obj = _load_file(source)
    else:
        source, obj = "the state dict", checkpoint
    state = _unwrap(obj, checkpoint_key, source)
    arrays = {str(k): a for k, a in ((k, _to_numpy(v)) for k, v in state.items()) if a is not None}
    anchors = [k for k in arrays if k.split(".")[-1] == "cls_token"]
    if len(anchors) != 1:
        seen = list(arrays)[:12] or (list(obj)[:12] if isinstance(obj, dict) else [])
        raise ValueError(f"{source} is not a ViT checkpoint that keras_cxr can read: "
                         f"{'no' if not anchors else 'several'} '*cls_token' key{'s' if anchors else ''} "
                         f"{anchors or ''} (keys seen: {seen}). load_torch_vit_checkpoint reads timm / DeiT / MAE / "
                         "medical_mae / GMML ViTs with a class token; pass checkpoint_key= the top-level key that "
                         "holds the ViT's state dict, or, for a torchvision ResNet-34, use "
                         "keras_cxr.models.load_torchvision_weights.")
    prefix = anchors[0][:-len("cls_token")]
    outside = sorted(k for k in arrays if not k.startswith(prefix))
    arrays = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}

    def required(key):
        if key not in arrays:
            raise ValueError(f"{source}: the ViT (key prefix {prefix!r}) has no {key!r}; keras_cxr's ViT needs a "
                             "patch convolution, absolute position embeddings and pre-norm blocks (timm's "
                             "VisionTransformer layout).")
        return arrays[key]

    embed_dim = int(arrays["cls_token"].shape[-1])
    out_dim, channels, patch, patch_w = required("patch_embed.proj.weight").shape
    if patch != patch_w or out_dim != embed_dim:
        raise ValueError(f"{source}: patch_embed.proj.weight {arrays['patch_embed.proj.weight'].shape} is not a "
                         f"square patch projection to the class token's width {embed_dim}.")
    depth = 0
    while f"blocks.{depth}.attn.qkv.weight" in arrays:
        depth += 1
    mlp_dim = int(required("blocks.0.mlp.fc1.weight").shape[0])
    rows = required("pos_embed").shape[1]
    prefix_tokens = 2 if "dist_token" in arrays else 1
    prefix_rows = next((n for n in (prefix_tokens, 0) if _square_side(rows - n)), None)
    if prefix_rows is None:
        raise ValueError(f"{source}: pos_embed has {rows} rows, neither {prefix_tokens} prefix rows + a square grid "
                         "nor a square grid; only square position tables are read.")
    side = _square_side(rows - prefix_rows)
    grid = arrays["pos_embed"][0, prefix_rows:]
    sincos = embed_dim % 4 == 0 and np.allclose(grid, sincos_position_embedding(embed_dim, side, class_token=False),
                                                atol=1e-4)
    return TorchViTCheckpoint(arrays=arrays, source=source, outside=outside, embed_dim=embed_dim,
                              patch_size=int(patch), channels=int(channels), depth=depth, mlp_dim=mlp_dim,
                              grid_size=(side, side), prefix_rows=prefix_rows,
                              position_embedding="sincos" if sincos else "learned")


def _cubic_resize_matrix(size_in, size_out, a=-0.75):
    """(size_out, size_in) matrix of 1-D bicubic interpolation as torch's `interpolate(mode="bicubic",
    align_corners=False)` with an output size: source x = (i + 0.5)·in/out − 0.5, Keys' cubic kernel a = −0.75 on
    the 4 nearest samples, indices clamped to the border."""
    x = (np.arange(size_out, dtype=np.float64) + 0.5) * (size_in / size_out) - 0.5
    start = np.floor(x).astype(int)
    t = x - start

    def near(d):  # |d| <= 1
        return ((a + 2) * d - (a + 3)) * d * d + 1

    def far(d):  # 1 < |d| < 2
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a

    taps = np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], axis=1)
    matrix = np.zeros((size_out, size_in))
    for k in range(4):
        np.add.at(matrix, (np.arange(size_out), np.clip(start - 1 + k, 0, size_in - 1)), taps[:, k])
    return matrix


def resample_position_embedding(table, grid_size):
    """Bicubic resampling of a (rows, columns, D) position grid to `grid_size`, as MAE's `interpolate_pos_embed`
    and timm's `resample_abs_pos_embed(..., antialias=False)`: torch's `interpolate(mode="bicubic",
    align_corners=False)`, written in numpy (no torch needed). timm's own checkpoint loader passes
    `antialias=True`, which differs from this only when the grid shrinks.

    Args:
        table: (rows, columns, D) array, the grid part of a position table (no class-token row).
        grid_size: (rows, columns) wanted.

    Returns:
        (grid_size[0], grid_size[1], D) float32 array; the input unchanged when the sizes are equal.

    Example:
    >>> import numpy as np
    >>> resample_position_embedding(np.zeros((14, 14, 8)), (16, 16)).shape
    (16, 16, 8)
    """
    table = np.asarray(table, dtype=np.float64)
    rows, cols = tuple(int(g) for g in grid_size)
    if table.shape[:2] == (rows, cols):
        return table.astype(np.float32)
    along_rows, along_cols = _cubic_resize_matrix(table.shape[0], rows), _cubic_resize_matrix(table.shape[1], cols)
    return np.einsum("ij,jkd,lk->ild", along_rows, table, along_cols).astype(np.float32)


def _vit_layers(model):
    """{name: layer} of the layers of `model` that own weights, entering nested models (a ViT inside a
    feature extractor)."""
    found = {}
    for layer in model.layers:
        if not layer.weights:
            continue
        inner = _vit_layers(layer) if isinstance(layer, keras.Model) else {layer.name: layer}
        for name, value in inner.items():
            if found.setdefault(name, value) is not value:
                raise ValueError(f"{model.name!r} holds two layers named {name!r}; pass the ViT itself.")
    return found


def _grid_of(layer):
    """(rows, columns) of a position layer's table."""
    if layer.grid_size is not None:
        return tuple(layer.grid_size)
    side = _square_side(int(layer.embedding.shape[1]))
    return (side, side)


def load_torch_vit_checkpoint(model, checkpoint, *, strict=True, checkpoint_key=None):
    """Loads a timm / DeiT / MAE / medical_mae / GMML ViT checkpoint into a `keras_cxr.models.vit` model.

    Layer for layer, exactly (the converted model's outputs equal the PyTorch model's to float32 round-off):
    patch convolution (D, C, p, p) → Keras kernel (p, p, C, D); `attn.qkv` / `attn.proj` / `mlp.fc*` weights
    transposed (our fused qkv Dense keeps timm's [q | k | v] × heads layout; LayerNorm eps 1e-6 and erf GELU as
    timm); the class token's position row (`pos_embed[:, 0]`) added to the class token, since our ViT adds
    positions before prepending it (the sum MAE's encoder forms); the grid rows of `pos_embed` resampled
    bicubically to the model's grid (`resample_position_embedding`) into a `LearnedPositionEmbedding`, or, for
    MAE's fixed sin-cos table, matched against the model's `SinCosPositionEmbedding`. An RGB patch
    convolution is summed over its three input channels for a 1-channel model: a gray image then gives the
    same output as the checkpoint on that image replicated to three channels (exactly so when the three channels
    are also normalized alike, e.g. keras_cxr's single ImageNet gray mean / std; timm's per-channel
    normalization of a replicated gray image differs slightly). A checkpoint without qkv biases loads zero biases
    (the same function).

    Not loaded, and listed in the result: MAE's decoder (`decoder_*`, `mask_token`), keys outside the ViT's
    prefix, and the head (`head.*`, DeiT's `head_dist.*`, GMML's `head_class.*` / `head_data.*`) unless the
    model has a head of the same class count (a head of another count stays as initialized, as
    `copy_weights` does). Not supported (errors under `strict`): a distilled DeiT (`dist_token`: two prefix
    tokens; with strict=False the distillation token and its position row are dropped, so the features differ
    from the checkpoint's: prefer the non-distilled DeiT), global-pool checkpoints (`fc_norm` after the mean
    pooling, where our ViT normalizes before it; MAE fine-tuned with `--global_pool`), and any other layer
    (layer scale, register tokens, qk-norm), each listed. The head count is not in the shapes: the model's own
    must be the checkpoint's (ViT-S/16: 6).

    Args:
        model: a `keras_cxr.models.vit` model (or a model holding one, by layer names: `patch_embed`,
            `position`, `cls_token`, `block_{i}`, `norm`, optional `head`) of the checkpoint's width, depth, MLP
            width and patch size; any input size divisible by the patch size.
        checkpoint: a path (`.pth` / `.pt` / `.bin` need torch to read, `.safetensors` the safetensors
            package), a state dict of torch tensors or numpy arrays, or a `TorchViTCheckpoint`.
        strict: raise on missing or unused keys (the error lists them); False loads what matches and leaves
            the rest as initialized.
        checkpoint_key: see `read_torch_vit_checkpoint`.

    Returns:
        {"loaded": checkpoint keys loaded, "ignored": decoder / head / outside keys intentionally left,
        "unused": keys not understood, "missing": keys the model needed that the checkpoint lacks,
        "initialized": names of model layers left as initialized}.

    Raises:
        ValueError: the architectures differ (each difference and the fix), or under `strict` unused / missing
            keys (listed).

    Example:
    >>> import numpy as np
    >>> from keras_cxr.models import vit
    >>> model = vit((32, 32, 1), patch_size=16, embed_dim=8, depth=1, num_heads=2, mlp_dim=16,
    ...             position_embedding="learned")
    >>> torch_names = {"patch_embed.proj": (8, 3, 16, 16), "blocks.0.norm1": (8,), "blocks.0.attn.qkv": (24, 8),
    ...                "blocks.0.attn.proj": (8, 8), "blocks.0.norm2": (8,), "blocks.0.mlp.fc1": (16, 8),
    ...                "blocks.0.mlp.fc2": (8, 16), "norm": (8,)}
    >>> state = {"cls_token": np.zeros((1, 1, 8)), "pos_embed": np.zeros((1, 5, 8))}
    >>> for key, shape in torch_names.items():
    ...     state[key + ".weight"], state[key + ".bias"] = np.ones(shape), np.zeros(shape[0])
    >>> sorted(load_torch_vit_checkpoint(model, state)["initialized"])
    []

    Reference:
        Dosovitskiy et al., "An Image is Worth 16x16 Words", ICLR 2021, arXiv:2010.11929 (§3.1, Eq. 1-4);
        Touvron et al., "Training data-efficient image transformers & distillation through attention" (DeiT),
        ICML 2021, arXiv:2012.12877; He et al., "Masked Autoencoders Are Scalable Vision Learners", CVPR 2022,
        arXiv:2111.06377; Xiao et al., "Delving into Masked Autoencoders for Multi-Label Thorax Disease
        Classification" (medical_mae), WACV 2023, arXiv:2210.12843.
    """
    info = read_torch_vit_checkpoint(checkpoint, checkpoint_key)
    arrays, source = info.arrays, info.source
    layers = _vit_layers(model)
    wanted = [("patch_embed", PatchEmbedding), ("position", (SinCosPositionEmbedding, LearnedPositionEmbedding)),
              ("cls_token", ClassToken), ("norm", keras.layers.LayerNormalization)]
    wanted += [(f"block_{i}", TransformerBlock) for i in range(info.depth)]
    absent = [name for name, kind in wanted if not isinstance(layers.get(name), kind)]
    if absent:
        raise ValueError(f"{model.name!r} is not a keras_cxr ViT of {source}'s depth {info.depth}: no {absent} layers. "
                         "Build it with keras_cxr.models.vit_from_torch_checkpoint (reads the architecture from the "
                         "checkpoint), or vit(..., depth=...) matching the checkpoint.")
    patch_embed = layers["patch_embed"]
    kernel = patch_embed.projection.kernel
    ours = dict(embed_dim=patch_embed.embed_dim, patch_size=patch_embed.patch_size,
                depth=sum(isinstance(layer, TransformerBlock) for layer in layers.values()),
                mlp_dim=layers["block_0"].mlp_dim)
    theirs = dict(embed_dim=info.embed_dim, patch_size=info.patch_size, depth=info.depth, mlp_dim=info.mlp_dim)
    differ = {k: (ours[k], theirs[k]) for k in ours if ours[k] != theirs[k]}
    channels = int(kernel.shape[2])
    if channels != info.channels and not (channels == 1 and info.channels == 3):
        differ["channels"] = (channels, info.channels)
    if differ:
        listed = ", ".join(f"{k} {a} (model) vs {b} (checkpoint)" for k, (a, b) in differ.items())
        raise ValueError(f"{model.name!r} does not match {source}: {listed}. "
                         f"Build it with vit_from_torch_checkpoint, or vit(patch_size={info.patch_size}, "
                         f"embed_dim={info.embed_dim}, depth={info.depth}, mlp_dim={info.mlp_dim}, ...), input "
                         "channels 1 or the checkpoint's.")

    used, missing, initialized, assignments = set(), [], [], []

    def take(key, fallback=None):
        if key in arrays:
            used.add(key)
            return arrays[key]
        if fallback is None:
            missing.append(key)
        return fallback

    def assign(layer, values):
        if all(v is not None for v in values):
            assignments.append((layer, values))
        else:
            initialized.append(layer.name)

    weight = take("patch_embed.proj.weight").transpose(2, 3, 1, 0)  # (D, C, p, p) → (p, p, C, D)
    if channels == 1 and info.channels == 3:
        weight = weight.sum(axis=2, keepdims=True)  # RGB stem summed (timm's adapt_input_conv for in_chans=1)
    assign(patch_embed.projection, [weight, take("patch_embed.proj.bias")])

    positions = take("pos_embed")[0]
    distilled = info.distilled
    if distilled and strict:
        raise ValueError(f"{source} is a distilled DeiT (dist_token, head_dist): two prefix tokens go through every "
                         "block, keras_cxr's ViT has one class token. Use the non-distilled DeiT checkpoint (e.g. "
                         "deit_small_patch16_224-cd65a155.pth), or pass strict=False to drop the distillation token "
                         "and its position (the features then differ from the checkpoint's).")
    class_position = positions[0] if info.prefix_rows else 0.0
    assign(layers["cls_token"], [take("cls_token") + class_position])
    grid = positions[info.prefix_rows:].reshape(*info.grid_size, info.embed_dim)
    position = layers["position"]
    if isinstance(position, LearnedPositionEmbedding):
        target = _grid_of(position)
        assign(position, [resample_position_embedding(grid, target).reshape(1, -1, info.embed_dim)])
    elif info.position_embedding != "sincos":  # a learned table cannot go into a fixed sin-cos layer
        used.discard("pos_embed")
        initialized.append(position.name)
    for i in range(info.depth):
        block = layers[f"block_{i}"]
        for theirs_name, attribute in _BLOCK_PARTS.items():
            layer = block
            for part in attribute.split("."):
                layer = getattr(layer, part)
            key = f"blocks.{i}.{theirs_name}"
            w = take(f"{key}.weight")
            if isinstance(layer, keras.layers.Dense):
                w = None if w is None else w.T  # torch Linear (out, in) → Keras kernel (in, out)
                bias = take(f"{key}.bias", np.zeros(layer.units, np.float32) if theirs_name == "attn.qkv" else None)
                assign(layer, [w, bias])
            else:
                assign(layer, [w, take(f"{key}.bias")])
    if "fc_norm.weight" in arrays and "norm.weight" not in arrays:
        if strict:
            raise ValueError(f"{source} is a global-pool ViT (fc_norm after the mean of the patch tokens, no final "
                             "norm; e.g. MAE fine-tuned with --global_pool): keras_cxr's ViT normalizes the tokens "
                             "before pooling, which is a different function. Use the pretraining checkpoint (norm.*), "
                             "or pass strict=False to load the blocks and leave the final norm as initialized.")
        initialized.append("norm")
    else:
        assign(layers["norm"], [take("norm.weight"), take("norm.bias")])
    head = layers.get("head")
    head_weight = arrays.get("head.weight")
    if isinstance(head, keras.layers.Dense) and head_weight is not None and \
            tuple(head.kernel.shape) == head_weight.T.shape and "head.bias" in arrays:
        assign(head, [take("head.weight").T, take("head.bias")])
    elif isinstance(head, keras.layers.Dense):
        initialized.append("head")

    ignored = sorted(k for k in arrays if k not in used and (k.startswith(_DECODER_PREFIXES + _HEAD_PREFIXES)))
    if distilled:
        ignored = sorted(set(ignored) | {"dist_token"})
    unused = sorted(k for k in arrays if k not in used and k not in ignored)
    if strict and (unused or missing or "position" in initialized):
        reasons = []
        if "position" in initialized:
            reasons.append(f"its position table is learned, the model's {position.name!r} layer is fixed sin-cos: "
                           "build it with position_embedding='learned' (vit(..., weights=path) and "
                           "vit_from_torch_checkpoint pick it from the file)")
        if missing:
            reasons.append(f"{len(missing)} keys the model needs are missing: {missing[:20]}")
        if unused:
            reasons.append(f"{len(unused)} keys are not understood: {unused[:20]}{' ...' if len(unused) > 20 else ''}")
        skipped = ignored + info.outside
        raise ValueError(f"Cannot load {source} into {model.name!r}: {'; '.join(reasons)}. Ignored on purpose: "
                         f"{len(skipped)} decoder / head / outside keys ({skipped[:8]}"
                         f"{' ...' if len(skipped) > 8 else ''}). Pass strict=False to load what matches and leave "
                         "the rest as initialized.")
    for layer, values in assignments:
        layer.set_weights([np.asarray(v, np.float32) for v in values])
    return {"loaded": sorted(used), "ignored": ignored + info.outside, "unused": unused, "missing": missing,
            "initialized": initialized}


def vit_from_torch_checkpoint(checkpoint, input_shape=(224, 224, 1), num_classes=0, head_activation=None,
                              name="vit", *, num_heads=None, position_embedding=None, strict=True,
                              checkpoint_key=None, **kwargs):
    """Builds the `keras_cxr.models.vit` a timm / DeiT / MAE / medical_mae / GMML checkpoint describes and loads it.

    Width, depth, MLP width and patch size are read from the shapes; the position embedding too ("sincos" when
    the file holds MAE's fixed table, else "learned", resampled to `input_shape`'s grid); the heads are not in the
    shapes (`num_heads`, default by width: `DEFAULT_NUM_HEADS`). An RGB checkpoint's stem is summed for a
    1-channel `input_shape` (see `load_torch_vit_checkpoint`).

    Args:
        checkpoint: a path or state dict (see `load_torch_vit_checkpoint`).
        input_shape, num_classes, head_activation, name: the builder contract; num_classes = the checkpoint's
            head size loads its head, another count a new head.
        num_heads: attention heads; None → 3 / 6 / 12 / 16 for width 192 / 384 / 768 / 1024 or 1280.
        position_embedding: None (from the checkpoint), "sincos" or "learned".
        strict, checkpoint_key: see `load_torch_vit_checkpoint`.
        **kwargs: other `vit` arguments (`drop_path_rate`, `pooling`, `head_initializer`).

    Returns:
        The loaded `keras.Model`.

    Raises:
        ValueError: an unknown width without `num_heads`, or what `load_torch_vit_checkpoint` raises.

    Example:
    >>> import numpy as np
    >>> state = {"cls_token": np.zeros((1, 1, 8)), "pos_embed": np.zeros((1, 5, 8)),
    ...          "patch_embed.proj.weight": np.zeros((8, 3, 16, 16)), "patch_embed.proj.bias": np.zeros(8),
    ...          "norm.weight": np.ones(8), "norm.bias": np.zeros(8)}
    >>> for key, shape in {"norm1": (8,), "attn.qkv": (24, 8), "attn.proj": (8, 8), "norm2": (8,),
    ...                    "mlp.fc1": (16, 8), "mlp.fc2": (8, 16)}.items():
    ...     state[f"blocks.0.{key}.weight"], state[f"blocks.0.{key}.bias"] = np.ones(shape), np.zeros(shape[0])
    >>> vit_from_torch_checkpoint(state, (64, 64, 1), num_heads=2).output_shape
    (None, 8)

    Reference:
        See `load_torch_vit_checkpoint`.
    """
    info = read_torch_vit_checkpoint(checkpoint, checkpoint_key)
    if num_heads is None:
        if info.embed_dim not in DEFAULT_NUM_HEADS:
            raise ValueError(f"{info.source}: width {info.embed_dim} has no default head count ({DEFAULT_NUM_HEADS}); "
                             "the heads are not in the weights' shapes: pass num_heads= the checkpoint's.")
        num_heads = DEFAULT_NUM_HEADS[info.embed_dim]
    model = vit(input_shape, num_classes, head_activation, None, name, patch_size=info.patch_size,
                embed_dim=info.embed_dim, depth=info.depth, num_heads=num_heads, mlp_dim=info.mlp_dim,
                position_embedding=position_embedding or info.position_embedding, **kwargs)
    load_torch_vit_checkpoint(model, info, strict=strict)
    return model
