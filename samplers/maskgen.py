"""Seeded mask generators (pure torch): the bench's masks and the AID trainer's mask distribution.

Masks are ``[1, 1, H, W]`` with 1 on the hole:
* ``wide``   -- LaMa-style "wide" free-form strokes (Suvorov et al. 2022): a few thick random polylines;
* ``half``   -- one half of the image (left/right/top/bottom, seeded);
* ``expand`` -- everything but a centred square of half the side (IS-Diff / RePaint "Expand");
* ``box``    -- one random rectangle covering 15-35% of the image.
"""
from __future__ import annotations

import math

import torch

MASK_KINDS = ("wide", "half", "expand", "box")


def _rand(g: torch.Generator, lo: float = 0.0, hi: float = 1.0) -> float:
    return lo + (hi - lo) * float(torch.rand((), generator=g))


def make_mask(kind: str, h: int, w: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    m = torch.zeros(1, 1, h, w)
    if kind == "half":
        side = int(torch.randint(0, 4, (1,), generator=g))
        if side == 0:
            m[..., :, : w // 2] = 1
        elif side == 1:
            m[..., :, w // 2:] = 1
        elif side == 2:
            m[..., : h // 2, :] = 1
        else:
            m[..., h // 2:, :] = 1
    elif kind == "expand":
        m[:] = 1
        m[..., h // 4: h - h // 4, w // 4: w - w // 4] = 0
    elif kind == "box":
        area = _rand(g, 0.15, 0.35) * h * w
        aspect = _rand(g, 0.5, 2.0)
        bh = min(h - 2, max(2, int(math.sqrt(area / aspect))))
        bw = min(w - 2, max(2, int(area / bh)))
        y0 = int(torch.randint(0, h - bh + 1, (1,), generator=g))
        x0 = int(torch.randint(0, w - bw + 1, (1,), generator=g))
        m[..., y0:y0 + bh, x0:x0 + bw] = 1
    elif kind == "wide":
        yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
        s = min(h, w)
        for _ in range(int(torch.randint(2, 5, (1,), generator=g))):
            px, py = _rand(g, 0, w), _rand(g, 0, h)
            width = _rand(g, 0.06, 0.12) * s
            for _ in range(int(torch.randint(2, 5, (1,), generator=g))):
                ang, ln = _rand(g, 0, 2 * math.pi), _rand(g, 0.15, 0.4) * s
                qx = min(max(px + ln * math.cos(ang), 0), w - 1)
                qy = min(max(py + ln * math.sin(ang), 0), h - 1)
                dx, dy = qx - px, qy - py
                t = (((xx - px) * dx + (yy - py) * dy) / max(dx * dx + dy * dy, 1e-6)).clamp(0, 1)
                d = ((xx - px - t * dx) ** 2 + (yy - py - t * dy) ** 2).sqrt()
                m[0, 0][d <= width / 2] = 1
                px, py = qx, qy
    else:
        raise ValueError(f"mask kind must be one of {MASK_KINDS}, got {kind!r}")
    return m


def random_masks(kind: str, batch: int, h: int, w: int, generator: torch.Generator) -> torch.Tensor:
    """``[batch, 1, h, w]`` masks of ``kind`` (or of a random kind each, ``"mixed"``), each with its own seed
    drawn from ``generator`` (the AID trainer's mask distribution)."""
    kinds = MASK_KINDS if kind == "mixed" else (kind,)
    seeds = torch.randint(0, 2**31 - 1, (batch,), generator=generator).tolist()
    idx = torch.randint(0, len(kinds), (batch,), generator=generator).tolist()
    return torch.cat([make_mask(kinds[i], h, w, s) for i, s in zip(idx, seeds)])
