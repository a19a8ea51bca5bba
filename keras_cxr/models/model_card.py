"""What a saved model expects and what its outputs mean: the `ModelCard` every keras_cxr `.keras` file carries.

A `.keras` file holds a model's architecture and weights but not its preprocessing (input size, channels,
normalization) nor the meaning of its outputs (class names, task, decision threshold); without them a saved model
cannot be evaluated on new images without reading the code that trained it. timm keeps the first half as a
model's `pretrained_cfg`, keras-hub as a saved preprocessor. Here both halves are one small JSON document,
`keras_cxr_card.json`, stored inside the `.keras` zip beside Keras' own `config.json` and `metadata.json`
(Keras' loader reads only the entries it knows, so the file stays an ordinary `.keras` file):

>>> import keras, tempfile, os
>>> inputs = keras.Input((8, 8, 1))
>>> model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(keras.layers.Flatten()(inputs)))
>>> model.card = ModelCard(task="binary", class_names=["pneumonia"], input_size=(8, 8), threshold=0.4)
>>> path = os.path.join(tempfile.mkdtemp(), "m.keras")
>>> save_model(model, path)
>>> load_model(path).card.threshold
0.4

`save_model` / `load_model` keep the card across any number of round trips (`load_model` attaches it as
`model.card`); `keras.saving.load_model` still reads the file, without the card. Models built by `create_model`
get the card their registry entry declares (`keras_cxr.models.registry`); the recipes complete it with class
names, task and threshold before they save a trained model.
"""

import dataclasses
import json
import os
import zipfile

import keras
import numpy as np

CARD_FILENAME = "keras_cxr_card.json"
CARD_FORMAT = "keras_cxr.model_card/1"
CARD_TASKS = ("binary", "multiclass", "multilabel", "segmentation", "disease_age", "regression", "restoration",
              "features")
CLASSIFIER_TASKS = ("binary", "multiclass", "multilabel", "disease_age")  # the tasks with class probabilities
NORMALIZATIONS = ("none", "imagenet")


class ModelCardError(ValueError):
    """A model file has no card, or a card that cannot be used (the message names the file and the fix)."""


