"""Images paired with lung masks by file stem (JSRT/SCR, Montgomery, Shenzhen), and reading the masks."""

import os
import re

import numpy as np

from keras_cxr.data.index import DatasetIndex, DatasetLayoutError, list_problems, make_frame
from keras_cxr.data.layouts._common import (IMAGE_EXTENSIONS, MASK_EXTENSIONS, _find_images, _folders_below,
                                            _require_dir, _stem)


def _mask_stem(name):
    """File stem without mask suffixes (`_mask`, `_lungs`, `_seg`) or inner extensions (`JPCLN001.IMG.png`)."""
    stem = _stem(name)
    stem = re.sub(r"\.(img|dcm|dicom|png|jpe?g|tiff?|gif)$", "", stem, flags=re.IGNORECASE)
    return re.sub(r"[_-](mask|masks|lungs?|seg|segmentation|label)$", "", stem, flags=re.IGNORECASE)


def index_segmentation_pairs(image_dir, mask_dirs, merge="union", merged_dir=None, require_all=True):
    """Images with masks matched by file stem; several mask folders are merged.

    Matching ignores extensions (`.png` image ↔ `.gif` mask), mask suffixes (`CHNCXR_0001_0_mask.png`,
    Shenzhen) and inner extensions (`JPCLN001.IMG.png`). With several mask folders (Montgomery's
    `leftMask/` + `rightMask/`) `mask_path` holds the files joined by "|" and `read_mask` returns their
    union; with `merged_dir` the unions are written there as 0/255 PNGs and `mask_path` names those
    files, so any image reader (e.g. `load_images`) can read them.

    Args:
        image_dir: folder of images (searched recursively).
        mask_dirs: one mask folder or a list of them.
        merge: "union" (the only rule: a pixel is foreground when it is in any mask).
        merged_dir: optional folder for materialized union masks.
        require_all: raise when an image lacks a mask in some folder (else drop it).

    Returns:
        `DatasetIndex` with task "segmentation", a mask_path column, patient_id = matched stem.

    Raises:
        DatasetLayoutError: missing folders, no images, or images without a mask (listed).

    Example:
    >>> import cv2, numpy as np, tempfile, os
    >>> root = tempfile.mkdtemp()
    >>> for sub in ("images", "left", "right"):
    ...     os.makedirs(os.path.join(root, sub))
    >>> _ = cv2.imwrite(os.path.join(root, "images", "a.png"), np.zeros((9, 9), np.uint8))
    >>> left, right = np.zeros((9, 9), np.uint8), np.zeros((9, 9), np.uint8)
    >>> left[:, :3], right[:, 6:] = 255, 255
    >>> _ = cv2.imwrite(os.path.join(root, "left", "a.png"), left)
    >>> _ = cv2.imwrite(os.path.join(root, "right", "a_mask.png"), right)
    >>> masks = [os.path.join(root, "left"), os.path.join(root, "right")]
    >>> index = index_segmentation_pairs(os.path.join(root, "images"), masks)
    >>> int(read_mask(index.mask_paths[0]).sum())
    54
    """
    if merge != "union":
        raise ValueError(f"merge must be 'union'; received {merge!r}.")
    image_dir = os.fspath(image_dir)
    _require_dir(image_dir, "Image")
    if isinstance(mask_dirs, (str, os.PathLike)):
        mask_dirs = [mask_dirs]
    mask_dirs = [os.fspath(d) for d in mask_dirs]
    if not mask_dirs:
        raise ValueError("mask_dirs is empty; pass at least one mask folder.")
    for d in mask_dirs:
        _require_dir(d, "Mask")
    images = _find_images(image_dir)
    if not images:
        raise DatasetLayoutError(f"No image files ({', '.join(IMAGE_EXTENSIONS)}) under '{image_dir}'.")
    masks = []
    for d in mask_dirs:
        found = {}
        for p in _find_images(d, MASK_EXTENSIONS):
            found.setdefault(_mask_stem(p), p)
        masks.append(found)
    stems = [_mask_stem(p) for p in images]
    unmatched = [os.path.basename(p) for p, s in zip(images, stems) if any(s not in m for m in masks)]
    if unmatched and require_all:
        raise DatasetLayoutError(list_problems(f"images in '{image_dir}' without a mask in every folder of {mask_dirs}",
                                               unmatched) + " (pass require_all=False to drop them).")
    keep = [i for i, s in enumerate(stems) if all(s in m for m in masks)]
    if not keep:
        raise DatasetLayoutError(f"No image in '{image_dir}' has a mask in {mask_dirs}.")
    mask_paths = ["|".join(m[stems[i]] for m in masks) for i in keep]
    if merged_dir is not None:
        import cv2

        merged_dir = os.fspath(merged_dir)
        os.makedirs(merged_dir, exist_ok=True)
        written = []
        for i, mask_path in zip(keep, mask_paths):
            target = os.path.join(merged_dir, stems[i] + ".png")
            cv2.imwrite(target, (read_mask(mask_path) > 0).astype(np.uint8) * 255)
            written.append(os.path.abspath(target))
        mask_paths = written
    frame = make_frame([images[i] for i in keep], patient_ids=[stems[i] for i in keep], check_files=False,
                       mask_path=mask_paths)
    return DatasetIndex(frame, [], "segmentation")


