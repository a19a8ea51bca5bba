"""Full-reference image quality on (B, H, W, C) tensors, per image, with `keras.ops` (any backend).

PSNR, SSIM, MS-SSIM and HaarPSI as used to score denoising / deblurring (paper 003, §2.5.1, Table 2).
Written here because no well-kept library offers them backend-agnostically: scikit-image is numpy-only,
`tf.image.ssim` is TensorFlow-only and piq is PyTorch-only (and does not import on CPU-only torchvision
installs). Parity with those references is checked in the tests against golden numbers.
"""

import math

import numpy as np
from keras import ops

# piq's default MS-SSIM scale weights (Wang, Simoncelli & Bovik, 2003).
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def _prepare(y_true, y_pred, dtype="float32"):
    y_true = ops.convert_to_tensor(y_true)
    y_pred = ops.convert_to_tensor(y_pred)
    if len(y_true.shape) != 4 or len(y_pred.shape) != 4:
        raise ValueError(f"Expected (batch, height, width, channels) tensors; received shapes {tuple(y_true.shape)} "
                         f"and {tuple(y_pred.shape)}. Add the batch/channel axes, e.g. x[None, ..., None].")
    if tuple(y_true.shape[1:]) != tuple(y_pred.shape[1:]):
        raise ValueError(f"y_true and y_pred shapes differ: {tuple(y_true.shape)} vs {tuple(y_pred.shape)}.")
    return ops.cast(y_true, dtype), ops.cast(y_pred, dtype)


def _check_range(data_range):
    if not float(data_range) > 0:
        raise ValueError(f"data_range must be > 0 (1.0 for [0, 1] images, 255 for 8-bit); received {data_range}.")
    return float(data_range)


def psnr(y_true, y_pred, data_range=1.0):
    """Peak signal-to-noise ratio per image, in dB: 10·log10(data_range² / MSE) (paper 003, Eq. 4–5).

    Identical images (MSE = 0) give +inf, as scikit-image and `tf.image.psnr` do.

    Args:
        y_true, y_pred: (B, H, W, C) tensors.
        data_range: the value range of the images (1.0 for [0, 1]).

    Returns:
        (B,) float32 tensor.

    Example:
    >>> import numpy as np
    >>> x = np.zeros((1, 8, 8, 1), "float32"); y = x + 0.1
    >>> [round(float(v), 3) for v in psnr(x, y)]
    [20.0]
    """
    data_range = _check_range(data_range)
    y_true, y_pred = _prepare(y_true, y_pred)
    mse = ops.mean(ops.square(y_true - y_pred), axis=(1, 2, 3))
    return 10.0 * ops.log(data_range**2 / mse) / math.log(10.0)


def _gaussian_kernel_1d(size, sigma):
    coords = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    kernel = np.exp(-(coords**2) / (2 * sigma**2))
    return kernel / kernel.sum()


def _filter_valid(x, kernel_1d):
    """Separable 'valid' filtering of each channel of (B, H, W, C) with a 1-D kernel."""
    channels = x.shape[-1]
    size = len(kernel_1d)
    column = np.tile(kernel_1d.reshape(size, 1, 1, 1), (1, 1, channels, 1))
    row = np.tile(kernel_1d.reshape(1, size, 1, 1), (1, 1, channels, 1))
    x = ops.depthwise_conv(x, ops.cast(column, x.dtype), padding="valid")
    return ops.depthwise_conv(x, ops.cast(row, x.dtype), padding="valid")


def _ssim_maps(y_true, y_pred, data_range, kernel_size, sigma, k1, k2):
    kernel = _gaussian_kernel_1d(kernel_size, sigma)
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    mu_x, mu_y = _filter_valid(y_true, kernel), _filter_valid(y_pred, kernel)
    xx = _filter_valid(y_true * y_true, kernel) - mu_x * mu_x
    yy = _filter_valid(y_pred * y_pred, kernel) - mu_y * mu_y
    xy = _filter_valid(y_true * y_pred, kernel) - mu_x * mu_y
    contrast_structure = (2 * xy + c2) / (xx + yy + c2)
    luminance = (2 * mu_x * mu_y + c1) / (mu_x * mu_x + mu_y * mu_y + c1)
    return luminance * contrast_structure, contrast_structure


