"""Full-reference image quality on (B, H, W, C) tensors, per image, with `keras.ops` (any backend).

PSNR, SSIM, MS-SSIM and HaarPSI as used to score denoising / deblurring (paper 003, §2.5.1, Table 2).
Written here because no well-kept library offers them backend-agnostically: scikit-image is numpy-only,
`tf.image.ssim` is TensorFlow-only and piq is PyTorch-only (and needs torchvision). Parity with those
references is tested (tests/metrics/test_image_quality.py) against the golden numbers in
`shared/fixtures/image_quality_golden.npz`. Largest deviations measured there (128 and 256 px, all 32 pairs
each, on the TensorFlow and torch backends):

=========  =================================================================  ===========================
function   reference (settings)                                               largest deviation
=========  =================================================================  ===========================
psnr       scikit-image `peak_signal_noise_ratio`, `tf.image.psnr`            6e-6 dB (target 1e-3 dB)
           piq `psnr` (adds 1e-8 to the MSE, so it reads lower at high PSNR)  3.4e-4 dB
ssim       scikit-image (`gaussian_weights=True, sigma=1.5,                   6e-6 (target 1e-4)
           use_sample_covariance=False`); piq `ssim` (`downsample=True`)      6e-6
           `tf.image.ssim(filter_size=11, filter_sigma=1.5)`                  3.4e-5
ms_ssim    piq `multi_scale_ssim(kernel_size=7)` (256 px)                     2.5e-6
haarpsi    piq `haarpsi` (scales 3, subsample, c 30, α 4.2)                   3e-8 (float64), 5e-6 (float32)
=========  =================================================================  ===========================

All functions validate their inputs (rank 4, same shape, `data_range` > 0) and return a (B,) float32 tensor.
"""

import math

import keras
import numpy as np
from keras import ops

# MS-SSIM scale weights of Wang, Simoncelli & Bovik (2003), as piq and tf.image use them.
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)

# RGB → YIQ (NTSC), the colour transform of the HaarPSI paper and piq.
_RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114], [0.5959, -0.2746, -0.3213], [0.2115, -0.5227, 0.3112]])


def _shape(x):
    return tuple(x.shape)


def _prepare(y_true, y_pred, dtype="float32"):
    y_true = ops.convert_to_tensor(y_true)
    y_pred = ops.convert_to_tensor(y_pred)
    if len(y_true.shape) != 4 or len(y_pred.shape) != 4:
        raise ValueError(f"Expected (batch, height, width, channels) tensors; received shapes {_shape(y_true)} "
                         f"and {_shape(y_pred)}. Add the batch/channel axes, e.g. x[None, ..., None].")
    same = all(a is None or b is None or a == b for a, b in zip(y_true.shape, y_pred.shape))
    if not same:
        raise ValueError(f"y_true and y_pred shapes differ: {_shape(y_true)} vs {_shape(y_pred)}.")
    # Inside a traced training step one side may lack static dims (e.g. targets from tf.data): take the other's.
    known = tuple(a if a is not None else b for a, b in zip(y_true.shape[1:], y_pred.shape[1:]))
    if any(d is None for d in known):
        raise ValueError(f"Height, width and channels must be known; received shapes {_shape(y_true)} and "
                         f"{_shape(y_pred)}.")
    if tuple(y_true.shape[1:]) != known:
        y_true = ops.reshape(y_true, (-1,) + known)
    if tuple(y_pred.shape[1:]) != known:
        y_pred = ops.reshape(y_pred, (-1,) + known)
    return ops.cast(y_true, dtype), ops.cast(y_pred, dtype)


def _check_range(data_range):
    if not float(data_range) > 0:
        raise ValueError(f"data_range must be > 0 (1.0 for [0, 1] images, 255 for 8-bit); received {data_range}.")
    return float(data_range)


def _check_size(shape, minimum, what):
    if min(shape[1], shape[2]) < minimum:
        raise ValueError(f"{what} needs images of at least {minimum}x{minimum} pixels; received "
                         f"{shape[1]}x{shape[2]}.")


