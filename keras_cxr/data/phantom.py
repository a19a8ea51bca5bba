"""Synthetic chest X-ray phantom: the embedded default dataset of every recipe and test.

Nothing to download: `make_phantom_dataset` draws frontal CXRs with plausible anatomy (body outline, lung
fields, heart whose relative size falls with age, mediastinum and spine, posterior ribs, clavicles,
diaphragm domes), acquisition variation (pose, scale, exposure, detector noise) and five labelled findings
with ground-truth boxes and lung masks. The phantom is a test bed for code paths and for relative
comparisons, not a substitute for real radiographs: absolute metrics on it say nothing about clinical data.
"""

import dataclasses
import json
import os

import cv2
import numpy as np
from tqdm.auto import tqdm

FINDINGS = ("consolidation", "interstitial", "cardiomegaly", "effusion", "nodule")
DEFAULT_PREVALENCE = {"consolidation": 0.15, "interstitial": 0.12, "cardiomegaly": 0.15, "effusion": 0.12,
                      "nodule": 0.12}
_SHIFT = 4  # OpenCV sub-pixel drawing: coordinates carry 4 fractional bits
_ONE = 1 << _SHIFT


@dataclasses.dataclass(frozen=True)
class PhantomDataset:
    """Images, labels and annotations drawn by `make_phantom_dataset`.

    Attributes:
        images: (N, S, S, 1) float32 in [0, 1], standard display (air dark, bone bright).
        labels: (N, F) float32 multi-hot findings, columns named by `class_names`.
        class_names: the F finding names.
        ages: (N,) float32 ages in years.
        sexes: (N,) "M" / "F".
        masks: (N, S, S, 1) float32 {0, 1} lung masks (both lungs, heart excluded, as in JSRT/SCR).
        boxes: per image, a list of (finding, x_min, y_min, x_max, y_max) in pixels.
        patient_ids: (N,) strings, one patient per image.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple
    ages: np.ndarray
    sexes: np.ndarray
    masks: np.ndarray
    boxes: list
    patient_ids: np.ndarray

    def __len__(self):
        return len(self.images)

    @property
    def abnormal(self):
        """(N,) int64: 1 when the image has any finding (normal vs abnormal, as paper 003 classifies)."""
        return (self.labels.sum(axis=1) > 0).astype(np.int64)

    def save(self, folder, progress=None):
        """Writes `images/`, `masks/` (8-bit PNG) and `labels.csv` in the layout of the shared data folders.

        `labels.csv` columns: filename, label ("normal" or the findings joined by "|"), abnormal, patient_id,
        age, sex, view, one 0/1 column per finding, and boxes (JSON). Returns the folder path.
        """
        import pandas as pd

        os.makedirs(os.path.join(folder, "images"), exist_ok=True)
        os.makedirs(os.path.join(folder, "masks"), exist_ok=True)
        rows = []
        show = len(self) > 200 if progress is None else progress
        for i in tqdm(range(len(self)), desc="writing phantom PNGs", disable=not show):
            name = f"{self.patient_ids[i]}.png"
            cv2.imwrite(os.path.join(folder, "images", name), np.round(self.images[i, ..., 0] * 255).astype(np.uint8))
            cv2.imwrite(os.path.join(folder, "masks", name), (self.masks[i, ..., 0] > 0.5).astype(np.uint8) * 255)
            present = [c for c, v in zip(self.class_names, self.labels[i]) if v > 0]
            row = {"filename": name, "label": "|".join(present) or "normal", "abnormal": int(bool(present)),
                   "patient_id": self.patient_ids[i], "age": round(float(self.ages[i]), 2), "sex": self.sexes[i],
                   "view": "PA"}
            row.update({c: int(v) for c, v in zip(self.class_names, self.labels[i])})
            row["boxes"] = json.dumps([[b[0], *[round(float(v), 1) for v in b[1:]]] for b in self.boxes[i]])
            rows.append(row)
        pd.DataFrame(rows).to_csv(os.path.join(folder, "labels.csv"), index=False)
        return folder


def _ellipse(canvas, center, axes, value, angle=0.0, start=0, end=360, thickness=-1):
    """Draws an ellipse with sub-pixel accuracy; center/axes in pixels."""
    c = (int(round(center[0] * _ONE)), int(round(center[1] * _ONE)))
    a = (max(int(round(axes[0] * _ONE)), 1), max(int(round(axes[1] * _ONE)), 1))
    cv2.ellipse(canvas, c, a, angle, start, end, value, thickness, cv2.LINE_AA, _SHIFT)


def _smooth(layer, sigma):
    return cv2.GaussianBlur(layer, (0, 0), sigmaX=max(sigma, 0.3))


def _draw_one(rng, size, age, findings, noise_level):
    """Draws one image, its lung mask and its finding boxes (in the un-posed frame, transformed below)."""
    s = float(size)
    growth = min(age, 18.0) / 18.0
    # Thorax geometry in pixels; infants have rounder, relatively wider chests.
    cx = s * (0.5 + rng.normal(0, 0.01))
    thorax_half_width = s * (0.36 + 0.03 * (1 - growth) + rng.normal(0, 0.01))
    lung_top, lung_bottom = s * (0.17 + rng.normal(0, 0.01)), s * (0.74 + 0.04 * growth + rng.normal(0, 0.015))
    lung_half_height = (lung_bottom - lung_top) / 2
    lung_cy = (lung_top + lung_bottom) / 2

    body = np.zeros((size, size), np.float32)
    _ellipse(body, (cx, s * 0.6), (thorax_half_width * 1.18, s * 0.62), 1.0)
    _ellipse(body, (cx, s * 0.04), (s * 0.09, s * 0.2), 1.0)  # neck
    image = 0.05 + 0.42 * _smooth(body, s * 0.02)

    lungs = np.zeros((size, size), np.float32)
    lung_half_width = thorax_half_width * (0.45 + rng.normal(0, 0.015))
    centers = []
    for side in (-1, 1):
        lx = cx + side * thorax_half_width * 0.5
        centers.append(lx)
        _ellipse(lungs, (lx, lung_cy), (lung_half_width, lung_half_height), 1.0, angle=side * -4)
    # Diaphragm domes: cut the lung bases with two domes (right dome higher, as usual).
    domes = np.zeros_like(lungs)
    for side, lx in zip((-1, 1), centers):
        dome_top = lung_bottom - lung_half_height * (0.28 + (0.05 if side < 0 else 0.0))
        _ellipse(domes, (lx + side * lung_half_width * 0.15, dome_top + s * 0.3), (lung_half_width * 1.25, s * 0.3), 1.0)
    lungs = np.clip(lungs - domes, 0, 1)

    ctr = 0.57 - 0.12 * growth + rng.normal(0, 0.015)  # cardiothoracic ratio falls with age
    if findings["cardiomegaly"]:
        ctr += rng.uniform(0.09, 0.14)
    heart_half_width = ctr * thorax_half_width
    heart_center = (cx + heart_half_width * 0.18, lung_bottom - s * 0.11)
    heart = np.zeros_like(lungs)
    _ellipse(heart, heart_center, (heart_half_width, s * 0.13 * (1 + 0.3 * (ctr - 0.5))), 1.0, angle=-15)
    mediastinum = np.zeros_like(lungs)
    cv2.rectangle(mediastinum, (int(cx - s * 0.045), 0), (int(cx + s * 0.045), int(lung_bottom)), 1.0, -1)
    lung_mask = np.clip(lungs - heart - mediastinum, 0, 1)
    lung_mask = (lung_mask > 0.5).astype(np.float32)

    image -= 0.30 * _smooth(lung_mask, s * 0.012)
    image += 0.20 * _smooth(mediastinum, s * 0.01) * body
    image += 0.18 * _smooth(heart * (1 - mediastinum), s * 0.01)
    abdomen = domes * body * (np.arange(size)[:, None] > lung_cy) * (1 - heart)
    image += 0.12 * _smooth(abdomen, s * 0.01)

    bones = np.zeros_like(lungs)
    for k in range(12):  # vertebral bodies
        y = lung_top - s * 0.05 + k * (lung_bottom - lung_top + s * 0.05) / 12
        cv2.rectangle(bones, (int(cx - s * 0.025), int(y)), (int(cx + s * 0.025), int(y + s * 0.045)), 0.6, -1)
    rib_thickness = max(int(round(s * 0.012)), 1)
    rib_step = (lung_bottom - lung_top) / 9.5
    for side in (-1, 1):
        for k in range(10):  # posterior ribs: arcs from the spine sweeping out and down
            y = lung_top - s * 0.02 + k * rib_step
            _ellipse(bones, (cx + side * thorax_half_width * 0.48, y + rib_step * 0.9),
                     (thorax_half_width * 0.55, rib_step * 1.4), 0.55,
                     angle=side * 8, start=180, end=360, thickness=rib_thickness)
        start = (cx + side * s * 0.04, lung_top + s * 0.01)  # clavicles
        end = (cx + side * thorax_half_width * 1.05, lung_top - s * 0.03 + rng.normal(0, s * 0.01))
        cv2.line(bones, tuple(int(round(v * _ONE)) for v in start), tuple(int(round(v * _ONE)) for v in end),
                 0.9, max(int(round(s * 0.022)), 1), cv2.LINE_AA, _SHIFT)
    image += 0.16 * _smooth(bones, s * 0.004) * body

    boxes = []
    lung_bbox = [_bbox(lung_mask * (np.arange(size)[None, :] < cx if side < 0 else np.arange(size)[None, :] >= cx))
                 for side in (-1, 1)]
    if findings["consolidation"]:
        side = rng.integers(0, 2)
        x0, y0, x1, y1 = lung_bbox[side]
        center = (rng.uniform(x0 + 0.3 * (x1 - x0), x1 - 0.3 * (x1 - x0)), rng.uniform(y0 + 0.3 * (y1 - y0), y1 - 0.2 * (y1 - y0)))
        patch = np.zeros_like(lungs)
        _ellipse(patch, center, (s * rng.uniform(0.05, 0.08), s * rng.uniform(0.06, 0.1)), 1.0, angle=rng.uniform(0, 180))
        patch = _smooth(patch, s * 0.02) * lung_mask
        image += rng.uniform(0.13, 0.2) * patch
        boxes.append(("consolidation", *_bbox(patch > 0.2)))
    if findings["interstitial"]:
        texture = rng.normal(0, 1, (size, size)).astype(np.float32)
        texture = _smooth(texture, s * 0.006) - _smooth(texture, s * 0.02)
        reticular = (np.abs(texture) < 0.25 * texture.std()).astype(np.float32)  # thin lines on zero crossings
        zone = lung_mask * (np.arange(size)[:, None] > lung_top + 0.35 * (lung_bottom - lung_top))
        image += rng.uniform(0.05, 0.08) * _smooth(reticular, 0.6) * zone
        boxes.append(("interstitial", *_bbox(zone > 0.5)))
    if findings["cardiomegaly"]:
        boxes.append(("cardiomegaly", *_bbox(heart > 0.5)))
    if findings["effusion"]:
        side = rng.integers(0, 2)
        x0, y0, x1, y1 = lung_bbox[side]
        level = y1 - (y1 - y0) * rng.uniform(0.15, 0.3)
        fluid = np.zeros_like(lungs)
        lateral_x = x0 if side == 0 else x1
        # Meniscus: fluid rises along the lateral chest wall, blunting the costophrenic angle.
        _ellipse(fluid, (lateral_x, y1 + s * 0.02), ((x1 - x0) * 0.75, y1 - level + s * 0.06), 1.0)
        fluid = fluid * lung_mask * (np.arange(size)[None, :] < cx if side == 0 else np.arange(size)[None, :] >= cx)
        fluid = _smooth(fluid.astype(np.float32), s * 0.008)
        image += rng.uniform(0.18, 0.24) * fluid
        boxes.append(("effusion", *_bbox(fluid > 0.3)))
    if findings["nodule"]:
        candidates = np.argwhere(cv2.erode(lung_mask, np.ones((max(int(s * 0.06), 3),) * 2, np.uint8)) > 0)
        y, x = candidates[rng.integers(len(candidates))] if len(candidates) else (lung_cy, centers[0])
        radius = s * rng.uniform(0.015, 0.028)
        blob = np.zeros_like(lungs)
        _ellipse(blob, (float(x), float(y)), (radius, radius), 1.0)
        image += rng.uniform(0.12, 0.18) * _smooth(blob, radius * 0.3)
        boxes.append(("nodule", float(x) - radius, float(y) - radius, float(x) + radius, float(y) + radius))

    # Acquisition: pose, exposure (gamma), detector blur and quantum + electronic noise.
    angle, scale = rng.normal(0, 2.5), rng.uniform(0.94, 1.05)
    shift = rng.normal(0, s * 0.015, 2)
    matrix = cv2.getRotationMatrix2D((s / 2, s / 2), angle, scale)
    matrix[:, 2] += shift
    image = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderValue=0.05)
    lung_mask = cv2.warpAffine(lung_mask, matrix, (size, size), flags=cv2.INTER_NEAREST)
    boxes = [_transform_box(b, matrix, size) for b in boxes]
    image = np.clip(image, 0, 1) ** rng.uniform(0.85, 1.15)
    image = _smooth(image, s * 0.002)
    quantum = rng.normal(0, 1, image.shape).astype(np.float32) * np.sqrt(np.clip(image, 1e-3, 1)) * noise_level
    image = image + quantum + rng.normal(0, noise_level * 0.4, image.shape).astype(np.float32)
    return np.clip(image, 0, 1).astype(np.float32), lung_mask, boxes


def _bbox(mask):
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return (0.0, 0.0, 0.0, 0.0)
    return (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))


def _transform_box(box, matrix, size):
    name, x0, y0, x1, y1 = box
    corners = np.array([[x0, y0, 1], [x1, y0, 1], [x0, y1, 1], [x1, y1, 1]], np.float64) @ matrix.T
    lo, hi = np.clip(corners.min(axis=0), 0, size), np.clip(corners.max(axis=0), 0, size)
    return (name, float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))


def make_phantom_dataset(num_images, image_size=224, seed=0, *, age_range=(0.0, 18.0), prevalence=None,
                         noise_level=0.02, progress=None):
    """Draws a labelled synthetic chest X-ray dataset: the embedded default of every recipe and test.

    Each image is drawn from its own random stream derived from (seed, index), so the same seed gives the
    same images, and the first N images of a larger dataset equal a dataset of N images.

    Findings (independent, each with its prevalence): lobar consolidation (smooth opacity confined to one
    lung zone), interstitial pattern (reticular texture in the lower lung zones), cardiomegaly (heart wider
    than the age norm: the cardiothoracic ratio falls from ~0.57 in infants to ~0.45 at 18 years), pleural
    effusion (a meniscus blunting one costophrenic angle), nodule (a small round opacity). Their contrast is
    a few percent of the image range, on top of noise and anatomical variation: visible, not trivial.

    Args:
        num_images: number of images N (> 0).
        image_size: side S in pixels (>= 32).
        seed: random seed.
        age_range: (min, max) ages in years, drawn uniformly; (0, 18) pediatric, e.g. (18, 90) adult.
        prevalence: probability of each finding: a float for all, or a dict {finding: probability};
            default `DEFAULT_PREVALENCE` (about half the images show no finding).
        noise_level: detector noise standard deviation at full intensity.
        progress: show a progress bar (default: when N > 200).

    Returns:
        `PhantomDataset`.

    Raises:
        ValueError: on a non-positive N, a too small S, a bad age range or prevalence.

    Example:
    >>> ds = make_phantom_dataset(4, image_size=64, seed=1)
    >>> ds.images.shape, ds.labels.shape, ds.masks.shape
    ((4, 64, 64, 1), (4, 5), (4, 64, 64, 1))
    >>> ds.class_names
    ('consolidation', 'interstitial', 'cardiomegaly', 'effusion', 'nodule')
    """
    if int(num_images) <= 0:
        raise ValueError(f"num_images must be a positive integer; received {num_images}.")
    if int(image_size) < 32:
        raise ValueError(f"image_size must be >= 32 pixels; received {image_size}.")
    low, high = (float(a) for a in age_range)
    if not 0 <= low <= high:
        raise ValueError(f"age_range must be (min, max) with 0 <= min <= max; received {age_range}.")
    if prevalence is None:
        prevalence = dict(DEFAULT_PREVALENCE)
    elif not isinstance(prevalence, dict):
        prevalence = {name: float(prevalence) for name in FINDINGS}
    unknown = sorted(set(prevalence) - set(FINDINGS))
    if unknown or not all(0 <= float(p) <= 1 for p in prevalence.values()):
        raise ValueError(f"prevalence must map findings {FINDINGS} to probabilities in [0, 1]; received {prevalence}.")
    num_images, size = int(num_images), int(image_size)
    images = np.empty((num_images, size, size, 1), np.float32)
    masks = np.empty((num_images, size, size, 1), np.float32)
    labels = np.zeros((num_images, len(FINDINGS)), np.float32)
    ages, sexes, boxes = np.empty(num_images, np.float32), np.empty(num_images, dtype="<U1"), []
    show = num_images > 200 if progress is None else progress
    for i in tqdm(range(num_images), desc="drawing phantom CXRs", disable=not show):
        rng = np.random.default_rng([int(seed), i])
        ages[i] = rng.uniform(low, high)
        sexes[i] = "M" if rng.random() < 0.5 else "F"
        findings = {name: bool(rng.random() < float(prevalence.get(name, 0.0))) for name in FINDINGS}
        labels[i] = [findings[name] for name in FINDINGS]
        image, mask, image_boxes = _draw_one(rng, size, float(ages[i]), findings, noise_level)
        images[i, ..., 0], masks[i, ..., 0] = image, mask
        boxes.append(image_boxes)
    patient_ids = np.array([f"phantom{int(seed)}_{i:06d}" for i in range(num_images)])
    return PhantomDataset(images, labels, FINDINGS, ages, sexes, masks, boxes, patient_ids)
