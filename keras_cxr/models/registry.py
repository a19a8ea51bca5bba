"""The model registry: every public builder reachable by name, as timm's `create_model` / `list_models`.

Builders register themselves with `@register_model` where they are defined; `keras_cxr.models` imports
every model module, so `list_models()` is complete after `import keras_cxr.models`. A recipe names its
models by string (`create_model("vit_small", num_classes=6, head_activation="sigmoid")`), and one test
(`tests/models/test_registry.py`) checks every registered model with `keras_cxr.testing.run_model_test`.
"""

import dataclasses
import difflib
import fnmatch

from keras_cxr.models.model_card import ModelCard


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """A registered builder.

    Attributes:
        name: the registry name (`vit_small`).
        builder: the callable following the builder contract (`keras_cxr.models.contract`).
        test_overrides: small arguments under which the registry test builds it on a CPU (e.g. a 32 × 32
            input); the architecture itself is not shrunk unless the entry says so in `test_note`.
        test_note: why the overrides are what they are.
        kind: what the model does: "classifier" (a backbone, with a head when `num_classes` > 0),
            "segmentation" (a per-pixel mask), "image_to_image" (restoration or segmentation, as the Sharp
            U-Net), or "pretraining" (a model that owns its self-supervised objective: MAE, dual-MAE, GMML).
        normalization: the input normalization its builder's users feed it ("none": [0, 1]; "imagenet": the
            ViT family, as mae and DeiT feed ViTs); `create_model` records it in the model's `ModelCard`.
    """

    name: str
    builder: object
    test_overrides: dict
    test_note: str = ""
    kind: str = "classifier"
    normalization: str = "none"


_REGISTRY = {}


def register_model(builder=None, *, name=None, test_overrides=None, test_note="", kind="classifier",
                   normalization="none"):
    """Registers a builder under `name` (default: the function's name); usable as `@register_model` or
    `@register_model(test_overrides={...})`. Re-registering a name replaces the entry.

    Example:
    >>> @register_model(test_overrides={"input_shape": (32, 32, 1)})
    ... def tiny_cnn(input_shape=(224, 224, 1), num_classes=0, head_activation=None, weights=None, name="tiny_cnn"):
    ...     import keras
    ...     inputs = keras.Input(input_shape)
    ...     return keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(inputs), name=name)
    >>> "tiny_cnn" in list_models()
    True
    >>> unregister_model("tiny_cnn")
    """

    def decorate(function):
        key = name or function.__name__
        _REGISTRY[key] = ModelEntry(key, function, dict(test_overrides or {}), test_note, kind, normalization)
        return function

    return decorate(builder) if builder is not None else decorate


def unregister_model(name):
    """Removes `name` from the registry (for tests and notebooks that register throw-away models)."""
    _REGISTRY.pop(name, None)


def list_models(pattern=None):
    """Sorted names of the registered models, optionally filtered by a shell-style `pattern` ("vit_*").

    Example:
    >>> list_models("vit_*")
    ['vit_base', 'vit_small', 'vit_tiny']
    """
    _import_all()
    names = sorted(_REGISTRY)
    return names if pattern is None else [n for n in names if fnmatch.fnmatchcase(n, pattern)]


def model_entry(name):
    """The `ModelEntry` of `name`; a `ValueError` naming close matches for an unknown name."""
    _import_all()
    if name not in _REGISTRY:
        close = difflib.get_close_matches(str(name), list(_REGISTRY), n=5, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"Unknown model {name!r}.{hint} Registered models: {', '.join(sorted(_REGISTRY))} "
                         "(keras_cxr.models.list_models()).")
    return _REGISTRY[name]


def create_model(model_name, /, **overrides):
    """Builds the registered model `model_name`, passing `overrides` to its builder (the builder contract:
    `input_shape`, `num_classes`, `head_activation`, `weights`, `name`, then the builder's own arguments).

    Example:
    >>> model = create_model("resnet34", input_shape=(64, 64, 1), num_classes=3, head_activation="softmax")
    >>> model.output_shape
    (None, 3)
    >>> create_model("vit_smal")
    Traceback (most recent call last):
    ...
    ValueError: Unknown model 'vit_smal'. Did you mean 'vit_small', ...

    The model carries a `ModelCard` (`model.card`: input size, channels, the entry's normalization, and the
    task its head implies), which `keras_cxr.models.save_model` writes into its `.keras` file:
    >>> model.card.task, model.card.class_names, model.card.normalization
    ('multiclass', ['class_0', 'class_1', 'class_2'], 'none')
    """
    entry = model_entry(model_name)
    model = entry.builder(**overrides)
    model.card = default_card(entry, model, overrides)
    return model


def default_card(entry, model, overrides):
    """The `ModelCard` of a model `entry` built with `overrides`: its input size and channels, the entry's
    normalization, and the task its head implies (a sigmoid head of one unit: binary; of several: multi-label;
    softmax: multi-class; no head: features; a segmentation entry: segmentation). Class names are placeholders
    (`class_0` ...) until a recipe names them."""
    shape = model.inputs[0].shape if getattr(model, "inputs", None) else (None, *overrides.get("input_shape",
                                                                                             (224, 224, 1)))
    num_classes = int(overrides.get("num_classes") or 0)
    activation = overrides.get("head_activation")
    if entry.kind == "segmentation":
        task = "segmentation"
    elif entry.kind in ("pretraining", "image_to_image") or not num_classes:
        task = "features"
    elif activation == "softmax":
        task = "multiclass"
    else:
        task = "binary" if num_classes == 1 else "multilabel"
    names = [f"class_{c}" for c in range(num_classes)] if task in ("binary", "multiclass", "multilabel") else []
    return ModelCard(task=task, class_names=names, input_size=(shape[1] or 224, shape[2] or 224),
                     channels=shape[-1] or 1, normalization=entry.normalization, model_name=entry.name)


def _import_all():
    import keras_cxr.models  # noqa: F401 - every model module registers its builders on import
