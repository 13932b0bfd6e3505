"""Crop & stitch around a mask: inpaint a small hole in a large photo at the resolution the model likes.

    box = crop_box(mask, context, margin)              # the hole's bounding box (union over the batch),
                                                       #   grown by `context` × its size and >= `margin` px
    size = target_size(box_h, box_w, megapixels, q)    # the same aspect, ~megapixels, multiples of q
    image_c, mask_c = crop_resize(image, mask, box, size)
    ... inpaint image_c / mask_c ...
    out = stitch(image, inpainted_c, mask, box, feather, colour_match)

The stitch resizes the inpainted crop back to the box, blends it inside the (feathered) *original*
mask and leaves every pixel outside the feather band bit-identical to the input. One box serves the
whole batch (the union of the items' holes), so a batch stays one tensor; per-item masks keep their
own shapes inside it. Pure torch, ``[B, C, H, W]`` images and ``[B|1, 1, H, W]`` masks (1 = inpaint).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .composite import composite


@dataclass(frozen=True)
class Box:
    """A crop ``rows top … top + height``, ``columns left … left + width`` of an ``image_h × image_w`` image,
    and ``margin``: the fewest pixels between the hole and the box edge on a side that is not the image edge."""

    top: int
    left: int
    height: int
    width: int
    image_h: int
    image_w: int
    margin: int

    def slices(self) -> tuple[slice, slice]:
        return slice(self.top, self.top + self.height), slice(self.left, self.left + self.width)


def crop_box(mask: torch.Tensor, context: float = 0.5, margin: int = 32) -> Box | None:
    """The region around every hole of the batch: the hole's bounding box grown on each side by
    ``context`` × its larger side and by at least ``margin`` pixels, clipped to the image. ``None`` when
    the mask is empty (nothing to inpaint)."""
    if context < 0 or margin < 0:
        raise ValueError("context and margin must be >= 0")
    h, w = mask.shape[-2:]
    hit = (mask > 0).reshape(-1, h, w).any(0)
    if not bool(hit.any()):
        return None
    rows, cols = hit.any(1).nonzero().reshape(-1), hit.any(0).nonzero().reshape(-1)
    r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    pad = max(int(margin), int(math.ceil(context * max(r1 - r0, c1 - c0))))
    top, left = max(0, r0 - pad), max(0, c0 - pad)
    bottom, right = min(h, r1 + pad), min(w, c1 + pad)
    sides = [r0 - top if top > 0 else None, bottom - r1 if bottom < h else None,
             c0 - left if left > 0 else None, right - c1 if right < w else None]
    inner = [s for s in sides if s is not None]
    return Box(top, left, bottom - top, right - left, h, w, min(inner) if inner else max(h, w))


def target_size(height: int, width: int, megapixels: float, multiple: int = 8) -> tuple[int, int]:
    """``(h, w)``: each a multiple ``q`` of ``multiple``, at most ``megapixels`` × 10⁶ pixels, with the aspect
    of ``height × width`` to within one multiple: the long side is a multiple next to the short side times
    the region's aspect (``|long − short·aspect| < q``; the nearest one unless only the one below fits).

    The short side is the multiple nearest to its ideal ``√(megapixels·10⁶ / aspect)`` (at least one
    multiple), stepped down one multiple at a time while no long side fits the bound. When even one
    multiple on the short side passes it (a long thin strip at a large multiple, or ``q²`` above the bound)
    it is a :class:`ValueError` that says what would fit, never a stretched or oversized crop."""
    if megapixels <= 0 or multiple < 1 or height < 1 or width < 1:
        raise ValueError("megapixels must be > 0, multiple >= 1 and the region at least 1x1")
    q, bound = int(multiple), megapixels * 1e6
    aspect = max(height, width) / min(height, width)  # long side per short side
    short = max(q, q * round(math.sqrt(bound / aspect) / q))
    while True:
        ideal = short * aspect
        nearest, below = max(q, q * round(ideal / q)), max(q, q * math.floor(ideal / q))
        long = next((n for n in (nearest, below) if short * n <= bound and abs(n - ideal) < q), None)
        if long is not None:
            return (short, long) if height <= width else (long, short)
        if short == q:
            raise ValueError(f"a {width}x{height} region at a multiple of {q} needs at least {q * nearest / 1e6:.3g} "
                             f"megapixels to keep its aspect ratio (asked: {megapixels:g}); lower 'multiple' or "
                             "raise 'megapixels'")
        short -= q


def resize(x: torch.Tensor, size: tuple[int, int], mode: str = "bicubic") -> torch.Tensor:
    """Resize ``[B, C, H, W]`` to ``size``; antialiased when shrinking. Masks use ``mode="bilinear"``."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    shrink = size[0] < x.shape[-2] or size[1] < x.shape[-1]
    return F.interpolate(x.float(), size=tuple(size), mode=mode, align_corners=False, antialias=shrink).to(x.dtype)


