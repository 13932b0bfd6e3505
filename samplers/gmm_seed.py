"""IS-Diff primary seed (Lyu, Wu, Lin, Du, arXiv 2509.11638, §III-B; algorithms.md §3.1-3.2).

A Gaussian mixture ``p(x) = Σ_c π_c N(x | µ_c, Σ_c)`` is fitted to the known pixels (RGB) or the
known latent vectors (C-dimensional, mask at latent resolution); the hole is filled with i.i.d.
per-position draws, ``x_init = k⊙y + u⊙s``. The sampler then noises ``x_init`` to its start σ
(eq. 7: the forward marginal), SDEdit-style, instead of starting from pure noise.

Fitting uses scikit-learn's ``GaussianMixture`` (full covariances, k-means++ initialisation) on at
most ``max_points`` known positions drawn with a seeded generator; draws use torch. Masks: 1 = hole.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class GMM:
    """A fitted mixture over C-dimensional vectors: ``weights [K]``, ``means [K, C]``, ``covs [K, C, C]``."""

    weights: torch.Tensor
    means: torch.Tensor
    covs: torch.Tensor

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` i.i.d. draws ``[n, C]`` (float32)."""
        comp = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        chol = torch.linalg.cholesky(self.covs + 1e-6 * torch.eye(self.means.shape[1], dtype=self.covs.dtype))
        eps = torch.randn(n, self.means.shape[1], generator=generator, dtype=self.covs.dtype)
        return (self.means[comp] + torch.einsum("nij,nj->ni", chol[comp], eps)).float()


def fit_gmm(points: torch.Tensor, components: int = 5, max_points: int = 20000, seed: int = 0) -> GMM:
    """Fit a full-covariance GMM (k-means++ init) to ``points [N, C]``, subsampled to ``max_points``."""
    from sklearn.mixture import GaussianMixture

    n = points.shape[0]
    if n == 0:
        raise ValueError("no known positions to fit the seed to (the mask covers everything)")
    g = torch.Generator().manual_seed(seed)
    if n > max_points:
        points = points[torch.randperm(n, generator=g)[:max_points]]
    k = max(1, min(components, points.shape[0]))
    data = points.double().cpu().numpy()
    gm = GaussianMixture(n_components=k, covariance_type="full", init_params="k-means++", random_state=seed,
                         reg_covar=1e-5, max_iter=100, tol=1e-3)
    gm.fit(data)
    return GMM(torch.from_numpy(gm.weights_.astype(np.float64)), torch.from_numpy(gm.means_),
               torch.from_numpy(gm.covariances_))


def fit_known(x: torch.Tensor, mask: torch.Tensor, components: int = 5, max_points: int = 20000, seed: int = 0,
              threshold: float = 0.5) -> list[GMM]:
    """One mixture per batch item of ``x [B, C, H, W]``, fitted to the positions with ``mask < threshold``."""
    fits = []
    for i in range(x.shape[0]):
        m = mask[min(i, mask.shape[0] - 1), 0]
        vecs = x[i].detach().float().reshape(x.shape[1], -1).T.cpu()  # [H·W, C]
        fits.append(fit_gmm(vecs[(m.reshape(-1) < threshold).cpu()], components, max_points, seed + i))
    return fits


def fill(x: torch.Tensor, mask: torch.Tensor, fits: list[GMM], seed: int = 0, noise_blend: float = 0.0) -> torch.Tensor:
    """``x_init = (1 − m)·x + m·s`` with ``s`` drawn per position from each item's mixture (seeded per item)."""
    b, c, h, w = x.shape
    out = x.detach().clone().float()
    for i in range(b):
        m = mask[min(i, mask.shape[0] - 1), 0].to(out.device).float()
        g = torch.Generator().manual_seed(seed + i + 104729)
        s = fits[i].sample(h * w, g)
        if noise_blend > 0:
            s = (1 - noise_blend) * s + noise_blend * torch.randn(s.shape, generator=g)
        out[i] = (1 - m) * out[i] + m * s.T.reshape(c, h, w).to(out.device)
    return out.to(x.dtype)


def gmm_seed(x: torch.Tensor, mask: torch.Tensor, components: int = 5, max_points: int = 20000, seed: int = 0,
             noise_blend: float = 0.0, threshold: float = 0.5) -> tuple[torch.Tensor, list[GMM]]:
    """Fill the hole of ``x [B, C, H, W]`` with draws from a GMM fitted to its known positions.

    ``mask [B|1, 1, H, W]``: 1 = hole; positions with ``mask < threshold`` are the known set the
    mixture is fitted to; soft masks blend (``x_init = (1 − m)·x + m·s``). ``noise_blend`` b mixes the
    draws with standard normal noise, ``s ← (1 − b)·s + b·ε`` (b = 1: the usual pure-noise start).
    Each batch item gets its own fit and its own generator (``seed + item``). Returns ``(x_init, fits)``.
    """
    fits = fit_known(x, mask, components, max_points, seed, threshold)
    return fill(x, mask, fits, seed, noise_blend), fits
