"""RePaint (Lugmayr et al., CVPR 2022, "RePaint: Inpainting using Denoising Diffusion Probabilistic
Models"), Algorithm 1 with the time-travel jump schedule, in VE σ-space (docs/derivations.md §2).

Baseline form: fresh-noise known-region injection before every model call, DDPM (ancestral) reverse
steps, and forward jumps back up ``jump_length`` levels ``resamples − 1`` times at every
``jump_length``-th level. RePaint+ (samplers/repaint_plus.py) builds on the same schedule.

Mask convention (package-wide): ``mask`` = 1 on the hole (regenerate), ``known = 1 − mask``.
"""
from __future__ import annotations

from typing import Callable

import torch

from .ve import ancestral_step, forward_jump, inject_known

Denoiser = Callable[[torch.Tensor, float], torch.Tensor]
NoiseFn = Callable[..., torch.Tensor]  # noise(σ, σ') -> N(0, I), samplers.noise


def jump_schedule(levels: int, jump_length: int, resamples: int) -> list[int]:
    """Visited level indices for ``levels`` reverse steps (0 = σ_0, the noisiest; ``levels`` = σ = 0).

    Mirrors ``get_schedule_jump`` of the official code (andreas128/RePaint scheduler.py) with
    ``t = levels − index``: at every level ``t ∈ {0, j, 2j, …} < levels − j`` (counted from the clean
    end) the walk jumps back up ``j`` levels, ``resamples − 1`` times.
    """
    if levels < 1:
        raise ValueError("levels must be >= 1")
    if jump_length < 1 or resamples < 1:
        raise ValueError("jump_length and resamples must be >= 1")
    jumps = {t: resamples - 1 for t in range(0, levels - jump_length, jump_length)}
    t, ts = levels, [levels]
    while t >= 1:
        t -= 1
        ts.append(t)
        if jumps.get(t, 0) > 0:
            jumps[t] -= 1
            for _ in range(jump_length):
                t += 1
                ts.append(t)
    return [levels - t for t in ts]


def count_evaluations(levels: int, jump_length: int, resamples: int) -> int:
    """Model calls of :func:`sample_repaint` (one per descending move)."""
    path = jump_schedule(levels, jump_length, resamples)
    return sum(1 for a, b in zip(path, path[1:]) if b > a)


@torch.no_grad()
def sample_repaint(denoise: Denoiser, x: torch.Tensor, sigmas: list[float], y: torch.Tensor, mask,
                   noise: NoiseFn, jump_length: int = 10, resamples: int = 10, eta: float = 1.0,
                   callback: Callable[[dict], None] | None = None,
                   known_at: Callable[[float, torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """Plain RePaint in VE σ-space.

    ``denoise(x, σ)`` is the model's x0-prediction, ``sigmas`` descending VE levels ending in 0, ``x``
    the start at ``sigmas[0]``, ``y`` the clean known image, ``mask`` 1 on the hole (a tensor, or a
    callable ``σ ↦ mask`` for masks that change with σ, e.g. Differential Diffusion), ``noise(σ, σ')`` a fresh
    standard normal tensor shaped like ``x`` (randomness is passed in). ``known_at(σ, ε)`` gives the
    noised known image at level σ (default ``y + σ·ε``; the ComfyUI glue passes the model's own
    ``scale_latent_inpaint``/``noise_scaling``).
    """
    if known_at is None:
        def known_at(s, eps):
            return y + s * eps
    n = len(sigmas) - 1
    path = jump_schedule(n, jump_length, resamples)
    x0 = x
    for step, (a, b) in enumerate(zip(path, path[1:])):
        s_a, s_b = float(sigmas[a]), float(sigmas[b])
        if b > a:  # reverse step a -> a + 1
            m = mask(s_a) if callable(mask) else mask
            known = 1.0 - m
            x = known * known_at(s_a, noise(s_a, s_b)) + m * x  # 1. inject the known region at level a (fresh noise)
            x0 = denoise(x, s_a)  # 2. x̂0
            x = ancestral_step(x, x0, s_a, s_b, noise(s_a, s_b) if s_b > 0 else None, eta)  # 3. DDPM step
            if callback is not None:
                callback({"x": x, "i": a, "sigma": s_a, "sigma_hat": s_a, "denoised": x0, "step": step})
        else:  # 4. time travel: back up one level with the forward kernel
            x = forward_jump(x, s_a, s_b, noise(s_a, s_b))
    return inject_known(x, mask, known_at, noise, float(sigmas[-1]))
