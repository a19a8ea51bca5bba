"""`disease_age_model`: a CNN encoder with a condition head (CE) and an age head (MSE), Eq. 2–4 of paper 002."""

import keras
from keras import ops

from keras_cxr.models.contract import output_dtype
from keras_cxr.models.registry import create_model


@keras.saving.register_keras_serializable(package="keras_cxr")
class ScaledMeanSquaredError(keras.losses.Loss):
    """Mean squared error of `(y_true − y_pred) / scale`: Eq. 3's MSE on the standardized age.

    With `scale` = the training ages' standard deviation the age loss is unit-free, so Eq. 4's α = 0.8 weighs
    it against the cross-entropy the same whether ages are in years or months (paper 002 does not say
    which unit its MSE used).

    Example:
    >>> import numpy as np
    >>> float(ScaledMeanSquaredError(2.0)(np.array([[1.0]]), np.array([[3.0]])))
    1.0
    """

    def __init__(self, scale=1.0, name="scaled_mse", **kwargs):
        super().__init__(name=name, **kwargs)
        if not float(scale) > 0:
            raise ValueError(f"scale must be > 0; received {scale}.")
        self.scale = float(scale)

    def call(self, y_true, y_pred):
        difference = (ops.cast(y_true, "float32") - ops.cast(y_pred, "float32")) / self.scale
        return ops.mean(ops.square(difference), axis=-1)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def disease_age_model(backbone="resnet50", num_classes=2, age_loss_weight=0.8, input_shape=(224, 224, 1),
                      weights=None, name=None, *, multilabel=False, age_mean=0.0, age_std=1.0,
                      backbone_kwargs=None):
    """A CNN encoder (pooled features) with two heads: `{"disease": probabilities, "age": value}`.

    The disease head (paper 002's MCD) is a linear layer with softmax (`multilabel=True`: sigmoid, for
    findings that co-occur); the age head (AgePredictionNet, APN) is a linear layer predicting the
    standardized age, turned back into the dataset's unit by `age · age_std + age_mean` (a `Rescaling`
    layer named "age"), so predictions, MAE and R² read in years or months. Compile with
    `disease_age_losses(...)`: CE (Eq. 2) + `age_loss_weight` × MSE (Eq. 3) on the standardized age (Eq. 4,
    α = 0.8).

    Args:
        backbone: a registered CNN builder name; its pooled features feed both heads.
        num_classes: conditions (11 in paper 002's AI-Hub infant data).
        age_loss_weight: α of Eq. 4 (kept on the model as `model.age_loss_weight` for `disease_age_losses`).
        input_shape: (H, W, C), [0, 1] images (1 channel by default).
        weights: None; an `autoencoder(backbone)` model (or its `.keras` file) or any model sharing the
            backbone's layer names: its encoder weights are copied by name (paper 002 stage 2); or a
            `.weights.h5` file of this same model.
        name: model name (default "disease_age_<backbone>").
        multilabel: sigmoid disease head instead of softmax.
        age_mean, age_std: the training ages' mean and standard deviation (dataset unit).
        backbone_kwargs: extra arguments of the backbone builder.

    Example:
    >>> import numpy as np
    >>> model = disease_age_model("resnet34", num_classes=3, input_shape=(64, 64, 1), age_mean=6.0, age_std=3.0)
    >>> {k: v.shape for k, v in sorted(model.predict(np.zeros((2, 64, 64, 1)), verbose=0).items())}
    {'age': (2, 1), 'disease': (2, 3)}

    Reference:
        Park & Martin, "Cross-Domain Transfer Learning for Medical Condition Classification from Infant X-Ray
        Images", Fig. 3(b), Eq. 2–4.
    """
    from keras_cxr.models.weights import copy_weights

    name = name or f"disease_age_{backbone}"
    if int(num_classes) < 2 and not multilabel:
        raise ValueError(f"{name}: a softmax disease head needs num_classes >= 2; received {num_classes} "
                         "(use multilabel=True for one sigmoid output).")
    if not float(age_std) > 0:
        raise ValueError(f"{name}: age_std must be > 0; received {age_std}.")
    encoder = create_model(backbone, input_shape=input_shape, **(backbone_kwargs or {}))
    inputs = keras.Input(encoder.input_shape[1:], name="image")
    features = encoder(inputs)
    disease = keras.layers.Dense(int(num_classes), activation="sigmoid" if multilabel else "softmax", name="disease",
                                 dtype=output_dtype())(features)
    standardized = keras.layers.Dense(1, name="age_standardized", dtype=output_dtype())(features)
    age = keras.layers.Rescaling(scale=float(age_std), offset=float(age_mean), name="age",
                                 dtype=output_dtype())(standardized)
    model = keras.Model(inputs, {"disease": disease, "age": age}, name=name)
    model.age_loss_weight, model.age_std, model.multilabel = float(age_loss_weight), float(age_std), bool(multilabel)
    if isinstance(weights, str) and weights.endswith(".weights.h5"):
        model.load_weights(weights)
    elif weights is not None:
        source = keras.saving.load_model(weights) if isinstance(weights, str) else weights
        # every encoder layer must arrive (strict): a partly random "pretrained" encoder is an error; the two
        # new heads are the only intended gaps
        copy_weights(source, model, skip=("disease", "age_standardized"))
    return model


def disease_age_losses(age_std=1.0, age_loss_weight=0.8, multilabel=False):
    """(losses, loss_weights) for `model.compile`: CE on "disease" (Eq. 2), MSE on the standardized "age"
    (Eq. 3), weighted 1 : `age_loss_weight` (Eq. 4).

    Example:
    >>> losses, weights = disease_age_losses(age_std=2.0)
    >>> sorted(losses), weights
    (['age', 'disease'], {'disease': 1.0, 'age': 0.8})
    """
    disease = keras.losses.BinaryCrossentropy() if multilabel else keras.losses.CategoricalCrossentropy()
    return ({"disease": disease, "age": ScaledMeanSquaredError(age_std)},
            {"disease": 1.0, "age": float(age_loss_weight)})
