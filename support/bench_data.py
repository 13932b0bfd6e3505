"""Bench data: held-out crops and the seeded masks of :mod:`samplers.maskgen` (pure torch)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..samplers.maskgen import MASK_KINDS, make_mask  # noqa: F401  (re-exported for the bench and tests)


def center_crop(image: torch.Tensor, size: int) -> torch.Tensor:
    """A ``size``² crop of ``[3, H, W]``: the image is first scaled so its short side is ``1.25·size``."""
    h, w = image.shape[-2:]
    scale = 1.25 * size / min(h, w)
    if scale < 1:
        image = F.interpolate(image[None], scale_factor=scale, mode="area")[0]
    h, w = image.shape[-2:]
    y0, x0 = (h - size) // 2, (w - size) // 2
    return image[:, y0:y0 + size, x0:x0 + size].contiguous()
