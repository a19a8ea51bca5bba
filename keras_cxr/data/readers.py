"""Reading one chest X-ray file of any common format into a float32 (H, W) array in [0, 1]."""

import os
import struct
import warnings
import zlib

import cv2
import numpy as np
from PIL import Image

MIN_SIDE = 8
DEFAULT_MAX_PIXELS = 2**28  # 268 M pixels (16384 x 16384); larger headers are treated as decompression bombs

# Magic numbers → format. DICOM Part 10 has "DICM" at byte 128 (checked separately).
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"II+\x00", "tiff"),
    (b"MM\x00+", "tiff"),
    (b"\x93NUMPY", "npy"),
    (b"BM", "bmp"),
)


class ImageReadError(ValueError):
    """An image file could not be read; the message names the file, the reason and the fix."""

    def __init__(self, path, reason, fix=None):
        self.path = os.fspath(path)
        self.reason = reason
        message = f"Cannot read image '{self.path}': {reason}."
        if fix:
            message += f" {fix}"
        super().__init__(message)


def _sniff(path, head):
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "dicom"
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if os.path.splitext(path)[1].lower() in (".dcm", ".dicom") and len(head) >= 8:
        return "dicom"  # DICOM without the Part 10 preamble: let pydicom try with force=True
    return None


def _check_size(path, height, width, max_pixels):
    if height * width > max_pixels:
        raise ImageReadError(path, f"its header announces {width}x{height} = {width * height} pixels, more than "
                             f"max_pixels={max_pixels} (a possible decompression bomb)",
                             "Pass a larger max_pixels to read_image if the file is trusted.")


def _png_header_size(path, head, max_pixels):
    if len(head) < 24 or head[12:16] != b"IHDR":
        raise ImageReadError(path, "the PNG header (IHDR chunk) is missing or truncated", "Re-export the file.")
    width, height = struct.unpack(">II", head[16:24])
    _check_size(path, height, width, max_pixels)


def _to_gray(path, array):
    """Channels-last color → luminance (ITU-R BT.601, as OpenCV and PIL do); alpha is ignored."""
    if array.ndim == 2:
        return array
    if array.ndim == 3 and array.shape[2] == 1:
        return array[..., 0]
    if array.ndim == 3 and array.shape[2] in (3, 4):
        rgb = array[..., :3].astype(np.float64)
        return rgb @ np.array([0.299, 0.587, 0.114])
    raise ImageReadError(path, f"unsupported pixel array shape {array.shape}",
                         "Expected (H, W), (H, W, 1), (H, W, 3) or (H, W, 4).")


def _scale_integer(array):
    if np.issubdtype(array.dtype, np.integer) or array.dtype == np.bool_:
        maximum = 1 if array.dtype == np.bool_ else np.iinfo(array.dtype).max
        return array.astype(np.float32) / np.float32(maximum)
    return array


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_SIGNIFICANT_BITS = (10, 12, 14, 16)  # the depths inferred from a 16-bit PNG's maximum (DICOM exports)


def png_significant_bits(path):
    """The significant bits a PNG's sBIT chunk records, as a tuple (one per channel), or None without one.

    Only the chunks before the image data are walked (sBIT must precede PLTE and IDAT, PNG 1.2 §4.2.6).

    Example:
    >>> import cv2, numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "x.png"); _ = cv2.imwrite(path, np.zeros((9, 9), np.uint16))
    >>> png_significant_bits(path) is None
    True
    """
    with open(path, "rb") as f:
        if f.read(8) != _PNG_SIGNATURE:
            return None
        while True:
            header = f.read(8)
            if len(header) < 8:
                return None
            length, kind = struct.unpack(">I4s", header)
            if kind in (b"IDAT", b"PLTE", b"IEND"):
                return None
            if kind == b"sBIT":
                data = f.read(length)
                return tuple(data) if len(data) == length and length else None
            f.seek(length + 4, os.SEEK_CUR)  # chunk data + CRC


def _with_png_chunk(png, kind, data):
    """PNG bytes with one ancillary chunk inserted right after IHDR."""
    chunk = kind + data
    end_of_ihdr = 8 + 8 + 13 + 4
    return (png[:end_of_ihdr] + struct.pack(">I", len(data)) + chunk + struct.pack(">I", zlib.crc32(chunk))
            + png[end_of_ihdr:])


