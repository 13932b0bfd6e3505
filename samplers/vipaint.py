"""VIPaint: hierarchical variational inpainting (Agarwal, Hope, Heo, Sudderth; arXiv 2411.18929, AISTATS 2026).

Specification: docs/derivations.md §6 and docs/vipaint.md (after the official LDM code), written here in VE
coordinates ``z = x0 + σ ε`` so that one implementation serves EPS, V-prediction and flow models (the
ComfyUI glue converts exactly; KL divergences are invariant under the per-level affine map between VP,
flow and VE coordinates, so every term below equals the reference's term in its own coordinates).

Keypoints ``σ_0 = σ(T_e) > σ_1 > … > σ_{K−1} = σ(T_s)``. Parameters ``λ = {µ_i, logvar_i, γ_i}``, all of
latent shape, one set per image::

    q(z_0)                 = N(µ_0, e^{logvar_0})
    p_θ(z_{i+1} | z_i)     = N(m^p_i, h_{i+1}²),   m^p_i = x̂ + sqrt(σ_{i+1}² − h_{i+1}²)/σ_i · (z_i − x̂),  x̂ = D(z_i, σ_i)
                             h_{i+1} = sqrt(η) · sqrt(σ_{i+1}²(σ_i² − σ_{i+1}²)/σ_i²)   (η inside the sqrt, as the code)
    q_λ(z_{i+1} | z_i)     = N(g·m^p_i + (1 − g)·µ_{i+1}, e^{logvar_{i+1}}),   g = sigmoid(γ_{i+1})

Loss (averaged over ``n`` posterior samples per image, the reference's batch of posterior samples)::

    L = β1·L_P + β2·L_H + w_R·L_R
    L_P  prior loss above T_e, KL(q(z_0) ‖ p_θ(z_0)) as a diffusion ELBO: the bridge term
         KL(q(z_{t'} | z_t, z_0) ‖ q(z_{t'} | z_t, ẑ_0)) at one random adjacent pair t > t' of the grid above
         σ_0, times the number of grid pairs (ẑ_0 = E[z_0 | z_t] under the model = x̂ + σ_0²/σ_t²·(z_t − x̂)),
         minus the entropy of q(z_0) (derived: the bridge sum alone is only the cross-entropy part)
    L_H  Σ_i KL(q_λ(z_{i+1} | z_i) ‖ p_θ(z_{i+1} | z_i)) on one ancestral pass
    L_R  one-step Tweedie reconstruction on the known pixels: mean |k ⊙ (y − Dec(D(z_{K−1}, σ_{K−1})))|

Every KL is the **correct** Gaussian KL, as an average per latent element. The reference LDM code's
``get_kl`` scales the mean term by σ_p²/2 instead of 1/(2σ_p²) (docs/derivations.md §6; docs/vipaint.md).

After fitting once, ``n`` samples walk the keypoints with ``q_λ`` and are refined by DPS (Chung et al.
2023) from σ(T_s) to 0 with the decoder in the loop: ``z ← AncestralStep_η(z, D(z)) − ζ ∇_z ‖k⊙(y − Dec(D(z)))‖₂``.

Everything random comes from the ``noise`` callable and the ``generator`` passed in.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import torch

from .ve import ancestral_step

Denoiser = Callable[[torch.Tensor, float], torch.Tensor]  # differentiable D(z, σ) in VE coordinates
Decoder = Callable[[torch.Tensor], torch.Tensor]  # differentiable x0 -> pixels (identity for pixel models)


def gaussian_kl(mu_q: torch.Tensor, var_q: torch.Tensor, mu_p: torch.Tensor, var_p) -> torch.Tensor:
    """Element-wise ``KL(N(µ_q, v_q) ‖ N(µ_p, v_p))`` = ½[log(v_p/v_q) + (v_q + (µ_q − µ_p)²)/v_p − 1]."""
    var_p = torch.as_tensor(var_p, dtype=mu_q.dtype, device=mu_q.device)
    return 0.5 * (torch.log(var_p) - torch.log(var_q) + (var_q + (mu_q - mu_p) ** 2) / var_p - 1.0)


def prior_step_std(s: float, s_next: float, eta: float) -> float:
    """``h``: the std of the model transition σ → σ' (DDIM-η with η inside the square root, as the code)."""
    return math.sqrt(eta * s_next**2 * (s**2 - s_next**2) / s**2)


