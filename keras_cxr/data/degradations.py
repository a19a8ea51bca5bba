"""Gaussian noise and blur degradations of paper 003 (§2.2): the inputs of the denoising/deblurring pretexts."""

import cv2
import numpy as np

NOISE_VARIANCE_FACTORS = (0.02, 0.04, 0.06, 0.08, 0.1)  # §2.2 (ii)
BLUR_KERNEL_SIZES = (3, 5, 7, 9)  # §2.2 blur (i)


def add_gaussian_noise(image, variance_factor, seed=None):
    """Adds zero-mean Gaussian noise to a [0, 1] image and clips back to [0, 1] (paper 003, §2.2).

    The paper draws noise "with a zero mean and a unit standard deviation", "scaled by" a variance factor
    from [0.02, ..., 0.1], adds it to the image normalized to [0, 1], then rescales to 0–255. We read the
    factor as the multiplier of the unit-SD noise, i.e. the noise standard deviation in [0, 1] units
    (``noisy = image + factor · N(0, 1)``), which is what "scaled by" does to a unit-SD draw; clipping
    to [0, 1] stands for the rescale to the 8-bit range. (Reading the factor as a variance would give
    SD sqrt(0.02) ≈ 0.14 ... 0.32, far beyond the "mild" end of underexposure the paper describes.)

    Args:
        image: array in [0, 1] (any shape).
        variance_factor: the noise multiplier (> 0).
        seed: int or `np.random.Generator`.

    Returns:
        float32 array, same shape.

    Example:
    >>> noisy = add_gaussian_noise(np.full((64, 64), 0.5), 0.04, seed=0)
    >>> round(float(noisy.std()), 2)
    0.04
    """
    if not float(variance_factor) > 0:
        raise ValueError(f"variance_factor must be > 0; received {variance_factor}.")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    image = np.asarray(image, dtype=np.float32)
    noise = rng.standard_normal(image.shape, dtype=np.float32) * np.float32(variance_factor)
    return np.clip(image + noise, 0.0, 1.0)


def gaussian_blur(image, kernel_size):
    """Blurs an image with a k × k Gaussian whose sigma OpenCV derives from k (paper 003, §2.2).

    `cv2.GaussianBlur(image, (k, k), 0)`: sigma = 0.3·((k − 1)·0.5 − 1) + 0.8; reflect-101 borders.

    Example:
    >>> blurred = gaussian_blur(np.eye(9, dtype=np.float32), 3)
    >>> round(float(blurred[4, 4]), 4)
    0.375
    """
    k = int(kernel_size)
    if k < 1 or k % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd integer; received {kernel_size}.")
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 3 and image.shape[-1] == 1:
        return cv2.GaussianBlur(image[..., 0], (k, k), 0)[..., None]
    return cv2.GaussianBlur(image, (k, k), 0)


def degrade_batch(images, kind="noise", seed=0, choices=None):
    """Degrades each image once with a factor (noise) or kernel (blur) drawn at random from the paper's list.

    Args:
        images: (N, H, W[, 1]) images in [0, 1].
        kind: "noise" or "blur".
        seed: random seed of the draws (and of the noise).
        choices: the list to draw from (default `NOISE_VARIANCE_FACTORS` or `BLUR_KERNEL_SIZES`).

    Returns:
        (degraded images, float32 like `images`; the drawn parameter per image, shape (N,)).

    Example:
    >>> x = np.full((3, 16, 16, 1), 0.5, np.float32)
    >>> degraded, params = degrade_batch(x, "blur", seed=0)
    >>> degraded.shape, set(params.tolist()) <= {3, 5, 7, 9}
    ((3, 16, 16, 1), True)
    """
    if kind not in ("noise", "blur"):
        raise ValueError(f"kind must be 'noise' or 'blur'; received {kind!r}.")
    choices = tuple(choices or (NOISE_VARIANCE_FACTORS if kind == "noise" else BLUR_KERNEL_SIZES))
    if not choices:
        raise ValueError("choices must not be empty.")
    images = np.asarray(images, dtype=np.float32)
    rng = np.random.default_rng(seed)
    params = np.asarray(choices)[rng.integers(0, len(choices), len(images))]
    out = np.empty_like(images)
    for i, (image, param) in enumerate(zip(images, params)):
        out[i] = add_gaussian_noise(image, param, rng) if kind == "noise" else gaussian_blur(image, param)
    return out, params
