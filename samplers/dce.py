"""IS-Diff's harmony check (arXiv 2509.11638, eq. 6; docs/derivations.md §4): the cross-entropy between the
histograms of the known and the unknown region of an image (DCE).

    DCE = H(h_k, h_u) = −Σ_b h_k(b)·log(h_u(b) + ε)       per channel, averaged over channels
    KL  = DCE − H(h_k) = KL(h_k ‖ h_u)

The direction ``H(h_known, h_unknown)`` asks whether the hole explains the surroundings' statistics.
DCE is bounded below by the known region's own entropy, so it differs from image to image; KL removes
that, and one threshold works across images (docs/derivations.md §4). An optional texture term adds
the same measure on the histogram of gradient magnitudes.

Images are ``[B, C, H, W]`` with values in ``value_range``; masks ``[B|1, 1, H, W]`` with 1 = hole;
soft masks weight pixels. Histograms use linear (soft) binning, computed with ``index_add``.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

EPS = 1e-6


def histograms(x: torch.Tensor, weight: torch.Tensor, bins: int, value_range=(0.0, 1.0)) -> torch.Tensor:
    """Weighted, normalised per-channel histograms: ``x [B, C, H, W]``, ``weight [B, 1, H, W]`` → ``[B, C, bins]``."""
    return paired_histograms(x, weight, bins, value_range)[1]


def paired_histograms(x: torch.Tensor, mask: torch.Tensor, bins: int, value_range=(0.0, 1.0)):
    """(known, hole) histograms ``[B, C, bins]`` each, weights ``1 − mask`` and ``mask``, in one pass."""
    b, c = x.shape[:2]
    lo, hi = value_range
    pos = ((x.float() - lo) * ((bins - 1) / (hi - lo))).clamp_(0, bins - 1)
    i0 = pos.floor()
    frac = pos - i0
    i0 = i0.long()
    i1 = (i0 + 1).clamp_(max=bins - 1)
    w = mask.float().expand(b, c, *x.shape[2:])
    offs = (torch.arange(b * c, device=x.device) * (2 * bins)).view(b, c, 1, 1)
    idx = torch.cat([(i0 + offs).reshape(-1), (i1 + offs).reshape(-1), (i0 + offs + bins).reshape(-1),
                     (i1 + offs + bins).reshape(-1)])
    wk, wu = 1 - w, w
    val = torch.cat([(wk * (1 - frac)).reshape(-1), (wk * frac).reshape(-1), (wu * (1 - frac)).reshape(-1),
                     (wu * frac).reshape(-1)])
    h = torch.zeros(b * c * 2 * bins, device=x.device).index_add_(0, idx, val).view(b, c, 2, bins)
    h = h / h.sum(-1, keepdim=True).clamp_min(1e-12)
    return h[:, :, 0], h[:, :, 1]


def grad_magnitude(x: torch.Tensor) -> torch.Tensor:
    """Per-pixel gradient magnitude (forward differences, mean over channels): ``[B, 1, H, W]``."""
    gx = F.pad(x[..., :, 1:] - x[..., :, :-1], (0, 1, 0, 0))
    gy = F.pad(x[..., 1:, :] - x[..., :-1, :], (0, 0, 0, 1))
    return (gx**2 + gy**2).sqrt().mean(1, keepdim=True)


def histogram_ce(hk: torch.Tensor, hu: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(H(h_k, h_u), KL(h_k ‖ h_u))`` of ``[B, C, bins]`` histograms, averaged over channels: ``[B]`` each."""
    ce = -(hk * (hu + EPS).log()).sum(-1).mean(-1)
    ent = -(hk * (hk + EPS).log()).sum(-1).mean(-1)
    return ce, ce - ent


def dce(x: torch.Tensor, mask: torch.Tensor, bins: int = 64, value_range=(0.0, 1.0), texture: bool = False,
        texture_weight: float = 0.5, max_pixels: int | None = 65536) -> dict[str, torch.Tensor]:
    """DCE and KL per image (``[B]`` each); with ``texture`` the gradient-magnitude term is added (weighted).

    Histograms are estimated on a regular grid of at most ``max_pixels`` positions (every s-th pixel in
    each direction; ``None`` = every pixel): an unbiased estimate of the same histograms at a cost that
    does not grow with the image (64k samples put a 64-bin histogram within about 0.3% per bin).
    """
    m = mask.float()[:, :1]
    if m.shape[-2:] != x.shape[-2:]:
        m = F.interpolate(m, size=x.shape[-2:], mode="bilinear", align_corners=False)
    m = m.expand(x.shape[0], 1, *x.shape[-2:])
    if texture:
        tex = grad_magnitude(x.float()) / ((value_range[1] - value_range[0]) / 2)
    if max_pixels is not None and x.shape[-2] * x.shape[-1] > max_pixels:
        s = math.ceil(math.sqrt(x.shape[-2] * x.shape[-1] / max_pixels))
        x, m = x[..., ::s, ::s], m[..., ::s, ::s]
        if texture:
            tex = tex[..., ::s, ::s]
    ce, kl = histogram_ce(*paired_histograms(x, m, bins, value_range))
    if texture:
        tce, tkl = histogram_ce(*paired_histograms(tex, m, bins, (0.0, 1.0)))
        ce, kl = ce + texture_weight * tce, kl + texture_weight * tkl
    return {"dce": ce, "kl": kl}


def heat_map(x: torch.Tensor, mask: torch.Tensor, bins: int = 64, value_range=(0.0, 1.0),
             blur: float = 2.0, max_pixels: int = 512 * 512) -> torch.Tensor:
    """Where the hole disagrees with its surroundings: per pixel, the surprise ``−log h_k(x)`` under the
    known region's histograms (averaged over channels), inside the hole, normalised to [0, 1] per image
    by the largest possible surprise ``−log ε``: ``[B, 1, H, W]``.

    Above ``max_pixels`` positions the map is computed on a regular grid of every s-th pixel (the
    image's own colours, as :func:`dce` samples them) and upsampled bilinearly, so the working memory is
    bounded whatever the image size; only the returned map is full size."""
    h, w = x.shape[-2:]
    m_full = mask.float()[:, :1].expand(x.shape[0], 1, h, w)
    s = math.ceil(math.sqrt(h * w / max_pixels)) if h * w > max_pixels else 1
    xs, m = x[..., ::s, ::s].float(), m_full[..., ::s, ::s]
    hk = histograms(xs, 1 - m, bins, value_range)  # [B, C, bins]
    lo, hi = value_range
    idx = (((xs - lo) / (hi - lo)).clamp(0, 1) * (bins - 1)).round().long()
    p = torch.gather(hk, 2, idx.flatten(2)).view_as(xs)
    surprise = -(p + EPS).log().mean(1, keepdim=True) / -torch.log(torch.tensor(EPS))
    if blur > 0:
        r = max(1, int(3 * blur))
        t = torch.arange(-r, r + 1, dtype=torch.float32, device=x.device)
        k = torch.exp(-0.5 * (t / blur) ** 2)
        k = (k / k.sum()).to(surprise.dtype)
        surprise = F.conv2d(F.pad(surprise, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1))
        surprise = F.conv2d(F.pad(surprise, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1))
    if s > 1:
        surprise = F.interpolate(surprise, size=(h, w), mode="bilinear", align_corners=False)
    return surprise.mul_(m_full).clamp_(0, 1)
