"""Stochastic depth (DropPath): drops a residual branch per sample (Huang et al. 2016)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_cxr")
class DropPath(keras.layers.Layer):
    """Zeroes the whole input of a sample with probability `rate` in training, scaling survivors by 1/(1−rate).

    Keras' Dropout drops elements, not samples, hence this layer.

    Example:
    >>> import numpy as np
    >>> x = np.ones((4, 3, 2), "float32")
    >>> float(keras.ops.sum(DropPath(0.5)(x, training=False)))
    24.0
    """

    def __init__(self, rate=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= float(rate) < 1:
            raise ValueError(f"rate must be in [0, 1); received {rate}.")
        self.rate, self.seed = float(rate), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        shape = (ops.shape(inputs)[0],) + (1,) * (len(inputs.shape) - 1)
        keep = ops.cast(keras.random.uniform(shape, seed=self.seed_generator) >= self.rate, inputs.dtype)
        return inputs * keep / (1.0 - self.rate)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
