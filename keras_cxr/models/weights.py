"""`weights=` of the builder contract: load a file, convert a PyTorch state dict, or copy from a model.

Written here because Keras' `Model.load_weights` needs the exact same architecture, while transfer
learning needs weights moved between different models that share layers by name (an MAE's encoder into a
classifier, a 224-px pretraining into a 256-px fine-tuning, RGB ImageNet kernels into a 1-channel stem).
Nothing downloads unless the caller asks for `weights="imagenet"`, and then only where a builder names
the file; a failure says where to get the file and how to pass it.
"""

import os

import keras
import numpy as np

TORCH_SUFFIXES = (".pth", ".pt", ".bin", ".safetensors")


def _leaf_layers(model):
    """(name, layer) of every layer that owns weights, entering nested models (a functional encoder)."""
    found = []
    for layer in model.layers if isinstance(model, keras.Model) else [model]:
        if isinstance(layer, keras.Model) and layer.layers:
            found += _leaf_layers(layer)
        elif layer.weights:
            found.append((layer.name, layer))
    return found


def _source_of(source):
    """A pretraining model gives its encoder: `encoder` (MAE, GMML), DualMAE's `online.encoder` (paper 000
    §III.B fine-tunes the online network)."""
    source = getattr(source, "online", source)
    encoder = getattr(source, "encoder", None)
    return encoder if isinstance(encoder, keras.Model) else source


def _adapt(value, target_shape):
    """An RGB kernel summed over its input channels for a 1-channel layer (timm's `adapt_input_conv`)."""
    value = np.asarray(value)
    if value.ndim == 4 and len(target_shape) == 4 and value.shape[:2] == tuple(target_shape[:2]) \
            and value.shape[3] == target_shape[3] and target_shape[2] == 1:
        return value.sum(axis=2, keepdims=True)
    return None


def copy_weights(source, target, skip_mismatched_head=True, strict="target", skip=()):
    """Copies weights from `source` into `target` layer by layer name; returns the names copied.

    Layers are matched by name (nested functional models are entered; a model with an `encoder`
    attribute, e.g. an MAE, gives that encoder). Per layer, shapes must agree, except: a fixed sin-cos
    position table (`SinCosPositionEmbedding`, recomputed for the target's patch grid, so a 224-px
    pretraining transfers to 256 px), a head with another class count (left as initialized), and a
    3-channel convolution kernel into a 1-channel layer (summed over the colour channels).

    Strict by default: a layer copied silently in part is a pretrained model that is partly random (paper
    002's Xception kept ~981k shortcut parameters random that way), so an unmatched layer is an error, not a
    skip. `strict="target"`: every target layer that owns weights is matched; `strict="source"`: every
    source layer is used (an encoder transferred whole into a bigger model, the builders' `weights=`);
    `strict=False`: whatever matches. `skip` names the intended gaps (fnmatch patterns, e.g. a new head).

    Raises:
        ValueError: no layer in common, duplicate names in the source, other shape mismatches, or unmatched
            layers under `strict` (each listed).

    Example:
    >>> from keras_cxr.models import create_model
    >>> a = create_model("resnet34", input_shape=(64, 64, 3), num_classes=10)
    >>> b = create_model("resnet34", input_shape=(64, 64, 1), num_classes=2)
    >>> "stem_conv" in copy_weights(a, b)
    True
    """
    import fnmatch

    from keras_cxr.layers.position_embedding import SinCosPositionEmbedding

    if strict not in ("target", "source", False, None):
        raise ValueError(f"strict must be 'target', 'source' or False; received {strict!r}.")
    if type(source) is type(target) and [tuple(w.shape) for w in source.weights] == \
            [tuple(w.shape) for w in target.weights]:
        target.set_weights(source.get_weights())  # the same architecture: every weight, in order
        return [layer.name for layer in target.layers]
    source = _source_of(source)
    source_layers = {}
    for name, layer in _leaf_layers(source):
        if name in source_layers:
            raise ValueError(f"The source model {source.name!r} has two layers named {name!r}; pass the sub-model "
                             "whose weights you want (e.g. dual_mae.online).")
        source_layers[name] = layer
    copied, mismatched, accounted = [], [], set()
    target_layers = _leaf_layers(target)
    for name, layer in target_layers:
        if name not in source_layers:
            continue
        values, shapes = source_layers[name].get_weights(), [tuple(w.shape) for w in layer.weights]
        if [tuple(v.shape) for v in values] != shapes:
            if isinstance(layer, SinCosPositionEmbedding) or (name == "head" and skip_mismatched_head):
                accounted.add(name)  # recomputed for the grid / a head of another size: intended
                continue
            adapted = [_adapt(v, s) if tuple(v.shape) != s else v for v, s in zip(values, shapes)]
            if len(values) != len(shapes) or any(a is None for a in adapted):
                mismatched.append(f"{name}: {[tuple(v.shape) for v in values]} → {shapes}")
                continue
            values = adapted
        layer.set_weights(values)
        copied.append(name)
        accounted.add(name)
    if mismatched:
        raise ValueError(f"Cannot copy weights from {source.name!r} into {target.name!r}; shapes differ for "
                         f"{mismatched}. Build the target with the source's architecture arguments.")
    if not copied:
        raise ValueError(f"No layer of {target.name!r} has a namesake with weights in {source.name!r}; weights copy "
                         "by layer name (e.g. an MAE encoder into a ViT of the same size).")
    if strict:
        side = target_layers if strict == "target" else list(source_layers.items())
        unmatched = [name for name, _ in side if name not in accounted
                     and not any(fnmatch.fnmatchcase(name, pattern) for pattern in skip)]
        if unmatched:
            other = source.name if strict == "target" else target.name
            raise ValueError(f"copy_weights({source.name!r} → {target.name!r}): {len(unmatched)} {strict} layers with "
                             f"weights have no namesake in {other!r}: {unmatched[:20]}"
                             f"{' ...' if len(unmatched) > 20 else ''}. Name the layers alike in both models, or pass "
                             "skip=[...] for intended gaps (e.g. a new head), or strict=False to copy what matches.")
    return copied