def _pad_hw(x, before, after, mode):
    """Pad the height and width axes of (B, H, W, C) by index gathering, identically on every backend.

    `mode` is numpy's: "symmetric" (scipy.ndimage's "reflect", d c b a | a b c d | d c b a) or "edge".
    (`keras.ops.pad` cannot be used: its torch backend maps "symmetric" to "replicate" and lacks "edge".)
    """
    for axis in (1, 2):
        if before or after:
            index = np.pad(np.arange(x.shape[axis]), (before, after), mode=mode)
            x = ops.take(x, ops.convert_to_tensor(index.astype("int32")), axis=axis)
    return x


# ----------------------------------------------------------------------------------------------------- PSNR


def psnr(y_true, y_pred, data_range=1.0, max_psnr=None):
    """Peak signal-to-noise ratio per image, in dB: 10·log10(data_range² / MSE) (paper 003, Eq. 4–5).

    MSE over all pixels and channels of each image, as scikit-image's `peak_signal_noise_ratio`, piq's
    `psnr` and `tf.image.psnr` compute it (agreement < 2e-5 dB on the golden file).

    Identical images (MSE = 0) give +inf, as scikit-image and `tf.image.psnr` do; pass `max_psnr` (e.g. 100)
    to cap the value instead, which keeps a mean over images finite.

    Args:
        y_true, y_pred: (B, H, W, C) tensors.
        data_range: the value range of the images (1.0 for [0, 1], 255 for 8-bit).
        max_psnr: optional upper bound in dB (None: no cap, identical images → inf).

    Returns:
        (B,) float32 tensor.

    Example:
    >>> import numpy as np
    >>> x = np.zeros((2, 8, 8, 1), "float32"); y = x.copy(); y[0] += 0.1
    >>> [round(float(v), 3) for v in psnr(x, y)]
    [20.0, inf]
    >>> [round(float(v), 3) for v in psnr(x, y, max_psnr=100.0)]
    [20.0, 100.0]
    """
    data_range = _check_range(data_range)
    y_true, y_pred = _prepare(y_true, y_pred)
    mse = ops.mean(ops.square(y_true - y_pred), axis=(1, 2, 3))
    value = (20.0 * math.log10(data_range)) - 10.0 * ops.log(mse) / math.log(10.0)
    if max_psnr is not None:
        value = ops.minimum(value, float(max_psnr))
    return value


# ----------------------------------------------------------------------------------------------------- SSIM


def _gaussian_kernel_1d(size, sigma):
    coords = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    kernel = np.exp(-(coords**2) / (2 * sigma**2))
    return kernel / kernel.sum()


