"""Gaussian noise and blur degradations of paper 003 (§2.2): the inputs of the denoising/deblurring pretexts.

Reference: Rajaraman et al. (S. Antani, NLM/NIH), "Noise-induced modality-specific pretext learning for
pediatric chest X-ray image classification", Frontiers in Artificial Intelligence 2024,
doi:10.3389/frai.2024.1419638, §2.2.
"""

import cv2
import numpy as np

NOISE_VARIANCE_FACTORS = (0.02, 0.04, 0.06, 0.08, 0.1)  # §2.2 (ii)
BLUR_KERNEL_SIZES = (3, 5, 7, 9)  # §2.2 blur (i)


def add_gaussian_noise(image, variance_factor, seed=None):
    """Adds zero-mean Gaussian noise to a [0, 1] image and clips back to [0, 1] (paper 003, §2.2).

    How we read the paper: it draws noise "characterized by a zero mean and a unit standard deviation",
    "scaled by" a variance factor from [0.02, 0.04, 0.06, 0.08, 0.1], and adds it to the image normalized
    to [0, 1]. Scaling a unit-SD draw by a factor multiplies its standard deviation, so the factor is the
    noise SD in [0, 1] units: ``noisy = clip(image + factor * N(0, 1), 0, 1)``, which is also what the
    usual Keras/numpy implementation (``image + factor * np.random.normal(0, 1, image.shape)``) does.
    (Were the factor a variance, the SD would be sqrt(0.02) ≈ 0.14 to 0.32, far beyond the "mild"
    end of underexposure the paper describes.) Clipping stands for the paper's rescale to 0–255.

    Args:
        image: array in [0, 1] (any shape).
        variance_factor: the noise multiplier (> 0), i.e. the noise standard deviation.
        seed: int, None, or a `np.random.Generator` (used as is, so successive calls draw new noise).

    Returns:
        float32 array, same shape.

    Raises:
        ValueError: when `variance_factor` is not positive.

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
    """Blurs an image with a k x k Gaussian whose sigma OpenCV derives from k (paper 003, §2.2).

    `cv2.GaussianBlur(image, (k, k), 0)`, as the paper: sigma 0 lets OpenCV choose the kernel from k, i.e.
    `cv2.getGaussianKernel(k, 0)`: its documented sigma = 0.3·((k − 1)·0.5 − 1) + 0.8 (0.8, 1.1, 1.4, 1.7
    for k = 3, 5, 7, 9), except that for k <= 7 OpenCV uses its fixed binomial kernels ([1, 2, 1] / 4,
    [1, 4, 6, 4, 1] / 16, ...), which differ from that Gaussian by at most 0.022 per tap; OpenCV 5 also
    rounds the 9-tap kernel to fixed point (within 0.002). Borders are reflected (reflect-101).

    Args:
        image: (H, W) or (H, W, 1) array.
        kernel_size: positive odd int.

    Returns:
        float32 array, same shape.

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


def random_noise(image, rng):
    """Adds noise with a variance factor drawn uniformly from `NOISE_VARIANCE_FACTORS` (paper 003, §2.2 iii).

    Args:
        image: array in [0, 1].
        rng: `np.random.Generator` (or an int seed).

    Returns:
        (noisy float32 image, the drawn factor).

    Example:
    >>> noisy, factor = random_noise(np.full((8, 8), 0.5), np.random.default_rng(0))
    >>> factor in NOISE_VARIANCE_FACTORS
    True
    """
    rng = np.random.default_rng(rng)
    factor = NOISE_VARIANCE_FACTORS[int(rng.integers(len(NOISE_VARIANCE_FACTORS)))]
    return add_gaussian_noise(image, factor, rng), factor


def random_blur(image, rng):
    """Blurs with a kernel size drawn uniformly from `BLUR_KERNEL_SIZES` (paper 003, §2.2 blur i).

    Args:
        image: (H, W) or (H, W, 1) array.
        rng: `np.random.Generator` (or an int seed).

    Returns:
        (blurred float32 image, the drawn kernel size).

    Example:
    >>> blurred, k = random_blur(np.full((16, 16), 0.5), np.random.default_rng(0))
    >>> k in BLUR_KERNEL_SIZES
    True
    """
    rng = np.random.default_rng(rng)
    k = BLUR_KERNEL_SIZES[int(rng.integers(len(BLUR_KERNEL_SIZES)))]
    return gaussian_blur(image, k), k


def degrade_batch(images, kind="noise", seed=0, choices=None):
    """Degrades each image once with a factor (noise) or kernel (blur) drawn at random from the paper's list.

    Args:
        images: (N, H, W[, 1]) images in [0, 1].
        kind: "noise" or "blur".
        seed: int seed or `np.random.Generator` of the draws (and of the noise).
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
    default = NOISE_VARIANCE_FACTORS if kind == "noise" else BLUR_KERNEL_SIZES
    choices = default if choices is None else tuple(choices)
    if not choices:
        raise ValueError("choices must not be empty.")
    images = np.asarray(images, dtype=np.float32)
    rng = np.random.default_rng(seed)
    params = np.asarray(choices)[rng.integers(0, len(choices), len(images))]
    out = np.empty_like(images)
    for i, (image, param) in enumerate(zip(images, params)):
        out[i] = add_gaussian_noise(image, param, rng) if kind == "noise" else gaussian_blur(image, param)
    return out, params


class DegradationTarget:
    """A `make_dataset(target=...)` callable giving (degraded, clean) pairs per batch: denoising/deblurring.

    Each image of each batch gets a fresh factor or kernel drawn from the paper's lists (paper 003, §2.2),
    from the batch's generator, so epochs differ and a seed reproduces them. Picklable (works with
    multiprocessing workers).

    Args:
        kind: "noise" or "blur".
        choices: the list to draw from (default: the paper's).

    Example:
    >>> pairs = DegradationTarget("noise")
    >>> x = np.full((2, 8, 8, 1), 0.5, np.float32)
    >>> degraded, clean = pairs(x, np.random.default_rng(0))
    >>> degraded.shape, bool((clean == x).all()), bool((degraded != x).any())
    ((2, 8, 8, 1), True, True)
    """

    def __init__(self, kind="noise", choices=None):
        if kind not in ("noise", "blur"):
            raise ValueError(f"kind must be 'noise' or 'blur'; received {kind!r}.")
        self.kind, self.choices = kind, None if choices is None else tuple(choices)

    def __call__(self, images, rng):
        degraded, _ = degrade_batch(images, self.kind, seed=rng, choices=self.choices)
        return degraded, np.asarray(images, dtype=np.float32)

    def __repr__(self):
        return f"DegradationTarget(kind={self.kind!r}, choices={self.choices})"
