"""Streaming Keras metrics for image restoration: mean PSNR, SSIM and HaarPSI over all images seen."""

import keras
from keras import ops

from keras_cxr.metrics import image_quality


class _MeanImageQuality(keras.metrics.Mean):
    """Mean over images of a per-image quality function; the streaming value equals the one-shot mean."""

    _function = None

    def __init__(self, data_range=1.0, name=None, dtype=None):
        super().__init__(name=name or self.__class__.__name__.lower(), dtype=dtype)
        self.data_range = float(data_range)

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = type(self)._function(ops.cast(y_true, "float32"), ops.cast(y_pred, "float32"),
                                      data_range=self.data_range)
        return super().update_state(values, sample_weight=sample_weight)

    def get_config(self):
        return {"data_range": self.data_range, "name": self.name, "dtype": self.dtype}


@keras.saving.register_keras_serializable(package="keras_cxr")
class PSNR(_MeanImageQuality):
    """Mean PSNR (dB) over images; see `keras_cxr.metrics.psnr`. Identical pairs contribute +inf.

    Example:
    >>> import numpy as np
    >>> m = PSNR(); m.update_state(np.zeros((2, 8, 8, 1)), np.full((2, 8, 8, 1), 0.1))
    >>> round(float(m.result()), 3)
    20.0
    """

    _function = staticmethod(image_quality.psnr)


@keras.saving.register_keras_serializable(package="keras_cxr")
class SSIM(_MeanImageQuality):
    """Mean SSIM over images; see `keras_cxr.metrics.ssim` (11 × 11 Gaussian window, σ 1.5).

    Example:
    >>> import numpy as np
    >>> x = np.random.default_rng(0).random((2, 16, 16, 1)); m = SSIM(); m.update_state(x, x)
    >>> round(float(m.result()), 4)
    1.0
    """

    _function = staticmethod(image_quality.ssim)


@keras.saving.register_keras_serializable(package="keras_cxr")
class HaarPSI(_MeanImageQuality):
    """Mean HaarPSI over images; see `keras_cxr.metrics.haarpsi`.

    Example:
    >>> import numpy as np
    >>> x = np.random.default_rng(0).random((2, 32, 32, 1)); m = HaarPSI(); m.update_state(x, x)
    >>> round(float(m.result()), 4)
    1.0
    """

    _function = staticmethod(image_quality.haarpsi)