def _filter(x, kernel_1d, padding="valid"):
    """Separable filtering of each channel of (B, H, W, C) with a 1-D kernel.

    padding "valid": output shrinks by len(kernel) − 1; "same": symmetric (scipy "reflect") border extension.
    """
    channels = x.shape[-1]
    size = len(kernel_1d)
    if padding == "same":
        x = _pad_hw(x, size // 2, (size - 1) // 2, "symmetric")
    column = np.tile(kernel_1d.reshape(size, 1, 1, 1), (1, 1, channels, 1))
    row = np.tile(kernel_1d.reshape(1, size, 1, 1), (1, 1, channels, 1))
    x = ops.depthwise_conv(x, ops.cast(column, x.dtype), padding="valid")
    return ops.depthwise_conv(x, ops.cast(row, x.dtype), padding="valid")


def _ssim_maps(y_true, y_pred, data_range, kernel_size, sigma, k1, k2, padding="valid"):
    """(SSIM map, contrast-structure map), each (B, H', W', C)."""
    kernel = _gaussian_kernel_1d(kernel_size, sigma)
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    mu_x, mu_y = _filter(y_true, kernel, padding), _filter(y_pred, kernel, padding)
    xx = _filter(y_true * y_true, kernel, padding) - mu_x * mu_x
    yy = _filter(y_pred * y_pred, kernel, padding) - mu_y * mu_y
    xy = _filter(y_true * y_pred, kernel, padding) - mu_x * mu_y
    contrast_structure = (2 * xy + c2) / (xx + yy + c2)
    luminance = (2 * mu_x * mu_y + c1) / (mu_x * mu_x + mu_y * mu_y + c1)
    return luminance * contrast_structure, contrast_structure


def _piq_downsample_factor(height, width):
    """piq's `ssim(downsample=True)` rule: average-pool by round(min side / 256) when that is > 1."""
    return max(1, round(min(height, width) / 256))


def ssim(y_true, y_pred, data_range=1.0, kernel_size=11, sigma=1.5, k1=0.01, k2=0.03, padding="valid",
         downsample=False):
    """Structural similarity per image (Wang et al. 2004; paper 003, Eq. 6), mean over pixels and channels.

    The defaults (Gaussian window 11 × 11, σ = 1.5, population covariances, mean over the 'valid' region) are
    those of scikit-image's `structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False)` and `tf.image.ssim(filter_size=11, filter_sigma=1.5)`: agreement < 1e-5
    with scikit-image, < 4e-5 with tf.image (which accumulates in float32 differently) on the golden file.

    piq's `ssim` differs only by its default `downsample=True`: images whose shorter side is ≥ 384 px are
    first average-pooled by round(min(H, W) / 256). Pass `downsample=True` to reproduce piq; below 384 px
    both settings are identical (so the 128 / 256 px golden numbers of piq match either way).

    Args:
        y_true, y_pred: (B, H, W, C) tensors.
        data_range: value range (1.0 for [0, 1]).
        kernel_size, sigma: Gaussian window (odd size).
        k1, k2: stabilizing constants (C1 = (k1·R)², C2 = (k2·R)²).
        padding: "valid" (default; the references above) averages the SSIM map over the pixels whose
            window lies inside the image; "same" extends the border symmetrically (scipy "reflect") and
            averages over every pixel, i.e. the mean of scikit-image's `full=True` map.
        downsample: piq's automatic average pooling for large images (see above).

    Returns:
        (B,) float32 tensor in [-1, 1]; 1 for identical images.

    Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.random((2, 32, 32, 1)).astype("float32")
    >>> [round(float(v), 4) for v in ssim(x, x)]
    [1.0, 1.0]
    >>> y = np.clip(x + rng.normal(0, 0.1, x.shape), 0, 1).astype("float32")
    >>> tuple(ssim(x, y, padding="same").shape)
    (2,)
    """
    data_range = _check_range(data_range)
    if padding not in ("valid", "same"):
        raise ValueError(f'padding must be "valid" or "same"; received {padding!r}.')
    if int(kernel_size) % 2 != 1:
        raise ValueError(f"kernel_size must be odd; received {kernel_size}.")
    y_true, y_pred = _prepare(y_true, y_pred)
    if downsample:
        factor = _piq_downsample_factor(y_true.shape[1], y_true.shape[2])
        if factor > 1:
            y_true = ops.average_pool(y_true, factor, strides=factor, padding="valid")
            y_pred = ops.average_pool(y_pred, factor, strides=factor, padding="valid")
    _check_size(y_true.shape, kernel_size, f"ssim with kernel_size={kernel_size}")
    ssim_map, _ = _ssim_maps(y_true, y_pred, data_range, kernel_size, sigma, k1, k2, padding)
    return ops.mean(ssim_map, axis=(1, 2, 3))


def ms_ssim(y_true, y_pred, data_range=1.0, kernel_size=11, sigma=1.5, k1=0.01, k2=0.03, weights=None):
    """Multi-scale SSIM per image (Wang, Simoncelli & Bovik 2003), piq's `multi_scale_ssim` formulation.

    One scale per weight (five by default); between scales 2 × 2 average pooling, after replicating the
    first row / column of odd-sized images (as piq does). The contrast-structure terms of all scales but
    the last and the full SSIM of the last, each averaged over the 'valid' region, clipped at 0 and raised
    to its weight, are multiplied; the result is averaged over channels.

    Args:
        y_true, y_pred: (B, H, W, C) tensors.
        data_range: value range (1.0 for [0, 1]).
        kernel_size, sigma, k1, k2: as for `ssim`.
        weights: per-scale exponents; None uses `MS_SSIM_WEIGHTS` as they are, custom weights are
            normalized to sum 1 (as piq does).

    Returns:
        (B,) float32 tensor in [0, 1].

    Raises:
        ValueError: for images too small for the last scale's window. Like piq, the shorter side must be at
            least (kernel_size − 1) · 2^(scales − 1) + 1: 161 px for the default 11 × 11 window, 97 px for
            7 × 7 (piq's golden MS-SSIM uses kernel_size=7). Use a smaller kernel, fewer weights or `ssim`.

    Example:
    >>> import numpy as np
    >>> x = np.random.default_rng(0).random((1, 112, 112, 1)).astype("float32")
    >>> [round(float(v), 4) for v in ms_ssim(x, x, kernel_size=7)]
    [1.0]
    """
    data_range = _check_range(data_range)
    if int(kernel_size) % 2 != 1:
        raise ValueError(f"kernel_size must be odd; received {kernel_size}.")
    if weights is None:
        weights = np.asarray(MS_SSIM_WEIGHTS, dtype=np.float64)
    else:
        weights = np.asarray(weights, dtype=np.float64).ravel()
        if weights.size == 0 or np.any(weights < 0) or not weights.sum() > 0:
            raise ValueError(f"weights must be non-negative with a positive sum; received {weights.tolist()}.")
        weights = weights / weights.sum()
    y_true, y_pred = _prepare(y_true, y_pred)
    levels = len(weights)
    minimum = (kernel_size - 1) * 2 ** (levels - 1) + 1
    _check_size(y_true.shape, minimum, f"ms_ssim with kernel_size={kernel_size} and {levels} scales")
    result = 1.0
    for level in range(levels):
        if level > 0:
            odd = max(y_true.shape[1] % 2, y_true.shape[2] % 2)
            y_true = ops.average_pool(_pad_hw(y_true, odd, 0, "edge"), 2, strides=2, padding="valid")
            y_pred = ops.average_pool(_pad_hw(y_pred, odd, 0, "edge"), 2, strides=2, padding="valid")
        ssim_map, cs_map = _ssim_maps(y_true, y_pred, data_range, kernel_size, sigma, k1, k2)
        term = ops.mean(cs_map if level < levels - 1 else ssim_map, axis=(1, 2))  # (B, C)
        result = result * ops.power(ops.relu(term), float(weights[level]))
    return ops.mean(result, axis=-1)


# -------------------------------------------------------------------------------------------------- HaarPSI


def _haar_kernels(size):
    """Horizontal and vertical Haar filters of one scale as a (size, size, 1, 2) conv kernel."""
    haar = np.ones((size, size)) / size
    haar[size // 2:, :] *= -1
    return np.stack([haar, haar.T], axis=-1)[:, :, None, :]


def _maximum(a, b):
    # Not ops.maximum: Keras 3's torch backend returns float32 for two float64 tensors (so do minimum, matmul).
    return ops.where(a >= b, a, b)


def _similarity(a, b, c):
    return (2 * a * b + c) / (a * a + b * b + c)


def haarpsi(y_true, y_pred, data_range=1.0, scales=3, subsample=True, c=30.0, alpha=4.2, compute_dtype="float64"):
    """Haar wavelet-based perceptual similarity index per image (Reisenhofer et al. 2018; paper 003, Eq. 7).

    The reference formulation (the authors' MATLAB/Python code) as piq 0.8 implements it:

    1. images rescaled to [0, 255]; RGB converted to YIQ (gray images: their only channel is Y);
    2. `subsample`: zero-pad odd sizes at the bottom / right, then 2 × 2 average pooling (viewing distance);
    3. Y filtered with horizontal and vertical Haar filters of sizes 2, 4, 8 (`scales` = 3), zero padding
       with MATLAB's `conv2(..., 'same')` alignment (size/2 − 1 before, size/2 after);
    4. local similarity per orientation: mean over the two finest scales of
       (2·|a|·|b| + c) / (|a|² + |b|² + c); weights: max(|a|, |b|) of the coarsest scale;
       for RGB a third map, the similarity of |2 × 2 mean| of I and of Q, weighted by the mean Y weight;
    5. score = Σ logistic(α · similarity) · weight / Σ weight, mapped back by (logit(score) / α)².

    Args:
        y_true, y_pred: (B, H, W, C) tensors, C = 1 (gray) or 3 (RGB).
        data_range: value range (1.0 for [0, 1]).
        scales: number of Haar scales (3).
        subsample: 2 × 2 average pooling first, as piq and the paper do by default.
        c: similarity constant (30, for [0, 255] images).
        alpha: logistic slope (4.2).
        compute_dtype: "float64" (default) gives < 1e-6 from piq; "float32" is faster (GPU) and stays
            within ~1e-5 on the golden file. A backend without float64 (JAX without x64) silently computes
            in float32.

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
    y_true, y_pred = _prepare(y_true, y_pred, dtype=compute_dtype)
    channels = y_true.shape[-1]
    if channels not in (1, 3):
        raise ValueError(f"haarpsi takes 1- (gray) or 3-channel (RGB) images; received {channels} channels.")
    _check_size(y_true.shape, 2 ** scales * (2 if subsample else 1), f"haarpsi with scales={scales}")
    if scales < 2:
        raise ValueError(f"haarpsi needs scales >= 2 (two similarity scales plus weights); received {scales}.")

    def to_yiq(x):
        x = x * (255.0 / data_range)
        if channels == 3:
            x = ops.sum(ops.expand_dims(x, -2) * ops.cast(_RGB_TO_YIQ, x.dtype), axis=-1)
        if subsample:
            odd = max(x.shape[1] % 2, x.shape[2] % 2)
            if odd:
                x = ops.pad(x, [[0, 0], [0, odd], [0, odd], [0, 0]])
            x = ops.average_pool(x, 2, strides=2, padding="valid")
        return x

    def haar(y):
        out = []
        for scale in range(scales):
            size = 2 ** (scale + 1)
            before, after = size // 2 - 1, size // 2
            padded = ops.pad(y, [[0, 0], [before, after], [before, after], [0, 0]])
            out.append(ops.conv(padded, ops.cast(_haar_kernels(size), y.dtype), padding="valid"))
        return out  # per scale: (B, H, W, 2) = (horizontal-edge, vertical-edge) responses

    x, y = to_yiq(y_true), to_yiq(y_pred)
    cx, cy = haar(x[..., :1]), haar(y[..., :1])
    weights = _maximum(ops.abs(cx[-1]), ops.abs(cy[-1]))  # coarsest scale: importance, (B, H, W, 2)
    similarity = 0.0
    for scale in range(2):  # finest two scales: local similarity per orientation, averaged
        similarity = similarity + _similarity(ops.abs(cx[scale]), ops.abs(cy[scale]), c) / 2
    if channels == 3:  # chroma: |2 × 2 mean| of I and Q (zero pad bottom / right by one)
        def chroma(z):
            z = ops.pad(z[..., 1:], [[0, 0], [0, 1], [0, 1], [0, 0]])
            return ops.abs(ops.average_pool(z, 2, strides=1, padding="valid"))

        iq = ops.sum(_similarity(chroma(x), chroma(y), c), axis=-1, keepdims=True) / 2
        similarity = ops.concatenate([similarity, iq], axis=-1)
        weights = ops.concatenate([weights, ops.mean(weights, axis=-1, keepdims=True)], axis=-1)
    eps = float(np.finfo(keras.backend.standardize_dtype(x.dtype)).eps)
    score = (ops.sum(ops.sigmoid(similarity * alpha) * weights, axis=(1, 2, 3)) + eps) / (
        ops.sum(weights, axis=(1, 2, 3)) + eps)
    score = ops.square(ops.log(score / (1 - score)) / alpha)
    return ops.cast(score, "float32")
