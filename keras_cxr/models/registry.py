"""The model registry: every public builder reachable by name, as timm's `create_model` / `list_models`.

Builders register themselves with `@register_model` where they are defined; `keras_cxr.models` imports
every model module, so `list_models()` is complete after `import keras_cxr.models`. A recipe names its
models by string (`create_model("vit_small", num_classes=6, head_activation="sigmoid")`), and one test
(`tests/models/test_registry.py`) checks every registered model with `keras_cxr.testing.run_model_test`.
"""

import dataclasses
import difflib
import fnmatch


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """A registered builder.

    Attributes:
        name: the registry name (`vit_small`).
        builder: the callable following the builder contract (`keras_cxr.models.contract`).
        test_overrides: small arguments under which the registry test builds it on a CPU (e.g. a 32 × 32
            input); the architecture itself is not shrunk unless the entry says so in `test_note`.
        test_note: why the overrides are what they are.
    """

    name: str
    builder: object
    test_overrides: dict
    test_note: str = ""


_REGISTRY = {}


def register_model(builder=None, *, name=None, test_overrides=None, test_note=""):
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
        _REGISTRY[key] = ModelEntry(key, function, dict(test_overrides or {}), test_note)
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
    """
    return model_entry(model_name).builder(**overrides)


def _import_all():
    import keras_cxr.models  # noqa: F401 - every model module registers its builders on import