def crop_resize(image: torch.Tensor, mask: torch.Tensor, box: Box, size: tuple[int, int]
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """The box of ``image`` and ``mask`` resized to ``size`` (images bicubic and clamped to the input's
    range, masks bilinear and kept in [0, 1])."""
    rs, cs = box.slices()
    img = resize(image[..., rs, cs], size, "bicubic")
    lo, hi = float(image.min()), float(image.max())
    img = img.clamp(lo, hi)  # bicubic overshoot only; the input's own range is kept
    m = resize(mask[..., rs, cs], size, "bilinear").clamp(0.0, 1.0)
    return img, m


def stitch(original: torch.Tensor, inpainted: torch.Tensor, mask: torch.Tensor, box: Box, feather_px: float = 0.0,
           colour_match: bool = False) -> torch.Tensor:
    """Paste the inpainted crop back: resized to the box, blended inside the feathered original
    ``mask`` (``samplers.composite.composite``), the rest of ``original`` returned unchanged.

    ``feather_px`` must fit inside the box (``<= box.margin``), else the band would be cut at the box edge."""
    if feather_px > box.margin:
        raise ValueError(f"feather {feather_px:g} px is wider than the {box.margin} px of context around the hole; "
                         "crop with a larger margin or context")
    rs, cs = box.slices()
    back = resize(inpainted, (box.height, box.width), "bicubic").to(original.dtype)
    base = original[..., rs, cs]
    m = mask[..., rs, cs].to(original.dtype)
    out = original.clone() if original.shape[0] == back.shape[0] else original.expand(back.shape[0], -1, -1, -1).clone()
    out[..., rs, cs] = composite(base, back, m, feather_px, colour_match)
    return out


@dataclass(frozen=True)
class Fingerprint:
    """What the stitch checks an inpainted crop against: the crop's size and a coarse thumbnail of its known
    pixels (``cell``-pixel block means; ``known`` marks the blocks at least one block away from the hole)."""

    height: int
    width: int
    cell: int
    thumb: torch.Tensor  # [B, C, h', w']
    known: torch.Tensor  # [B|1, 1, h', w'] bool


def fingerprint(crop: torch.Tensor, mask: torch.Tensor, cells: int = 16) -> Fingerprint:
    """The :class:`Fingerprint` of a crop ``[B, C, H, W]`` with its hole ``mask`` (``[B|1, 1, H, W]``):
    about ``cells`` blocks on the short side."""
    h, w = crop.shape[-2:]
    cell = max(1, min(h, w) // cells)
    thumb = F.avg_pool2d(crop.float(), cell, ceil_mode=True)
    hole = F.max_pool2d((mask > 0).float(), cell, ceil_mode=True)
    hole = F.max_pool2d(hole, 3, stride=1, padding=1)  # one block of distance: the seam is not evidence
    return Fingerprint(int(h), int(w), cell, thumb, hole == 0)


def source_mismatch(fp: Fingerprint, image: torch.Tensor, rms_tol: float = 0.1, corr_min: float = 0.5
                    ) -> list[tuple[int, float, float]]:
    """The items of ``image`` (``[B, C, H, W]`` at the crop's size) that did not come from the fingerprinted
    crop: ``(item, rms, correlation)`` of their known blocks against the crop's, for the items whose known
    blocks differ by more than ``rms_tol`` RMS *and* correlate below ``corr_min``.

    A decoded inpainting of the crop keeps its known pixels up to the VAE's round trip (a small RMS); a
    colour-graded one keeps their layout (a high correlation); another photo's crop keeps neither. Items
    with fewer than 8 known blocks are not judged (too little evidence)."""
    thumb = F.avg_pool2d(image.float(), fp.cell, ceil_mode=True)
    ref = fp.thumb.expand(thumb.shape[0], -1, -1, -1) if fp.thumb.shape[0] == 1 else fp.thumb
    known = fp.known.expand(thumb.shape[0], -1, -1, -1)
    out = []
    for i in range(thumb.shape[0]):
        k = known[i, 0]
        if int(k.sum()) < 8:
            continue
        a, b = ref[i][:, k].reshape(-1), thumb[i][:, k].reshape(-1)
        rms = float((a - b).pow(2).mean().sqrt())
        a, b = a - a.mean(), b - b.mean()
        den = float(a.norm() * b.norm())
        corr = float((a * b).sum()) / den if den > 1e-12 else 0.0
        if rms > rms_tol and corr < corr_min:
            out.append((i, rms, corr))
    return out
