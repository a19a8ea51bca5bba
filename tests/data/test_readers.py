import struct
import zlib

import cv2
import numpy as np
import pydicom
import pytest
from PIL import Image

from keras_cxr.data.readers import ImageReadError, png_significant_bits, read_image, write_png

ORIGINAL_M2 = "rsna_pneumonia_1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819.dcm"
ORIGINAL_M1 = "rsna_pneumonia_same_pixels_header_MONOCHROME1.dcm"
ACTUALMED = "actualmed_CR.1.2.840.113564.1722810170.20200320011259312440.1003000225002.png"


def _reference_match(image, reference_path):
    reference = cv2.imread(str(reference_path), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255
    small = cv2.resize(image, reference.shape[::-1], interpolation=cv2.INTER_AREA)
    return np.corrcoef(small.ravel(), reference.ravel())[0, 1], np.abs(small - reference).mean()


def test_every_original_reads_as_unit_float(originals_dir):
    files = sorted(p for p in originals_dir.iterdir() if p.suffix != ".md")
    assert len(files) == 6
    for path in files:
        image = read_image(path)
        assert image.ndim == 2 and image.dtype == np.float32, path.name
        assert 0.0 <= image.min() and image.max() <= 1.0 and image.std() > 0.05, path.name


def test_palette_png_applies_inverted_palette(originals_dir, shared_data):
    image = read_image(originals_dir / "jsrt_JPCLN001_palette_2048.png")
    assert image.shape == (2048, 2048)
    corr, mad = _reference_match(image, shared_data / "jsrt_scr_segmentation/images/JPCLN001.png")
    assert corr > 0.99 and mad < 0.02
    raw_indices = np.asarray(Image.open(originals_dir / "jsrt_JPCLN001_palette_2048.png")).astype(np.float32)
    assert np.corrcoef(cv2.resize(raw_indices, (64, 64)).ravel(), cv2.resize(image, (64, 64)).ravel())[0, 1] < -0.9


def test_rgb_png_becomes_luminance(originals_dir, shared_data):
    image = read_image(originals_dir / ACTUALMED)
    assert image.shape == (1969, 2394)
    corr, mad = _reference_match(image, shared_data / "actualmed_covid/images" / ACTUALMED[len("actualmed_"):])
    assert corr > 0.99 and mad < 0.02


def test_large_jpeg_and_tiny_rgb_png(originals_dir, shared_data):
    image = read_image(originals_dir / "figure1_COVID-00006.jpg")
    assert image.shape == (4032, 3024)
    corr, _ = _reference_match(image, shared_data / "figure1_covid/images/COVID-00006.png")
    assert corr > 0.99
    tiny = read_image(originals_dir / "nih_00000001_000_64px_rgb.png")
    rgb = cv2.cvtColor(cv2.imread(str(originals_dir / "nih_00000001_000_64px_rgb.png")), cv2.COLOR_BGR2GRAY)
    np.testing.assert_allclose(tiny, rgb / 255.0, atol=1 / 255 + 1e-6)


def test_compressed_dicom_and_monochrome1(originals_dir):
    m2 = read_image(originals_dir / ORIGINAL_M2)
    dataset = pydicom.dcmread(originals_dir / ORIGINAL_M2)
    raw = dataset.pixel_array.astype(np.float64)
    np.testing.assert_allclose(m2, (raw - raw.min()) / (raw.max() - raw.min()), atol=1e-6)
    # Lungs (air) dark, mediastinum/bone bright: the center column is brighter than the lung fields.
    assert m2[400:700, 480:540].mean() > m2[400:700, 250:350].mean()
    # The MONOCHROME1 copy holds the same stored pixels with the opposite display convention (DICOM PS3.3
    # C.7.6.3.1.2): a correct loader displays it as the inverse of the stored values, i.e. 1 - m2.
    m1 = read_image(originals_dir / ORIGINAL_M1)
    np.testing.assert_allclose(m1, 1.0 - m2, atol=1e-6)


def test_sixteen_bit_png_and_npy_and_tiff(tmp_path):
    ramp = (np.linspace(0, 65535, 32 * 32).reshape(32, 32)).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "a16.png"), ramp)
    np.testing.assert_allclose(read_image(tmp_path / "a16.png"), ramp / 65535.0, atol=1e-6)
    cv2.imwrite(str(tmp_path / "a.tif"), (ramp >> 8).astype(np.uint8))
    np.testing.assert_allclose(read_image(tmp_path / "a.tif"), (ramp >> 8) / 255.0, atol=1e-6)
    np.save(tmp_path / "f.npy", np.linspace(-1, 3, 256, dtype=np.float32).reshape(16, 16))
    f = read_image(tmp_path / "f.npy")
    assert f.min() == 0 and f.max() == 1
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., 1] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    np.testing.assert_allclose(read_image(tmp_path / "rgba.png"), 0.587, atol=2 / 255)


