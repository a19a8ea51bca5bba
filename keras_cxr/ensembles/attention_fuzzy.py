"""Attention-fuzzy (A-F) ensemble of frozen classifiers (paper 003, §2.3.3, Eq. 3; our reading of Eq. 3 and
its alternative are in `build_attention_fuzzy_ensemble`)."""

import keras

from keras_cxr.layers.fuzzy_attention_head import AttentionFuzzyHead


def _feature_layer(member, layer_name):
    """The member's pooled-feature layer: `layer_name`, else its last GlobalAveragePooling2D."""
    if layer_name is not None:
        return member.get_layer(layer_name)
    pools = [layer for layer in member.layers if isinstance(layer, keras.layers.GlobalAveragePooling2D)]
    if not pools:
        raise ValueError(
            f"Member {member.name!r} has no GlobalAveragePooling2D layer; pass `feature_layers=[...]` naming "
            "the layer whose output is each member's pooled feature vector."
        )
    return pools[-1]


def build_attention_fuzzy_ensemble(members, *, num_classes=2, feature_layers=None, fuzziness=1.0,
                                   name="attention_fuzzy_ensemble"):
    """Builds the A-F ensemble: frozen members' GAP features → dense attention → fuzzy softmax.

    Each member (e.g. Den-P and Deb-P from `keras_cxr.models.encoder_classifier`) is truncated at its
    global-average-pooling layer (the GAP of its deepest convolutional features) and frozen; the pooled
    features are concatenated and fed to `keras_cxr.layers.AttentionFuzzyHead`. Only the head trains.
    The returned functional model holds its members, so it saves to and loads from one `.keras` file.

    Our reading of Eq. 3. The equation is garbled in the text we have; its legend says "α_i are the
    attention weights applied to the logits, f_i(x), from each model, combined and passed through a softmax",
    while the method prose says the attention is "a trainable dense layer [that] assigns weights to the
    concatenated feature" of the members' GAP layers, and "a custom layer multiplies the logits by a
    trainable fuzziness parameter before applying a Softmax". We follow the prose (`AttentionFuzzyHead`):
    ``a = softmax(W_a f + b_a)`` over the concatenated GAP features f (length F), ``g = F · (a ⊙ f)``,
    ``z = W_c g + b_c``, ``p = softmax(φ z)`` with a learnable scalar fuzziness φ.
    The other reading, closer to the legend, puts one weight per member on the members' own logits:
    ``p = softmax(φ · Σ_i α_i z_i(x))`` with ``α = softmax(w)`` (or computed from the features), i.e. a
    learned, input-dependent weighted average of Den-P's and Deb-P's logits with a temperature. It has
    only a handful of parameters (it cannot learn new feature combinations) and at α = (1/2, 1/2), φ = 1 it
    is the logit average; this function does not build it.
    The factor F in ``g`` is ours, not the paper's: a softmax over F features averages 1/F per feature, so
    without it the attended features would be F times smaller than f (1/1024 for two 512-feature VGG-16
    members) and the head would start from near-zero logits; multiplying by F undoes this 1/F scaling, so
    uniform attention passes f unchanged.

    Args:
        members: sequence of Keras classifiers sharing one input shape.
        num_classes: classes of the ensemble's softmax output.
        feature_layers: optional list of layer names (one per member) giving the pooled features;
            default: each member's last `GlobalAveragePooling2D`.
        fuzziness: initial value of the learnable fuzziness.
        name: model name.

    Returns:
        A `keras.Model` mapping images to (batch, num_classes) probabilities.

    Raises:
        ValueError: with no members, mismatched input shapes, or a member without a pooled feature layer.

    Example:
    >>> import keras
    >>> def member(n):
    ...     x = keras.Input((16, 16, 1)); h = keras.layers.Conv2D(4, 3, name=f"conv{n}")(x)
    ...     h = keras.layers.GlobalAveragePooling2D()(h)
    ...     return keras.Model(x, keras.layers.Dense(2, activation="softmax")(h), name=f"m{n}")
    >>> ensemble = build_attention_fuzzy_ensemble([member(1), member(2)])
    >>> ensemble.output_shape
    (None, 2)

    Reference:
        Rajaraman et al., Frontiers in AI 2024, doi:10.3389/frai.2024.1419638, §2.3.3, Eq. 3;
        Ieracitano et al., 2022 (the learnable fuzzy combination the paper cites).
    """
    members = list(members)
    if not members:
        raise ValueError("build_attention_fuzzy_ensemble needs at least one member model; received none.")
    if feature_layers is not None and len(feature_layers) != len(members):
        raise ValueError(f"feature_layers must name one layer per member ({len(members)}); received {feature_layers}.")
    input_shapes = {tuple(m.input_shape[1:]) for m in members}
    if len(input_shapes) != 1:
        raise ValueError(f"All members must share one input shape; received {sorted(input_shapes)}.")
    inputs = keras.Input(shape=input_shapes.pop(), name="image")
    features = []
    for i, member in enumerate(members):
        layer = _feature_layer(member, None if feature_layers is None else feature_layers[i])
        extractor = keras.Model(member.inputs, layer.output, name=f"{member.name}_features")
        extractor.trainable = False
        features.append(extractor(inputs, training=False))
    merged = keras.layers.Concatenate(name="member_features")(features) if len(features) > 1 else features[0]
    outputs = AttentionFuzzyHead(num_classes=num_classes, fuzziness=fuzziness, name="attention_fuzzy_head")(merged)
    return keras.Model(inputs, outputs, name=name)
