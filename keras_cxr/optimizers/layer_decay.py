"""AdamW with layer-wise learning-rate decay for ViT fine-tuning (BEiT / MAE recipe; paper 000 §III.B)."""

import re

import keras
from keras import ops

from keras_cxr.optimizers.adamw import AdamW

_BLOCK = re.compile(r"(?:^|/)block_(\d+)(?:/|$)")
_EMBEDDING_KEYS = ("patch_embed", "cls_token", "position", "pos_embed")
_NO_DECAY_KEYS = ("cls_token", "position", "pos_embed", "mask_token")


def vit_layer_id(variable_path, num_layers):
    """Layer id of a ViT variable by its path (MAE's `get_layer_id_for_vit`): 0 for the patch embedding,
    class token and positions, i + 1 for block i (`block_{i}/…`), num_layers + 1 for everything after
    the blocks (final norm, head).

    Example:
    >>> [vit_layer_id(p, 12) for p in ("patch_embed/projection/kernel", "block_3/fc1/kernel", "head/bias")]
    [0, 4, 13]
    """
    match = _BLOCK.search(variable_path)
    if match:
        return int(match.group(1)) + 1
    if any(key in variable_path for key in _EMBEDDING_KEYS):
        return 0
    return num_layers + 1


@keras.saving.register_keras_serializable(package="keras_cxr")
class LayerDecayAdamW(AdamW):
    """AdamW whose learning rate for a variable of layer id ℓ is lr · layer_decay^(num_layers + 1 − ℓ).

    The BEiT / MAE fine-tuning convention (MAE's `param_groups_lrd`): patch embedding, class token and
    positions have ℓ = 0, block i has ℓ = i + 1, the final norm and the head ℓ = num_layers + 1 (scale 1).
    Keras has no per-variable learning rates, and scaling gradients would not do: Adam's step is
    invariant to the gradient's scale. So `update_step(gradient, variable, learning_rate)` — the hook
    every backend calls per variable, under `tf.distribute` too — multiplies the learning rate by the
    variable's scale before Adam's update. The decoupled weight decay (v ← v − lr·wd·v) is applied there
    as well, with the same scaled lr, as PyTorch's AdamW does per parameter group (Keras' built-in decay
    would use the unscaled lr). With `skip_weight_decay_1d`, 1-D variables (biases, LayerNorm scales and
    offsets), the class / mask tokens and position tables get no weight decay (MAE's "no_decay" group);
    `exclude_from_weight_decay(...)` still works on top. On PyTorch the update runs as
    `keras_cxr.optimizers.AdamW`'s fused kernel, one call per (scale, decay) group.

    Args:
        layer_decay: decay per layer (paper 000 / lambert-x/medical_mae: 0.55; MAE ViT-B: 0.75).
        num_layers: transformer blocks of the model (12 for ViT-S); None → inferred when the optimizer is
            built, as 1 + the largest block index among its variables.
        layer_id_fn: callable(variable_path, num_layers) → layer id; default `vit_layer_id` (layer names
            of `keras_cxr.models.vit` and of an MAE's `encoder`). Saved by registered name when it is registered
            with `keras.saving.register_keras_serializable`.
        skip_weight_decay_1d: no weight decay on 1-D variables and on tokens / positions (MAE).
        **kwargs: `keras.optimizers.AdamW` arguments (learning_rate or a schedule, weight_decay, beta_1,
            beta_2, epsilon, clipnorm, ...).

    Example:
    >>> optimizer = LayerDecayAdamW(learning_rate=1e-3, layer_decay=0.5, num_layers=2)
    >>> [optimizer.scale_for(p) for p in ("patch_embed/kernel", "block_0/fc1/kernel", "block_1/fc1/kernel", "head/kernel")]
    [0.125, 0.25, 0.5, 1.0]
    """

    def __init__(self, layer_decay=0.75, num_layers=None, layer_id_fn=None, skip_weight_decay_1d=True, **kwargs):
        super().__init__(**kwargs)
        if not 0 < float(layer_decay) <= 1:
            raise ValueError(f"layer_decay must be in (0, 1]; received {layer_decay}.")
        if isinstance(layer_id_fn, str):
            layer_id_fn = keras.saving.get_registered_object(layer_id_fn)
        self.layer_decay = float(layer_decay)
        self.num_layers = None if num_layers is None else int(num_layers)
        self.skip_weight_decay_1d = bool(skip_weight_decay_1d)
        self._layer_id_fn = layer_id_fn or vit_layer_id

    def build(self, variables):
        if self.num_layers is None:
            ids = [int(m.group(1)) for m in (_BLOCK.search(v.path) for v in variables) if m]
            self.num_layers = max(ids) + 1 if ids else 0
        super().build(variables)

    def scale_for(self, variable_path):
        """The learning-rate multiplier layer_decay^(num_layers + 1 − layer id) of a variable path."""
        if self.num_layers is None:
            raise ValueError("num_layers is unknown until the optimizer is built; pass num_layers.")
        layer_id = self._layer_id_fn(variable_path, self.num_layers)
        return self.layer_decay ** (self.num_layers + 1 - layer_id)

    def layer_scales(self, variables):
        """{variable path: learning-rate multiplier} for a list of variables (e.g. model.trainable_weights)."""
        return {v.path: self.scale_for(v.path) for v in variables}

    def _decays(self, variable):
        if self.weight_decay is None or not self._use_weight_decay(variable):
            return False
        if self.skip_weight_decay_1d and (len(variable.shape) <= 1 or
                                          any(key in variable.path for key in _NO_DECAY_KEYS)):
            return False
        return True

    def update_rule(self, variable):
        return self.scale_for(variable.path), self._decays(variable)

    def _apply_weight_decay(self, variables):
        """Disabled: the decay is applied in `update_step` with each variable's scaled learning rate."""

    def update_step(self, gradient, variable, learning_rate):
        _, (scale, decays) = self._rule(variable)
        lr = ops.cast(learning_rate, variable.dtype) * scale
        if decays:
            self.assign(variable, variable - variable * ops.cast(self.weight_decay, variable.dtype) * lr)
        super().update_step(gradient, variable, lr)

    def get_config(self):
        fn = self._layer_id_fn
        name = None if fn is vit_layer_id else keras.saving.get_registered_name(fn)
        return {**super().get_config(), "layer_decay": self.layer_decay, "num_layers": self.num_layers,
                "layer_id_fn": name, "skip_weight_decay_1d": self.skip_weight_decay_1d}