def _ramp(bits, shape=(32, 32)):
    return np.linspace(0, 2**bits - 1, shape[0] * shape[1]).round().reshape(shape).astype(np.uint16)


@pytest.mark.parametrize("bits", [10, 12, 14])
def test_sixteen_bit_png_with_fewer_stored_bits_reads_at_full_contrast(tmp_path, bits):
    ramp = _ramp(bits)
    cv2.imwrite(str(tmp_path / "no_sbit.png"), ramp)  # no sBIT chunk: the bits are inferred from the maximum
    assert png_significant_bits(tmp_path / "no_sbit.png") is None
    image = read_image(tmp_path / "no_sbit.png")
    np.testing.assert_allclose(image, ramp / (2**bits - 1), atol=1e-6)
    assert image.max() == 1.0
    # A dark image of the same depth (max well below 2**bits - 1) keeps its sBIT-given scale.
    dark = (ramp // 4).astype(np.uint16)
    write_png(tmp_path / "sbit.png", dark, significant_bits=bits)
    assert png_significant_bits(tmp_path / "sbit.png") == (bits,)
    np.testing.assert_allclose(read_image(tmp_path / "sbit.png"), dark / (2**bits - 1), atol=1e-6)
    # Without sBIT the same dark image is scaled by the smallest depth that holds its maximum.
    cv2.imwrite(str(tmp_path / "dark.png"), dark)
    inferred = next(b for b in (10, 12, 14, 16) if dark.max() <= 2**b - 1)
    np.testing.assert_allclose(read_image(tmp_path / "dark.png"), dark / (2**inferred - 1), atol=1e-6)


def test_sbit_honoured_and_full_range_sixteen_bit_unchanged(tmp_path):
    ramp = _ramp(16)
    write_png(tmp_path / "full.png", ramp)
    np.testing.assert_allclose(read_image(tmp_path / "full.png"), ramp / 65535.0, atol=1e-6)
    # A dark full-range image (max < 2**14) keeps the 65535 scale when its sBIT says 16.
    dark = (ramp // 8).astype(np.uint16)
    write_png(tmp_path / "dark16.png", dark, significant_bits=16)
    np.testing.assert_allclose(read_image(tmp_path / "dark16.png"), dark / 65535.0, atol=1e-6)
    # An encoder that scaled 12-bit samples to the full range (PNG 1.2 section 12.2) and wrote sBIT=12:
    # the samples exceed 4095, so they are already full range.
    scaled = (_ramp(12).astype(np.uint32) * 65535 // 4095).astype(np.uint16)
    write_png(tmp_path / "scaled.png", scaled, significant_bits=12)
    np.testing.assert_allclose(read_image(tmp_path / "scaled.png"), scaled / 65535.0, atol=1e-6)
    # 8-bit PNGs are untouched, whatever their maximum or sBIT.
    small = np.arange(64, dtype=np.uint8).reshape(8, 8)
    write_png(tmp_path / "u8.png", small, significant_bits=6)
    np.testing.assert_allclose(read_image(tmp_path / "u8.png"), small / 255.0, atol=1e-6)
    # A 16-bit RGB PNG holding 12-bit samples.
    rgb = np.stack([_ramp(12)] * 3, axis=-1)
    cv2.imwrite(str(tmp_path / "rgb12.png"), rgb)
    np.testing.assert_allclose(read_image(tmp_path / "rgb12.png"), _ramp(12) / 4095.0, atol=1e-5)


def test_write_png_validates():
    with pytest.raises(ValueError, match="uint8 or uint16"):
        write_png("x.png", np.zeros((9, 9), np.float32))
    with pytest.raises(ValueError, match="between 1 and the sample depth 8"):
        write_png("x.png", np.zeros((9, 9), np.uint8), significant_bits=12)


def _png_with_size(width, height):
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + header
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk))


def _make_bad(tmp_path, case, originals_dir=None):
    path = tmp_path / f"{case}.bin"
    if case == "missing":
        return tmp_path / "nope.png"
    if case == "directory":
        return tmp_path
    if case == "empty":
        path.write_bytes(b"")
    elif case == "garbage":
        path.write_bytes(b"hello, this is not an image at all" * 10)
    elif case == "truncated_png":
        good = tmp_path / "good.png"
        cv2.imwrite(str(good), np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8))
        path.write_bytes(good.read_bytes()[:120])
    elif case == "truncated_jpeg":
        good = tmp_path / "good.jpg"
        cv2.imwrite(str(good), np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8))
        path.write_bytes(good.read_bytes()[:200])
    elif case == "bomb":
        path.write_bytes(_png_with_size(100_000, 100_000) + b"\x00" * 64)
    elif case == "tiny":
        cv2.imwrite(str(tmp_path / "tiny.png"), np.zeros((4, 4), np.uint8))
        return tmp_path / "tiny.png"
    elif case == "nan_npy":
        array = np.zeros((16, 16), np.float32)
        array[3, 3] = np.nan
        np.save(tmp_path / "nan.npy", array)
        return tmp_path / "nan.npy"
    elif case in ("dicom_no_pixels", "dicom_palette"):
        dataset = pydicom.dcmread(originals_dir / ORIGINAL_M2)
        if case == "dicom_no_pixels":
            del dataset.PixelData
        else:
            dataset.PhotometricInterpretation = "PALETTE COLOR"
        dataset.save_as(path)
    return path