def _check_size(shape, kernel_size, name):
    if min(shape[1], shape[2]) < kernel_size:
        raise ValueError(f"{name} needs images of at least {kernel_size}x{kernel_size} pixels for kernel_size="
                         f"{kernel_size}; received {shape[1]}x{shape[2]}.")


def ssim(y_true, y_pred, data_range=1.0, kernel_size=11, sigma=1.5, k1=0.01, k2=0.03):
    """Structural similarity per image (Wang et al. 2004; paper 003, Eq. 6), mean over channels.

    Gaussian window (11 × 11, σ = 1.5), population covariances, means over the 'valid' region: the
    settings of scikit-image's `structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False)`, `tf.image.ssim` and piq's `ssim` (for images under 384 px, where
    piq does not downsample), with which it agrees to ~1e-6.

    Args:
        y_true, y_pred: (B, H, W, C) tensors.
        data_range: value range (1.0 for [0, 1]).
        kernel_size, sigma: Gaussian window.
        k1, k2: stabilizing constants (C1 = (k1·R)², C2 = (k2·R)²).

    Returns:
        (B,) float32 tensor in [-1, 1]; 1 for identical images.

    Example:
    >>> import numpy as np
    >>> x = np.random.default_rng(0).random((2, 32, 32, 1)).astype("float32")
    >>> [round(float(v), 4) for v in ssim(x, x)]
    [1.0, 1.0]
    """
    data_range = _check_range(data_range)
    y_true, y_pred = _prepare(y_true, y_pred)
    _check_size(y_true.shape, kernel_size, "ssim")
    ssim_map, _ = _ssim_maps(y_true, y_pred, data_range, kernel_size, sigma, k1, k2)
    return ops.mean(ssim_map, axis=(1, 2, 3))


def ms_ssim(y_true, y_pred, data_range=1.0, kernel_size=11, sigma=1.5, k1=0.01, k2=0.03, weights=MS_SSIM_WEIGHTS):
    """Multi-scale SSIM per image (Wang, Simoncelli & Bovik 2003), piq's formulation.

    Five scales (2 × 2 average pooling between them); contrast-structure terms of scales 1–4 and the full
    SSIM of the last scale, each clipped at 0 and raised to its weight, multiplied.

    Raises:
        ValueError: when the image is too small for the last scale's window: its side must be at least
            (kernel_size − 1) · 2^(scales − 1) + 1 (161 px for the default 11 × 11 window, 97 px for 7 × 7).

    Example:
    >>> import numpy as np
    >>> x = np.random.default_rng(0).random((1, 112, 112, 1)).astype("float32")
    >>> [round(float(v), 4) for v in ms_ssim(x, x, kernel_size=7)]
    [1.0]
    """
    data_range = _check_range(data_range)
    y_true, y_pred = _prepare(y_true, y_pred)
    levels = len(weights)
    minimum = (kernel_size - 1) * 2 ** (levels - 1) + 1
    if min(y_true.shape[1], y_true.shape[2]) < minimum:
        raise ValueError(f"ms_ssim with kernel_size={kernel_size} and {levels} scales needs images of at least "
                         f"{minimum}x{minimum} pixels; received {y_true.shape[1]}x{y_true.shape[2]}. Use a smaller "
                         "kernel_size or ssim().")
    terms = []
    for level in range(levels):
        if level > 0:
            y_true = ops.average_pool(y_true, 2, strides=2, padding="valid")
            y_pred = ops.average_pool(y_pred, 2, strides=2, padding="valid")
        ssim_map, cs_map = _ssim_maps(y_true, y_pred, data_range, kernel_size, sigma, k1, k2)
        terms.append(ops.mean(cs_map if level < levels - 1 else ssim_map, axis=(1, 2)))  # (B, C)
    result = 1.0
    for term, weight in zip(terms, weights):
        result = result * ops.power(ops.relu(term), weight)
    return ops.mean(result, axis=-1)