def _read_one_mask(path):
    lower = path.lower()
    if lower.endswith((".dcm", ".dicom")):
        from keras_cxr.data.readers import read_image

        return read_image(path) > 0.5
    if lower.endswith(".npy"):
        array = np.load(path)
        return (array[..., 0] if array.ndim == 3 else array) > 0
    from PIL import Image

    if not os.path.isfile(path):
        raise DatasetLayoutError(f"Mask file '{path}' does not exist.")
    try:
        with Image.open(path) as image:
            image.seek(0)
            if image.mode in ("P", "PA", "LA", "RGBA", "RGB", "CMYK", "YCbCr"):
                image = image.convert("L")
            array = np.asarray(image)
    except (OSError, ValueError) as error:
        raise DatasetLayoutError(f"Cannot read mask '{path}': {error}.") from error
    if array.ndim == 3:
        array = array.max(axis=-1)
    # Lossless masks: any non-zero pixel is foreground (0/1, 0/255 and label maps alike); JPEG masks carry
    # compression noise, so they are thresholded at half range.
    return array > (127 if lower.endswith((".jpg", ".jpeg")) else 0)


def read_mask(mask_path):
    """Reads a binary mask (or the union of "a|b" masks) as a float32 (H, W) array of 0 and 1.

    Non-zero pixels are foreground in lossless files (PNG 0/1 or 0/255, palette PNG and GIF through their
    palette, TIFF, BMP, .npy); JPEG masks are thresholded at 127.

    Raises:
        DatasetLayoutError: when a mask cannot be read or the masks to merge differ in size.
    """
    parts = [p for p in str(mask_path).split("|") if p]
    if not parts:
        raise DatasetLayoutError("Empty mask path.")
    arrays = [_read_one_mask(p) for p in parts]
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise DatasetLayoutError(f"Masks to merge differ in size {sorted(shapes)}: {parts}.")
    return np.logical_or.reduce(arrays).astype(np.float32)


# Published segmentation layouts: (image folder candidates, mask folder sets), searched in order under the root
# and up to three folders down (MontgomerySet/; Kaggle's Montgomery/MontgomerySet/, data/Lung Segmentation/).
_IMAGE_FOLDERS = ("CXR_png", "images", "image", "img", "All247images", "imgs")
_MASK_FOLDER_SETS = (
    ("ManualMask/leftMask", "ManualMask/rightMask"),  # Montgomery County (NLM): left + right lung masks
    ("masks/left lung", "masks/right lung"),  # JSRT / SCR (van Ginneken et al. 2006), per-lung folders
    ("mask",),  # Shenzhen lung masks (Stirenko et al. 2018; Kaggle mirror: CXR_png + mask, *_mask.png)
    ("masks",),  # the shared JSRT/SCR folder; Kaggle chest-xray-masks-and-labels (Lung Segmentation/CXR_png + masks)
    ("lung_masks",),
)


def find_segmentation_folders(root):
    """(image folder, [mask folders]) of a published lung-segmentation layout under `root`, or None.

    Recognised: Montgomery (`CXR_png/` + `ManualMask/leftMask/` + `ManualMask/rightMask/`, merged), JSRT/SCR
    (`images/` + `masks/left lung/` + `masks/right lung/`, or one `masks/` folder), Shenzhen (`CXR_png/` +
    `mask/`, `*_mask.png`), and generic `images/` + `masks/` folders, at the root or up to three folders
    below it, shallowest first (`MontgomerySet/`; Kaggle's `pulmonary-chest-xray-abnormalities/Montgomery/
    MontgomerySet/` and `chest-xray-masks-and-labels/[data/]Lung Segmentation/`), skipping `__MACOSX/`.
    """
    root = os.fspath(root)
    for base in _folders_below(root, 3) if os.path.isdir(root) else ():
        images = next((os.path.join(base, d) for d in _IMAGE_FOLDERS if os.path.isdir(os.path.join(base, d))), None)
        if images is None:
            continue
        for mask_set in _MASK_FOLDER_SETS:
            folders = [os.path.join(base, *m.split("/")) for m in mask_set]
            if all(os.path.isdir(f) for f in folders):
                return images, folders
    return None


def index_segmentation(root, require_all=False):
    """Lung-segmentation pairs of a published layout (`find_segmentation_folders`): images with their masks,
    several mask folders merged by union; images without a mask are dropped unless `require_all`.

    Raises:
        DatasetLayoutError: naming the folder and the layouts looked for, when none is found.
    """
    found = find_segmentation_folders(root)
    if found is None:
        raise DatasetLayoutError(
            f"No lung-segmentation layout in '{root}': expected an image folder ({', '.join(_IMAGE_FOLDERS)}) beside "
            f"mask folders ({'; '.join(' + '.join(s) for s in _MASK_FOLDER_SETS)}), at the top or up to 3 folders down "
            "(Montgomery: MontgomerySet/CXR_png + ManualMask/leftMask + rightMask; Shenzhen: CXR_png + mask).")
    images, masks = found
    return index_segmentation_pairs(images, masks, require_all=require_all)
