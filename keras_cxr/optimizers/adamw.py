"""Keras' AdamW with PyTorch's fused update kernel (MAE pretraining, paper 000 §III.B)."""

import keras


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

    Args:
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

    def _apply_weight_decay(self, variables):
        if not self._fused:
            super()._apply_weight_decay(variables)

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        if not self._fused:
            return super()._backend_update_step(grads, trainable_variables, learning_rate)
        from keras_cxr.optimizers import _torch_fused_adamw

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
