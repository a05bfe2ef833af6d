"""The data set folder: index.csv + standard views, preprocessing and augmentation.

A data set is what `clinic synth` writes, or what a hospital makes from its own
photos in the same format: `index.csv` with at least the columns
`patient_id, expression, condition, severity, pattern, label, patient_label,
split, file, fitzpatrick` and one aligned 112x112 RGB standard view per row
(`file` empty when no single face was found; such rows are skipped).

Preprocessing is the runtime's contract, written once here and mirrored by the
Rust classifier: the 112-px view is shrunk by exact k x k box averaging in
float (k = 112 / S), then each channel becomes (pixel / 255 - mean) / std.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

VIEW = 112
SPLITS = ("train", "validation", "test")


@dataclass
class Row:
    """One usable line of index.csv."""

    patient_id: str
    expression: str
    condition: str
    severity: str
    pattern: str
    label: int
    patient_label: int
    split: str
    file: str
    fitzpatrick: int
    # Truth of the left/right palpebral fissure ratio when the data set has
    # it (synthetic patients do); NaN otherwise.
    fissure_ratio: float = float("nan")
    # Truth of the mouth-corner height difference in the standard view over
    # the eye distance (`mouth_tilt_truth`); NaN where unknown.
    mouth_tilt: float = float("nan")


@dataclass
class DataSet:
    """All usable rows plus their images (uint8, N x 112 x 112 x 3, RGB)."""

    rows: list[Row]
    images: np.ndarray
    skipped: int
    root: Path

    def indices(self, split: str) -> np.ndarray:
        return np.array([i for i, r in enumerate(self.rows) if r.split == split], dtype=np.int64)

    def labels(self) -> np.ndarray:
        return np.array([r.label for r in self.rows], dtype=np.int64)

    def eye_asymmetry(self) -> np.ndarray:
        """|log(fissure ratio)| per row, capped at 2; NaN where unknown or
        undefined (both eyes shut: the ratio is 0/0 or 0)."""
        r = np.array([row.fissure_ratio for row in self.rows], dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            a = np.abs(np.log(r))
        a[~np.isfinite(a)] = np.nan
        return np.minimum(a, 2.0).astype(np.float32)

    def mouth_asymmetry(self) -> np.ndarray:
        """Mouth tilt x 10 per row (about 0 to 1.5, the eyelid target's
        range), capped at 2; NaN where unknown."""
        t = np.array([row.mouth_tilt for row in self.rows], dtype=np.float64)
        return np.minimum(10.0 * t, 2.0).astype(np.float32)


def load(folder: Path) -> DataSet:
    """Reads index.csv and every listed image, in file order."""
    rows, images, skipped = [], [], 0
    with open(folder / "index.csv", newline="") as f:
        for rec in csv.DictReader(f):
            if not rec["file"]:
                skipped += 1
                continue
            row = Row(
                patient_id=rec["patient_id"],
                expression=rec["expression"],
                condition=rec["condition"],
                severity=rec.get("severity", ""),
                pattern=rec.get("pattern", ""),
                label=int(rec["label"]),
                patient_label=int(rec.get("patient_label", rec["label"])),
                split=rec["split"],
                file=rec["file"],
                fitzpatrick=int(rec.get("fitzpatrick") or 0),
                fissure_ratio=float(rec.get("fissure_ratio_truth") or "nan"),
                mouth_tilt=float(rec.get("mouth_tilt_truth") or "nan"),
            )
            img = read_view(folder / row.file)
            rows.append(row)
            images.append(img)
    return DataSet(rows, np.stack(images), skipped, folder)


def read_view(path: Path) -> np.ndarray:
    """A standard view as uint8 H x W x 3 RGB; refuses any other size."""
    img = np.asarray(Image.open(path).convert("RGB"))
    if img.shape != (VIEW, VIEW, 3):
        raise ValueError(f"{path}: expected a {VIEW}x{VIEW} standard view, got {img.shape}")
    return img


# Written to the manifest as `flatten_light`; the runtime reads them from there.
FLATTEN_LIGHT = {"radius": 8, "passes": 3, "floor": 16.0, "gain": 128.0}


def set_flatten_radius(radius: int) -> None:
    """Sets the blur radius for the whole run. Changed in place, once, before
    anything is preprocessed: the channel statistics, every model input and
    the manifest entry must all use the one table, or the kiosk would
    flatten differently from training."""
    if not 1 <= radius <= 64:
        raise ValueError(f"flatten radius {radius} outside 1..64 (the runtime's bounds)")
    FLATTEN_LIGHT["radius"] = radius


def preprocess(views: np.ndarray, size: int, mean, std, flatten: dict | None = FLATTEN_LIGHT) -> np.ndarray:
    """uint8 N x 112 x 112 x 3 -> float32 N x 3 x S x S, the model input.

    Light flattening (`flatten_light` with the parameters `flatten`; none
    when None, as for a manifest entry without the key), box averaging over
    exact k x k blocks, in float32, then normalisation. screening::classifier
    repeats every step in the same order and precision, so the kiosk's
    tensor is the one training saw.
    """
    if VIEW % size:
        raise ValueError(f"input size {size} does not divide {VIEW}")
    k = VIEW // size
    x = (views.astype(np.float32) if flatten is None else flatten_light(views, flatten)) / np.float32(255.0)
    if k > 1:
        n = x.shape[0]
        x = x.reshape(n, size, k, size, k, 3).mean(axis=(2, 4), dtype=np.float32)
    x = (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2), dtype=np.float32)


def box_blur(a: np.ndarray, r: int) -> np.ndarray:
    """Mean over a (2r+1) x (2r+1) window, edges clamped, along axes 1 and 2.

    Running sums in float64 (exact for these values), one axis at a time.
    """
    w = 2 * r + 1
    for axis in (1, 2):
        pad = [(0, 0)] * a.ndim
        pad[axis] = (r + 1, r)
        c = np.cumsum(np.pad(a, pad, mode="edge"), axis=axis, dtype=np.float64)
        hi = np.take(c, np.arange(w, w + a.shape[axis]), axis=axis)
        lo = np.take(c, np.arange(0, a.shape[axis]), axis=axis)
        a = ((hi - lo) / w).astype(np.float32)
    return a


def flatten_light(views: np.ndarray, p: dict = FLATTEN_LIGHT) -> np.ndarray:
    """Divides out slow changes of brightness (side light, exposure, a bright
    wall): each pixel times gain / (floor + its neighbourhood's luminance),
    the luminance (R + G + B) / 3 box-blurred `passes` times with `radius`
    (three passes of radius 8 are close to a Gaussian of sigma ~8 px).
    Shading inside a face (a closed eye's crease, a smile's fold) is finer
    than that and stays. The floor keeps dark rooms from turning sensor
    noise into contrast."""
    x = views.astype(np.float32)
    lum = x.mean(axis=3)
    for _ in range(p["passes"]):
        lum = box_blur(lum, p["radius"])
    gain = np.float32(p["gain"]) / (lum + np.float32(p["floor"]))
    return np.clip(x * gain[..., None], np.float32(0.0), np.float32(255.0))


def channel_stats(views: np.ndarray, chunk: int = 1024) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of the model's pixel/255 (after
    `flatten_light`) over the given views, rounded.

    Works through chunks of `chunk` views and merges their means and squared
    deviations (Chan et al.'s pairwise update, float64): flattening a whole
    training set at once needs about 24 bytes per sub-pixel, 12 GB for
    19,000 views, which a hospital's workstation may not have."""
    count, mean, m2 = 0, np.zeros(3), np.zeros(3)
    for start in range(0, views.shape[0], chunk):
        x = flatten_light(views[start:start + chunk]).astype(np.float64) / 255.0
        n = x.shape[0] * x.shape[1] * x.shape[2]
        m = x.mean(axis=(0, 1, 2))
        d = m - mean
        total = count + n
        m2 += ((x - m) ** 2).sum(axis=(0, 1, 2)) + d * d * count * n / total
        mean += d * n / total
        count = total
    std = np.sqrt(m2 / count)
    return [round(float(m), 4) for m in mean], [round(float(s), 4) for s in std]


class Augmenter:
    """What a kiosk camera does to a face between sessions, applied to a 112-px
    view: exposure, contrast, white balance, a few pixels of shift, a few
    degrees of roll, a few per cent of scale, mirror, defocus, sensor noise and
    JPEG. Driven by one numpy Generator, so a seed gives the same stream."""

    def __init__(self, seed: int, strength: str = "camera"):
        self.rng = np.random.default_rng(seed)
        # "light" keeps the lid gaps sharp: the decisive sign is ~2 px at
        # 112 px, and blur, JPEG and a few degrees of roll can erase it.
        self.light = strength == "light"

    def __call__(self, view: np.ndarray) -> np.ndarray:
        r = self.rng
        img = Image.fromarray(view)
        if r.random() < 0.5:
            img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        # Geometry: the alignment is good to ~3 % of the crop, so stay near it.
        k = 0.33 if self.light else 1.0
        angle = r.uniform(-4.0, 4.0) * k
        scale = 1.0 + r.uniform(-0.05, 0.05) * k
        dx, dy = r.uniform(-3.0, 3.0, size=2) * k
        img = affine(img, angle, scale, dx, dy)
        if r.random() < (0.0 if self.light else 0.3):
            img = img.filter(ImageFilter.GaussianBlur(radius=r.uniform(0.3, 1.0)))
        x = np.asarray(img).astype(np.float32)
        # Exposure, contrast and colour temperature.
        gain = r.uniform(0.75, 1.25)
        contrast = r.uniform(0.8, 1.2)
        warm = r.uniform(-0.08, 0.08)
        mean = x.mean()
        x = (x - mean) * contrast + mean * gain
        x *= np.array([1.0 + warm, 1.0, 1.0 - warm], np.float32)
        if r.random() < 0.5:
            x += np.float32(r.uniform(1.0, 6.0)) * r.standard_normal(size=x.shape, dtype=np.float32)
        out = np.clip(x, 0, 255).round().astype(np.uint8)
        if r.random() < (0.1 if self.light else 0.3):
            buf = io.BytesIO()
            Image.fromarray(out).save(buf, format="JPEG", quality=int(r.integers(40, 90)))
            out = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
        return out


def affine(img: Image.Image, angle_deg: float, scale: float, dx: float, dy: float) -> Image.Image:
    """Rotates by `angle_deg` and scales by `scale` about the centre, then shifts."""
    c = (VIEW - 1) / 2.0
    a = np.deg2rad(angle_deg)
    cos, sin = np.cos(a) / scale, np.sin(a) / scale
    # PIL maps output (x, y) to input (a x + b y + c, d x + e y + f).
    coeffs = (
        cos, sin, c - cos * (c + dx) - sin * (c + dy),
        -sin, cos, c + sin * (c + dx) - cos * (c + dy),
    )
    return img.transform(img.size, Image.Transform.AFFINE, coeffs, resample=Image.Resampling.BILINEAR)
