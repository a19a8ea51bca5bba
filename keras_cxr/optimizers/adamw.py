"""Keras' AdamW with PyTorch's fused update kernel (MAE pretraining, paper 000 §III.B)."""

import keras


# Variables matched by path that MAE keeps out of weight decay even when they are not 1-D.
NO_WEIGHT_DECAY_KEYS = ("cls_token", "mask_token", "pos_embed", "position")


def no_weight_decay(path, shape):
    """True for MAE's "no_decay" group: a 1-D variable (bias, norm scale / offset) or a token / position.

    Example:
    >>> [no_weight_decay(p, s) for p, s in (("block_0/fc1/kernel", (4, 8)), ("block_0/fc1/bias", (8,)),
    ...                                       ("cls_token/token", (1, 1, 4)))]
    [False, True, True]
    """
    return len(tuple(shape)) <= 1 or any(key in str(path) for key in NO_WEIGHT_DECAY_KEYS)


@keras.saving.register_keras_serializable(package="keras_cxr")
class AdamW(keras.optimizers.AdamW):
    """`keras.optimizers.AdamW`, the same update, done by one fused kernel per step on PyTorch.

    Keras' PyTorch AdamW chains about a dozen `torch._foreach_*` passes over every parameter (plus the
    weight decay), each a separate sweep through memory. For the ViT-S/16 MAE of `benchmarks/mae_pretrain.py`
    (28 M parameters) one step took 183 ms on this project's 2-core CPU against 21 ms for PyTorch's own
    fused AdamW kernel (`torch.optim.AdamW(fused=True)`), which this class calls: at batch 8 the optimizer
    was a third of a mixed-precision training step. The arithmetic is Keras' (decoupled decay
    v ← v·(1 − lr·wd) first, Adam with Keras' ε placement; see `_torch_fused_adamw.py`), checked against
    `keras.optimizers.AdamW` to float32 rounding in the tests. Other backends, `amsgrad`, and variables
    that are not float32 take Keras' own path unchanged (TensorFlow fuses the update under XLA anyway).

    With `skip_weight_decay_1d=True` the variables of MAE's "no_decay" parameter group get no weight decay
    (facebookresearch/mae `util/misc.py` `param_groups_weight_decay`, as its pretraining uses): every 1-D
    variable (biases, LayerNorm / BatchNorm scales and offsets) and, by path, the class / mask tokens and
    position tables (`NO_WEIGHT_DECAY_KEYS`). It is the same rule as `LayerDecayAdamW`'s, written as a
    `_use_weight_decay` override so Keras' own path, the fused kernel and `exclude_from_weight_decay(...)`
    (which still works on top) all follow it, and it is saved in the config.

    Args:
        skip_weight_decay_1d: no weight decay on 1-D variables and on tokens / positions (default False:
            Keras' behaviour, every variable decays).
        **kwargs: `keras.optimizers.AdamW` arguments.

    Example:
    >>> import keras, numpy as np
    >>> variable = keras.Variable(np.ones((2, 2), "float32"))
    >>> optimizer = AdamW(learning_rate=0.1, weight_decay=0.0)
    >>> optimizer.apply([keras.ops.ones((2, 2))], [variable])
    >>> [round(float(w), 4) for w in keras.ops.convert_to_numpy(variable).ravel()]  # Adam's first step: lr
    [0.9, 0.9, 0.9, 0.9]

    Reference:
        Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019.
    """

    def __init__(self, *args, skip_weight_decay_1d=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.skip_weight_decay_1d = bool(skip_weight_decay_1d)

    def _use_weight_decay(self, variable):
        if getattr(self, "skip_weight_decay_1d", False):
            try:  # TensorFlow may hand over the underlying tf.Variable: its Keras variable holds the path
                path = self._trainable_variables[self._get_variable_index(variable)].path
            except (AttributeError, KeyError, IndexError, ValueError):
                path = getattr(variable, "path", variable.name)
            if no_weight_decay(path, variable.shape):
                return False
        return super()._use_weight_decay(variable)

    def get_config(self):
        return {**super().get_config(), "skip_weight_decay_1d": self.skip_weight_decay_1d}

    def build(self, variables):
        super().build(variables)
        self._rules = {}
        self._fused = False
        if keras.backend.backend() == "torch" and not self.amsgrad:
            from keras_cxr.optimizers import _torch_fused_adamw

            self._fused = _torch_fused_adamw.supported(variables)

    def update_rule(self, variable):
        """(learning-rate multiplier, weight decay on?) for a trainable variable; subclasses change it."""
        return 1.0, self.weight_decay is not None and self._use_weight_decay(variable)

    def _rule(self, variable):
        # The TensorFlow backend hands over the underlying tf.Variable (no `.path`): map it back first.
        index = self._get_variable_index(variable)
        if index not in self._rules:
            self._rules[index] = self.update_rule(self._trainable_variables[index])
        return index, self._rules[index]

    def _fused_now(self):
        """True when this step runs the fused kernel: PyTorch, supported variables, and not being compiled
        (a torch.compile step takes Keras' own path, weight decay included)."""
        from keras_cxr.optimizers import _torch_fused_adamw

        return self._fused and not _torch_fused_adamw.compiling()

    def _apply_weight_decay(self, variables):
        if not self._fused_now():  # the fused kernel decays inside its update
            super()._apply_weight_decay(variables)

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        from keras_cxr.optimizers import _torch_fused_adamw

        if not self._fused_now():
            return super()._backend_update_step(grads, trainable_variables, learning_rate)

        lr = float(keras.ops.convert_to_numpy(learning_rate))
        step = int(keras.ops.convert_to_numpy(self.iterations)) + 1
        groups = {}
        for grad, variable in zip(grads, trainable_variables):
            index, rule = self._rule(variable)
            columns = groups.setdefault(rule, ([], [], [], []))
            for column, tensor in zip(columns, (variable.value, grad, self._momentums[index].value,
                                                self._velocities[index].value)):
                column.append(tensor)
        for (scale, decays), (params, group_grads, exp_avgs, exp_avg_sqs) in groups.items():
            _torch_fused_adamw.fused_adamw(params, group_grads, exp_avgs, exp_avg_sqs, lr=lr * scale,
                                           beta_1=self.beta_1, beta_2=self.beta_2,
                                           weight_decay=self.weight_decay if decays else 0.0,
                                           epsilon=self.epsilon, step=step)
