"""The demo inputs every script and test shares: the held-out photos with their hole masks, saved as
RGBA the way ComfyUI's LoadImage reads a mask (alpha 0 = hole)."""
from __future__ import annotations

import os

import numpy as np
from PIL import Image

from packimport import import_pack

DEMO_INPUT = "priorpaint_demo_input.png"


def demo_input(size=(256, 192), photo="skimage:chelsea.png") -> tuple[np.ndarray, np.ndarray]:
    """A held-out photo resized to ``size`` (W, H) and a hole mask (1 = inpaint): a box plus a stroke."""
    import_pack()
    from priorpaint.support.photos import photo_path

    im = Image.open(photo_path(photo)).convert("RGB").resize(size, Image.LANCZOS)
    rgb = np.asarray(im, dtype=np.uint8)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    mask = np.zeros((h, w), dtype=bool)
    mask[int(0.28 * h):int(0.62 * h), int(0.30 * w):int(0.58 * w)] = True  # over the eye and nose
    d = np.abs((yy - 0.80 * h) - 0.35 * (xx - 0.55 * w))
    mask |= (d < 0.035 * h) & (xx > 0.55 * w) & (xx < 0.92 * w)  # a diagonal stroke
    return rgb, mask


def save_rgba(rgb: np.ndarray, mask: np.ndarray, path: str) -> None:
    alpha = np.where(mask, 0, 255).astype(np.uint8)
    Image.fromarray(np.dstack([rgb, alpha])).save(path)


def photo_with_hole(input_dir: str, name: str | None = None, size=(64, 48)):
    """A held-out photo crop with a box hole, saved into ``input_dir`` as ``name`` (default DEMO_INPUT)."""
    import_pack()
    from priorpaint.support.photos import photo_path

    rgb = np.asarray(Image.open(photo_path("skimage:coffee.png")).convert("RGB").resize(size, Image.LANCZOS))
    mask = np.zeros(rgb.shape[:2], bool)
    mask[12:36, 20:44] = True
    save_rgba(rgb, mask, os.path.join(input_dir, name or DEMO_INPUT))
    return rgb, mask
