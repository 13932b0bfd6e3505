"""Quality metrics for inpainting: posterior fidelity on exact priors, and image metrics.

Pure torch. Masks follow the package convention (``mask`` = 1 on the hole, ``[B, 1, H, W]`` or
broadcastable); "known" is ``1 − mask``. Sample sets are ``[N, d]``.

Exact priors
    :func:`tv_distance`, :func:`sliced_wasserstein2`, :func:`mean_error`, :func:`known_max_deviation`
Images
    :func:`masked_psnr`, :func:`masked_ssim`, :func:`harmony_kl` (the KL form of IS-Diff's DCE between
    known and unknown colour histograms, ``samplers/dce.py``), :func:`seam_score`,
    :func:`diversity`
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .dce import dce, grad_magnitude
from .masks import dilate


# ---------------------------------------------------------------------------------------------
# distributions
# ---------------------------------------------------------------------------------------------
def tv_distance(p: torch.Tensor, q: torch.Tensor) -> float:
    """Total-variation distance ``½ Σ |p − q|`` between two probability vectors."""
    p, q = p.double() / p.sum(), q.double() / q.sum()
    return float(0.5 * (p - q).abs().sum())


def component_histogram(assignments: torch.Tensor, k: int) -> torch.Tensor:
    """Empirical distribution of component indices ``[N]`` over ``k`` components."""
    return torch.bincount(assignments.long().reshape(-1), minlength=k).double() / assignments.numel()


def mean_error(samples: torch.Tensor, exact_mean: torch.Tensor) -> float:
    """RMS difference between the sample mean and the exact posterior mean."""
    return float((samples.double().mean(0) - exact_mean.double()).pow(2).mean().sqrt())


def sliced_wasserstein2(a: torch.Tensor, b: torch.Tensor, projections: int = 256,
                        generator: torch.Generator | None = None) -> float:
    """Sliced Wasserstein-2 distance between two equal-size sample sets ``[N, d]``.

    ``SW2² = E_θ W2²(θᵀa, θᵀb)`` over uniform directions θ on the sphere; in 1-D, W2 between equal-size
    empirical measures pairs sorted samples.
    """
    if a.shape != b.shape:
        raise ValueError(f"sample sets must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    theta = torch.randn(a.shape[1], projections, dtype=torch.float64, generator=generator)
    theta = theta / theta.norm(dim=0, keepdim=True)
    pa = (a.double() @ theta).sort(0).values
    pb = (b.double() @ theta).sort(0).values
    return float(((pa - pb) ** 2).mean().sqrt())


def known_max_deviation(samples: torch.Tensor, y: torch.Tensor, known: torch.Tensor) -> float:
    """Largest ``|sample − y|`` over the known coordinates (0 for a method that keeps them exactly)."""
    kn = known.reshape(-1).bool()
    if not kn.any():
        return 0.0
    return float((samples.double()[:, kn] - y.double().reshape(-1)[kn]).abs().max())


# ---------------------------------------------------------------------------------------------
# images (values in [0, 1], [B, C, H, W])
# ---------------------------------------------------------------------------------------------
def masked_mse(x: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the hole only (mask as weights, all channels), per image: ``[B]``."""
    m = mask.expand_as(x).double()
    return ((x.double() - gt.double()) ** 2 * m).sum((1, 2, 3)) / m.sum((1, 2, 3)).clamp_min(1e-12)


def masked_psnr(x: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """PSNR over the hole only, per image: ``[B]`` (dB, peak 1)."""
    return -10 * torch.log10(masked_mse(x, gt, mask).clamp_min(1e-12))


def _gauss_window(size: int = 11, sigma: float = 1.5, dtype=torch.float64):
    t = torch.arange(size, dtype=dtype) - size // 2
    g = torch.exp(-0.5 * (t / sigma) ** 2)
    g = g / g.sum()
    return g[:, None] * g[None, :]


def masked_ssim(x: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """SSIM (Wang et al. 2004; Gaussian window 11/1.5, K1 .01, K2 .03) averaged over the hole: ``[B]``."""
    c = x.shape[1]
    w = _gauss_window().to(x.device)[None, None].expand(c, 1, 11, 11)
    x, gt = x.double(), gt.double()

    def filt(t):
        return F.conv2d(F.pad(t, (5, 5, 5, 5), mode="reflect"), w, groups=c)

    mx, my = filt(x), filt(gt)
    vx, vy, cxy = filt(x * x) - mx**2, filt(gt * gt) - my**2, filt(x * gt) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    m = mask.expand_as(s).double()
    return (s * m).sum((1, 2, 3)) / m.sum((1, 2, 3)).clamp_min(1e-12)


def harmony_kl(x: torch.Tensor, mask: torch.Tensor, bins: int = 64) -> torch.Tensor:
    """IS-Diff's DCE read as ``KL(h_known ‖ h_unknown)`` of per-channel value histograms: ``[B]``.

    The same measure the DCE Check node reports (``samplers/dce.py``), so bench numbers and node
    read-outs are comparable. Lower is more harmonious; images in [0, 1].
    """
    return dce(x, mask, bins=bins)["kl"].double()


def seam_score(x: torch.Tensor, mask: torch.Tensor, band: int = 2, context: int = 8) -> torch.Tensor:
    """Gradient excess on the mask boundary: ``mean|∇x|`` on a band of ±``band`` px around the
    boundary divided by the mean of ``mean|∇x|`` just inside and just outside (``context`` px rings).

    ≈ 1 when the seam is invisible, > 1 when an edge follows the mask outline. ``[B]``.
    """
    hard = (mask > 0.5).double()[:, :1]
    inv = 1 - hard
    boundary = dilate(hard, band) * dilate(inv, band)
    inner = hard * (1 - dilate(inv, band)) * dilate(inv, band + context)
    outer = inv * (1 - dilate(hard, band)) * dilate(hard, band + context)
    g = grad_magnitude(x.double())
    g = g.expand(max(g.shape[0], hard.shape[0]), -1, -1, -1)

    def avg(w):
        w = w.expand_as(g)
        return (g * w).sum((1, 2, 3)) / w.sum((1, 2, 3)).clamp_min(1e-12)

    ref = 0.5 * (avg(inner) + avg(outer))
    return avg(boundary) / ref.clamp_min(1e-6)


def diversity(samples: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    """Mean pairwise RMS distance between samples ``[N, C, H, W]`` of one input (over the hole if given)."""
    n = samples.shape[0]
    if n < 2:
        return 0.0
    flat = samples.double().reshape(n, -1)
    if mask is not None:
        sel = mask.expand_as(samples[:1]).reshape(-1) > 0.5
        flat = flat[:, sel]
    d = torch.cdist(flat, flat) / math.sqrt(max(flat.shape[1], 1))
    return float(d.sum() / (n * (n - 1)))