def load_weights(model, weights, *, builder, torch_converter=None, imagenet=None):
    """Applies the contract's `weights=` to a freshly built `model`; returns it.

    Args:
        model: the built model.
        weights: None; a `.weights.h5` file (exact architecture, Keras' `load_weights`); a `.keras` file
            or a `keras.Model` (copied by layer name, `copy_weights`); a PyTorch state dict file (`.pth`,
            `.pt`, `.bin`, `.safetensors`) when the builder has `torch_converter`; or "imagenet" when the
            builder has `imagenet` (a callable returning the weights file, or raising how to supply it).
        builder: the builder's name, for error messages.
        torch_converter: `fn(model, path)` loading a torchvision / timm state dict.
        imagenet: `fn() -> path or keras.Model` for `weights="imagenet"`.

    Raises:
        FileNotFoundError: a weights path that does not exist.
        ValueError: a weights kind this builder cannot load, with what it can.
    """
    if weights is None:
        return model
    if isinstance(weights, keras.layers.Layer):
        copy_weights(weights, model, strict="source")  # the whole pretrained encoder, a new head may be added
        return model
    if isinstance(weights, str) and weights == "imagenet":
        if imagenet is None:
            raise ValueError(f"{builder} has no ImageNet weights in keras_cxr. Pass weights=None, a .weights.h5 / "
                             ".keras file, or pretrain it yourself.")
        return load_weights(model, imagenet(), builder=builder, torch_converter=torch_converter)
    path = os.fspath(weights)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{builder}: the weights file {path!r} does not exist. Pass the path of a "
                                f".weights.h5 / .keras file{' or a PyTorch state dict' if torch_converter else ''}.")
    lowered = path.lower()
    if lowered.endswith(".weights.h5"):
        model.load_weights(path)
    elif lowered.endswith(".keras"):
        copy_weights(keras.saving.load_model(path, compile=False), model, strict="source")
    elif lowered.endswith(TORCH_SUFFIXES):
        if torch_converter is None:
            raise ValueError(f"{builder} has no converter for PyTorch state dicts ({path!r}). Convert the weights to "
                             "a Keras .weights.h5 file, or use a builder with a converter (resnet34).")
        torch_converter(model, path)
    elif lowered.endswith(".h5"):  # a keras.applications weights file
        model.load_weights(path, skip_mismatch=False)
    else:
        raise ValueError(f"{builder}: cannot tell the format of weights file {path!r}; use .weights.h5, .keras"
                         f"{' or ' + '/'.join(TORCH_SUFFIXES) if torch_converter else ''}.")
    return model


def weights_file(filename, url, builder, sha256_prefix=None):
    """The path of a published weights file for `weights="imagenet"`: Keras' cache if it is there, else
    fetched with `keras.utils.get_file` (the caller asked for it by name). An `OSError` tells how to
    download it elsewhere and pass the path when the network is unreachable.
    """
    try:
        path = keras.utils.get_file(filename, url, cache_subdir="models")
    except Exception as error:  # noqa: BLE001 - offline, proxy, SSL: all mean "no file here"
        cache = os.path.join(os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras")), "models")
        raise OSError(f"{builder}: could not fetch the ImageNet weights ({type(error).__name__}: {error}). Download "
                      f"{url} on a machine with internet and either place it as {os.path.join(cache, filename)} or "
                      f"pass weights=<path to {filename}>.") from error
    if sha256_prefix is not None:
        import hashlib

        with open(path, "rb") as handle:
            if not hashlib.sha256(handle.read()).hexdigest().startswith(sha256_prefix):
                raise OSError(f"{path} does not match the published {filename}; delete it and retry.")
    return path