@pytest.mark.parametrize("case, reason", [
    ("missing", "does not exist"), ("directory", "directory"), ("empty", "empty"),
    ("garbage", "matches no supported format"), ("truncated_png", "truncated or corrupt"),
    ("truncated_jpeg", "truncated or corrupt"), ("bomb", "decompression bomb"), ("tiny", "smaller than 8x8"),
    ("nan_npy", "NaN"),
])
def test_bad_input_raises_image_read_error_naming_file(tmp_path, case, reason):
    path = _make_bad(tmp_path, case)
    with pytest.raises(ImageReadError, match=reason) as info:
        read_image(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("case, reason", [("dicom_no_pixels", "no pixel data"),
                                          ("dicom_palette", "unsupported PhotometricInterpretation")])
def test_bad_dicom(tmp_path, originals_dir, case, reason):
    path = _make_bad(tmp_path, case, originals_dir)
    with pytest.raises(ImageReadError, match=reason) as info:
        read_image(path)
    assert str(path) in str(info.value)


def test_missing_dicom_decoder_names_package(tmp_path, originals_dir, monkeypatch):
    dataset = pydicom.dcmread(originals_dir / ORIGINAL_M2)
    path = tmp_path / "c.dcm"
    dataset.save_as(path)

    def no_decoder(*args, **kwargs):
        raise RuntimeError("Unable to decode the pixel data as none of the plugins are available")

    monkeypatch.setattr(pydicom.dataset.Dataset, "pixel_array", property(no_decoder))
    with pytest.raises(ImageReadError, match="pip install pylibjpeg") as info:
        read_image(path)
    assert "1.2.840.10008.1.2.4.50" in str(info.value) and str(path) in str(info.value)