def write_png(path, image, *, significant_bits=None):
    """Writes a (H, W) uint8 or uint16 array as a grayscale PNG, with an sBIT chunk when asked.

    A 16-bit PNG written from [0, 1] floats (scaled by 65535) should say `significant_bits=16`, so that
    `read_image` never takes a dark image for a 10-14-bit one (see `read_image`).

    Args:
        path: where to write.
        image: (H, W) array of dtype uint8 or uint16.
        significant_bits: written as the sBIT chunk (1 to the sample depth); None writes none.

    Raises:
        ValueError: for another dtype or shape, or significant bits outside 1 to the sample depth.

    Example:
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "x.png")
    >>> write_png(path, np.full((9, 9), 4095, np.uint16), significant_bits=12)
    >>> png_significant_bits(path), float(read_image(path).max())
    ((12,), 1.0)
    """
    image = np.asarray(image)
    if image.ndim != 2 or image.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"write_png takes a (H, W) uint8 or uint16 array; received shape {image.shape}, dtype "
                         f"{image.dtype}. Scale floats first, e.g. np.round(x * 65535).astype(np.uint16).")
    depth = 8 * image.dtype.itemsize
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise ValueError(f"OpenCV could not encode an image of shape {image.shape} as PNG.")
    png = encoded.tobytes()
    if significant_bits is not None:
        if not 1 <= int(significant_bits) <= depth:
            raise ValueError(f"significant_bits must be between 1 and the sample depth {depth}; received "
                             f"{significant_bits}.")
        png = _with_png_chunk(png, b"sBIT", bytes([int(significant_bits)]))
    with open(path, "wb") as f:
        f.write(png)


def _png_sixteen_bit_scale(path, array):
    """The maximum a 16-bit PNG's samples are divided by: 2**bits - 1 for the bits they actually use.

    sBIT present: its depth (largest over the color channels), unless the samples exceed it, in which case
    the encoder has scaled them to the full range as PNG 1.2 §12.2 asks and 65535 is kept. No sBIT: the
    smallest of 10, 12, 14, 16 bits that holds the maximum sample (alpha excluded).
    """
    color = array if array.ndim == 2 else array[..., : (3 if array.shape[-1] >= 3 else 1)]
    maximum = int(color.max()) if color.size else 0
    significant = png_significant_bits(path)
    if significant:
        channels = significant if len(significant) < 4 else significant[:3]
        if len(significant) == 2:  # gray + alpha
            channels = significant[:1]
        bits = max(1, min(16, max(channels)))
        if maximum <= 2**bits - 1:
            return 2**bits - 1
        return 65535
    for bits in _SIGNIFICANT_BITS:
        if maximum <= 2**bits - 1:
            return 2**bits - 1
    return 65535


def _read_raster(path, kind, max_pixels):
    """PNG / JPEG / TIFF / BMP: OpenCV first (fast), PIL for what OpenCV cannot decode."""
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED | cv2.IMREAD_IGNORE_ORIENTATION)
    if image is not None:
        if image.ndim == 3 and image.shape[2] in (3, 4):  # OpenCV returns BGR(A); palettes are applied
            image = image[..., [2, 1, 0] + ([3] if image.shape[2] == 4 else [])]
        return image
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as pil:
                _check_size(path, pil.height, pil.width, max_pixels)
                if pil.mode == "P":
                    pil = pil.convert("RGBA" if "transparency" in pil.info else "RGB")
                elif pil.mode not in ("L", "I;16", "I;16B", "I", "F", "RGB", "RGBA", "LA", "1"):
                    pil = pil.convert("RGB")
                pil.load()
                array = np.asarray(pil)
                if pil.mode == "I":  # 32-bit integer data of unknown bit depth: min-max normalized later
                    array = array.astype(np.float64)
                return array
    except ImageReadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageReadError(path, f"decompression bomb guard: {error}",
                             "Pass a larger max_pixels to read_image if the file is trusted.") from None
    except Exception as error:  # PIL raises many types for corrupt data
        raise ImageReadError(path, f"the {kind.upper()} data is truncated or corrupt ({type(error).__name__}: "
                             f"{error})", "Re-export or re-download the file.") from None


def _read_npy(path, max_pixels):
    try:
        array = np.load(path, allow_pickle=False, mmap_mode="r")
    except Exception as error:
        raise ImageReadError(path, f"the .npy file is truncated or corrupt ({error})", "Re-save it with np.save.") from None
    if array.ndim not in (2, 3):
        raise ImageReadError(path, f"a .npy image must be (H, W) or (H, W, C); received shape {array.shape}")
    _check_size(path, array.shape[0], array.shape[1], max_pixels)
    array = np.asarray(array)
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise ImageReadError(path, f"a .npy image must hold numbers; received dtype {array.dtype}")
    return array


