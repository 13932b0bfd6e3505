"""RePaint+ (Rout, Parulekar, Caramanis, Shakkottai, arXiv 2302.01217, "A Theoretical Justification
for Image Inpainting using Denoising Diffusion Probabilistic Models"): RePaint's resampling with the
drift and dispersion of the forward/reverse cycle realigned, so the harmonisation loop converges to
the data-consistent sample instead of a shrunken, noisy one.

The paper's symbols were lost in extraction; the forms here are the derivations of algorithms.md §2
(tagged [D] there), which are our specification:

* :func:`two_state_experiment` -- the paper's linear-model experiment (App. B, Table 1): RePaint
  (fresh noise, drift 1−β) against Algorithm 2 (noise-free forward step, drift realigned by
  1/(1−β)), which is alternating projection with rate ``ρ = ‖AᵀMA‖₂`` (Theorem 4).
* :func:`sample_repaint_plus` -- the multi-state sampler in VE σ-space (§2.7, Algorithm 3):
  at harmonising levels, ``r`` rounds without fresh noise, then a consistent (DDIM/Euler) move

      Variant B (noisy space):  x ← x + κ(σ)·k⊙(y − D(x, σ))              (r times)
      Variant A (clean space):  x̂0 ← κ(σ)·D(k⊙y + u⊙x̂0, σ)                 (r times)
      κ(σ) = (σ_d² + σ²)/σ_d²  ("theory"),  1,  or  min(theory, cap)

  Variant A assumes zero-mean data (κ rescales the whole prediction); Variant B only rescales a
  residual and is the one for real models (algorithms.md §2.7 caveats).

Masks: ``mask`` = 1 on the hole, ``known = 1 − mask`` (``M`` of the paper is ``diag(mask)``).
"""
from __future__ import annotations

from typing import Callable

import torch

from .ve import ancestral_step

KAPPA_MODES = ("1", "theory", "capped")
VARIANTS = ("A", "B")


def kappa(sigma: float, sigma_data: float, mode: str = "capped", cap: float = 4.0) -> float:
    """Drift realignment κ(σ): undoes the denoiser's shrinkage σ_d²/(σ_d² + σ²) on Gaussian data."""
    if mode == "1":
        return 1.0
    theory = (sigma_data**2 + sigma**2) / sigma_data**2
    if mode == "theory":
        return theory
    if mode == "capped":
        return min(theory, cap)
    raise ValueError(f"kappa mode must be one of {KAPPA_MODES}, got {mode!r}")


# ---------------------------------------------------------------------------------------------
# The two-state linear experiment (Theorem 3/4, Algorithm 2, Appendix B)
# ---------------------------------------------------------------------------------------------
def two_state_experiment(A: torch.Tensor, missing: torch.Tensor, beta: float = 0.9, n: int = 1000,
                         rounds: int = 100, generator: torch.Generator | None = None) -> dict:
    """RePaint vs RePaint+ on ``x0 = A z`` with the trained two-state model ``W* = sqrt(1−β)·AAᵀ``.

    ``missing`` is the diagonal of ``M`` (1 = missing). Returns Frobenius-norm errors over the ``n``
    samples (the paper's "RMSE"), RePaint+RevSDE (one extra noise-free reverse step on RePaint's
    output), and RePaint+'s per-round error ratios with ``ρ = ‖AᵀMA‖₂``.
    """
    A = A.double()
    d, k = A.shape
    P = A @ A.T
    M = torch.diag(missing.double())
    K = torch.eye(d, dtype=torch.float64) - M
    W = (1 - beta) ** 0.5 * P  # Theorem 3 closed form
    X = A @ torch.randn(k, n, dtype=torch.float64, generator=generator)  # ground truth x0*

    def randn():
        return torch.randn(d, n, dtype=torch.float64, generator=generator)

    # RePaint: paste, forward step with fresh noise, reverse step; the drift (1−β) and the fresh noise
    # never cancel
    x = W @ randn()
    for _ in range(rounds):
        xt = K @ X + M @ x
        x = W @ ((1 - beta) ** 0.5 * xt + beta**0.5 * randn())
    repaint = K @ X + M @ x
    # RePaint+RevSDE: one more noise-free reverse step (generator output realigned, nothing pasted):
    # projects onto the data subspace but does not pull towards x0*
    revsde = W @ ((1 - beta) ** 0.5 * repaint) / (1 - beta) ** 0.5
    # RePaint+ (Algorithm 2): generator output realigned by 1/sqrt(1−β); noise-free forward step,
    # reverse step realigned by 1/(1−β) => x ← P(K x0* + M x)
    y = (W @ randn()) / (1 - beta) ** 0.5
    errs = [float((K @ X + M @ y - X).norm())]
    for _ in range(rounds):
        y = (W @ ((1 - beta) ** 0.5 * (K @ X + M @ y))) / (1 - beta)
        errs.append(float((K @ X + M @ y - X).norm()))
    ratios = [b / a for a, b in zip(errs, errs[1:]) if a > 1e-250 and b > 1e-12 * errs[0]]
    return {
        "repaint": float((repaint - X).norm()),
        "repaint_revsde": float((revsde - X).norm()),
        "repaint_plus": errs[-1],
        "rho": float(torch.linalg.matrix_norm(A.T @ M @ A, ord=2)),
        "ratios": ratios,
        "errors": errs,
    }


