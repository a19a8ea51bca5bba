"""Synthetic chest X-ray phantom: the embedded default dataset of every recipe and test.

Nothing to download: `make_phantom_dataset` draws frontal (PA) chest radiographs with plausible anatomy
and five labelled findings, with their ground-truth boxes and lung masks.

How an image is made. Each structure adds to (or, for air, takes from) a map of X-ray attenuation along
the beam: a soft-tissue trunk whose thickness falls off towards its sides, neck, shoulders and arms; two
lung fields (air, deeper towards the bases) bounded by the mediastinum, the diaphragm domes and sharp
costophrenic angles; the heart (its cardiothoracic ratio falls from ~0.57 at birth to ~0.45 in
adolescents and adults), the aortic knob, the infant thymus; trachea and main bronchi, hila and branching
vessels that taper towards the periphery; posterior and anterior ribs (bright cortical edges, more
horizontal in infants), clavicles, humeral heads, the vertebral column with pedicles; a gastric air bubble,
breast shadows in adolescent and adult women. Findings change the same map: lobar consolidation fills the
air of one lobe zone (sharp along the fissure), an interstitial pattern adds reticular lines, cardiomegaly
widens the heart beyond the age norm, an effusion fills a costophrenic angle up to a meniscus and
effaces the dome, a nodule adds a small sphere. The map is posed (rotation, scale, shift), converted to
the standard display (air dark, bone bright) through a film-like curve with per-image exposure, blurred
by the detector and given quantum (signal-dependent, Poisson-like) and electronic (Gaussian) noise.

Images are drawn directly at `image_size` when it is at least 128 pixels; smaller images are drawn at
128 pixels and reduced with `cv2.INTER_AREA` (so thin ribs and vessels average instead of aliasing),
before the noise, which is always added at the output size.

The phantom is a test bed for code paths and for relative comparisons, not a substitute for real
radiographs: absolute metrics on it say nothing about clinical data.
"""

import dataclasses
import json
import math
import os

import cv2
import numpy as np
from tqdm.auto import tqdm

FINDINGS = ("consolidation", "interstitial", "cardiomegaly", "effusion", "nodule")
# Independent findings; with these rates about half of the images show no finding (0.85^2 * 0.88^3 ~ 0.49).
DEFAULT_PREVALENCE = {"consolidation": 0.15, "interstitial": 0.12, "cardiomegaly": 0.15, "effusion": 0.12,
                      "nodule": 0.12}
_SHIFT = 4  # OpenCV sub-pixel drawing: coordinates carry 4 fractional bits
_ONE = 1 << _SHIFT
_MIN_DRAW_SIZE = 128


