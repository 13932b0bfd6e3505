"""DPS: Diffusion Posterior Sampling (Chung et al., ICLR 2023), inpainting operator ``A(x) = k⊙x``.

k-diffusion form (docs/derivations.md §5):
    x_{i+1} = AncestralStep(x_i, D(x_i, σ_i)) − ζ · ∇_{x_i} ‖k⊙(y − D(x_i, σ_i))‖₂
with the gradient of the *un-squared* norm per sample, as the official code does. The known region
is not pasted back: DPS only pulls towards it (the bench reports how far it stays).
"""
from __future__ import annotations

from typing import Callable

import torch

from .ve import ancestral_step

# denoise_grad(x, σ, loss_fn) -> (x0, ∇_x loss_fn(x0))
GradDenoiser = Callable[[torch.Tensor, float, Callable[[torch.Tensor], torch.Tensor]], tuple[torch.Tensor, torch.Tensor]]


def residual_norm(y: torch.Tensor, known: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """``x0 ↦ Σ_b ‖k⊙(y − x0_b)‖₂`` (per-sample norms summed, so each sample gets its own gradient)."""

    def loss(x0: torch.Tensor) -> torch.Tensor:
        # clones: the constants may be inference-mode tensors, which autograd cannot save
        r = (known.clone() * (y.clone() - x0)).flatten(1)
        return r.norm(dim=1).sum()

    return loss


def sample_dps(denoise_grad: GradDenoiser, x: torch.Tensor, sigmas: list[float], y: torch.Tensor,
               mask, noise: Callable[..., torch.Tensor], scale: float = 1.0, eta: float = 1.0,
               callback: Callable[[dict], None] | None = None) -> torch.Tensor:
    """DPS in VE σ-space; ``mask`` = 1 on the hole (tensor or ``σ ↦ mask``); one gradient evaluation per step."""
    for i in range(len(sigmas) - 1):
        s, s_next = float(sigmas[i]), float(sigmas[i + 1])
        loss = residual_norm(y, 1.0 - (mask(s) if callable(mask) else mask))
        x0, grad = denoise_grad(x, s, loss)
        x_next = ancestral_step(x, x0, s, s_next, noise(s, s_next) if s_next > 0 else None, eta)
        x = x_next - scale * grad if s_next > 0 else x_next
        if callback is not None:
            callback({"x": x, "i": i, "sigma": s, "sigma_hat": s, "denoised": x0})
    return x