def prior_step_mean(z: torch.Tensor, x0: torch.Tensor, s: float, s_next: float, h: float) -> torch.Tensor:
    """The model transition's mean ``x̂ + sqrt(σ'² − h²)/σ · (z − x̂)`` (a DDIM-η step that skips to σ')."""
    return x0 + (math.sqrt(max(s_next**2 - h**2, 0.0)) / s) * (z - x0)


@dataclass
class VIPaintSettings:
    """Defaults follow the reference's hierarchical configs (docs/vipaint.md) where they carry over."""

    iterations: int = 50
    lr_mean: float = 0.1
    lr_logvar: float = 1e-3
    lr_gamma: float = 0.01
    prior_weight: float = 100.0
    hier_weight: float = 100.0
    recon_weight: float = 100.0
    eta: float = 0.2  # transition / DPS stochasticity (the code's η)
    gamma_init: float = 4.0  # sigmoid(4) ≈ 0.98: transitions start at the prior
    mean_init_noise: float = 0.1  # c in µ_0 = E(y) + c·ξ (LSUN config)
    std_init: float = 0.7  # τ_i = 0.7/sqrt(η)·h_i
    dps_scale: float = 1.0
    # *ours*: back-propagate through the decoder and through the denoiser in two passes (the denoiser's
    # forward is recomputed), so their graphs are never held together; the gradients are unchanged
    split_decoder: bool = False


class _Replay:
    """Records the noise draws of one pass and replays them in the next (a recomputed forward must see
    the same randomness)."""

    def __init__(self, noise: Callable[[], torch.Tensor]):
        self.noise, self.draws, self.i = noise, [], 0

    def record(self) -> torch.Tensor:
        self.draws.append(self.noise())
        return self.draws[-1]

    def replay(self) -> torch.Tensor:
        self.i += 1
        return self.draws[self.i - 1]


