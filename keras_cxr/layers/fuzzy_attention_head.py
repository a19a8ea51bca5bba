"""Attention-fuzzy ensemble head (paper 003, §2.3.3, Eq. 3)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_cxr")
class AttentionFuzzyHead(keras.layers.Layer):
    """Dense attention over concatenated member features, logits scaled by a learnable fuzziness.

    Paper 003's Eq. 3 is garbled in our text; we implement the form its prose describes:

    ``a = softmax(W_a f + b_a)`` (the trainable dense attention over the concatenated GAP features f of
    the frozen members), ``g = F · a ⊙ f`` (attended features; the factor F, the number of features,
    makes uniform attention the identity so the head starts from the plain concatenation),
    ``z = W_c g + b_c`` (logits), ``p = softmax(φ · z)`` with a trainable scalar fuzziness φ (initial
    value ``fuzziness``). φ < 1 softens the combination, φ > 1 sharpens it.

    Args:
        num_classes: number of output classes (2 for normal vs abnormal).
        fuzziness: initial value of the learnable fuzziness φ.
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: (batch, features) concatenated member features.

    Returns:
        (batch, num_classes) softmax probabilities.

    Example:
    >>> import numpy as np
    >>> head = AttentionFuzzyHead(num_classes=2)
    >>> tuple(head(np.ones((3, 8), "float32")).shape)
    (3, 2)

    Reference:
        Rajaraman et al., Frontiers in AI 2024, doi:10.3389/frai.2024.1419638, §2.3.3, Eq. 3;
        Ieracitano et al., 2022 (learnable fuzzy combination).
    """

    def __init__(self, num_classes=2, fuzziness=1.0, **kwargs):
        super().__init__(**kwargs)
        if int(num_classes) < 2:
            raise ValueError(f"num_classes must be >= 2 for a softmax head; received {num_classes}.")
        if not float(fuzziness) > 0:
            raise ValueError(f"fuzziness must be > 0; received {fuzziness}.")
        self.num_classes = int(num_classes)
        self.fuzziness = float(fuzziness)

    def build(self, input_shape):
        num_features = input_shape[-1]
        if num_features is None:
            raise ValueError(f"AttentionFuzzyHead needs a known feature size; received input shape {input_shape}.")
        self._num_features = int(num_features)
        self.attention = keras.layers.Dense(self._num_features, activation="softmax", name="attention")
        self.attention.build(input_shape)
        self.classifier = keras.layers.Dense(self.num_classes, name="logits")
        self.classifier.build(input_shape)
        self.fuzziness_weight = self.add_weight(
            name="fuzziness",
            shape=(),
            initializer=keras.initializers.Constant(self.fuzziness),
            trainable=True,
        )

    def call(self, inputs):
        attended = inputs * self.attention(inputs) * float(self._num_features)
        logits = self.classifier(attended)
        return ops.softmax(logits * ops.cast(self.fuzziness_weight, logits.dtype), axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.num_classes,)

    def get_config(self):
        config = super().get_config()
        config.update({"num_classes": self.num_classes, "fuzziness": self.fuzziness})
        return config
