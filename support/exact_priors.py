"""Priors whose truth is known exactly: denoisers and inpainting posteriors in closed form.

Two families, both distributions over flattened vectors ``x0 ∈ R^d`` (an image or latent
``[C, H, W]`` flattened in C-order):

* :class:`LinearGaussianPrior` -- the RePaint+ setting (Rout et al., arXiv 2302.01217, Assumption 1):
  ``x0 = mu + s · A z`` with ``z ~ N(0, I_k)`` and ``AᵀA = I_k`` (orthonormal columns).
* :class:`GaussianMixturePrior` -- ``Σ_j π_j N(mu_j, U_j U_jᵀ + τ² I)``: low-rank components plus a
  small isotropic floor, so every component is full rank and every mask has a proper posterior.

Both work in the variance-exploding (VE, k-diffusion) convention ``x = x0 + σ ε``. The exact
denoiser is ``D(x, σ) = E[x0 | x]``; the exact inpainting posterior is ``p(x0 | x0[k] = y[k])`` for a
binary known-mask ``k`` (1 = observed). ComfyUI's ``noise_mask`` is the opposite (1 = regenerate).

Everything is computed in float64; callers cast. Randomness is always passed in as a
``torch.Generator``. No ComfyUI import here: this module is shared by the tests and the bench.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = [
    "GaussianMixture",
    "LinearGaussianPrior",
    "GaussianMixturePrior",
    "make_linear_gaussian",
    "make_gaussian_mixture",
    "make_hole_mixture",
]

_F = torch.float64


def _sym_eigh(c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigendecomposition of a symmetric PSD matrix with eigenvalues clipped at 0 (round-off)."""
    lam, v = torch.linalg.eigh(0.5 * (c + c.T))
    return lam.clamp_min(0.0), v


@dataclass
class GaussianMixture:
    """A Gaussian mixture over R^d with (possibly singular) full covariances.

    ``weights [K]``, ``means [K, d]``, ``covs [K, d, d]``. Used for exact posteriors; sampling uses
    an eigendecomposition so singular covariances (point masses on known coordinates, the
    degenerate linear-Gaussian posterior) are fine.
    """

    weights: torch.Tensor
    means: torch.Tensor
    covs: torch.Tensor

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def mean(self) -> torch.Tensor:
        return (self.weights[:, None] * self.means).sum(0)

    def covariance(self) -> torch.Tensor:
        m = self.mean()
        dm = self.means - m
        return (self.weights[:, None, None] * (self.covs + dm[:, :, None] * dm[:, None, :])).sum(0)

    def assign(self, samples: torch.Tensor, coords: torch.Tensor | None = None) -> torch.Tensor:
        """Most probable component of each sample ``[N, d]``, scored on ``coords`` (default: all).

        Pass the unknown coordinates for a posterior (its covariance is singular on the known ones).
        """
        sel = torch.ones(self.dim, dtype=torch.bool) if coords is None else coords.reshape(-1).bool()
        x = samples.to(_F).reshape(samples.shape[0], -1)[:, sel]
        scores = []
        for j in range(self.weights.shape[0]):
            c = self.covs[j][sel][:, sel]
            lam, v = _sym_eigh(c)
            lam = lam.clamp_min(lam.max() * 1e-12 + 1e-300)
            proj = (x - self.means[j][sel]) @ v
            scores.append(self.weights[j].log() - 0.5 * ((proj**2 / lam).sum(1) + lam.log().sum()))
        return torch.stack(scores, 1).argmax(1)

    def log_prob(self, samples: torch.Tensor, coords: torch.Tensor | None = None) -> torch.Tensor:
        """``log p(x[coords])`` of each sample ``[N, d]`` under the mixture's marginal on ``coords`` (default:
        all). Pass the unknown coordinates for a posterior (its covariance is singular on the known ones)."""
        sel = torch.ones(self.dim, dtype=torch.bool) if coords is None else coords.reshape(-1).bool()
        x = samples.to(_F).reshape(samples.shape[0], -1)[:, sel]
        out = []
        for j in range(self.weights.shape[0]):
            if self.weights[j] <= 0:
                continue
            chol = torch.linalg.cholesky(self.covs[j][sel][:, sel])
            r = torch.linalg.solve_triangular(chol, (x - self.means[j][sel]).T, upper=False)
            out.append(self.weights[j].log() - 0.5 * (r**2).sum(0) - chol.diagonal().log().sum()
                       - 0.5 * int(sel.sum()) * math.log(2 * math.pi))
        return torch.logsumexp(torch.stack(out, 1), 1)

    def marginal_std(self) -> torch.Tensor:
        """Per-coordinate standard deviation of the mixture ``[d]`` (0 on point-mass coordinates)."""
        return self.covariance().diagonal().clamp_min(0).sqrt()

    def sample(self, n: int, generator: torch.Generator | None = None, return_components: bool = False):
        """Draw ``n`` samples ``[n, d]`` (and their component indices if asked)."""
        comp = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        eps = torch.randn(n, self.dim, dtype=_F, generator=generator)
        out = torch.empty(n, self.dim, dtype=_F)
        for j in range(self.weights.shape[0]):
            sel = comp == j
            if sel.any():
                lam, v = _sym_eigh(self.covs[j])
                root = v * lam.sqrt()[None, :]
                out[sel] = self.means[j] + eps[sel] @ root.T
        return (out, comp) if return_components else out