class HierarchicalPosterior:
    """``q_λ`` over the keypoint latents, one parameter set per image (``y_init``: ``[B, C, H, W]``)."""

    def __init__(self, y_init: torch.Tensor, sigmas: list[float], settings: VIPaintSettings,
                 noise: Callable[[], torch.Tensor]):
        if not sigmas or any(a <= b for a, b in zip(sigmas, sigmas[1:])) or sigmas[-1] <= 0:
            raise ValueError(f"keypoint sigmas must be positive and strictly decreasing; got {sigmas}")
        self.sigmas = [float(s) for s in sigmas]
        self.settings = st = settings
        self.batch = y_init.shape[0]
        y = y_init.detach().float()
        n = lambda: noise()[: self.batch].float()  # noqa: E731 - one image's worth of noise per item
        self.h = [None] + [prior_step_std(a, b, st.eta) for a, b in zip(self.sigmas, self.sigmas[1:])]
        self.mu = [y + st.mean_init_noise * n()] + [y + s * n() for s in self.sigmas[1:]]
        self.logvar = [torch.full_like(y, 2 * math.log(self.sigmas[0]))]
        for h in self.h[1:]:
            tau = st.std_init / math.sqrt(st.eta) * h if st.eta > 0 else st.std_init
            self.logvar.append(torch.full_like(y, 2 * math.log(max(tau, 1e-8))))
        self.gamma = [None] + [torch.full_like(y, st.gamma_init) for _ in self.sigmas[1:]]
        for t in self.parameters():
            t.requires_grad_(True)

    def parameters(self) -> list[torch.Tensor]:
        return self.mu + self.logvar + [g for g in self.gamma if g is not None]

    def parameter_groups(self) -> list[dict]:
        """Adam groups with the reference's learning rates (means 0.1, logvar 1e-3, γ 0.01)."""
        st = self.settings
        groups = [{"params": self.mu, "lr": st.lr_mean}, {"params": self.logvar, "lr": st.lr_logvar}]
        if len(self.sigmas) > 1:
            groups.append({"params": [g for g in self.gamma if g is not None], "lr": st.lr_gamma})
        return groups

    @staticmethod
    def _rep(t: torch.Tensor, n: int) -> torch.Tensor:
        return t.repeat(n, *([1] * (t.ndim - 1)))

    def top(self, n: int, xi: torch.Tensor) -> torch.Tensor:
        """``z_0 = µ_0 + e^{logvar_0/2}·ξ`` for ``n`` samples per image (sample ``j`` of image ``b`` at ``j·B + b``)."""
        return self._rep(self.mu[0], n) + torch.exp(0.5 * self._rep(self.logvar[0], n)) * xi

    def walk(self, denoise: Denoiser, z0: torch.Tensor, n: int, noise: Callable[[], torch.Tensor],
             with_kl: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """One ancestral pass ``z_0 → z_{K−1}`` with ``q_λ``; returns ``(z_{K−1}, L_H)`` (L_H = Σ_i mean KL)."""
        z, kl = z0, z0.new_zeros(())
        for i in range(len(self.sigmas) - 1):
            s, s_next, h = self.sigmas[i], self.sigmas[i + 1], self.h[i + 1]
            x0 = denoise(z, s)
            mp = prior_step_mean(z, x0, s, s_next, h)
            g = torch.sigmoid(self._rep(self.gamma[i + 1], n))
            mq = g * mp + (1 - g) * self._rep(self.mu[i + 1], n)
            var_q = torch.exp(self._rep(self.logvar[i + 1], n))
            if with_kl:
                kl = kl + gaussian_kl(mq, var_q, mp, h * h).mean()
            z = mq + var_q.sqrt() * noise().float()
        return z, kl


def prior_loss(denoise: Denoiser, z0: torch.Tensor, s0: float, grid: list[float], noise: Callable[[], torch.Tensor],
               generator: torch.Generator) -> torch.Tensor:
    """``L_P``: one random adjacent pair ``σ_t > σ_t'`` of ``grid`` (increasing, all > σ_0), the bridge KL
    ``KL(q(z_t' | z_t, z_0) ‖ q(z_t' | z_t, ẑ_0))`` as a mean per element, times the number of pairs
    (an unbiased estimate of the sum over the grid above T_e)."""
    pairs = len(grid) - 1
    j = 1 + int(torch.randint(pairs, (1,), generator=generator))
    st, stp = float(grid[j]), float(grid[j - 1])
    a, b = st**2 - s0**2, stp**2 - s0**2
    zt = z0 + math.sqrt(a) * noise().float()
    x0 = denoise(zt, st)
    z0_hat = x0 + (s0**2 / st**2) * (zt - x0)
    c = 1.0 - b / a  # bridge mean: z_0 + (b/a)(z_t − z_0) ⇒ Δµ = (1 − b/a)(z_0 − ẑ_0)
    var = b * (st**2 - stp**2) / a
    return pairs * (c * c * (z0 - z0_hat) ** 2 / (2 * var)).mean()


def neg_entropy(logvar0: torch.Tensor) -> torch.Tensor:
    """``−H(q(z_0))`` per element up to a constant: ``−½·mean(logvar_0)``. The bridge terms are the
    cross-entropy part of ``KL(q(z_0) ‖ p_θ(z_0))``; without this term the prior loss rewards a ``q``
    that collapses onto high-density points (tests/core/test_vipaint_core.py shows it)."""
    return -0.5 * logvar0.mean()


def recon_l1(img: torch.Tensor, y: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Mean ``|k ⊙ (y − x̂)|`` over the known elements of each sample, averaged over samples."""
    k = known.expand_as(img)
    num = (k * (y - img).abs()).flatten(1).sum(1)
    return (num / k.flatten(1).sum(1).clamp_min(1e-8)).mean()


@dataclass
class FitRecord:
    losses: list[dict] = field(default_factory=list)


def fit(post: HierarchicalPosterior, denoise: Denoiser, decode: Decoder, y: torch.Tensor, known: torch.Tensor,
        n: int, noise: Callable[[], torch.Tensor], generator: torch.Generator, prior_grid: list[float],
        on_iteration: Callable[[int, dict], None] | None = None) -> FitRecord:
    """Fit ``λ`` with Adam (betas 0.9/0.99, StepLR(10, 0.99)), ``n`` posterior samples per image per step.

    The prior term is back-propagated on its own graph first (freed before the chain is built), so
    the peak holds the chain's K denoiser graphs and one decoder graph, not K + 1 + 1.
    ``denoise``/``decode`` must be differentiable; the caller provides the autograd context.
    """
    st = post.settings
    opt = torch.optim.Adam(post.parameter_groups(), betas=(0.9, 0.99))
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.99)
    record = FitRecord()
    s_last = post.sigmas[-1]
    for it in range(st.iterations):
        opt.zero_grad(set_to_none=True)
        xi = noise().float()
        lp = torch.zeros(())
        with torch.enable_grad():
            if st.prior_weight > 0 and len(prior_grid) >= 2:
                lp = prior_loss(denoise, post.top(n, xi), post.sigmas[0], prior_grid, noise, generator) \
                    + neg_entropy(post.logvar[0])
                (st.prior_weight * lp).backward()
            if not st.split_decoder:
                z, lh = post.walk(denoise, post.top(n, xi), n, noise, with_kl=st.hier_weight > 0)
                lr = recon_l1(decode(denoise(z, s_last)), y, known)
                total = st.hier_weight * lh + st.recon_weight * lr
                total.backward()
            else:  # one graph at a time: decoder, final denoiser call, chain (docs/vipaint.md, "Cost")
                draws = _Replay(noise)
                with torch.no_grad():  # 1. the chain and the final call without graphs
                    z, _ = post.walk(denoise, post.top(n, xi), n, draws.record, with_kl=False)
                    x0 = denoise(z, s_last)
                x0 = x0.detach().requires_grad_(True)  # 2. the decoder's gradient ∂L_R/∂x̂0
                lr = recon_l1(decode(x0), y, known)
                (g_x0,) = torch.autograd.grad(lr, x0)
                z = z.detach().requires_grad_(True)  # 3. through the final denoiser call: ∂L_R/∂z
                (g_z,) = torch.autograd.grad(denoise(z, s_last), z, grad_outputs=g_x0)
                # 4. the chain again (same draws) with its graph, backward from L_H and the pulled-back ∂L_R/∂z
                z, lh = post.walk(denoise, post.top(n, xi), n, draws.replay, with_kl=st.hier_weight > 0)
                total = st.hier_weight * lh + st.recon_weight * lr.detach()
                (st.hier_weight * lh + st.recon_weight * (z * g_z).sum()).backward()
        opt.step()
        sched.step()
        rec = {"iteration": it, "prior": float(lp.detach()), "hier": float(lh.detach()), "recon": float(lr.detach()),
               "total": float(st.prior_weight * lp.detach()) + float(total.detach())}
        if not math.isfinite(rec["total"]):
            raise FloatingPointError(f"VIPaint loss became {rec['total']} at iteration {it}; lower the learning "
                                     "rates or the loss weights")
        record.losses.append(rec)
        if on_iteration is not None:
            on_iteration(it, rec)
    return record


def draw(post: HierarchicalPosterior, denoise: Denoiser, n: int, noise: Callable[[], torch.Tensor]) -> torch.Tensor:
    """``n`` samples per image of ``z_{K−1} ~ q_λ`` (no gradients)."""
    with torch.no_grad():
        z, _ = post.walk(denoise, post.top(n, noise().float()), n, noise, with_kl=False)
    return z.detach()


def dps_refine(denoise: Denoiser, decode: Decoder, z: torch.Tensor, sigmas: list[float], y: torch.Tensor,
               known: torch.Tensor, scale: float, eta: float, noise: Callable[[], torch.Tensor],
               on_step: Callable[[int, torch.Tensor, torch.Tensor], None] | None = None,
               split_decoder: bool = False) -> torch.Tensor:
    """DPS from ``sigmas[0]`` (= σ(T_s)) to ``sigmas[-1]`` (0) with the decoder in the loop (one
    gradient evaluation per step): ``z ← AncestralStep_η(z, x̂) − ζ ∇_z Σ_b ‖k⊙(y − Dec(x̂_b))‖₂``.
    ``split_decoder``: the decoder's gradient first (denoiser forward without a graph), then the
    denoiser's (forward recomputed), so the two graphs are never held together."""
    for i in range(len(sigmas) - 1):
        s, s_next = float(sigmas[i]), float(sigmas[i + 1])
        with torch.enable_grad():
            zv = z.detach().clone().requires_grad_(True)
            if split_decoder:
                with torch.no_grad():
                    x0 = denoise(zv, s)
                x0 = x0.detach().requires_grad_(True)
                r = (known * (y - decode(x0))).flatten(1)
                (g_x0,) = torch.autograd.grad(r.norm(dim=1).sum(), x0)
                (g,) = torch.autograd.grad(denoise(zv, s), zv, grad_outputs=g_x0)
            else:
                x0 = denoise(zv, s)
                r = (known * (y - decode(x0))).flatten(1)
                (g,) = torch.autograd.grad(r.norm(dim=1).sum(), zv)
        x0 = x0.detach()
        z = ancestral_step(z, x0, s, s_next, noise().float() if s_next > 0 else None, eta)
        if s_next > 0:
            z = z - scale * g
        if on_step is not None:
            on_step(i, z, x0)
    return z.detach()


def count_evaluations(keypoints: int, iterations: int, dps_steps: int, prior: bool = True,
                      split_decoder: bool = False) -> int:
    """Denoiser calls (each over the whole batch of ``n`` samples): fit, final draw, DPS (with
    ``split_decoder`` the fit's chain and each DPS step's denoiser call run twice)."""
    per_iteration = (1 + int(split_decoder)) * keypoints + (1 if prior else 0)  # split: K, then 1 + (K − 1)
    return iterations * per_iteration + (keypoints - 1) + (1 + int(split_decoder)) * dps_steps


def sample_vipaint(denoise: Denoiser, decode: Decoder, y_latent: torch.Tensor, hole: torch.Tensor,
                   y_pixels: torch.Tensor, known_pixels: torch.Tensor, keypoints: list[float],
                   prior_grid: list[float], dps_sigmas: list[float], n: int, noise: Callable[[], torch.Tensor],
                   generator: torch.Generator, settings: VIPaintSettings | None = None,
                   on_iteration: Callable[[int, dict], None] | None = None,
                   on_step: Callable[[int, torch.Tensor, torch.Tensor], None] | None = None
                   ) -> tuple[torch.Tensor, FitRecord]:
    """Fit once, draw ``n`` samples per image, DPS-refine, keep the known latent outside the hole.

    ``y_latent [B, C, H, W]`` and ``hole [B|1, 1, H, W]`` (1 = inpaint, soft allowed) live in latent space;
    ``y_pixels``/``known_pixels`` are the observation and its weight where the reconstruction is
    measured (pixels through ``decode`` for latent models; the latent itself for pixel models), batched
    ``n·B`` like the samples. Returns ``[n·B, C, H, W]`` (sample ``j`` of image ``b`` at ``j·B + b``).
    """
    st = settings or VIPaintSettings()
    known_lat = 1.0 - hole
    denom = known_lat.expand_as(y_latent).flatten(2).sum(-1).clamp_min(1e-8)
    fill = ((known_lat * y_latent).flatten(2).sum(-1) / denom)[..., None, None]  # known mean per channel
    y_init = known_lat * y_latent + hole * fill
    post = HierarchicalPosterior(y_init, keypoints, st, noise)
    record = fit(post, denoise, decode, y_pixels, known_pixels, n, noise, generator, prior_grid, on_iteration)
    z = draw(post, denoise, n, noise)
    z = dps_refine(denoise, decode, z, [keypoints[-1]] + list(dps_sigmas), y_pixels, known_pixels, st.dps_scale,
                   st.eta, noise, on_step, split_decoder=st.split_decoder)
    rep = HierarchicalPosterior._rep
    m = rep(hole.expand(y_latent.shape[0], *hole.shape[1:]), n)
    return m * z + (1 - m) * rep(y_latent, n), record
