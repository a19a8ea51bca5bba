import cv2
import numpy as np
import pytest
from scipy import ndimage

from keras_cxr.data import (BLUR_KERNEL_SIZES, NOISE_VARIANCE_FACTORS, DegradationTarget, add_gaussian_noise,
                            degrade_batch, gaussian_blur, random_blur, random_noise)


def test_paper_lists():
    assert NOISE_VARIANCE_FACTORS == (0.02, 0.04, 0.06, 0.08, 0.1)
    assert BLUR_KERNEL_SIZES == (3, 5, 7, 9)


@pytest.mark.parametrize("k", BLUR_KERNEL_SIZES)
def test_blur_matches_opencv_and_a_scipy_reference(k):
    image = np.random.default_rng(k).random((40, 33)).astype(np.float32)
    np.testing.assert_array_equal(gaussian_blur(image, k), cv2.GaussianBlur(image, (k, k), 0))
    # OpenCV's automatic kernel for sigma 0: close to a Gaussian of its documented sigma (tabulated for k <= 7).
    kernel = cv2.getGaussianKernel(k, 0)[:, 0]
    sigma = 0.3 * ((k - 1) * 0.5 - 1) + 0.8
    taps = np.arange(k) - (k - 1) / 2
    gaussian = np.exp(-taps**2 / (2 * sigma**2))
    np.testing.assert_allclose(kernel, gaussian / gaussian.sum(), atol=0.025)
    # Independent implementation: separable scipy convolution with those taps, mirrored (reflect-101) borders.
    reference = ndimage.convolve1d(ndimage.convolve1d(image.astype(np.float64), kernel, axis=0, mode="mirror"),
                                   kernel, axis=1, mode="mirror")
    np.testing.assert_allclose(gaussian_blur(image, k), reference, atol=1e-5)
    assert gaussian_blur(image[..., None], k).shape == (40, 33, 1)


def test_blur_rejects_even_kernels():
    with pytest.raises(ValueError, match="odd"):
        gaussian_blur(np.zeros((8, 8)), 4)


@pytest.mark.parametrize("factor", NOISE_VARIANCE_FACTORS)
def test_noise_std_equals_the_factor_on_mid_gray(factor):
    flat = np.full((256, 256), 0.5, np.float32)
    noisy = add_gaussian_noise(flat, factor, seed=0)
    assert noisy.dtype == np.float32
    assert abs(noisy.mean() - 0.5) < 0.01  # zero mean (no clipping at 0.5 ± 5 SD for factor <= 0.1)
    assert abs(noisy.std() - factor) < 0.02 * factor


def test_noise_is_seeded_and_clipped():
    flat = np.full((64, 64), 0.5, np.float32)
    np.testing.assert_array_equal(add_gaussian_noise(flat, 0.1, 3), add_gaussian_noise(flat, 0.1, 3))
    assert not np.array_equal(add_gaussian_noise(flat, 0.1, 3), add_gaussian_noise(flat, 0.1, 4))
    bright = add_gaussian_noise(np.ones((64, 64)), 0.1, 0)
    assert bright.max() <= 1.0 and bright.min() >= 0.0 and bright.min() < 1.0
    with pytest.raises(ValueError, match="variance_factor"):
        add_gaussian_noise(flat, 0.0)


def test_random_draws_cover_the_lists():
    rng = np.random.default_rng(0)
    image = np.full((16, 16), 0.5, np.float32)
    factors = {random_noise(image, rng)[1] for _ in range(100)}
    kernels = {random_blur(image, rng)[1] for _ in range(100)}
    assert factors == set(NOISE_VARIANCE_FACTORS) and kernels == set(BLUR_KERNEL_SIZES)
    image = np.random.default_rng(1).random((16, 16)).astype(np.float32)
    blurred, k = random_blur(image, np.random.default_rng(2))
    np.testing.assert_array_equal(blurred, gaussian_blur(image, k))


def test_degrade_batch_draws_per_image_and_is_seeded():
    images = np.full((200, 8, 8, 1), 0.5, np.float32)
    noisy, factors = degrade_batch(images, "noise", seed=1)
    assert set(np.round(factors, 2).tolist()) == set(NOISE_VARIANCE_FACTORS)
    per_image_std = noisy.reshape(200, -1).std(axis=1)
    assert np.corrcoef(per_image_std, factors)[0, 1] > 0.9  # each image got its own factor
    blurred, kernels = degrade_batch(np.random.default_rng(0).random((100, 12, 12, 1)).astype(np.float32), "blur",
                                     seed=1)
    assert set(kernels.tolist()) == set(BLUR_KERNEL_SIZES) and blurred.shape == (100, 12, 12, 1)
    again, _ = degrade_batch(images, "noise", seed=1)
    np.testing.assert_array_equal(noisy, again)
    only, params = degrade_batch(images[:10], "blur", seed=0, choices=[5])
    assert set(params.tolist()) == {5}
    with pytest.raises(ValueError, match="kind"):
        degrade_batch(images, "jpeg")
    with pytest.raises(ValueError, match="empty"):
        degrade_batch(images, "noise", choices=[])


def test_degradation_target_gives_degraded_clean_pairs():
    images = np.random.default_rng(0).random((4, 16, 16, 1)).astype(np.float32)
    degraded, clean = DegradationTarget("blur")(images, np.random.default_rng(0))
    np.testing.assert_array_equal(clean, images)
    assert degraded.shape == images.shape and not np.array_equal(degraded, images)
    with pytest.raises(ValueError, match="kind"):
        DegradationTarget("salt")
