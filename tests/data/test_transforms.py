import cv2
import numpy as np
import pytest

from keras_cxr.data import (crop_and_resize, load_images, lung_bbox, lung_bbox_crop, normalize_imagenet, resize, to_rgb,
                            to_unit_range)


def test_resize_squash_uses_area_down_and_linear_up():
    image = np.random.default_rng(0).random((60, 40)).astype(np.float32)
    np.testing.assert_allclose(resize(image, 20), cv2.resize(image, (20, 20), interpolation=cv2.INTER_AREA))
    np.testing.assert_allclose(resize(image, 120), cv2.resize(image, (120, 120), interpolation=cv2.INTER_LINEAR))
    np.testing.assert_allclose(resize(image, (30, 10)), cv2.resize(image, (10, 30), interpolation=cv2.INTER_AREA))
    np.testing.assert_allclose(resize(image, 20, interpolation=cv2.INTER_CUBIC),
                               cv2.resize(image, (20, 20), interpolation=cv2.INTER_CUBIC))
    assert resize(image[..., None], 20).shape == (20, 20)
    assert resize(image.astype(np.float64), 20).dtype == np.float32


@pytest.mark.parametrize("shape", [(60, 30), (30, 60), (37, 50)])
def test_resize_pad_keeps_aspect_centered(shape):
    padded = resize(np.ones(shape, np.float32), 20, mode="pad")
    assert padded.shape == (20, 20)
    rows, cols = np.nonzero(padded > 0.5)
    height, width = np.ptp(rows) + 1, np.ptp(cols) + 1
    assert abs(width / height - shape[1] / shape[0]) < 0.15
    assert max(height, width) == 20
    # centered: equal zero margins (within one pixel) on both sides
    assert abs(rows.min() - (19 - rows.max())) <= 1 and abs(cols.min() - (19 - cols.max())) <= 1


def test_resize_rejects_bad_arguments():
    image = np.zeros((10, 10), np.float32)
    with pytest.raises(ValueError, match="mode"):
        resize(image, 5, mode="crop")
    with pytest.raises(ValueError, match="positive"):
        resize(image, 0)
    with pytest.raises(ValueError, match="shape"):
        resize(np.zeros((4, 4, 3)), 5)


def test_unit_range():
    np.testing.assert_allclose(to_unit_range([[2.0, 4.0], [6.0, 10.0]]), [[0, 0.25], [0.5, 1.0]])
    constant = to_unit_range(np.full((3, 3), 7.0))
    assert constant.dtype == np.float32 and not constant.any()


def test_rgb_and_imagenet():
    gray = np.random.default_rng(1).random((4, 4)).astype(np.float32)
    rgb = to_rgb(gray)
    assert rgb.shape == (4, 4, 3) and to_rgb(gray[..., None]).shape == (4, 4, 3)
    expected = (gray[..., None] - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(normalize_imagenet(rgb), expected, rtol=1e-5)
    np.testing.assert_allclose(normalize_imagenet(gray), (gray - 0.449) / 0.226, rtol=1e-3)
    np.testing.assert_allclose(normalize_imagenet(gray[..., None])[..., 0], normalize_imagenet(gray))


def test_lung_bbox_and_crop():
    mask = np.zeros((50, 50))
    mask[10:30, 5:45] = 1
    assert lung_bbox(mask, margin=0.0) == (5, 10, 45, 30)
    assert lung_bbox(mask, margin=0.1) == (1, 8, 49, 32)
    assert lung_bbox(mask, margin=0.5) == (0, 0, 50, 40)  # clipped to the image
    image = np.random.default_rng(0).random((50, 50)).astype(np.float32)
    np.testing.assert_array_equal(lung_bbox_crop(image, mask, margin=0.0), image[10:30, 5:45])
    np.testing.assert_allclose(lung_bbox_crop(image, mask, margin=0.0, size=20),
                               cv2.resize(image[10:30, 5:45], (20, 20), interpolation=cv2.INTER_AREA))
    with pytest.raises(ValueError, match="outside"):
        crop_and_resize(image, (0, 0, 80, 10), 5)


def test_lung_crop_with_a_mask_of_another_resolution():
    mask = np.zeros((25, 25), np.uint8)
    mask[5:15, 2:22] = 255
    image = np.random.default_rng(0).random((100, 100)).astype(np.float32)
    np.testing.assert_array_equal(lung_bbox_crop(image, mask, margin=0.0), image[20:60, 8:88])


def test_empty_mask_error_names_the_problem():
    with pytest.raises(ValueError, match="lung mask is empty"):
        lung_bbox_crop(np.zeros((8, 8)), np.zeros((8, 8)))


def test_load_images_reads_and_resizes(tmp_path):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.full((30, 20), 50 * i, np.uint8))
    out = load_images(sorted(tmp_path.glob("*.png")), image_size=12, progress=False)
    assert out.shape == (3, 12, 12, 1)
    np.testing.assert_allclose(out[:, 0, 0, 0], [0, 50 / 255, 100 / 255], atol=1e-6)
    with pytest.raises(ValueError, match="no paths"):
        load_images([])
