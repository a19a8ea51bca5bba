"""Attention maps of a ViT: the class token's attention in the last block and attention rollout (paper 001, Fig. 4).

Written here because neither Keras nor keras-hub exposes the attention probabilities of a fused-attention
ViT; the weights are recomputed from each block's own `norm1` and `qkv` layers with keras.ops, so the
model's forward pass (and its fused kernel) is untouched.
"""

import numpy as np
from keras import ops


def _vit_of(model):
    """The ViT backbone inside `model` (itself, `.encoder`, or a nested functional ViT)."""
    if _has_vit_layers(model):
        return model
    for candidate in (getattr(model, "encoder", None), *getattr(model, "layers", ())):
        if candidate is not None and hasattr(candidate, "layers") and _has_vit_layers(candidate):
            return candidate
    raise ValueError(f"{getattr(model, 'name', model)!r} is not a keras_cxr ViT (layers patch_embed, position, "
                     "cls_token, block_0 ...): pass a model built by keras_cxr.models.vit or one holding it.")


def _has_vit_layers(model):
    names = {layer.name for layer in getattr(model, "layers", ())}
    return {"patch_embed", "position", "cls_token", "block_0"} <= names


def _block_weights(block, tokens):
    """(B, heads, N, N) softmax(q·kᵀ / √d) of one `TransformerBlock` for its input tokens."""
    attention = block.attention
    heads = attention.num_heads
    length, dim = tokens.shape[1], tokens.shape[2]
    qkv = ops.reshape(attention.qkv(block.norm1(tokens)), (-1, length, 3, heads, dim // heads))
    q = ops.transpose(qkv[:, :, 0], (0, 2, 1, 3))
    k = ops.transpose(qkv[:, :, 1], (0, 2, 1, 3))
    logits = ops.matmul(ops.cast(q, "float32"), ops.transpose(ops.cast(k, "float32"), (0, 1, 3, 2)))
    return ops.softmax(logits * (dim // heads) ** -0.5, axis=-1)


def attention_weights(model, images, batch_size=32):
    """Attention probabilities of every block of a ViT for `images`.

    Args:
        model: a `keras_cxr.models.vit` model (classifier or backbone), or a model holding one as `.encoder`
            or as a nested layer (GMML, MAE, UNETR).
        images: (B, H, W, C) array, preprocessed as the model expects.
        batch_size: images per forward pass.

    Returns:
        list over blocks of (B, heads, 1 + N, 1 + N) float32 arrays (token 0 is the class token); each row
        sums to 1.

    Example:
    >>> import numpy as np
    >>> from keras_cxr.models import vit
    >>> model = vit((32, 32, 1), patch_size=8, embed_dim=16, depth=2, num_heads=2, mlp_dim=32)
    >>> [w.shape for w in attention_weights(model, np.zeros((1, 32, 32, 1), "float32"))]
    [(1, 2, 17, 17), (1, 2, 17, 17)]
    """
    vit = _vit_of(model)
    get = vit.get_layer
    depth = sum(1 for layer in vit.layers if layer.name.startswith("block_"))
    images = np.asarray(images, dtype="float32")
    if images.ndim != 4:
        raise ValueError(f"images must be (B, H, W, C); received shape {images.shape}.")
    found = [[] for _ in range(depth)]
    for start in range(0, len(images), batch_size):
        x = get("cls_token")(get("position")(get("patch_embed")(images[start:start + batch_size])))
        for i in range(depth):
            block = get(f"block_{i}")
            found[i].append(ops.convert_to_numpy(_block_weights(block, x)))
            x = block(x, training=False)
    return [np.concatenate(parts) for parts in found]


def _to_image(maps, grid, image_shape):
    """(B, N) patch scores → (B, H, W) maps in [0, 1] (bilinear up-sampling, min-max per image)."""
    import cv2

    height, width = image_shape
    out = []
    for row in maps:
        grid_map = np.asarray(row, "float32").reshape(grid)
        resized = cv2.resize(grid_map, (width, height), interpolation=cv2.INTER_LINEAR)
        span = resized.max() - resized.min()
        out.append((resized - resized.min()) / span if span > 0 else np.zeros_like(resized))
    return np.stack(out)


def _grid(model, images):
    vit = _vit_of(model)
    patch = vit.get_layer("patch_embed").patch_size
    return images.shape[1] // patch, images.shape[2] // patch


def class_token_attention(model, images, block=-1, batch_size=32):
    """The class token's attention to every patch in one block (default the last), averaged over heads,
    up-sampled to the image and scaled to [0, 1] per image: (B, H, W) (DINO's / paper 001 Fig. 4's map).

    Example:
    >>> import numpy as np
    >>> from keras_cxr.models import vit
    >>> model = vit((32, 32, 1), patch_size=8, embed_dim=16, depth=2, num_heads=2, mlp_dim=32)
    >>> class_token_attention(model, np.random.rand(2, 32, 32, 1)).shape
    (2, 32, 32)
    """
    images = np.asarray(images, dtype="float32")
    weights = attention_weights(model, images, batch_size)[block]
    return _to_image(weights[:, :, 0, 1:].mean(axis=1), _grid(model, images), images.shape[1:3])


def attention_rollout(model, images, residual_weight=0.5, head_fusion="mean", batch_size=32):
    """Attention rollout (Abnar & Zuidema 2020): the class token's attention propagated through all blocks.

    Per block the heads are fused (mean, or max), the residual connection is added as
    `residual_weight · I + (1 − residual_weight) · A`, rows are renormalized, and the blocks' matrices are
    multiplied from the first to the last; the class token's row over the patches is the map.

    Args:
        model, images, batch_size: as `attention_weights`.
        residual_weight: weight of the identity (0.5 in the paper).
        head_fusion: "mean" (the paper) or "max".

    Returns:
        (B, H, W) float32 maps in [0, 1].

    Reference:
        Abnar S., Zuidema W., "Quantifying Attention Flow in Transformers", ACL 2020, arXiv:2005.00928, §3.
    """
    if head_fusion not in ("mean", "max"):
        raise ValueError(f"head_fusion must be 'mean' or 'max'; received {head_fusion!r}.")
    if not 0.0 <= residual_weight <= 1.0:
        raise ValueError(f"residual_weight must be in [0, 1]; received {residual_weight}.")
    images = np.asarray(images, dtype="float32")
    weights = attention_weights(model, images, batch_size)
    tokens = weights[0].shape[-1]
    rollout = np.broadcast_to(np.eye(tokens, dtype="float32"), (len(images), tokens, tokens))
    for block in weights:
        fused = block.mean(axis=1) if head_fusion == "mean" else block.max(axis=1)
        fused = residual_weight * np.eye(tokens, dtype="float32") + (1.0 - residual_weight) * fused
        fused = fused / fused.sum(axis=-1, keepdims=True)
        rollout = fused @ rollout
    return _to_image(rollout[:, 0, 1:], _grid(model, images), images.shape[1:3])