@dataclasses.dataclass
class ModelCard:
    """Preprocessing and output meaning of a model.

    Attributes:
        task: one of `CARD_TASKS`: "binary" (one sigmoid output = P(class_names[0])), "multiclass" (softmax
            over `class_names`), "multilabel" (one sigmoid per class), "segmentation" (a per-pixel mask
            probability), "disease_age" (dict outputs: `disease` over `class_names`, `age` in years),
            "regression", "restoration" (an image), "features" (a backbone without a head).
        class_names: the output columns' names, in order ([] when the outputs are not classes).
        input_size: (height, width) the model was trained at; images are resized to it.
        channels: input channels (1: grayscale CXR; a 3-channel model is given the gray image three times).
        normalization: "none" (intensities in [0, 1], as the phantom and the readers give them) or "imagenet"
            (then `(x − 0.449) / 0.226`, ImageNet's mean and std averaged over RGB:
            `keras_cxr.data.transforms.IMAGENET_GRAY_MEAN / _STD`).
        threshold: decision threshold on the positive probability (binary), one per class (multi-label), or
            None (multi-class: argmax; 0.5 is used for sigmoid outputs without one).
        temperature: the temperature T > 0 fitted on the validation split (Guo et al. 2017,
            `keras_cxr.metrics.fit_temperature`): sigmoid(logit(p) / T) or softmax(log p / T) are its calibrated
            probabilities; None when none was fitted. The model's own outputs stay uncalibrated (the
            recorded threshold applies to them); `keras-cxr predict` adds calibrated columns, `keras-cxr
            evaluate` reports the ECE after scaling.
        model_name: the registry name it was built from, where known.
        source: who made it (recipe and stage, e.g. "dual_mae/finetune_mae_seed0").
        notes: free text (e.g. how the threshold was chosen).
    """

    task: str = "features"
    class_names: list = dataclasses.field(default_factory=list)
    input_size: tuple = (224, 224)
    channels: int = 1
    normalization: str = "none"
    threshold: object = None
    temperature: float | None = None
    model_name: str = ""
    source: str = ""
    notes: str = ""

    def __post_init__(self):
        if self.task not in CARD_TASKS:
            raise ModelCardError(f"ModelCard task must be one of {CARD_TASKS}; received {self.task!r}.")
        if self.normalization not in NORMALIZATIONS:
            raise ModelCardError(f"ModelCard normalization must be one of {NORMALIZATIONS}; received "
                                 f"{self.normalization!r}.")
        self.class_names = [str(name) for name in self.class_names]
        self.input_size = tuple(int(v) for v in self.input_size)
        if len(self.input_size) != 2 or min(self.input_size) < 1:
            raise ModelCardError(f"ModelCard input_size must be (height, width); received {self.input_size!r}.")
        self.channels = int(self.channels)
        if self.temperature is not None:
            self.temperature = float(self.temperature)
            if not self.temperature > 0:
                raise ModelCardError(f"ModelCard temperature must be > 0 (fitted on validation data); received "
                                     f"{self.temperature!r}.")
        if self.threshold is not None:
            threshold = np.asarray(self.threshold, dtype=float)
            self.threshold = float(threshold) if threshold.ndim == 0 else threshold.tolist()

    def to_json(self):
        """The card as a JSON string (with its format tag)."""
        return json.dumps({"format": CARD_FORMAT, **dataclasses.asdict(self)}, indent=2)

    @classmethod
    def from_json(cls, text, path="<card>"):
        """Reads a card written by `to_json`; a `ModelCardError` naming `path` for another format."""
        data = json.loads(text)
        if data.pop("format", None) != CARD_FORMAT:
            raise ModelCardError(f"{path}: {CARD_FILENAME} is not a {CARD_FORMAT} card.")
        known = {field.name for field in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def replace(self, **changes):
        """A copy with `changes` applied."""
        return dataclasses.replace(self, **changes)


def card_for(model, **fields):
    """The card `model` carries (`model.card`, e.g. from `create_model`) updated with `fields`, or a new one
    with the model's own input size and channels; attached to the model and returned.

    Example:
    >>> import keras
    >>> model = keras.Sequential([keras.Input((16, 12, 1)), keras.layers.Flatten(), keras.layers.Dense(2)])
    >>> card_for(model, task="multiclass", class_names=["a", "b"]).input_size
    (16, 12)
    """
    card = getattr(model, "card", None)
    if card is None:
        shape = model.inputs[0].shape if getattr(model, "inputs", None) else (None, 224, 224, 1)
        card = ModelCard(input_size=(shape[1] or 224, shape[2] or 224), channels=shape[-1] or 1)
    model.card = card.replace(**fields)
    return model.card


def save_model(model, path, card=None):
    """`model.save(path)` plus its card (`card`, else `model.card`) inside the `.keras` zip, written under a
    temporary name and renamed, so a run killed while saving never leaves a half-written file to be trusted.

    Args:
        model: a `keras.Model`.
        path: the `.keras` file to write.
        card: a `ModelCard`; defaults to `model.card` (nothing extra is written when neither is set).
    """
    path = os.fspath(path)
    partial = path[: -len(".keras")] + ".partial.keras"
    model.save(partial)
    card = card if card is not None else getattr(model, "card", None)
    if card is not None:
        with zipfile.ZipFile(partial, "a") as archive:
            archive.writestr(CARD_FILENAME, card.to_json())
    os.replace(partial, path)


def read_card(path, required=True):
    """The `ModelCard` inside the `.keras` file `path`.

    Raises:
        ModelCardError: when `required` and the file has no card (a model saved with plain `model.save`).
    """
    path = os.fspath(path)
    if not zipfile.is_zipfile(path):
        raise ModelCardError(f"{path} is not a .keras file (a zip archive). Save models with "
                             "keras_cxr.models.save_model(model, 'name.keras').")
    with zipfile.ZipFile(path) as archive:
        if CARD_FILENAME not in archive.namelist():
            if not required:
                return None
            raise ModelCardError(
                f"{path} has no {CARD_FILENAME}: it records nothing of the model's preprocessing or outputs "
                "(saved with plain model.save?). Save it with keras_cxr.models.save_model(model, path, "
                "ModelCard(...)), or give the missing facts by hand (keras-cxr evaluate --image-size, "
                "--normalization, --class-names, --task).")
        return ModelCard.from_json(archive.read(CARD_FILENAME).decode(), path)


def load_model(path, compile=True):
    """`keras.saving.load_model(path)` with every keras_cxr serializable registered and the file's card (if
    any) attached as `model.card`."""
    # Imported here, not at the top: these packages import keras_cxr.models themselves (registers every
    # serializable a saved model may use).
    import keras_cxr.callbacks  # noqa: F401
    import keras_cxr.ensembles  # noqa: F401
    import keras_cxr.layers  # noqa: F401
    import keras_cxr.losses  # noqa: F401
    import keras_cxr.metrics  # noqa: F401
    import keras_cxr.optimizers  # noqa: F401

    if not os.path.exists(path):
        raise FileNotFoundError(f"model file {path!r} does not exist.")
    model = keras.saving.load_model(path, compile=compile)
    model.card = read_card(path, required=False)
    return model