# ---------------------------------------------------------------------------------------------
# Multi-state RePaint+ in σ-space (Algorithm 3 reconstruction)
# ---------------------------------------------------------------------------------------------
def harmonising_levels(levels: int, jump_length: int, window: tuple[float, float] = (0.0, 1.0)) -> list[int]:
    """Levels (0 = noisiest) that get harmonisation rounds: every ``jump_length``-th level whose
    position ``i/levels`` lies in ``window`` (fractions of the schedule, 0 = start)."""
    lo, hi = window
    return [i for i in range(levels) if i % jump_length == 0 and lo <= i / levels <= hi]


def count_evaluations(levels: int, jump_length: int, resamples: int, window=(0.0, 1.0)) -> int:
    """Model calls of :func:`sample_repaint_plus`: one per level plus ``resamples`` per harmonising level."""
    return levels + resamples * len(harmonising_levels(levels, jump_length, window))


@torch.no_grad()
def sample_repaint_plus(denoise: Callable[[torch.Tensor, float], torch.Tensor], x: torch.Tensor, sigmas: list[float],
                        y: torch.Tensor, mask, noise: Callable[[], torch.Tensor], variant: str = "B",
                        jump_length: int = 1, resamples: int = 2, kappa_mode: str = "capped", kappa_cap: float = 4.0,
                        sigma_data: float = 1.0, window: tuple[float, float] = (0.0, 1.0), eta: float = 0.0,
                        step: Callable | None = None, callback: Callable[[dict], None] | None = None,
                        known_at: Callable[[float, torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """RePaint+ in VE σ-space (algorithms.md §2.7).

    ``denoise(x, σ)`` → x̂0; ``sigmas`` descending, ending in 0; ``mask`` 1 on the hole (a tensor, or a
    callable ``σ ↦ mask``); ``noise()`` fresh N(0, I) (used for the injection and, if ``eta > 0``, for
    ancestral moves). ``step(x, x̂0, σ, σ')`` replaces the default move to the next level (DDIM/Euler
    when ``eta = 0``), e.g. a base sampler's step. Known-region injection happens at every level
    (``known_at(σ, ε)``, default ``y + σ·ε``); harmonisation rounds at :func:`harmonising_levels`.
    """
    if known_at is None:
        def known_at(s, eps):
            return y + s * eps
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    n = len(sigmas) - 1
    harmonise = set(harmonising_levels(n, jump_length, window))
    x0 = x
    for i in range(n):
        s, s_next = float(sigmas[i]), float(sigmas[i + 1])
        m = mask(s) if callable(mask) else mask
        known = 1.0 - m
        x = known * known_at(s, noise()) + m * x  # standard known-region injection, once per level
        kap = kappa(s, sigma_data, kappa_mode, kappa_cap)
        if i in harmonise and variant == "B":
            for _ in range(resamples):  # noise-free, realigned drift in noisy space
                x = x + kap * known * (y - denoise(x, s))
            x0 = denoise(x, s)
        elif i in harmonise:  # variant A, clean space
            x0 = denoise(x, s)
            eps = (x - x0) / s
            for _ in range(resamples):
                x0 = kap * denoise(known * y + m * x0, s)
            x = x0 + s * eps  # same noise estimate: the move below stays consistent
        else:
            x0 = denoise(x, s)
        if callback is not None:
            callback({"x": x, "i": i, "sigma": s, "sigma_hat": s, "denoised": x0})
        if step is not None:
            x = step(x, x0, s, s_next)
        else:
            x = ancestral_step(x, x0, s, s_next, noise() if (eta > 0 and s_next > 0) else None, eta)
    m = mask(0.0) if callable(mask) else mask
    return (1.0 - m) * y + m * x0 if n > 0 else x