class GaussianMixturePrior:
    """``p(x0) = Σ_j π_j N(x0; mu_j, C_j)`` with ``C_j = U_j U_jᵀ + τ² I``.

    The exact VE denoiser (Tweedie's formula for a Gaussian mixture)::

        w_j(x, σ) ∝ π_j N(x; mu_j, C_j + σ² I)
        D(x, σ)   = Σ_j w_j(x, σ) [mu_j + C_j (C_j + σ² I)⁻¹ (x − mu_j)]

    is evaluated through one eigendecomposition per component, precomputed once.
    """

    def __init__(self, weights: torch.Tensor, means: torch.Tensor, covs: torch.Tensor, shape=None):
        self.weights = (weights / weights.sum()).to(_F)
        self.means = means.to(_F)
        self.covs = covs.to(_F)
        k, d = self.means.shape
        if self.covs.shape != (k, d, d) or self.weights.shape != (k,):
            raise ValueError("weights [K], means [K, d] and covs [K, d, d] must agree")
        self.shape = tuple(shape) if shape is not None else (d,)
        if math.prod(self.shape) != d:
            raise ValueError(f"shape {self.shape} does not hold d={d} values")
        eig = [_sym_eigh(c) for c in self.covs]
        self._lam = torch.stack([e[0] for e in eig])  # [K, d]
        self._v = torch.stack([e[1] for e in eig])  # [K, d, d]

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    @property
    def num_components(self) -> int:
        return self.weights.shape[0]

    def as_mixture(self) -> GaussianMixture:
        return GaussianMixture(self.weights, self.means, self.covs)

    def sample(self, n: int, generator: torch.Generator | None = None, return_components: bool = False):
        return self.as_mixture().sample(n, generator, return_components)

    def data_std(self) -> float:
        """Root-mean-square per-coordinate standard deviation of the prior (a scalar 'σ_data')."""
        return float(self.as_mixture().covariance().diagonal().mean().sqrt())

    def denoise(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """Exact ``E[x0 | x0 + σ ε = x]`` for ``x [B, d]``, ``sigma [B]`` (σ ≥ 0)."""
        x64, s = x.to(_F), sigma.to(_F).reshape(-1)
        if s.numel() == 1 and x64.shape[0] != 1:
            s = s.expand(x64.shape[0])
        lam = self._lam[None] + s.reshape(-1, 1, 1) ** 2  # [B, K, d]
        r = x64[:, None, :] - self.means[None]
        proj = torch.einsum("bkd,kde->bke", r, self._v)
        gain = torch.where(lam > 0, self._lam[None] / lam.clamp_min(1e-300), torch.ones_like(lam))
        comp_mean = self.means[None] + torch.einsum("bke,kde->bkd", gain * proj, self._v)
        # responsibilities with the same eigen quantities
        maha = (proj**2 / lam.clamp_min(1e-300)).sum(-1)
        logp = self.weights.log()[None] - 0.5 * (maha + lam.clamp_min(1e-300).log().sum(-1))
        w = torch.softmax(logp, dim=-1)
        return (w[:, :, None] * comp_mean).sum(1)

    def known_log_likelihood(self, x: torch.Tensor, sigma: float, y: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        """``log p(x0[known] = y[known] | x0 + σ·ε = x)`` for each ``x [B, d]`` (σ > 0): the denoising posterior
        ``p(x0 | x) = Σ_j w_j(x, σ) N(m_j(x), σ² C_j (C_j + σ² I)⁻¹)`` on the known coordinates, at ``y``.
        Differentiable in ``x``: ``σ² ∇_{x_hole}`` of it is what a plain prediction at ``x`` leaves out of the exact
        conditional denoiser (tests/core/test_repaint_plus_mixture_limit.py)."""
        kn = known.reshape(-1).to(torch.bool)
        x, y = x.to(_F), y.to(_F).reshape(-1)
        eye = torch.eye(self.dim, dtype=_F)
        joint, marg = [], []
        for j in range(self.num_components):
            mu, c = self.means[j], self.covs[j]
            noisy = c + sigma**2 * eye
            gain = torch.linalg.solve(noisy, c)  # (C + σ²)⁻¹ C; its transpose C (C + σ²)⁻¹ is the denoiser's gain
            post = sigma**2 * gain
            post = 0.5 * (post + post.T)
            lp = torch.distributions.MultivariateNormal(mu, noisy).log_prob(x) + self.weights[j].log()
            m_k = (mu + (x - mu) @ gain)[:, kn]
            lik = torch.distributions.MultivariateNormal(m_k, post[kn][:, kn]).log_prob(y[kn].expand_as(m_k))
            joint.append(lp + lik)
            marg.append(lp)
        return torch.stack(joint, -1).logsumexp(-1) - torch.stack(marg, -1).logsumexp(-1)

    def posterior(self, y: torch.Tensor, known: torch.Tensor) -> GaussianMixture:
        """Exact ``p(x0 | x0[known] = y[known])`` as a mixture over the full vector.

        ``y [d]`` (values off the known set are ignored), ``known [d]`` boolean or {0, 1}.
        Known coordinates are a point mass at ``y``; unknown ones follow the Gaussian conditional of
        each component, with weights re-scored by the marginal likelihood of the observation.
        """
        y = y.to(_F).reshape(-1)
        kn = known.reshape(-1).to(torch.bool)
        if kn.numel() != self.dim:
            raise ValueError(f"known mask has {kn.numel()} entries, prior has d={self.dim}")
        un = ~kn
        if not kn.any():
            return self.as_mixture()
        yk = y[kn]
        logw, means, covs = [], [], []
        for j in range(self.num_components):
            mu, c = self.means[j], self.covs[j]
            ckk, cuk, cuu = c[kn][:, kn], c[un][:, kn], c[un][:, un]
            lam, v = _sym_eigh(ckk)
            tol = lam.max().clamp_min(1e-300) * 1e-10 * ckk.shape[0]
            good = lam > tol
            inv = (v[:, good] / lam[good]) @ v[:, good].T  # pseudo-inverse
            r = yk - mu[kn]
            # marginal log-likelihood of the observed coordinates (on the support of ckk)
            proj = v[:, good].T @ r
            off = r - v[:, good] @ proj
            if off.abs().max() > 1e-6 * (1 + r.abs().max()):
                logw.append(torch.tensor(-math.inf, dtype=_F))
            else:
                logw.append(self.weights[j].log() - 0.5 * ((proj**2 / lam[good]).sum() + lam[good].log().sum()
                                                           + good.sum() * math.log(2 * math.pi)))
            m = y.clone()
            m[un] = mu[un] + cuk @ inv @ r
            cov = torch.zeros_like(c)
            cu = cuu - cuk @ inv @ cuk.T
            idx = un.nonzero().reshape(-1)
            cov[idx[:, None], idx[None, :]] = 0.5 * (cu + cu.T)
            means.append(m)
            covs.append(cov)
        logw = torch.stack(logw)
        if torch.isinf(logw).all():
            raise ValueError("the observation has zero probability under every component")
        return GaussianMixture(torch.softmax(logw, 0), torch.stack(means), torch.stack(covs))


class LinearGaussianPrior(GaussianMixturePrior):
    """The RePaint+ linear model: ``x0 = mu + s · A z``, ``z ~ N(0, I_k)``, ``AᵀA = I_k``.

    A one-component mixture with the singular covariance ``s² A Aᵀ``; its denoiser is the
    shrinkage ``D(x, σ) = mu + s²/(s² + σ²) · P (x − mu)`` with ``P = A Aᵀ`` (docs/derivations.md §3),
    computed here in that closed form. ``rho(known)`` is the RePaint+ contraction rate
    ``‖Aᵀ M A‖₂`` with ``M = diag(1 − known)`` (Theorem 4).
    """

    def __init__(self, A: torch.Tensor, scale: float = 1.0, mu: torch.Tensor | None = None, shape=None):
        A = A.to(_F)
        d, k = A.shape
        if not torch.allclose(A.T @ A, torch.eye(k, dtype=_F), atol=1e-8):
            raise ValueError("A must have orthonormal columns (AᵀA = I)")
        self.A, self.scale = A, float(scale)
        self.P = A @ A.T
        mu = torch.zeros(d, dtype=_F) if mu is None else mu.to(_F).reshape(d)
        super().__init__(torch.ones(1, dtype=_F), mu[None], (self.scale**2 * self.P)[None], shape=shape)

    def denoise(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        x64, s = x.to(_F), sigma.to(_F).reshape(-1, 1)
        mu = self.means[0]
        gain = self.scale**2 / (self.scale**2 + s**2)
        return mu + gain * ((x64 - mu) @ self.P)

    def rho(self, known: torch.Tensor) -> float:
        m = 1.0 - known.reshape(-1).to(_F)
        return float(torch.linalg.matrix_norm(self.A.T @ (m[:, None] * self.A), ord=2))


def _orthonormal(d: int, k: int, g: torch.Generator) -> torch.Tensor:
    q, r = torch.linalg.qr(torch.randn(d, k, dtype=_F, generator=g))
    return q * torch.sign(torch.diagonal(r))[None, :]


def make_linear_gaussian(shape=(2, 4, 4), k: int = 4, scale: float = 1.0, seed: int = 0) -> LinearGaussianPrior:
    """A random ``k``-dimensional subspace prior over ``shape`` (seeded)."""
    g = torch.Generator().manual_seed(seed)
    d = math.prod(shape)
    return LinearGaussianPrior(_orthonormal(d, k, g), scale=scale, shape=shape)


def _low_rank_cov(n: int, rank: int, comp_scale: float, floor: float, g: torch.Generator) -> torch.Tensor:
    """``U Uᵀ + floor²·I`` over ``n`` coordinates, ``U`` orthonormal of rank ``min(rank, n)`` scaled by ``comp_scale``."""
    u = comp_scale * _orthonormal(n, min(rank, n), g) * math.sqrt(n / rank) ** 0.5
    return u @ u.T + floor**2 * torch.eye(n, dtype=_F)


def make_gaussian_mixture(shape=(2, 4, 4), components: int = 4, rank: int = 3, spread: float = 1.0,
                          comp_scale: float = 0.35, floor: float = 0.05, seed: int = 0,
                          shared: torch.Tensor | None = None) -> GaussianMixturePrior:
    """A random mixture of ``components`` low-rank Gaussians (rank ``rank`` plus ``floor²·I``).

    Means are drawn with per-coordinate std ``spread`` so components are well separated in d
    dimensions; each component's low-rank factor has singular values ``comp_scale``. ``shared`` (a
    boolean mask over the d coordinates) makes every component's mean equal there, so observing
    only those coordinates leaves the posterior multimodal (the bench's hard case).
    """
    g = torch.Generator().manual_seed(seed)
    d = math.prod(shape)
    means = spread * torch.randn(components, d, dtype=_F, generator=g)
    if shared is not None:
        sh = shared.reshape(-1).bool()
        means[:, sh] = means[:1, sh]
    covs = [_low_rank_cov(d, rank, comp_scale, floor, g) for _ in range(components)]
    w = 0.5 + torch.rand(components, dtype=_F, generator=g)
    return GaussianMixturePrior(w, means, torch.stack(covs), shape=shape)


def make_hole_mixture(shape, hole: torch.Tensor, components: int = 4, rank: int = 3, spread: float = 1.0,
                      comp_scale: float = 0.35, floor: float = 0.3, coupling: float = 0.5,
                      seed: int = 0) -> GaussianMixturePrior:
    """A mixture whose components are identical on the known pixels and differ only inside ``hole``.

    Known coordinates ``x_k ~ N(m_k, S)`` are shared by every component (``S`` rank ``rank`` plus
    ``floor²·I``); component ``j`` continues them into the hole as ``x_u = m_j + B_j (x_k − m_k) + e_j``
    with its own mean ``m_j`` (per-coordinate std ``spread``), coupling ``B_j`` (entries of std
    ``coupling/√d_k``) and residual ``e_j ~ N(0, R_j)`` (rank ``rank`` plus ``floor²·I``). The observation
    then says nothing about which component it came from, so the exact posterior weights are the prior
    weights (neither 0 nor 1), while each mode's position and shape in the hole depend on ``y``.
    """
    g = torch.Generator().manual_seed(seed)
    d = math.prod(shape)
    un = hole.reshape(-1).bool()
    if un.numel() != d or not un.any() or un.all():
        raise ValueError(f"hole must mark some but not all of the {d} coordinates")
    kn = ~un
    dk, du = int(kn.sum()), int(un.sum())

    m_k = spread * torch.randn(dk, dtype=_F, generator=g)
    s_kk = _low_rank_cov(dk, rank, comp_scale, floor, g)
    ki, ui = kn.nonzero().reshape(-1), un.nonzero().reshape(-1)
    means, covs = [], []
    for _ in range(components):
        b = coupling / math.sqrt(dk) * torch.randn(du, dk, dtype=_F, generator=g)
        mean = torch.empty(d, dtype=_F)
        mean[ki], mean[ui] = m_k, spread * torch.randn(du, dtype=_F, generator=g)
        c = torch.empty(d, d, dtype=_F)
        c[ki[:, None], ki[None, :]] = s_kk
        c[ui[:, None], ki[None, :]] = b @ s_kk
        c[ki[:, None], ui[None, :]] = (b @ s_kk).T
        c[ui[:, None], ui[None, :]] = b @ s_kk @ b.T + _low_rank_cov(du, rank, comp_scale, floor, g)
        means.append(mean)
        covs.append(c)
    w = 0.5 + torch.rand(components, dtype=_F, generator=g)
    return GaussianMixturePrior(w, torch.stack(means), torch.stack(covs), shape=shape)
