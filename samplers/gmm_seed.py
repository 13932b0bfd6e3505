"""IS-Diff primary seed (Lyu, Wu, Lin, Du, arXiv 2509.11638, §III-B; docs/derivations.md §4).

A Gaussian mixture ``p(x) = Σ_c π_c N(x | µ_c, Σ_c)`` is fitted to the known pixels (RGB) or the
known latent vectors (C-dimensional, mask at latent resolution); the hole is filled with i.i.d.
per-position draws, ``x_init = k⊙y + u⊙s``. The sampler then noises ``x_init`` to its start σ
(eq. 7: the forward marginal), SDEdit-style, instead of starting from pure noise.

Fitting is EM for a full-covariance mixture with k-means++ initialisation -- scikit-learn's
``GaussianMixture(covariance_type="full", init_params="k-means++")``, reimplemented in torch for speed
(a test checks both give the same fit quality) -- on at most ``max_points`` known positions drawn
with a seeded generator. Masks: 1 = hole.
"""
from __future__ import annotations

from dataclasses import dataclass

import math

import numpy as np
import torch

from . import noise as rng


@dataclass
class GMM:
    """A fitted mixture over C-dimensional vectors: ``weights [K]``, ``means [K, C]``, ``covs [K, C, C]``."""

    weights: torch.Tensor
    means: torch.Tensor
    covs: torch.Tensor

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` i.i.d. draws ``[n, C]`` (float32): component counts, then ``µ_c + ε·L_cᵀ`` per component."""
        c = self.means.shape[1]
        chol = torch.linalg.cholesky(self.covs + 1e-6 * torch.eye(c, dtype=self.covs.dtype)).float()
        comp = torch.multinomial(self.weights.float(), n, replacement=True, generator=generator)
        eps = torch.randn(n, c, generator=generator)
        out = torch.empty(n, c)
        for k in range(self.weights.shape[0]):
            sel = comp == k
            out[sel] = self.means[k].float() + eps[sel] @ chol[k].T
        return out


def _kmeans_pp(x: torch.Tensor, k: int, g: torch.Generator, lloyd: int = 5) -> torch.Tensor:
    """k-means++ seeding (Arthur & Vassilvitskii 2007) followed by a few Lloyd iterations: ``[k, C]``."""
    n = x.shape[0]
    centers = [x[int(torch.randint(0, n, (1,), generator=g))]]
    d2 = ((x - centers[0]) ** 2).sum(1)
    for _ in range(1, k):
        p = d2 / d2.sum() if float(d2.sum()) > 0 else torch.full_like(d2, 1.0 / n)
        centers.append(x[int(torch.multinomial(p, 1, generator=g))])
        d2 = torch.minimum(d2, ((x - centers[-1]) ** 2).sum(1))
    c = torch.stack(centers)
    for _ in range(lloyd):
        lab = torch.cdist(x, c).argmin(1)
        for j in range(k):
            sel = lab == j
            if sel.any():
                c[j] = x[sel].mean(0)
    return c


def _em(x: torch.Tensor, k: int, g: torch.Generator, iters: int = 100, tol: float = 1e-3,
        reg: float = 1e-5) -> GMM:
    """EM for a full-covariance Gaussian mixture (float64), k-means++ initialised -- the model and
    initialisation of scikit-learn's ``GaussianMixture(covariance_type="full", init_params="k-means++")``."""
    n, c = x.shape
    eye = torch.eye(c, dtype=x.dtype)
    resp = torch.nn.functional.one_hot(torch.cdist(x, _kmeans_pp(x, k, g)).argmin(1), k).to(x.dtype)
    prev = -float("inf")
    for _ in range(iters):
        nk = resp.sum(0) + 10 * torch.finfo(x.dtype).eps  # M step
        means = (resp.T @ x) / nk[:, None]
        diff = x[None] - means[:, None]  # [k, n, c]
        covs = torch.einsum("kn,kni,knj->kij", resp.T, diff, diff) / nk[:, None, None] + reg * eye
        weights = nk / n
        chol = torch.linalg.cholesky(covs)  # E step
        sol = torch.linalg.solve_triangular(chol, diff.transpose(1, 2), upper=False)  # [k, c, n]
        logdet = 2 * torch.log(torch.diagonal(chol, dim1=1, dim2=2)).sum(1)
        logp = (weights.log() - 0.5 * (logdet + c * math.log(2 * math.pi)))[:, None] - 0.5 * (sol**2).sum(1)
        lse = torch.logsumexp(logp, 0)
        resp = torch.exp(logp - lse).T
        ll = float(lse.mean())
        if abs(ll - prev) < tol:
            break
        prev = ll
    return GMM(weights, means, covs)


def fit_gmm(points: torch.Tensor, components: int = 5, max_points: int = 2000, seed: int = 0,
            backend: str = "torch") -> GMM:
    """Fit a full-covariance GMM (k-means++ init) to ``points [N, C]``, subsampled to ``max_points``.

    ``backend="torch"`` (default) runs the EM above (fast, no thread-pool start-up); ``"sklearn"`` uses
    ``sklearn.mixture.GaussianMixture`` with the same settings (a test checks they agree).
    """
    n = points.shape[0]
    if n == 0:
        raise ValueError("no known positions to fit the seed to (the mask covers everything)")
    g = rng.generator(seed, "gmm/fit")
    if n > max_points:
        points = points[torch.randperm(n, generator=g)[:max_points]]
    k = max(1, min(components, points.shape[0]))
    data = points.double().cpu()
    if backend == "torch":
        return _em(data, k, g)
    if backend != "sklearn":
        raise ValueError(f"backend must be 'torch' or 'sklearn', got {backend!r}")
    from sklearn.mixture import GaussianMixture

    gm = GaussianMixture(n_components=k, covariance_type="full", init_params="k-means++", random_state=rng.derive_seed(seed, "gmm/fit") % 2**32,
                         reg_covar=1e-5, max_iter=100, tol=1e-3)
    gm.fit(data.numpy())
    return GMM(torch.from_numpy(gm.weights_.astype(np.float64)), torch.from_numpy(gm.means_),
               torch.from_numpy(gm.covariances_))


def known_points(x: torch.Tensor, m: torch.Tensor, max_points: int, g: torch.Generator,
                 threshold: float = 0.5) -> torch.Tensor:
    """Up to ``max_points`` known vectors of ``x [C, H, W]`` (``m [H, W] < threshold``), drawn uniformly
    at random by rejection from random positions (cost independent of the image size)."""
    c = x.shape[0]
    flat_m = m.reshape(-1)
    hw = flat_m.numel()
    idx = torch.randint(0, hw, (4 * max_points,), generator=g)
    idx = idx[(flat_m[idx.to(flat_m.device)] < threshold).cpu()][:max_points]
    if idx.numel() < max_points:  # few known positions: take them all
        idx = (flat_m < threshold).nonzero().reshape(-1).cpu()
    return x.reshape(c, -1)[:, idx.to(x.device)].T.float().cpu()


def fit_known(x: torch.Tensor, mask: torch.Tensor, components: int = 5, max_points: int = 2000, seed: int = 0,
              threshold: float = 0.5) -> list[GMM]:
    """One mixture per batch item of ``x [B, C, H, W]``, fitted to the positions with ``mask < threshold``.

    The fit's randomness (subsample, initialisation) is one stream of ``seed`` for every item, so an
    item's fit depends only on its own data: items that are copies share one fit, and an item fitted
    alone gets the fit it gets in a batch."""
    fits = []
    for i in range(x.shape[0]):
        m = mask[min(i, mask.shape[0] - 1), 0]
        if i > 0 and torch.equal(x[i], x[0]) and torch.equal(m, mask[0, 0]):
            fits.append(fits[0])  # the same known region (a batch of copies): one fit serves all
            continue
        pts = known_points(x[i].detach(), m, max_points, rng.generator(seed, "gmm/points"), threshold)
        fits.append(fit_gmm(pts, components, max_points, rng.derive_seed(seed, "gmm/item")))
    return fits


def fill(x: torch.Tensor, mask: torch.Tensor, fits: list[GMM], seed: int = 0, noise_blend: float = 0.0,
         items: list[int] | None = None) -> torch.Tensor:
    """``x_init = (1 − m)·x + m·s`` with ``s`` drawn at every position with ``m > 0`` from each item's
    mixture, from the stream of its item index (``items[i]``, default ``i``; ComfyUI's ``batch_index``,
    so an item taken out of a batch with its index draws what it drew in the batch)."""
    b, c, h, w = x.shape
    out = x.detach().clone().float()
    for i in range(b):
        m = mask[min(i, mask.shape[0] - 1), 0].to(out.device).float()
        sel = m.reshape(-1) > 0
        if not bool(sel.any()):  # nothing to fill in this item
            continue
        g = rng.generator(seed, "gmm/fill", i if items is None else int(items[i]))
        s = fits[i].sample(int(sel.sum()), g)
        if noise_blend > 0:
            s = (1 - noise_blend) * s + noise_blend * torch.randn(s.shape, generator=g)
        flat = out[i].reshape(c, -1)
        mv = m.reshape(-1)[sel]
        flat[:, sel] = (1 - mv) * flat[:, sel] + mv * s.T.to(out.device)
    return out.to(x.dtype)


def gmm_seed(x: torch.Tensor, mask: torch.Tensor, components: int = 5, max_points: int = 2000, seed: int = 0,
             noise_blend: float = 0.0, threshold: float = 0.5, items: list[int] | None = None
             ) -> tuple[torch.Tensor, list[GMM]]:
    """Fill the hole of ``x [B, C, H, W]`` with draws from a GMM fitted to its known positions.

    ``mask [B|1, 1, H, W]``: 1 = hole; positions with ``mask < threshold`` are the known set the
    mixture is fitted to; soft masks blend (``x_init = (1 − m)·x + m·s``). ``noise_blend`` b mixes the
    draws with standard normal noise, ``s ← (1 − b)·s + b·ε`` (b = 1: the usual pure-noise start).
    Each batch item gets its own fit and its own draws (named streams of ``seed``, :mod:`samplers.noise`;
    ``items`` the items' batch indices). Returns ``(x_init, fits)``.
    """
    fits = fit_known(x, mask, components, max_points, seed, threshold)
    return fill(x, mask, fits, seed, noise_blend, items), fits
