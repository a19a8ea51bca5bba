"""`DiceBCELoss`: Dice + binary cross-entropy, the usual segmentation loss (UNETR, lung segmenters)."""

import keras


@keras.saving.register_keras_serializable(package="keras_cxr")
class DiceBCELoss(keras.losses.Loss):
    """Soft Dice loss plus binary cross-entropy on probabilities, each weighted 1 (MONAI's `DiceCELoss`
    for one sigmoid channel); Keras' own `Dice` and `BinaryCrossentropy`, summed. Written as a class so
    that compiled models saved with it reload in a fresh process.

    Example:
    >>> import numpy as np
    >>> y = np.array([[[[1.0], [0.0]]]], "float32")
    >>> float(DiceBCELoss()(y, y * 0.999 + 0.0005)) < 0.01
    True
    """

    def __init__(self, name="dice_bce", **kwargs):
        super().__init__(name=name, **kwargs)
        self._dice = keras.losses.Dice()
        self._bce = keras.losses.BinaryCrossentropy()

    def call(self, y_true, y_pred):
        return self._dice(y_true, y_pred) + self._bce(y_true, y_pred)
