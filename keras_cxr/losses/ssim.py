"""SSIM loss (1 − SSIM), the objective of paper 003's denoising and deblurring models (§2.3.1)."""

import keras

from keras_cxr.metrics.image_quality import ssim


@keras.saving.register_keras_serializable(package="keras_cxr")
class SSIMLoss(keras.losses.Loss):
    """1 − SSIM per image, plus optionally `l1_weight` × the image's mean absolute error, reduced over the batch
    (paper 003, §2.3.1: SSIM alone, `l1_weight=0`).

    Why an L1 term: SSIM is blind to a small uniform brightness offset in dark regions (its luminance term is
    normalized by the local means), so a restoration trained on SSIM alone for few epochs can end with a
    lower PSNR than its input; the SSIM + L1 mix of Zhao et al. (IEEE TCI 2017, "Loss functions for image
    restoration with neural networks") keeps the structure term and pins the intensities.

    Uses `keras_cxr.metrics.ssim` (11 × 11 Gaussian window, σ 1.5, population covariances, 'valid' mean),
    so 1 − loss agrees with scikit-image / tf.image SSIM to < 4e-5 and the loss is differentiable on every
    backend. The per-image values (shape (B,)) are reduced by `reduction` ("sum_over_batch_size": the
    mean over images, "sum", or "none" for the (B,) vector); `sample_weight` weights images.

    Args:
        data_range: value range of the images (1.0 for [0, 1]).
        l1_weight: weight of the per-image mean absolute error added to 1 − SSIM (0: the paper's loss).
        kernel_size, sigma, k1, k2, padding: as for `keras_cxr.metrics.ssim` (padding "same" keeps
            small training crops fully covered).
        reduction, name, dtype: as for `keras.losses.Loss`.

    Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.random((2, 16, 16, 1)).astype("float32")
    >>> round(float(SSIMLoss()(x, x)), 4)
    0.0
    >>> tuple(SSIMLoss(reduction="none")(x, 1 - x).shape)
    (2,)

    Reference:
        Rajaraman et al., Frontiers in AI 2024, doi:10.3389/frai.2024.1419638, §2.3.1.
    """

    def __init__(self, data_range=1.0, kernel_size=11, sigma=1.5, k1=0.01, k2=0.03, padding="valid",
                 l1_weight=0.0, reduction="sum_over_batch_size", name="ssim_loss", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.l1_weight = float(l1_weight)
        self.data_range = float(data_range)
        self.kernel_size = int(kernel_size)
        self.sigma = float(sigma)
        self.k1 = float(k1)
        self.k2 = float(k2)
        self.padding = padding

    def call(self, y_true, y_pred):
        y_true = keras.ops.cast(y_true, y_pred.dtype)
        loss = 1.0 - ssim(y_true, y_pred, data_range=self.data_range, kernel_size=self.kernel_size, sigma=self.sigma,
                          k1=self.k1, k2=self.k2, padding=self.padding)
        if self.l1_weight:
            axes = tuple(range(1, len(y_pred.shape)))
            loss = loss + self.l1_weight * keras.ops.mean(keras.ops.abs(y_true - y_pred), axis=axes) / self.data_range
        return loss

    def get_config(self):
        config = super().get_config()
        config.update({"data_range": self.data_range, "kernel_size": self.kernel_size, "sigma": self.sigma,
                       "k1": self.k1, "k2": self.k2, "padding": self.padding, "l1_weight": self.l1_weight})
        return config