def _dicom_decoder_hint(transfer_syntax):
    name = getattr(transfer_syntax, "name", str(transfer_syntax))
    uid = str(transfer_syntax)
    if uid.startswith("1.2.840.10008.1.2.4.8") or "LS" in name:
        return "pip install pylibjpeg pylibjpeg-libjpeg (JPEG-LS)"
    if uid.startswith("1.2.840.10008.1.2.4.9") or "2000" in name:
        return "pip install pylibjpeg pylibjpeg-openjpeg (JPEG 2000)"
    if uid == "1.2.840.10008.1.2.5":
        return "pip install pylibjpeg pylibjpeg-rle (RLE)"
    return "pip install pylibjpeg pylibjpeg-libjpeg pillow (JPEG)"


def _read_dicom(path, max_pixels):
    # pydicom loads its decoder plugins (pylibjpeg, libjpeg) on import, ~0.3 s: paid only when a DICOM is read
    import pydicom
    from pydicom.pixels import apply_modality_lut, apply_voi_lut, convert_color_space

    try:
        dataset = pydicom.dcmread(path, force=True)
    except Exception as error:
        raise ImageReadError(path, f"the DICOM file is truncated or corrupt ({type(error).__name__}: {error})",
                             "Re-export the file from the PACS.") from None
    if "PixelData" not in dataset and "FloatPixelData" not in dataset and "DoubleFloatPixelData" not in dataset:
        raise ImageReadError(path, "the DICOM dataset has no pixel data (e.g. a structured report or a "
                             "presentation state)", "Point to the image object of the study.")
    rows, columns = int(dataset.get("Rows", 0)), int(dataset.get("Columns", 0))
    _check_size(path, rows, columns, max_pixels)
    photometric = str(dataset.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    supported = ("MONOCHROME1", "MONOCHROME2", "RGB", "YBR_FULL", "YBR_FULL_422")
    if photometric not in supported:
        raise ImageReadError(path, f"unsupported PhotometricInterpretation {photometric!r}",
                             f"Supported: {', '.join(supported)}; convert the file to MONOCHROME2.")
    if int(dataset.get("NumberOfFrames", 1) or 1) > 1:
        raise ImageReadError(path, f"it is a multi-frame DICOM ({dataset.NumberOfFrames} frames), not a radiograph",
                             "Extract the frame you need first.")
    try:
        pixels = dataset.pixel_array
    except Exception as error:
        file_meta = getattr(dataset, "file_meta", None)
        syntax = file_meta.get("TransferSyntaxUID", "unknown") if file_meta is not None else "unknown"
        message = str(error)
        if "handler" in message.lower() or "decod" in message.lower() or "plugin" in message.lower():
            raise ImageReadError(path, f"no installed decoder handles its transfer syntax {syntax} "
                                 f"({getattr(syntax, 'name', '')})", f"Install one: {_dicom_decoder_hint(syntax)}.") from None
        raise ImageReadError(path, f"its pixel data is truncated or corrupt ({type(error).__name__}: {error})",
                             "Re-export the file.") from None
    if photometric in ("RGB", "YBR_FULL", "YBR_FULL_422"):
        if photometric != "RGB":
            pixels = convert_color_space(pixels, photometric, "RGB")
        return _to_gray(path, _scale_integer(pixels)).astype(np.float64)
    values = apply_modality_lut(pixels, dataset).astype(np.float64)  # rescale slope / intercept
    if "VOILUTSequence" in dataset or "WindowCenter" in dataset:
        values = apply_voi_lut(values, dataset).astype(np.float64)  # VOI LUT, else the first window
    values = _min_max(path, values)
    if photometric == "MONOCHROME1":  # PS3.3 C.7.6.3.1.2: minimum value is displayed white
        values = 1.0 - values
    return values


def _min_max(path, values):
    values = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise ImageReadError(path, "it contains NaN or infinite pixel values", "Clean the array before saving it.")
    low, high = values.min(), values.max()
    if high > low:
        return (values - low) / (high - low)
    return np.zeros_like(values)


def read_image(path, *, max_pixels=DEFAULT_MAX_PIXELS):
    """Reads a chest X-ray file into a float32 (H, W) array in [0, 1], whatever its format.

    The format is detected from the file's bytes, not its extension:

    - PNG 8/16-bit, JPEG, TIFF, BMP: scaled by the integer type's maximum (255, 65535), except 16-bit
      PNGs whose samples use fewer bits (10, 12 or 14-bit detector values written unscaled, as DICOM
      exports do), which are scaled by 2**bits - 1 so they read at full contrast. The bits come from the
      PNG sBIT chunk when present (a file whose samples exceed its sBIT depth was scaled to the full range
      by its encoder and is divided by 65535); without sBIT, from the maximum sample: the smallest of
      10, 12, 14 and 16 bits that holds it. So a 16-bit PNG without sBIT whose brightest pixel is below
      16384 reads brighter than its 65535 scaling would give; write such files with an sBIT of 16
      (`write_png(..., significant_bits=16)`) to keep the 65535 scaling. Palette PNGs have
      their palette applied (so an inverted gray palette is displayed as intended); RGB/RGBA images
      stored from grayscale content become luminance (BT.601 weights), alpha is ignored. EXIF orientation
      is ignored, as radiographs are stored in acquisition orientation.
    - `.npy`: integer arrays scaled by their type's maximum; float arrays already in [0, 1] kept as they
      are, other float arrays min-max normalized.
    - DICOM (pydicom): modality LUT (rescale slope/intercept), then the VOI LUT or the first window when
      present, then min-max to [0, 1]; MONOCHROME1 is inverted so bone is bright and air dark, as in
      MONOCHROME2. Compressed transfer syntaxes decode through pydicom's pixel handlers (pylibjpeg,
      Pillow); a missing decoder gives an error naming the package to install.

    Args:
        path: file path.
        max_pixels: images whose header announces more pixels are refused before decoding
            (decompression-bomb guard).

    Returns:
        np.ndarray (H, W), float32, values in [0, 1].

    Raises:
        ImageReadError: (a ValueError) naming the file and the reason: missing path, directory, empty,
            truncated or corrupt data, unknown format, DICOM without pixel data, unsupported photometric
            interpretation, non-finite values, smaller than 8x8, or a decompression bomb.

    Example:
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "x.npy")
    >>> np.save(path, np.full((16, 16), 128, np.uint8))
    >>> image = read_image(path)
    >>> image.shape, image.dtype, round(float(image.max()), 3)
    ((16, 16), dtype('float32'), 0.502)
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ImageReadError(path, "the file does not exist", "Check the path and the dataset root.")
    if os.path.isdir(path):
        raise ImageReadError(path, "it is a directory, not a file", "Pass an image file inside it.")
    try:
        with open(path, "rb") as f:
            head = f.read(256)
    except OSError as error:
        raise ImageReadError(path, f"it cannot be opened ({error.strerror})", "Check the file's permissions.") from None
    if not head:
        raise ImageReadError(path, "the file is empty (0 bytes)", "Re-download or re-export it.")
    kind = _sniff(path, head)
    if kind is None:
        raise ImageReadError(path, f"its content matches no supported format (first bytes {head[:8]!r})",
                             "Supported: PNG, JPEG, TIFF, BMP, .npy and DICOM.")
    if kind == "png":
        _png_header_size(path, head, max_pixels)
    if kind == "dicom":
        image = _read_dicom(path, max_pixels)
    elif kind == "npy":
        image = _read_npy(path, max_pixels)
    else:
        image = _read_raster(path, kind, max_pixels)
    image = np.asarray(image)
    integer = np.issubdtype(image.dtype, np.integer) or image.dtype == np.bool_
    if kind == "png" and image.dtype == np.uint16:
        image = image.astype(np.float32) / np.float32(_png_sixteen_bit_scale(path, image))
    image = _to_gray(path, _scale_integer(image))
    if image.ndim != 2:
        raise ImageReadError(path, f"decoded to an unexpected shape {image.shape}")
    if min(image.shape) < MIN_SIDE:
        raise ImageReadError(path, f"the image is {image.shape[1]}x{image.shape[0]} pixels, smaller than "
                             f"{MIN_SIDE}x{MIN_SIDE}", "Check that it is a radiograph and not a thumbnail or icon.")
    if not integer:
        if not np.all(np.isfinite(image)):
            raise ImageReadError(path, "it contains NaN or infinite pixel values", "Clean the array before saving it.")
        if kind != "dicom" and (image.min() < 0 or image.max() > 1):
            image = _min_max(path, image)
    return np.clip(image, 0.0, 1.0).astype(np.float32, copy=False)


def image_size_from_header(path):
    """(height, width) of an image file read from its header only (DICOM Rows/Columns, or PIL).

    Useful to map boxes given in original pixels (VinDr-PCXR) onto resized images without decoding them.

    Example:
    >>> import cv2, numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "x.png"); _ = cv2.imwrite(path, np.zeros((40, 50), np.uint8))
    >>> image_size_from_header(path)
    (40, 50)
    """
    if str(path).lower().endswith((".dcm", ".dicom")):
        import pydicom  # loads its decoder plugins: only for a DICOM (see _read_dicom)

        header = pydicom.dcmread(path, stop_before_pixels=True, force=True)
        return int(header.Rows), int(header.Columns)
    with Image.open(path) as image:
        return image.height, image.width
