"""Colour-safe compositing of an inpainted image back onto its original.

* :func:`match_colour_lab` -- masked colour transfer (Reinhard et al. 2001, "Color Transfer between
  Images", mean/std matching, here in CIE Lab): the inpainted image's statistics *on the known
  region* are matched to the original's on the same region, which removes the global colour/tone
  shift a VAE round trip or a sampler introduces, without looking at the hole.
* :func:`feather` -- outward feathering: the blend weight is ``max(mask, blur(mask))``, so the hole
  is fully replaced and the transition lies on the known side of the boundary, within ``radius`` px.
* :func:`composite` -- ``out = original·(1 − w) + inpainted·w``; soft masks act as blend weights.

All tensors ``[B, C, H, W]`` (images in [0, 1], RGB) and masks ``[B, 1, H, W]`` with 1 = inpainted.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .masks import masked_moments

_M_RGB2XYZ = torch.tensor([[0.412453, 0.357580, 0.180423],
                           [0.212671, 0.715160, 0.072169],
                           [0.019334, 0.119193, 0.950227]], dtype=torch.float64)
_WHITE = torch.tensor([0.950456, 1.0, 1.088754], dtype=torch.float64)
_EPS = 6.0 / 29.0


def _srgb_to_linear(c):
    return torch.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(c):
    return torch.where(c <= 0.0031308, 12.92 * c, 1.055 * c.clamp_min(0) ** (1 / 2.4) - 0.055)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB ``[B, 3, H, W]`` in [0, 1] → CIE Lab (D65), float64."""
    lin = _srgb_to_linear(rgb.double().clamp(0, 1))
    xyz = torch.einsum("ij,bjhw->bihw", _M_RGB2XYZ.to(rgb.device), lin) / _WHITE.to(rgb.device)[None, :, None, None]
    f = torch.where(xyz > _EPS**3, xyz.clamp_min(1e-12) ** (1 / 3), xyz / (3 * _EPS**2) + 4 / 29)
    return torch.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], 1)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """CIE Lab (D65) → sRGB in [0, 1] (out-of-gamut values clipped), float64."""
    fy = (lab[:, 0] + 16) / 116
    f = torch.stack([fy + lab[:, 1] / 500, fy, fy - lab[:, 2] / 200], 1)
    xyz = torch.where(f > _EPS, f**3, 3 * _EPS**2 * (f - 4 / 29)) * _WHITE.to(lab.device)[None, :, None, None]
    lin = torch.einsum("ij,bjhw->bihw", torch.linalg.inv(_M_RGB2XYZ).to(lab.device), xyz)
    return _linear_to_srgb(lin.clamp(0, 1)).clamp(0, 1)


def match_colour_lab(inpainted: torch.Tensor, original: torch.Tensor, mask: torch.Tensor,
                     strength: float = 1.0) -> torch.Tensor:
    """Match the Lab mean/std of ``inpainted`` to ``original`` on the known region (weights ``1 − mask``)."""
    known = (1.0 - mask).double()
    if float(known.sum()) <= 0:
        return inpainted
    a, b = rgb_to_lab(inpainted), rgb_to_lab(original)
    ma, sa = masked_moments(a, known)
    mb, sb = masked_moments(b, known)
    gain = torch.where(sa > 1e-6, sb / sa.clamp_min(1e-6), torch.ones_like(sa))
    matched = (a - ma) * gain + mb
    out = lab_to_rgb(a + strength * (matched - a))
    return out.to(inpainted.dtype)


def gaussian_blur(x: torch.Tensor, sigma: float, radius: int | None = None) -> torch.Tensor:
    """Separable Gaussian blur with reflect padding, ``[B, C, H, W]``; kernel truncated at ``radius`` (default 3σ)."""
    if sigma <= 0:
        return x
    r = max(1, int(math.ceil(3 * sigma)) if radius is None else int(radius))
    t = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[1]
    pad_h, pad_w = min(r, x.shape[-2] - 1), min(r, x.shape[-1] - 1)
    y = F.pad(x, (pad_w, pad_w, 0, 0), mode="reflect" if pad_w > 0 else "replicate")
    y = F.conv2d(y, k[r - pad_w:r + pad_w + 1].view(1, 1, 1, -1).expand(c, 1, 1, -1).contiguous(), groups=c)
    y = F.pad(y, (0, 0, pad_h, pad_h), mode="reflect" if pad_h > 0 else "replicate")
    return F.conv2d(y, k[r - pad_h:r + pad_h + 1].view(1, 1, -1, 1).expand(c, 1, -1, 1).contiguous(), groups=c)


def feather(mask: torch.Tensor, radius: float) -> torch.Tensor:
    """Outward feather: ``max(mask, blur(mask))``, a Gaussian of σ = radius/3 truncated at ``radius`` pixels.

    Pixels farther than ``radius`` (per axis) from the mask keep weight 0.
    """
    if radius <= 0:
        return mask
    return torch.maximum(mask, gaussian_blur(mask, radius / 3.0, radius=int(math.ceil(radius))))


def composite(original: torch.Tensor, inpainted: torch.Tensor, mask: torch.Tensor, feather_px: float = 0.0,
              colour_match: bool = False) -> torch.Tensor:
    """Blend ``inpainted`` onto ``original`` inside ``mask`` (soft weights honoured)."""
    if colour_match:
        inpainted = match_colour_lab(inpainted, original, mask)
    w = feather(mask, feather_px)
    return original * (1.0 - w) + inpainted * w