@dataclasses.dataclass(frozen=True)
class PhantomDataset:
    """Images, labels and annotations drawn by `make_phantom_dataset`.

    Attributes:
        images: (N, S, S, 1) float32 in [0, 1], standard display (air dark, bone bright).
        labels: (N, F) float32 multi-hot findings, columns named by `class_names`.
        class_names: list of the F finding names.
        ages: (N,) float32 ages in years.
        sexes: (N,) "M" / "F".
        masks: (N, S, S, 1) float32 {0, 1} lung masks (both lungs, heart excluded, as in JSRT/SCR).
        boxes: per image, a list of (finding, x_min, y_min, x_max, y_max) in pixels (x_max, y_max exclusive).
        patient_ids: (N,) strings, one patient per image.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: list
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
        age, sex, view, one 0/1 column per finding, and boxes (JSON list of [finding, x0, y0, x1, y1]). The
        folder reads back with `keras_cxr.data.index_labels_csv` (and `index_segmentation_pairs` for the
        masks). `progress`: show a progress bar (default: when more than 200 images). Returns the folder.
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


def normal_cardiothoracic_ratio(age):
    """Mean cardiothoracic ratio of the phantom's normal hearts at `age` years: ~0.57 at birth, ~0.45 from
    adolescence on (the pediatric norms fall from ~0.6 in neonates to adult values below 0.5)."""
    return 0.45 + 0.12 * np.exp(-np.asarray(age, np.float64) / 4.0)


# ----------------------------------------------------------------------------------------------- drawing
def _fix(points):
    """(..., 2) float pixel coordinates -> int32 OpenCV points with `_SHIFT` fractional bits."""
    return np.round(np.asarray(points, np.float64) * _ONE).astype(np.int32)


def _ellipse(canvas, center, axes, value, angle=0.0, thickness=-1):
    c = (int(round(center[0] * _ONE)), int(round(center[1] * _ONE)))
    a = (max(int(round(axes[0] * _ONE)), 1), max(int(round(axes[1] * _ONE)), 1))
    cv2.ellipse(canvas, c, a, angle, 0, 360, value, thickness, cv2.LINE_AA, _SHIFT)


def _fill(canvas, polygons, value):
    """Fills one (K, 2) polygon or a stack (P, K, 2) of them."""
    polygons = _fix(polygons)
    cv2.fillPoly(canvas, list(polygons) if polygons.ndim == 3 else [polygons], value, cv2.LINE_AA, _SHIFT)


def _stroke(canvas, lines, value, width, closed=False):
    """Draws one (K, 2) polyline or a stack (P, K, 2) of them, `width` pixels thick."""
    lines = _fix(lines)
    cv2.polylines(canvas, list(lines) if lines.ndim == 3 else [lines], closed, value, max(int(round(width)), 1),
                  cv2.LINE_AA, _SHIFT)


def _smooth(layer, sigma):
    """Gaussian blur; wide kernels run on a reduced copy (the result is smooth anyway)."""
    sigma = max(float(sigma), 0.3)
    if sigma <= 3.0:
        return cv2.GaussianBlur(layer, (0, 0), sigmaX=sigma)
    factor = int(sigma // 1.5)
    height, width = layer.shape
    small = cv2.resize(layer, (max(width // factor, 1), max(height // factor, 1)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigmaX=sigma / factor)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def _bbox(mask):
    """(x0, y0, x1, y1) of the non-zero pixels of a uint8 mask (x1, y1 exclusive), None when empty."""
    x, y, w, h = cv2.boundingRect(mask)
    return None if w == 0 or h == 0 else (float(x), float(y), float(x + w), float(y + h))


def _rings(centers, axes, points=8):
    """(P, points, 2) polygons approximating ellipses with the given (P, 2) centres and (2,) semi-axes."""
    angles = np.linspace(0.0, 2 * np.pi, points, endpoint=False)
    offsets = np.stack([axes[0] * np.cos(angles), axes[1] * np.sin(angles)], axis=1)
    return np.asarray(centers, np.float64)[:, None, :] + offsets[None]


class _Grid:
    """Pixel-centre coordinates of a square canvas, cached per size."""

    _cache = {}

    def __new__(cls, size):
        if size not in cls._cache:
            grid = super().__new__(cls)
            grid.x = np.arange(size, dtype=np.float32)[None, :]
            grid.y = np.arange(size, dtype=np.float32)[:, None]
            cls._cache[size] = grid
        return cls._cache[size]


def _vessels(canvas, rng, hilum, side, s):
    """Branching vessel trees from one hilum: 7 trunks of 3 segments, each with 2 branches of 2 segments;
    segments taper and fade towards the periphery. All segments of one generation and step in one call."""
    def grow(starts, thetas, lengths, steps):
        thetas = thetas[:, None] + np.cumsum(rng.normal(0, 0.25, (len(thetas), steps)), axis=1)
        step = np.stack([side * np.cos(thetas), np.sin(thetas)], axis=2) * (lengths / steps)[:, None, None]
        return np.concatenate([starts[:, None], starts[:, None] + np.cumsum(step, axis=1)], axis=1), thetas

    trunks = 7
    angles = np.radians(np.linspace(-75, 80, trunks) + rng.normal(0, 8, trunks))
    lengths = s * rng.uniform(0.3, 0.42, trunks)
    points, thetas = grow(np.tile(np.asarray(hilum, np.float64), (trunks, 1)), angles, lengths, 3)
    turns = np.where(rng.random((trunks, 2)) < 0.5, -1.0, 1.0) * rng.uniform(0.4, 0.8, (trunks, 2))
    branches, _ = grow(points[:, 1:3].reshape(-1, 2), (thetas[:, 0:2] + turns).reshape(-1),
                       np.repeat(lengths * 0.45, 2), 2)
    for lines, value, width in ((points, 0.12, s * 0.011), (branches, 0.072, s * 0.0066)):
        steps = lines.shape[1] - 1
        for k in range(steps):
            fade = 1.0 - 0.6 * k / steps
            _stroke(canvas, lines[:, k:k + 2], value * fade, width * fade)


def _draw_one(rng, size, age, sex, findings):
    """Attenuation map, lung mask and finding boxes of one image, in the un-posed frame, `size` pixels."""
    s = float(size)
    grid = _Grid(size)
    growth = min(age, 18.0) / 18.0
    adolescent = float(np.clip((age - 11.0) / 5.0, 0.0, 1.0))

    # ---- geometry (pixels). Infants: rounder, relatively wider chests, higher diaphragm, horizontal ribs.
    cx = s * (0.5 + rng.normal(0, 0.008))
    half_width = s * (0.375 + 0.015 * (1 - growth) + (0.01 if sex == "M" else 0.0) * adolescent
                      + rng.normal(0, 0.01))
    top = s * (0.115 + rng.normal(0, 0.01))
    base = {-1: s * (0.72 + 0.05 * growth + rng.normal(0, 0.015))}  # image left = patient's right
    base[1] = base[-1] + s * (0.012 + rng.normal(0, 0.006))  # the left dome sits a little lower
    height = base[-1] - top
    dome = height * (0.2 + rng.normal(0, 0.02))
    thymus = s * 0.05 * math.exp(-age / 1.5) * rng.uniform(0.5, 1.3)
    medial_top, medial_bottom = s * 0.06 + thymus, s * 0.055

    def lateral(y):  # lateral lung border: rounded apex, widest towards the base
        v = np.clip((np.asarray(y, np.float64) - top) / (0.68 * height), 0.0, 1.0)
        return medial_top + (half_width - medial_top) * np.sin(0.5 * np.pi * v) ** 0.5

    # ---- soft tissue: trunk (elliptic cross-section) with neck and sloping shoulders; arms beside it.
    neck, trunk = s * (0.1 + 0.015 * (1 - growth)), half_width + s * 0.06
    shoulder = np.clip((grid.y - (top - s * 0.12)) / (s * 0.16), 0.0, 1.0)
    shoulder = shoulder * shoulder * (3 - 2 * shoulder)
    trunk_half = neck + (trunk - neck) * np.sqrt(shoulder) + s * 0.04 * np.clip((grid.y - top) / s, 0, 1)
    tissue = np.sqrt(np.clip(1.0 - np.square((grid.x - cx) / trunk_half), 0.0, 1.0))
    arms = np.zeros((size, size), np.float32)
    heads = {}
    for side in (-1, 1):
        heads[side] = (cx + side * (trunk + s * 0.035), top - s * 0.03)  # humeral heads
        _stroke(arms, [heads[side], (heads[side][0] + side * s * 0.12, s * 1.2)], 1.0, s * 0.15)
    attenuation = 0.95 * tissue + 0.3 * _smooth(arms, s * 0.04)

    # ---- lung fields, heart and mediastinum.
    lungs = np.zeros((size, size), np.float32)
    outlines = {}
    for side in (-1, 1):
        y_lat = np.linspace(top, base[side], 16)
        off_lat = lateral(y_lat)
        u = np.linspace(1.0, 0.0, 14)[1:]  # diaphragm dome, lateral (costophrenic angle) to medial
        off_dome = medial_bottom + u * (off_lat[-1] - medial_bottom)
        profile = np.where(u > 0.56, np.sin(np.pi * u ** 1.2) ** 0.8, 1.0 - 0.6 * (1.0 - u / 0.56) ** 2)
        y_dome = base[side] - dome * (1.0 if side < 0 else 0.92) * profile
        y_med = np.linspace(base[side] - 0.45 * dome, top + 0.02 * height, 8)[1:]
        off_med = medial_bottom + (medial_top - medial_bottom) * (base[side] - y_med) / height
        offsets = np.concatenate([off_lat, off_dome, off_med])
        outlines[side] = np.stack([cx + side * offsets, np.concatenate([y_lat, y_dome, y_med])], axis=1)
        _fill(lungs, outlines[side], 1.0)

    ctr = normal_cardiothoracic_ratio(age) + rng.normal(0, 0.02)
    if findings["cardiomegaly"]:
        ctr += rng.uniform(0.08, 0.13)
    heart_width = ctr * 2 * half_width
    heart_right, heart_left = cx - 0.3 * heart_width, cx + 0.7 * heart_width
    heart_center = ((heart_right + heart_left) / 2, base[-1] - 0.55 * dome - 0.1 * height)
    tilt = math.radians(rng.uniform(15, 28))
    minor = 0.24 * height * (0.9 + 0.4 * (ctr - 0.45))
    major = math.sqrt(max((heart_width / 2) ** 2 - (minor * math.sin(tilt)) ** 2, 1.0)) / math.cos(tilt)
    heart = np.zeros_like(lungs)
    _ellipse(heart, heart_center, (major, minor), 1.0, angle=math.degrees(tilt))
    dense = heart.copy()
    unfolding = float(np.clip((age - 40.0) / 40.0, 0.0, 1.0))  # the aorta unfolds with age
    knob_radius = s * (0.015 + 0.015 * growth + 0.008 * unfolding)
    _ellipse(dense, (cx + medial_top - knob_radius * 0.4, top + 0.27 * height), (knob_radius, knob_radius * 1.2), 1.0)
    if thymus > 0.3:
        for side in (-1, 1):
            _ellipse(dense, (cx + side * s * 0.04, top + 0.18 * height), (thymus + s * 0.02, 0.12 * height), 1.0)
    lung_mask = ((lungs > 0.5) & (dense < 0.5)).astype(np.uint8)

    edge = s * 0.006
    lung_depth = _smooth(lungs, edge) * (0.85 + 0.2 * np.clip((grid.y - top) / height, 0, 1))
    air = lung_depth * (1.0 - 0.75 * _smooth(dense, edge))  # the heart hides only part of the lung behind it
    attenuation += 0.04 * heart - 0.8 * air

    soft = np.zeros_like(lungs)  # broad extra densities, vertebral bodies and air outside the lungs
    trachea_bottom = top + 0.33 * height
    _stroke(soft, [(cx, 0), (cx + s * 0.004, top), (cx + s * 0.008, trachea_bottom)], -0.22, s * 0.03)
    carina = (cx + s * 0.008, trachea_bottom)
    for side, angle, length in ((-1, 35.0, 0.07), (1, 50.0, 0.09)):  # right main bronchus is steeper
        end = (carina[0] + side * s * length * math.sin(math.radians(angle)),
               carina[1] + s * length * math.cos(math.radians(angle)))
        _stroke(soft, [carina, end], -0.14, s * 0.018)
    if rng.random() < 0.75:  # gastric bubble under the left dome
        bubble_y = base[1] - dome * 0.85 + s * 0.045
        _ellipse(soft, (cx + half_width * rng.uniform(0.35, 0.6), bubble_y),
                 (s * rng.uniform(0.03, 0.06), s * rng.uniform(0.02, 0.035)), -0.3 * rng.uniform(0.5, 1.0))
    if sex == "F" and adolescent > 0:
        for side in (-1, 1):
            _ellipse(soft, (cx + side * half_width * 0.62, base[side] - s * 0.01), (s * 0.17, s * 0.11),
                     0.14 * adolescent)
    hila = {side: (cx + side * (medial_top + s * 0.02), top + 0.45 * height) for side in (-1, 1)}
    for side in (-1, 1):
        _ellipse(soft, hila[side], (s * 0.025, s * 0.045), 0.12)
    spacing = (base[-1] - top + s * 0.03) / 9.6
    vertebra = spacing * 0.95
    y_vertebrae = np.arange(int(s / vertebra) + 1) * vertebra - rng.uniform(0, vertebra * 0.1)
    x0, x1 = cx - s * 0.038, cx + s * 0.038
    bodies = np.stack([np.stack([np.full_like(y_vertebrae, x0), y_vertebrae], 1),
                       np.stack([np.full_like(y_vertebrae, x1), y_vertebrae], 1),
                       np.stack([np.full_like(y_vertebrae, x1), y_vertebrae + 0.72 * vertebra], 1),
                       np.stack([np.full_like(y_vertebrae, x0), y_vertebrae + 0.72 * vertebra], 1)], axis=1)
    _fill(soft, bodies, 0.12)

    # ---- vessels: branching, tapering lines from the hila, visible inside the lung fields.
    vessels = np.zeros_like(lungs)
    for side in (-1, 1):
        _vessels(vessels, rng, hila[side], side, s)

    # ---- bones, drawn as tubes with bright cortical edges (all ribs of a side in one call).
    cortex, marrow = np.zeros_like(lungs), np.zeros_like(lungs)
    obliquity = spacing * (1.2 + 1.2 * growth)
    k = np.arange(9)[:, None]
    y0 = top - s * 0.03 + k * spacing
    u = np.linspace(0.0, 1.0, 12)[None, :]
    wall = lateral(y0 + 0.8 * obliquity) + s * 0.015
    off = s * 0.03 + u * (wall - s * 0.03)
    y = y0 - 0.3 * spacing * np.sin(np.pi * u ** 0.7) + obliquity * (1 + 0.04 * k) * u ** 2.5
    off = np.concatenate([off, wall + s * 0.006, wall - s * 0.004], axis=1)  # the rib bends at the chest wall
    y = np.concatenate([y, y[:, -1:] + 0.45 * spacing, y[:, -1:] + 0.9 * spacing], axis=1)
    v = np.linspace(0.0, 1.0, 8)[None, :]  # anterior ribs: from the lateral wall down towards the sternum
    off_a = wall - s * 0.004 - v * (wall - 0.32 * half_width)
    y_a = y[:, -1:] + (0.9 + 1.3 * growth) * spacing * (v * 0.7 + 0.3 * v * v)
    width = 0.42 * spacing
    u = np.linspace(0.0, 1.0, 10)  # clavicles: S-shaped, from the sternal notch out to the shoulder
    clavicle_y = top + s * 0.04 - u * s * 0.045 + s * 0.012 * np.sin(2 * np.pi * u)
    vertebra_y = y_vertebrae[:, None]
    for side in (-1, 1):
        posterior = np.stack([cx + side * off, y], axis=2)
        anterior = np.stack([cx + side * off_a, y_a * np.ones_like(off_a)], axis=2)
        clavicle = np.stack([cx + side * (s * 0.035 + u * (half_width + s * 0.05)), clavicle_y], axis=1)
        shaft = [heads[side], (heads[side][0] + side * s * 0.1, heads[side][1] + s * 0.5)]
        for lines, value, outer, inner in ((anterior, 0.07, width * 0.9, width * 0.4),  # drawn first: fainter
                                           (posterior, 0.24, width, width * 0.45),
                                           (clavicle, 0.45, s * 0.034, s * 0.014),
                                           (shaft, 0.4, s * 0.05, s * 0.025)):
            _stroke(cortex, lines, value, outer)
            _stroke(marrow, lines, value, inner)
        _ellipse(cortex, heads[side], (s * 0.05, s * 0.055), 0.4)
        pedicles = np.concatenate([np.full_like(vertebra_y, cx + side * s * 0.028), vertebra_y + 0.3 * vertebra], 1)
        _stroke(cortex, _rings(pedicles, (s * 0.008, s * 0.012)), 0.08, 1, closed=True)
    spinous = np.concatenate([np.full_like(vertebra_y, cx), vertebra_y + 0.55 * vertebra], 1)
    _fill(cortex, _rings(spinous, (s * 0.006, s * 0.012)), 0.05)
    bones = (cortex - 0.45 * marrow) * (1.0 - 0.5 * np.clip((grid.y - base[1]) / (s * 0.08), 0.0, 1.0))
    attenuation += _smooth(soft, s * 0.012) + _smooth(bones + vessels * air, s * 0.0025)

    # ---- findings.
    boxes = []
    ys = grid.y
    if findings["consolidation"]:
        side = 1 if rng.random() < 0.5 else -1
        fissure = top + height * rng.uniform(0.4, 0.5)
        upper = rng.random() < 0.5
        hemithorax = np.zeros_like(lungs)
        _fill(hemithorax, outlines[side], 1.0)
        # The fissure bounding the lobe: gently curved and sloping, seen as a sharp (not razor) margin.
        fissure_y = fissure + (grid.x - cx) * side * rng.uniform(0.0, 0.15) + s * 0.02 * np.sin((grid.x - cx) / s * 6)
        below = (ys >= fissure_y).astype(np.float32)
        zone = hemithorax * _smooth(below if not upper else 1.0 - below, s * 0.003)
        # Centre the opacity on a point well inside the lobe's visible lung (not behind the heart).
        inside = cv2.erode(((zone > 0.5) & (lung_mask > 0)).astype(np.uint8), np.ones((max(int(s * 0.04), 3),) * 2,
                                                                                          np.uint8))
        candidates = np.argwhere(inside > 0)
        if len(candidates) == 0:
            candidates = np.argwhere((zone > 0.5) & (lung_mask > 0)) if ((zone > 0.5) & (lung_mask > 0)).any() \
                else np.argwhere(lung_mask > 0)
        cy_, cx_ = candidates[rng.integers(len(candidates))]
        center = (float(cx_), float(cy_))
        blob = np.zeros_like(lungs)
        for _ in range(4):
            _ellipse(blob, (center[0] + rng.normal(0, s * 0.04), center[1] + rng.normal(0, s * 0.04)),
                     (s * rng.uniform(0.05, 0.1), s * rng.uniform(0.04, 0.08)), 1.0, angle=rng.uniform(0, 180))
        patch = np.clip(_smooth(blob, s * 0.02) * zone * (1.0 - heart) * 1.6, 0.0, 1.0)
        attenuation += rng.uniform(0.35, 0.6) * patch * air
        boxes.append(("consolidation", _bbox((patch > 0.3).astype(np.uint8))))
    if findings["interstitial"]:
        texture = rng.random((size, size), dtype=np.float32)
        texture = _smooth(texture, s * 0.007) - _smooth(texture, s * 0.022)
        reticular = _smooth((np.abs(texture) < 0.3 * texture.std()).astype(np.float32), s * 0.003)
        lower = rng.random() < 0.6  # lower-zone predominant or diffuse
        weight = np.clip((ys - top) / height, 0, 1) if lower else np.float32(1.0)
        attenuation += rng.uniform(0.12, 0.2) * reticular * air * (0.3 + 0.7 * weight)
        zone = lung_mask * ((ys > top + 0.35 * height) if lower else np.ones_like(ys, bool))
        boxes.append(("interstitial", _bbox(zone.astype(np.uint8))))
    if findings["cardiomegaly"]:
        boxes.append(("cardiomegaly", _bbox(((heart > 0.5) & (ys < base[1] - 0.2 * dome)).astype(np.uint8))))
    if findings["effusion"]:
        side = 1 if rng.random() < 0.5 else -1
        hemithorax = np.zeros_like(lungs)
        _fill(hemithorax, outlines[side], 1.0)
        inner, outer = cx + side * medial_bottom, cx + side * lateral(base[side])
        reach = np.clip((grid.x - inner) / (outer - inner), 0.0, 1.0)  # 0 medial, 1 lateral
        level_medial = base[side] - dome * rng.uniform(0.9, 1.2)
        level_lateral = base[side] - height * rng.uniform(0.16, 0.3)
        meniscus = level_medial + (level_lateral - level_medial) * reach ** 2  # fluid climbs the chest wall
        fluid = _smooth(hemithorax * (ys > meniscus), s * 0.008)
        attenuation += rng.uniform(0.8, 0.95) * fluid * air
        boxes.append(("effusion", _bbox(((fluid > 0.3) & (lung_mask > 0)).astype(np.uint8))))
    if findings["nodule"]:
        inside = cv2.erode(lung_mask, np.ones((max(int(s * 0.05), 3),) * 2, np.uint8))
        candidates = np.argwhere(inside > 0)
        y, x = candidates[rng.integers(len(candidates))] if len(candidates) else (top + height / 2, cx - half_width / 2)
        radius = s * rng.uniform(0.015, 0.032)
        r = int(math.ceil(radius)) + 2
        ya, yb, xa, xb = max(int(y) - r, 0), min(int(y) + r + 1, size), max(int(x) - r, 0), min(int(x) + r + 1, size)
        distance = (grid.x[:, xa:xb] - x) ** 2 + (ys[ya:yb] - y) ** 2
        ball = np.sqrt(np.clip(1.0 - distance / radius ** 2, 0.0, 1.0))  # projection of a sphere
        attenuation[ya:yb, xa:xb] += rng.uniform(0.22, 0.35) * ball
        boxes.append(("nodule", (float(x) - radius, float(y) - radius, float(x) + radius + 1, float(y) + radius + 1)))
    boxes = [(name, box) for name, box in boxes if box is not None]
    return attenuation, lung_mask.astype(np.float32), boxes


def _render(rng, attenuation, mask, boxes, size, noise_level):
    """Pose, display curve, exposure, reduction to `size`, detector blur and noise."""
    draw = attenuation.shape[0]
    angle, scale = rng.normal(0, 2.5), rng.uniform(0.94, 1.05)
    matrix = cv2.getRotationMatrix2D((draw / 2, draw / 2), angle, scale)
    matrix[:, 2] += rng.normal(0, draw * 0.015, 2)
    attenuation = cv2.warpAffine(attenuation, matrix, (draw, draw), flags=cv2.INTER_LINEAR, borderValue=0.0)
    mask = cv2.warpAffine(mask, matrix, (draw, draw), flags=cv2.INTER_LINEAR)
    factor = size / draw
    out = []
    for name, (x0, y0, x1, y1) in boxes:
        corners = np.array([[x0, y0, 1], [x1, y0, 1], [x0, y1, 1], [x1, y1, 1]], np.float64) @ matrix.T
        lo, hi = np.clip(corners.min(0) * factor, 0, size), np.clip(corners.max(0) * factor, 0, size)
        if hi[0] > lo[0] and hi[1] > lo[1]:
            out.append((name, float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])))
    # Film-like characteristic curve of the log-domain attenuation, then the exposure window.
    contrast, low, width = rng.uniform(1.3, 1.65), rng.uniform(-0.04, 0.04), rng.uniform(0.92, 1.04)
    image = np.exp(-contrast * np.maximum(attenuation, 0.0))
    image = (1.0 - low - image) * (1.0 / width)
    if draw != size:
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
        mask = cv2.resize(mask, (size, size), interpolation=cv2.INTER_AREA)
    image = cv2.GaussianBlur(np.clip(image, 0.0, 1.0), (0, 0), sigmaX=0.5)  # detector blur
    if noise_level > 0:
        # Quantum (variance ~ signal, Poisson-like) plus electronic (constant variance) noise: one Gaussian
        # field with standard deviation noise_level * sqrt(signal + 0.16). OpenCV's generator, seeded from
        # the image's stream, is several times faster than numpy's normal sampler.
        cv2.setRNGSeed(int(rng.integers(2**31 - 1)))
        noise = np.empty_like(image)
        cv2.randn(noise, 0.0, 1.0)
        image += noise_level * np.sqrt(image + 0.16) * noise
    return np.clip(image, 0.0, 1.0), _two_lungs((mask > 0.5).astype(np.uint8)), out


def _two_lungs(mask):
    """Keeps the two largest 4-connected pieces (one per lung): slivers cut off next to the heart or the
    aortic knob by the drawing, the pose or the reduction are dropped. float32 {0, 1}."""
    count, labels = cv2.connectedComponents(mask, connectivity=4)
    if count > 3:
        keep = 1 + np.argsort(np.bincount(labels.ravel(), minlength=count)[1:])[-2:]
        mask = (labels == keep[0]) | (labels == keep[1])
    return mask.astype(np.float32)


def make_phantom_dataset(num_images, image_size=224, seed=0, *, age_range=(0.0, 18.0), prevalence=None,
                         noise_level=0.02, progress=None):
    """Draws a labelled synthetic chest X-ray dataset: the embedded default of every recipe and test.

    Each image is drawn from its own random stream derived from (seed, index), so the same seed gives the
    same images, and the first N images of a larger dataset equal a dataset of N images (within one
    installation: the detector noise comes from OpenCV's generator). About 5 ms of one CPU core per
    224-pixel image.

    Findings (independent, each with its prevalence): lobar consolidation (the air of one lobe zone
    replaced by fluid, sharp along the fissure), interstitial pattern (reticular lines, diffuse or lower
    zone), cardiomegaly (cardiothoracic ratio 0.08-0.13 above the age norm of
    `normal_cardiothoracic_ratio`, which falls from ~0.57 in infants to ~0.45 at 18 years), pleural
    effusion (fluid filling one costophrenic angle up to a meniscus), nodule (a sphere of radius 1.5-3.2 %
    of the image width). Their contrast is modest and they sit on top of anatomical, pose, exposure and
    noise variation: visible, not trivial (at 64 pixels a linear model on the pixels finds consolidation,
    cardiomegaly and effusion, AUC ~0.8-0.9, but not the interstitial pattern or the nodule, which need
    >= 128 pixels and local features). Each present finding has one box, the bounding box of its
    opacity after the pose (the heart for cardiomegaly, the affected lung zone for the interstitial
    pattern).

    Args:
        num_images: number of images N (> 0).
        image_size: side S in pixels (>= 32).
        seed: random seed (non-negative integer).
        age_range: (min, max) ages in years, drawn uniformly; (0, 18) pediatric, e.g. (18, 90) adult.
        prevalence: probability of each finding: a float for all, or a dict {finding: probability}
            (findings left out get 0); default `DEFAULT_PREVALENCE` (about half the images show no finding).
        noise_level: detector noise standard deviation at full intensity (0 for none).
        progress: show a progress bar (default: when N > 200).

    Returns:
        `PhantomDataset` with images, labels, class_names, ages, sexes, masks, boxes, patient_ids.

    Raises:
        ValueError: on a non-positive N, a too small S, a bad seed, age range, prevalence or noise level.

    Example:
    >>> ds = make_phantom_dataset(4, image_size=64, seed=1)
    >>> ds.images.shape, ds.labels.shape, ds.masks.shape
    ((4, 64, 64, 1), (4, 5), (4, 64, 64, 1))
    >>> ds.class_names
    ['consolidation', 'interstitial', 'cardiomegaly', 'effusion', 'nodule']
    """
    if int(num_images) <= 0:
        raise ValueError(f"num_images must be a positive integer; received {num_images}.")
    if int(image_size) < 32:
        raise ValueError(f"image_size must be >= 32 pixels; received {image_size}.")
    if int(seed) < 0:
        raise ValueError(f"seed must be a non-negative integer; received {seed}.")
    low, high = (float(a) for a in age_range)
    if not 0 <= low <= high:
        raise ValueError(f"age_range must be (min, max) with 0 <= min <= max; received {age_range}.")
    if not float(noise_level) >= 0:
        raise ValueError(f"noise_level must be >= 0; received {noise_level}.")
    if prevalence is None:
        prevalence = dict(DEFAULT_PREVALENCE)
    elif not isinstance(prevalence, dict):
        prevalence = {name: float(prevalence) for name in FINDINGS}
    unknown = sorted(set(prevalence) - set(FINDINGS))
    if unknown or not all(0 <= float(p) <= 1 for p in prevalence.values()):
        raise ValueError(f"prevalence must map findings {FINDINGS} to probabilities in [0, 1]; received {prevalence}.")
    num_images, size = int(num_images), int(image_size)
    draw = max(size, _MIN_DRAW_SIZE)
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
        attenuation, mask, image_boxes = _draw_one(rng, draw, float(ages[i]), sexes[i], findings)
        image, mask, image_boxes = _render(rng, attenuation, mask, image_boxes, size, float(noise_level))
        images[i, ..., 0], masks[i, ..., 0] = image, mask
        boxes.append(image_boxes)
    patient_ids = np.array([f"phantom{int(seed)}_{i:06d}" for i in range(num_images)])
    return PhantomDataset(images, labels, list(FINDINGS), ages, sexes, masks, boxes, patient_ids)
