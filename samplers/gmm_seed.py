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

import math
from dataclasses import dataclass
from typing import Callable

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


Check = Callable[[], None]  # called between iterations; raises to stop (ComfyUI's interrupt)
CHUNK = 1 << 15  # points per E-step chunk: the fit's memory is O(CHUNK·K·C), whatever max_points is
INIT_POINTS = 20_000  # k-means++ and its Lloyd steps see at most this many points (initialisation only)


def _nothing() -> None:
    pass


def _kmeans_pp(x: torch.Tensor, k: int, g: torch.Generator, lloyd: int = 5, check: Check = _nothing) -> torch.Tensor:
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
        check()
        lab = torch.cdist(x, c).argmin(1)
        for j in range(k):
            sel = lab == j
            if sel.any():
                c[j] = x[sel].mean(0)
    return c


def _moments(x: torch.Tensor, resp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sufficient statistics of one chunk: ``Σ r [K]``, ``Σ r x [K, C]``, ``Σ r x xᵀ [K, C, C]``."""
    return resp.sum(0), resp.T @ x, torch.einsum("nk,ni,nj->kij", resp, x, x)


def _params(stats, n: int, reg: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """M step from accumulated statistics: weights, means and (regularised) covariances."""
    nk, sx, sxx = stats
    nk = nk + 10 * torch.finfo(nk.dtype).eps
    means = sx / nk[:, None]
    covs = sxx / nk[:, None, None] - means[:, :, None] * means[:, None, :]
    covs = 0.5 * (covs + covs.transpose(1, 2)) + reg * torch.eye(sx.shape[1], dtype=sx.dtype)
    return nk / n, means, covs


def _add(acc, part):
    return part if acc is None else tuple(a + b for a, b in zip(acc, part))


def _em(x: torch.Tensor, k: int, g: torch.Generator, iters: int = 100, tol: float = 1e-3,
        reg: float = 1e-5, check: Check = _nothing) -> GMM:
    """EM for a full-covariance Gaussian mixture (float64), k-means++ initialised -- the model and
    initialisation of scikit-learn's ``GaussianMixture(covariance_type="full", init_params="k-means++")``.

    The E step runs over chunks of :data:`CHUNK` points and the M step works from accumulated sufficient
    statistics, so memory does not grow with the number of points; ``check`` runs between chunks."""
    n, c = x.shape
    init = x if n <= INIT_POINTS else x[torch.randperm(n, generator=g)[:INIT_POINTS]]
    centers = _kmeans_pp(init, k, g, check=check)
    stats = None
    for i in range(0, n, CHUNK):
        check()
        xc = x[i:i + CHUNK]
        stats = _add(stats, _moments(xc, torch.nn.functional.one_hot(torch.cdist(xc, centers).argmin(1), k).to(x.dtype)))
    weights, means, covs = _params(stats, n, reg)
    prev = -float("inf")
    for _ in range(iters):
        chol = torch.linalg.cholesky(covs)
        logdet = 2 * torch.log(torch.diagonal(chol, dim1=1, dim2=2)).sum(1)
        const = weights.log() - 0.5 * (logdet + c * math.log(2 * math.pi))
        stats, ll = None, 0.0
        for i in range(0, n, CHUNK):
            check()
            xc = x[i:i + CHUNK]
            sol = torch.linalg.solve_triangular(chol, (xc[None] - means[:, None]).transpose(1, 2), upper=False)
            logp = const[:, None] - 0.5 * (sol**2).sum(1)  # [k, chunk]
            lse = torch.logsumexp(logp, 0)
            ll += float(lse.sum())
            stats = _add(stats, _moments(xc, torch.exp(logp - lse).T))
        weights, means, covs = _params(stats, n, reg)
        ll /= n
        if abs(ll - prev) < tol:
            break
        prev = ll
    return GMM(weights, means, covs)


def fit_gmm(points: torch.Tensor, components: int = 5, max_points: int = 2000, seed: int = 0,
            backend: str = "torch", check: Check = _nothing) -> GMM:
    """Fit a full-covariance GMM (k-means++ init) to ``points [N, C]``, subsampled to ``max_points``.

    ``backend="torch"`` (default) runs the EM above (fast, no thread-pool start-up, bounded memory,
    interruptible through ``check``); ``"sklearn"`` uses ``sklearn.mixture.GaussianMixture`` with the
    same settings (a test checks they agree).
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
        return _em(data, k, g, check=check)
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
    """Up to ``max_points`` known vectors of ``x [C, *spatial]`` (``m [*spatial] < threshold``): all of
    them when there are at most ``max_points``, else a uniform random subset drawn without replacement.
    Memory is bounded by the image size, whatever ``max_points`` says."""
    c = x.shape[0]
    idx = (m.reshape(-1) < threshold).nonzero().reshape(-1).cpu()
    if idx.numel() > max_points:
        idx = idx[torch.randperm(idx.numel(), generator=g)[:max_points]]
    return x.reshape(c, -1)[:, idx.to(x.device)].T.float().cpu()


def fit_known(x: torch.Tensor, mask: torch.Tensor, components: int = 5, max_points: int = 2000, seed: int = 0,
              threshold: float = 0.5, check: Check = _nothing) -> list[GMM | None]:
    """One mixture per batch item of ``x [B, C, *spatial]`` (images ``[B, C, H, W]``, video
    ``[B, C, T, H, W]``: time is one more axis of positions), fitted to the positions with
    ``mask [B|1, 1, *spatial] < threshold``; ``None`` for an item with no such position.

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
        fits.append(fit_gmm(pts, components, max_points, rng.derive_seed(seed, "gmm/item"), check=check)
                    if pts.shape[0] else None)
    return fits


def fill(x: torch.Tensor, mask: torch.Tensor, fits: list[GMM | None], seed: int = 0, noise_blend: float = 0.0,
         items: list[int] | None = None) -> torch.Tensor:
    """``x_init = (1 − m)·x + m·s`` with ``s`` drawn at every position with ``m > 0`` from each item's
    mixture, from the stream of its item index (``items[i]``, default ``i``; ComfyUI's ``batch_index``,
    so an item taken out of a batch with its index draws what it drew in the batch). An item without a
    fit (nothing known) draws standard normal noise: the usual start."""
    b, c = x.shape[:2]
    out = x.detach().clone().float()
    for i in range(b):
        m = mask[min(i, mask.shape[0] - 1), 0].to(out.device).float()
        sel = m.reshape(-1) > 0
        if not bool(sel.any()):  # nothing to fill in this item
            continue
        g = rng.generator(seed, "gmm/fill", i if items is None else int(items[i]))
        n = int(sel.sum())
        s = fits[i].sample(n, g) if fits[i] is not None else torch.randn(n, c, generator=g)
        if noise_blend > 0:
            s = (1 - noise_blend) * s + noise_blend * torch.randn(s.shape, generator=g)
        flat = out[i].reshape(c, -1)
        mv = m.reshape(-1)[sel]
        flat[:, sel] = (1 - mv) * flat[:, sel] + mv * s.T.to(out.device)
    return out.to(x.dtype)


def gmm_seed(x: torch.Tensor, mask: torch.Tensor, components: int = 5, max_points: int = 2000, seed: int = 0,
             noise_blend: float = 0.0, threshold: float = 0.5, items: list[int] | None = None,
             check: Check = _nothing) -> tuple[torch.Tensor, list[GMM | None]]:
    """Fill the hole of ``x [B, C, *spatial]`` with draws from a GMM fitted to its known positions.

    ``mask [B|1, 1, *spatial]``: 1 = hole; positions with ``mask < threshold`` are the known set the
    mixture is fitted to; soft masks blend (``x_init = (1 − m)·x + m·s``). ``noise_blend`` b mixes the
    draws with standard normal noise, ``s ← (1 − b)·s + b·ε`` (b = 1: the usual pure-noise start).
    Each batch item gets its own fit and its own draws (named streams of ``seed``, :mod:`samplers.noise`;
    ``items`` the items' batch indices). ``check`` is called between fitting iterations (interrupts).
    Returns ``(x_init, fits)``.
    """
    fits = fit_known(x, mask, components, max_points, seed, threshold, check)
    return fill(x, mask, fits, seed, noise_blend, items), fits
