"""Streaming Keras metrics for image restoration: mean PSNR, SSIM and HaarPSI over all images seen.

Each metric computes the per-image values of the matching function in `keras_cxr.metrics.image_quality`
and keeps their running mean (a `keras.metrics.Mean`), so the value after several `update_state` calls
equals the one-shot mean over the concatenated images. `sample_weight`, if given, weights images: shape (B,).
"""

import keras

from keras_cxr.metrics import image_quality


class _MeanImageQuality(keras.metrics.Mean):
    """Mean over images of a per-image quality function; the streaming value equals the one-shot mean."""

    _function = None

    def __init__(self, data_range=1.0, name=None, dtype=None, **options):
        super().__init__(name=name or self.__class__.__name__.lower(), dtype=dtype)
        self.data_range = image_quality._check_range(data_range)
        self._options = options

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = type(self)._function(y_true, y_pred, data_range=self.data_range, **self._options)
        return super().update_state(values, sample_weight=sample_weight)

    def get_config(self):
        return {"data_range": self.data_range, **self._options, "name": self.name, "dtype": self.dtype}


@keras.saving.register_keras_serializable(package="keras_cxr")
class PSNR(_MeanImageQuality):
    """Mean PSNR (dB) over images; see `keras_cxr.metrics.psnr`.

    An identical pair contributes +inf and makes the mean +inf; pass `max_psnr` (e.g. 100.0) to cap each
    image's value instead.

    Args:
        data_range: value range of the images (1.0 for [0, 1]).
        max_psnr: optional cap in dB per image.
        name, dtype: as for `keras.metrics.Metric`.

    Example:
    >>> import numpy as np
    >>> m = PSNR(); m.update_state(np.zeros((2, 8, 8, 1)), np.full((2, 8, 8, 1), 0.1))
    >>> round(float(m.result()), 3)
    20.0
    """

    _function = staticmethod(image_quality.psnr)

    def __init__(self, data_range=1.0, max_psnr=None, name="psnr", dtype=None):
        super().__init__(data_range=data_range, name=name, dtype=dtype,
                         max_psnr=None if max_psnr is None else float(max_psnr))


@keras.saving.register_keras_serializable(package="keras_cxr")
class SSIM(_MeanImageQuality):
    """Mean SSIM over images; see `keras_cxr.metrics.ssim` (11 × 11 Gaussian window, σ 1.5).

    Args:
        data_range, kernel_size, sigma, k1, k2, padding, downsample: as for `keras_cxr.metrics.ssim`.
        name, dtype: as for `keras.metrics.Metric`.

    Example:
    >>> import numpy as np
    >>> x = np.random.default_rng(0).random((2, 16, 16, 1)); m = SSIM(); m.update_state(x, x)
    >>> round(float(m.result()), 4)
    1.0
    """

    _function = staticmethod(image_quality.ssim)

    def __init__(self, data_range=1.0, kernel_size=11, sigma=1.5, k1=0.01, k2=0.03, padding="valid",
                 downsample=False, name="ssim", dtype=None):
        super().__init__(data_range=data_range, name=name, dtype=dtype, kernel_size=int(kernel_size),
                         sigma=float(sigma), k1=float(k1), k2=float(k2), padding=padding, downsample=bool(downsample))


@keras.saving.register_keras_serializable(package="keras_cxr")
class HaarPSI(_MeanImageQuality):
    """Mean HaarPSI over images; see `keras_cxr.metrics.haarpsi`.

    Args:
        data_range, scales, subsample, c, alpha, compute_dtype: as for `keras_cxr.metrics.haarpsi`
            (`compute_dtype="float32"` is the faster choice for a metric watched during GPU training).
        name, dtype: as for `keras.metrics.Metric`.

    Example:
    >>> import numpy as np
    >>> x = np.random.default_rng(0).random((2, 32, 32, 1)); m = HaarPSI(); m.update_state(x, x)
    >>> round(float(m.result()), 4)
    1.0
    """

    _function = staticmethod(image_quality.haarpsi)

    def __init__(self, data_range=1.0, scales=3, subsample=True, c=30.0, alpha=4.2, compute_dtype="float64",
                 name="haarpsi", dtype=None):
        super().__init__(data_range=data_range, name=name, dtype=dtype, scales=int(scales),
                         subsample=bool(subsample), c=float(c), alpha=float(alpha), compute_dtype=compute_dtype)
