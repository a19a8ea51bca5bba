"""AdamW with layer-wise learning-rate decay for ViT fine-tuning (BEiT / MAE recipe; paper 000 §III.B)."""

import re

import keras


def vit_layer_id(variable_path, num_layers):
    """Layer id of a ViT variable: 0 for patch embedding / class token / positions, i + 1 for block i,
    num_layers + 1 for the final norm and the head (BEiT / MAE convention)."""
    match = re.search(r"block_(\d+)", variable_path)
    if match:
        return int(match.group(1)) + 1
    if any(key in variable_path for key in ("patch_embed", "cls_token", "position")):
        return 0
    return num_layers + 1


@keras.saving.register_keras_serializable(package="keras_cxr")
class LayerDecayAdamW(keras.optimizers.AdamW):
    """AdamW whose learning rate for a variable of layer id ℓ is lr · layer_decay^(num_layers + 1 − ℓ).

    Keras has no per-variable learning rates. Adam is invariant to gradient scaling, so scaling gradients
    would not work; instead variables are grouped by scale and each group is updated with its scaled
    learning rate (weight decay, applied by Keras as lr·wd, scales with it, as in BEiT/MAE param groups).

    Args:
        layer_decay: decay per layer (paper 000: 0.55).
        num_layers: transformer blocks of the model (12 for ViT-S).
        layer_id_fn: callable(variable_path, num_layers) → layer id; default `vit_layer_id`.
        **kwargs: `keras.optimizers.AdamW` arguments (learning_rate, weight_decay, beta_1, beta_2, ...).

    Example:
    >>> optimizer = LayerDecayAdamW(learning_rate=1e-3, layer_decay=0.5, num_layers=2)
    >>> [optimizer.scale_for(p) for p in ("patch_embed/kernel", "block_0/fc1/kernel", "block_1/fc1/kernel", "head/kernel")]
    [0.125, 0.25, 0.5, 1.0]
    """

    def __init__(self, layer_decay=0.75, num_layers=12, layer_id_fn=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 < float(layer_decay) <= 1:
            raise ValueError(f"layer_decay must be in (0, 1]; received {layer_decay}.")
        self.layer_decay, self.num_layers = float(layer_decay), int(num_layers)
        self._layer_id_fn = layer_id_fn or vit_layer_id

    def scale_for(self, variable_path):
        """The learning-rate multiplier of a variable (by its path)."""
        layer_id = self._layer_id_fn(variable_path, self.num_layers)
        return self.layer_decay ** (self.num_layers + 1 - layer_id)

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        groups = {}
        for grad, variable in zip(grads, trainable_variables):
            groups.setdefault(self.scale_for(variable.path), []).append((grad, variable))
        for scale, pairs in groups.items():
            super()._backend_update_step([g for g, _ in pairs], [v for _, v in pairs], learning_rate * scale)

    def get_config(self):
        return {**super().get_config(), "layer_decay": self.layer_decay, "num_layers": self.num_layers}
