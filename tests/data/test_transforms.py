import cv2
import numpy as np
import pytest
from scipy import ndimage

from keras_cxr.data import (BLUR_KERNEL_SIZES, NOISE_VARIANCE_FACTORS, add_gaussian_noise, crop_and_resize,
                            degrade_batch, gaussian_blur, load_images, lung_bbox, lung_bbox_crop,
                            normalize_imagenet, resize, to_rgb, to_unit_range)


def test_resize_squash_matches_opencv_area_and_pad_keeps_aspect():
    image = np.random.default_rng(0).random((60, 40)).astype(np.float32)
    np.testing.assert_allclose(resize(image, 20), cv2.resize(image, (20, 20), interpolation=cv2.INTER_AREA))
    padded = resize(np.ones((60, 30), np.float32), 20, mode="pad")
    assert padded.shape == (20, 20)
    assert padded[:, 5:15].min() == 1.0 and padded[:, :5].max() == 0.0 and padded[:, 15:].max() == 0.0
    up = resize(image, 120)
    np.testing.assert_allclose(up, cv2.resize(image, (120, 120), interpolation=cv2.INTER_LINEAR))
    with pytest.raises(ValueError, match="mode"):
        resize(image, 10, mode="crop")


def test_unit_range_rgb_and_imagenet():
    assert to_unit_range(np.full((3, 3), 7.0)).max() == 0.0
    gray = np.random.default_rng(1).random((4, 4)).astype(np.float32)
    rgb = normalize_imagenet(to_rgb(gray))
    expected = (gray[..., None] - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(rgb, expected, rtol=1e-5)
    np.testing.assert_allclose(normalize_imagenet(gray), (gray - 0.449) / 0.226, rtol=1e-3)


def test_lung_crop():
    mask = np.zeros((50, 50))
    mask[10:30, 5:45] = 1
    assert lung_bbox(mask, margin=0.0) == (5, 10, 45, 30)
    assert lung_bbox(mask, margin=0.1) == (1, 8, 49, 32)
    image = np.random.default_rng(0).random((50, 50)).astype(np.float32)
    np.testing.assert_allclose(lung_bbox_crop(image, mask, 20, margin=0.0),
                               cv2.resize(image[10:30, 5:45], (20, 20), interpolation=cv2.INTER_AREA))
    with pytest.raises(ValueError, match="empty"):
        lung_bbox(np.zeros((5, 5)))
    with pytest.raises(ValueError, match="outside"):
        crop_and_resize(image, (0, 0, 80, 10), 5)


def test_blur_matches_separable_reference():
    image = np.random.default_rng(0).random((40, 40)).astype(np.float32)
    for k in BLUR_KERNEL_SIZES:
        kernel = cv2.getGaussianKernel(k, 0)[:, 0]  # OpenCV's documented automatic-sigma kernel
        reference = ndimage.convolve1d(ndimage.convolve1d(image.astype(np.float64), kernel, axis=0, mode="mirror"),
                                       kernel, axis=1, mode="mirror")
        np.testing.assert_allclose(gaussian_blur(image, k), reference, atol=1e-5)
    with pytest.raises(ValueError, match="odd"):
        gaussian_blur(image, 4)


def test_noise_std_equals_factor_and_is_seeded():
    flat = np.full((256, 256), 0.5, np.float32)
    for factor in NOISE_VARIANCE_FACTORS:
        assert abs(add_gaussian_noise(flat, factor, seed=0).std() - factor) < 0.1 * factor
    np.testing.assert_array_equal(add_gaussian_noise(flat, 0.1, 3), add_gaussian_noise(flat, 0.1, 3))
    assert add_gaussian_noise(np.ones((8, 8)), 0.1, 0).max() <= 1.0


def test_degrade_batch_draws_from_lists():
    images = np.full((200, 8, 8, 1), 0.5, np.float32)
    noisy, factors = degrade_batch(images, "noise", seed=1)
    assert set(np.round(factors, 2).tolist()) == set(NOISE_VARIANCE_FACTORS)
    blurred, kernels = degrade_batch(images, "blur", seed=1)
    assert set(kernels.tolist()) == set(BLUR_KERNEL_SIZES) and blurred.shape == images.shape
    again, _ = degrade_batch(images, "noise", seed=1)
    np.testing.assert_array_equal(noisy, again)


def test_load_images_reads_and_resizes(tmp_path):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.full((30, 20), 50 * i, np.uint8))
    out = load_images(sorted(tmp_path.glob("*.png")), image_size=12, progress=False)
    assert out.shape == (3, 12, 12, 1)
    np.testing.assert_allclose(out[:, 0, 0, 0], [0, 50 / 255, 100 / 255], atol=1e-6)
    with pytest.raises(ValueError, match="no paths"):
        load_images([])
