"""Bench data: held-out crops, the seeded masks of :mod:`samplers.maskgen`, and the exact-posterior bench's
masks (pure torch)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..samplers.maskgen import MASK_KINDS, make_mask  # noqa: F401  (re-exported for the bench and tests)
from .exact_priors import GaussianMixturePrior, make_gaussian_mixture, make_hole_mixture

POSTERIOR_SHAPE = (3, 4, 4)
POSTERIOR_FAMILIES = ("hole", "coded")


def center_crop(image: torch.Tensor, size: int) -> torch.Tensor:
    """A ``size``² crop of ``[3, H, W]``: the image is first scaled so its short side is ``1.25·size``."""
    h, w = image.shape[-2:]
    scale = 1.25 * size / min(h, w)
    if scale < 1:
        image = F.interpolate(image[None], scale_factor=scale, mode="area")[0]
    h, w = image.shape[-2:]
    y0, x0 = (h - size) // 2, (w - size) // 2
    return image[:, y0:y0 + size, x0:x0 + size].contiguous()


def posterior_masks(shape: tuple[int, int, int]) -> dict[str, torch.Tensor]:
    """The hole masks of the exact-posterior bench over ``[C, H, W]`` (all channels), True = unknown: the right
    half, a central box of half the height and width, and half the pixels scattered (seeded, fixed)."""
    c, h, w = shape
    half = torch.zeros(shape, dtype=torch.bool)
    half[:, :, w // 2:] = True
    box = torch.zeros(shape, dtype=torch.bool)
    box[:, h // 4:h - h // 4, w // 4:w - w // 4] = True
    scattered = torch.zeros(shape, dtype=torch.bool)
    pix = torch.randperm(h * w, generator=torch.Generator().manual_seed(5))[:h * w // 2]
    scattered.view(c, h * w)[:, pix] = True
    return {"half": half, "box": box, "scattered": scattered}


def posterior_problem(family: str, hole: torch.Tensor, seed: int) -> GaussianMixturePrior:
    """The exact-posterior bench's mixture prior for this mask (``make bench-posterior`` uses ``seed`` = its
    ``--seed`` + 1). ``hole``: components identical on the known pixels (weights = prior weights); ``coded``:
    component means shared on the known pixels but covariances not, so the weights are coded in how the known
    pixels co-vary."""
    if family not in POSTERIOR_FAMILIES:
        raise ValueError(f"family must be one of {POSTERIOR_FAMILIES}, got {family!r}")
    with torch.inference_mode(False):
        if family == "hole":
            return make_hole_mixture(POSTERIOR_SHAPE, hole, components=4, rank=3, seed=seed, floor=0.3,
                                     comp_scale=0.35, coupling=2.0)
        return make_gaussian_mixture(POSTERIOR_SHAPE, components=4, rank=3, seed=seed, shared=~hole, floor=0.3,
                                     comp_scale=0.35)