def _haar_kernels(size):
    """Horizontal and vertical Haar filters of one scale as a (size, size, 1, 2) conv kernel."""
    haar = np.ones((size, size)) / size
    haar[size // 2:, :] *= -1
    return np.stack([haar, haar.T], axis=-1)[:, :, None, :]


def haarpsi(y_true, y_pred, data_range=1.0, scales=3, subsample=True, c=30.0, alpha=4.2):
    """Haar wavelet-based perceptual similarity index per image (Reisenhofer et al. 2018; paper 003, Eq. 7).

    Follows the reference formulation as implemented by piq 0.8: images rescaled to [0, 255]; optional
    2 × 2 average-pool subsampling; Haar filters of sizes 2, 4, 8 (MATLAB 'same' alignment); local
    similarity of the finest two scales' magnitudes, weighted by the coarsest scale's magnitudes, through
    a logistic with slope `alpha`, then mapped back by the squared logit. Gray images use their only
    channel; for RGB input the luminance (BT.601 Y) is used. Computed in float64 for parity.

    Args:
        y_true, y_pred: (B, H, W, C) tensors, C = 1 or 3.
        data_range: value range (1.0 for [0, 1]).
        scales: number of Haar scales (3).
        subsample: 2 × 2 average pooling first (viewing distance), as piq does by default.
        c: similarity constant (30, for [0, 255] images).
        alpha: logistic slope (4.2).

    Returns:
        (B,) float32 tensor in [0, 1]; 1 for identical images.

    Example:
    >>> import numpy as np
    >>> x = np.random.default_rng(0).random((1, 32, 32, 1)).astype("float32")
    >>> [round(float(v), 4) for v in haarpsi(x, x)]
    [1.0]

    Reference:
        Reisenhofer, Bosse, Kutyniok & Wiegand, "A Haar wavelet-based perceptual similarity index for image
        quality assessment", Signal Processing: Image Communication 61 (2018), doi:10.1016/j.image.2017.11.001.
    """
    data_range = _check_range(data_range)
    y_true, y_pred = _prepare(y_true, y_pred, dtype="float64")
    if y_true.shape[-1] not in (1, 3):
        raise ValueError(f"haarpsi takes 1- or 3-channel images; received {y_true.shape[-1]} channels.")
    minimum = 2 ** scales * (2 if subsample else 1)
    if min(y_true.shape[1], y_true.shape[2]) < minimum:
        raise ValueError(f"haarpsi with scales={scales} needs images of at least {minimum}x{minimum} pixels; "
                         f"received {y_true.shape[1]}x{y_true.shape[2]}.")
    luma = np.array([0.299, 0.587, 0.114]).reshape(1, 1, 1, 3)

    def prepare(x):
        x = x * (255.0 / data_range)
        if x.shape[-1] == 3:
            x = ops.sum(x * ops.cast(luma, x.dtype), axis=-1, keepdims=True)
        if subsample:
            pad_h, pad_w = x.shape[1] % 2, x.shape[2] % 2
            if pad_h or pad_w:
                x = ops.pad(x, [[0, 0], [0, max(pad_h, pad_w)], [0, max(pad_h, pad_w)], [0, 0]])
            x = ops.average_pool(x, 2, strides=2, padding="valid")
        return x

    def coefficients(x):
        out = []
        for scale in range(scales):
            size = 2 ** (scale + 1)
            before, after = size // 2 - 1, size // 2
            padded = ops.pad(x, [[0, 0], [before, after], [before, after], [0, 0]])
            out.append(ops.conv(padded, ops.cast(_haar_kernels(size), x.dtype), padding="valid"))
        return out  # per scale: (B, H, W, 2) = (horizontal-edge, vertical-edge) responses

    cx, cy = coefficients(prepare(y_true)), coefficients(prepare(y_pred))
    weights = ops.maximum(ops.abs(cx[-1]), ops.abs(cy[-1]))  # coarsest scale: importance, (B, H, W, 2)
    similarity = 0.0
    for scale in range(2):  # finest two scales: local similarity, per orientation
        mx, my = ops.abs(cx[scale]), ops.abs(cy[scale])
        similarity = similarity + (2 * mx * my + c) / (mx * mx + my * my + c) / 2
    eps = float(np.finfo(np.float64).eps)
    score = (ops.sum(ops.sigmoid(similarity * alpha) * weights, axis=(1, 2, 3)) + eps) / (
        ops.sum(weights, axis=(1, 2, 3)) + eps)
    score = ops.square(ops.log(score / (1 - score)) / alpha)
    return ops.cast(score, "float32")
