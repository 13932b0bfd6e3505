"""Variance-exploding (VE) building blocks shared by the samplers.

Every sampler in this package works in VE coordinates ``x = x0 + σ ε`` (k-diffusion / EDM). The
ComfyUI glue converts other parameterisations exactly (rectified flow: ``x_VE = x / (1 − s)``,
``σ_VE = s / (1 − s)``), so one implementation serves EPS, V-prediction and flow models.
"""
from __future__ import annotations

from typing import Callable

import torch


def ancestral_step(x: torch.Tensor, x0: torch.Tensor, sigma: float, sigma_next: float, noise: torch.Tensor | None,
                   eta: float = 1.0) -> torch.Tensor:
    """DDPM-equivalent reverse step σ → σ' (k-diffusion ``get_ancestral_step``; η = 1 is DDPM, η = 0 DDIM).

    ``σ_up = min(σ', η·sqrt(σ'²(σ² − σ'²)/σ²))``, ``σ_down = sqrt(σ'² − σ_up²)``,
    ``x' = x̂0 + (σ_down/σ)(x − x̂0) + σ_up·z``.
    """
    if sigma_next <= 0:
        return x0
    up = min(sigma_next, eta * (sigma_next**2 * (sigma**2 - sigma_next**2) / sigma**2) ** 0.5)
    down = (sigma_next**2 - up**2) ** 0.5
    out = x0 + (down / sigma) * (x - x0)
    if up > 0:
        if noise is None:
            raise ValueError("an ancestral step with eta > 0 needs noise")
        out = out + up * noise
    return out


def forward_jump(x: torch.Tensor, sigma_from: float, sigma_to: float, noise: torch.Tensor) -> torch.Tensor:
    """Forward (re-noising) kernel ``q(x_{σ_to} | x_{σ_from})``: ``x + sqrt(σ_to² − σ_from²)·ε``."""
    if sigma_to < sigma_from:
        raise ValueError(f"a forward jump must increase sigma ({sigma_from} -> {sigma_to})")
    return x + (sigma_to**2 - sigma_from**2) ** 0.5 * noise


def inject_known(x: torch.Tensor, mask, known_at: Callable, noise: Callable, sigma) -> torch.Tensor:
    """``k⊙known_at(σ, ε) + u⊙x`` at the end of a run (``known_at(0, ·) = y``): the known region a run
    returns, at the noise level of its last σ, as ComfyUI's core inpainting leaves it."""
    m = mask(sigma) if callable(mask) else mask
    return (1.0 - m) * known_at(sigma, noise(sigma, None)) + m * x


# ---------------------------------------------------------------------------------------------
# Rectified flow (ComfyUI's CONST model_sampling) <-> VE: the one conversion of the package
# ---------------------------------------------------------------------------------------------
FLOW_SIGMA_CAP = 1.0 - 1e-4
"""Flow σ = 1 is pure noise, where ``x_VE = x/(1 − σ)`` is undefined; conversions use ``min(σ, cap)``.
The cap changes the VE level seen by a model at σ = 1 from ∞ to 1e4, where every denoiser already
returns its unconditional mean."""


def flow_sigma(s):
    """Flow σ capped below 1 (a float or a tensor)."""
    return s.clamp_max(FLOW_SIGMA_CAP) if torch.is_tensor(s) else min(float(s), FLOW_SIGMA_CAP)


def flow_to_ve_sigma(s):
    """``σ_VE = s/(1 − s)`` for a flow level ``s`` (capped, :data:`FLOW_SIGMA_CAP`)."""
    s = flow_sigma(s)
    return s / (1.0 - s)


def ve_to_flow_sigma(s_ve):
    """``s = σ_VE/(1 + σ_VE)``, the inverse of :func:`flow_to_ve_sigma`."""
    return s_ve / (1.0 + s_ve)


def _per_item(s, x: torch.Tensor):
    return s.reshape(-1, *([1] * (x.ndim - 1))).to(x) if torch.is_tensor(s) else s


def flow_to_ve(x: torch.Tensor, s) -> torch.Tensor:
    """``x_VE = x/(1 − s)`` (``s`` a float or a per-item tensor; capped)."""
    return x / (1.0 - _per_item(flow_sigma(s), x))


def ve_to_flow(x_ve: torch.Tensor, s) -> torch.Tensor:
    """``x = (1 − s)·x_VE``, the inverse of :func:`flow_to_ve` at the same flow level ``s`` (capped)."""
    return x_ve * (1.0 - _per_item(flow_sigma(s), x_ve))
