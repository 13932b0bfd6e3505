"""RePaint+ (Rout, Parulekar, Caramanis, Shakkottai, arXiv 2302.01217, "A Theoretical Justification
for Image Inpainting using Denoising Diffusion Probabilistic Models"): RePaint's resampling with the
drift and dispersion of the forward/reverse cycle realigned, so the harmonisation loop converges to
the data-consistent sample instead of a shrunken, noisy one.

The paper's symbols were lost in extraction; the forms here are derived in docs/derivations.md §3:

* :func:`two_state_experiment` -- the paper's linear-model experiment (App. B, Table 1): RePaint
  (fresh noise, drift 1−β) against Algorithm 2 (noise-free forward step, drift realigned by
  1/(1−β)), which is alternating projection with rate ``ρ = ‖AᵀMA‖₂`` (Theorem 4).
* :func:`sample_repaint_plus` -- the multi-state sampler in VE σ-space (§2.7, Algorithm 3):
  at harmonising levels, ``r`` rounds without fresh noise, then a consistent (DDIM/Euler) move

      Variant B (noisy space):  x ← x + κ(σ)·k⊙(y − D(x, σ))              (r times)
      Variant A (clean space):  x̂0 ← κ(σ)·D(k⊙y + u⊙x̂0, σ)                 (r times)
      κ(σ) = (σ_d² + σ²)/σ_d²  ("theory"),  1,  or  min(theory, cap)

  Variant A assumes zero-mean data (κ rescales the whole prediction); Variant B only rescales a
  residual and is the one for real models (docs/derivations.md §3).

Masks: ``mask`` = 1 on the hole, ``known = 1 − mask`` (``M`` of the paper is ``diag(mask)``).
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from .ve import ancestral_step, inject_known

KAPPA_MODES = ("1", "theory", "capped")
STAND_IN_SNR = 1.0  # a stand-in level's largest signal-to-noise c·σ_d/σ (docs/repaint-plus.md, "Few steps")
SIGNAL_FREE = ("next", "midpoint", "skip")
SOLVERS = ("krylov", "richardson")
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


class RePaintPlusDenoiser:
    """RePaint+ as a denoiser-to-denoiser transform ``D⁺(x, σ)``, for use inside any sampler.

    A sampler (k-diffusion's ``sample_euler(model, x, sigmas)``, ComfyUI's ``KSAMPLER`` functions) moves
    ``x`` from level to level with the predictions ``model(x, σ)``. This object is such a ``model``.
    Each call does what Algorithm 3 (``docs/repaint-plus.md``) does at one level, and returns the
    prediction the sampler then uses for its own update:

    1. known-region injection ``x ← k⊙known_at(σ, ε) + u⊙x`` with fresh ``ε`` (``u`` = mask, ``k = 1 − u``);
    2. at harmonising levels, ``r`` noise-free rounds (variant B, noisy space)
       ``x ← x + c·κ(σ)·k⊙(y − D(x, σ))``, or (variant A, clean space) ``x̂0 ← κ(σ)·D(c·(k⊙y + u⊙x̂0), σ)``;
    3. ``x̂0 = D(x, σ)``, returned as ``k⊙y + u⊙x̂0`` (the blend ComfyUI's ``KSamplerX0Inpaint`` returns).

    Coordinates are the sampler's own: ``x = c(σ)·(x0 + σ_VE·ε)`` with ``signal(σ) = (c, σ_VE)``
    (``(1, σ)`` for VE/EPS/V models, ``(1 − σ, σ/(1 − σ))`` for rectified flow), so κ is always taken
    at the VE level. Where ``c = 0`` (flow σ = 1: ``x`` is pure noise, so no known pixel carries signal and
    the plain prediction is the *unconditional* mean) the rounds cannot act there. ``signal_free`` says what
    such a level's call does: ``"next"`` (default) takes the harmonised prediction at the schedule's next
    level, on the same ``x`` (at σ near 1 pure noise is a typical state there too), so the first step
    already knows the known pixels; ``"midpoint"`` takes it halfway to the next level; ``"skip"`` returns
    the plain prediction (the paper's form, and variant A's always). With ``"next"`` the same holds for every
    *signal-poor* level, where ``σ_VE > stand_in_above · sigma_data`` (the known pixels' signal-to-noise
    below 1 % at the default 10): its call takes the harmonised prediction at the schedule's first
    harmonising level at or below that bound. A solve there finds known-pixel noise far from any real draw,
    and the warm start would carry it on. Measured in docs/repaint-plus.md ("The first flow step",
    "Signal-poor levels").

    Why this is exact for variant B: injection and rounds only change the *known* coordinates of
    ``x``, so the hole coordinates the sampler holds are those of the harmonised state ``x_h``; the
    sampler's update of the hole uses ``D(x_h)`` exactly as the level loop did, and the known
    coordinates it produces are overwritten by the next injection. Variant A changes the prediction
    but not the sampler's noise estimate, so its path differs from the loop form (both are valid
    RePaint+ samplers; see the docs).

    ``denoise(x, σ)`` the plain model in the same coordinates; ``mask`` 1 on the hole (a tensor or
    ``σ ↦ mask``); ``known_at(σ, ε)`` the noised known image in sampler coordinates; ``noise(σ, σ')`` a
    noise sampler (:mod:`samplers.noise`); ``sigmas`` the schedule of the run, whose levels
    :func:`harmonising_levels` selects.
    """

    def __init__(self, denoise: Callable, y: torch.Tensor, mask, known_at: Callable, noise: Callable,
                 sigmas, variant: str = "B", jump_length: int = 1, resamples: int = 1, kappa_mode: str = "capped",
                 kappa_cap: float = 4.0, sigma_data: float = 1.0, window: tuple[float, float] = (0.0, 1.0),
                 signal: Callable[[float], tuple[float, float]] | None = None, warm_start: bool = False,
                 solver: str = "richardson", signal_free: str = "next", stand_in_above: float = 10.0,
                 stand_in_snr: float = STAND_IN_SNR):
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        kappa(1.0, sigma_data, kappa_mode, kappa_cap)  # validates the mode
        if solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
        if signal_free not in SIGNAL_FREE:
            raise ValueError(f"signal_free must be one of {SIGNAL_FREE}, got {signal_free!r}")
        if not (isinstance(stand_in_above, (int, float)) and stand_in_above > 0 and not math.isnan(stand_in_above)):
            raise ValueError(f"stand_in_above must be a positive number (inf: σ = 1 only), got {stand_in_above!r}")
        self.denoise, self.y, self.mask, self.known_at, self.noise = denoise, y, mask, known_at, noise
        self.variant, self.resamples = variant, resamples
        self.kappa_args = (sigma_data, kappa_mode, kappa_cap)
        self.signal = signal or (lambda s: (1.0, s))
        self.levels = [float(v) for v in sigmas]
        n = len(self.levels) - 1
        self.harmonise = {self.levels[i] for i in harmonising_levels(n, jump_length, window)}
        self.warm_start, self.solver, self.signal_free = warm_start, solver, signal_free
        self.ve_max = float(stand_in_above) * float(sigma_data)
        self.snr_max = float(stand_in_snr)
        self._harmonise_at_least_once(n)
        self._eps = None  # the known pixels' implied noise after the last harmonisation (warm start)

    def _harmonise_at_least_once(self, n: int) -> None:
        """A schedule whose harmonising levels cannot act harmonises the first level that can.

        At the signal-free level (flow σ = 1, ``c = 0``) the rounds act only through a stand-in, which a
        few-step schedule cannot have (:meth:`stand_in` refuses one that is not noise-dominated). With
        ``jump_length`` > 1 (the fast preset) a 2-step flow schedule harmonises σ = 1 alone, so the run would
        be ComfyUI's plain inpainting at the preset's name. Then the first level that can act harmonises
        instead: every preset harmonises at least once where any level allows it (docs/repaint-plus.md,
        "Few steps"). A schedule with any acting harmonising level is unchanged (every EPS and V schedule,
        and every flow schedule of 3 steps or more that ComfyUI's schedulers give)."""
        if self.variant != "B":
            return
        inner = self.levels[:n]
        if any(self._usable(v) for v in inner):
            return
        first = next((v for v in inner if self._acts_at(v)), None)
        if first is not None and any(self.harmonises(v) for v in inner):
            self.harmonise.add(first)

    def _acts_at(self, v: float) -> bool:
        """Whether rounds can act at level ``v`` (it carries signal and has a finite noise level)."""
        c, s_ve = self.signal(v)
        return c > 0 and 0 < s_ve < float("inf")

    def harmonises(self, s: float) -> bool:
        """Whether a call at level ``s`` harmonises (``s`` one of the schedule's harmonising levels)."""
        return any(abs(s - h) <= 1e-5 * max(abs(h), 1e-8) for h in self.harmonise)

    def _usable(self, v: float) -> bool:
        """Whether level ``v`` carries signal and harmonises."""
        return self._acts_at(v) and self.harmonises(v)

    def noise_dominated(self, t: float) -> bool:
        """Whether noise dominates the signal at level ``t``: ``c_t·σ_d ≤ stand_in_snr · t`` in the sampler's
        coordinates ``x = c·x0 + t·ε`` (``t`` is the noise scale in EPS and flow coordinates alike; ``σ_d`` is
        ``sigma_data``). A stand-in answers for a signal-poor state (its known pixels' signal-to-noise below
        1 %); the model reads such a state as it is only at a level where it expects mostly noise. At a
        cleaner level it reads the noise as an image (docs/repaint-plus.md, "Few steps")."""
        c_t, _ = self.signal(t)
        return c_t * self.kappa_args[0] <= self.snr_max * t

    def stand_in(self, s: float) -> float | None:
        """The level whose harmonised prediction a call at level ``s`` returns instead of its own, or None.

        ``signal_free = "next"``: at the signal-free level (``c = 0``) the schedule's next level, and at a
        signal-poor one (``σ_VE > stand_in_above · sigma_data``) the first harmonising level at or below that
        bound; ``"midpoint"``: at the signal-free level only, halfway to the next level. None when ``s`` does
        not harmonise, when no later level fits (a one-step schedule to σ = 0 keeps the plain prediction), for
        ``"skip"``, and for variant A, whose κ-rescaled prediction taken at another level does not fit the
        sampler's step. Nor when noise does not dominate at the stand-in level (:meth:`noise_dominated`: a
        few-step schedule whose next usable level is far cleaner, where the model would read this state's
        noise as an image); the call then harmonises at its own level (the plain prediction where ``c = 0``),
        as with ``"skip"``."""
        at = self._candidate(s)
        return at if at is None or self.noise_dominated(at) else None

    def _candidate(self, s: float) -> float | None:
        """:meth:`stand_in` before the :meth:`noise_dominated` test."""
        if self.signal_free == "skip" or self.variant != "B" or not self.harmonises(s):
            return None
        c, s_ve = self.signal(s)
        free = not c > 0
        if not free and (self.signal_free != "next" or s_ve <= self.ve_max):
            return None
        later = sorted((v for v in self.levels if v < s), reverse=True)
        if not later:
            return None
        if free and (self.signal_free == "midpoint" or self.signal(later[0])[1] <= self.ve_max):
            if not self._usable(later[0]):
                return None
            return later[0] if self.signal_free == "next" else 0.5 * (s + later[0])
        return next((v for v in later if self._usable(v) and self.signal(v)[1] <= self.ve_max), None)

    def _krylov(self, x, sigma, known, step):
        """Variant B's rounds as a minimal-residual solve of ``k⊙D(x + δ) = k⊙y`` for the known-pixel offset δ.

        Richardson's rounds ``x += κ·k⊙(y − D(x))`` converge slowly where the denoiser's gain on the known
        pixels is uneven (ill-conditioned ``J_kk``). Here every round spends its model call on one trial
        ``D(x + p_j)`` with ``p_j = κ·r_j`` from the same base ``x``; ``D(x + p_j) − D(x) ≈ J p_j`` on every
        coordinate. The offset ``δ = Σ a_j p_j`` minimises ``‖r_0 − Σ a_j k⊙J p_j‖`` over the span of the
        residuals (GMRES with finite-difference products), and the prediction is extrapolated along the
        same line, ``D(x + δ) ≈ D(x) + Σ a_j (D(x + p_j) − D(x))``: exact for Gaussian data, so the fixed
        point the rounds aim at (the exact conditional denoiser, docs/repaint-plus.md) is reached in
        far fewer calls. Costs ``1 + resamples`` calls like the Richardson form. Returns ``(x + δ, D(x + δ))``.
        """
        d0 = self.denoise(x, sigma)
        r0 = known * (self.y - d0)
        b = x.shape[0]
        work = torch.float64 if x.dtype == torch.float64 else torch.float32
        rhs = r0.reshape(b, -1).to(work)
        dirs, imgs, cols = [], [], []
        r, coef = r0, None
        for _ in range(self.resamples):
            p = step * r
            q = self.denoise(x + p, sigma) - d0
            dirs.append(p)
            imgs.append(q)
            cols.append((known * q).reshape(b, -1).to(work))
            Q = torch.stack(cols, -1)  # [B, n, j]
            # least squares through the SVD (pinv): stable when the images are nearly collinear, and a
            # direction the model does not respond to (an item with no known pixels) gets weight 0
            if not (torch.isfinite(Q).all() and torch.isfinite(rhs).all()):  # let the caller report it
                coef = torch.full(Q.shape[:1] + Q.shape[2:], float("nan"), dtype=work, device=x.device)
            else:
                coef = (torch.linalg.pinv(Q, rtol=1e-6) @ rhs[..., None])[..., 0]  # [B, j]
            r = (rhs - (Q @ coef[..., None])[..., 0]).reshape(r0.shape).to(r0.dtype)
        shape = (b,) + (1,) * (x.dim() - 1)
        a = [coef[:, j].to(x.dtype).reshape(shape) for j in range(len(dirs))]
        return x + sum(aj * p for aj, p in zip(a, dirs)), d0 + sum(aj * q for aj, q in zip(a, imgs))

    def __call__(self, x: torch.Tensor, sigma) -> torch.Tensor:
        s = float(sigma.reshape(-1)[0]) if torch.is_tensor(sigma) else float(sigma)
        m = self.mask(sigma) if callable(self.mask) else self.mask
        known = 1.0 - m
        act = self.harmonises(s) and bool((known > 0).any())  # nothing known: the plain model
        at = self.stand_in(s) if act else None
        if at is not None:  # signal-free level: predict where the rounds can act
            s = at
            sigma = torch.full_like(sigma, at) if torch.is_tensor(sigma) else at
        c, s_ve = self.signal(s)
        eps = self._eps if self.warm_start and self._eps is not None and self._eps.shape == x.shape else None
        x = known * self.known_at(sigma, self.noise(sigma, None) if eps is None else eps) + m * x
        act = act and c > 0
        if act and self.variant == "B":
            step = c * kappa(s_ve, *self.kappa_args)
            if self.solver == "krylov":
                x, x0 = self._krylov(x, sigma, known, step)
            else:
                for _ in range(self.resamples):  # noise-free, realigned drift in noisy space
                    x = x + step * known * (self.y - self.denoise(x, sigma))
                x0 = self.denoise(x, sigma)
            if self.warm_start and 0 < s_ve < float("inf"):
                self._eps = (x / c - self.y) / s_ve
        elif act:  # variant A, clean space
            kap = kappa(s_ve, *self.kappa_args)
            x0 = self.denoise(x, sigma)
            for _ in range(self.resamples):
                x0 = kap * self.denoise(c * (known * self.y + m * x0), sigma)
        else:
            x0 = self.denoise(x, sigma)
        return known * self.y + m * x0


def sample_euler(model: Callable, x: torch.Tensor, sigmas, callback: Callable[[dict], None] | None = None
                 ) -> torch.Tensor:
    """k-diffusion's Euler (DDIM) sampler in VE σ-space: ``x ← x̂0 + (σ'/σ)(x − x̂0)``."""
    for i in range(len(sigmas) - 1):
        s, s_next = float(sigmas[i]), float(sigmas[i + 1])
        x0 = model(x, s)
        if callback is not None:
            callback({"x": x, "i": i, "sigma": s, "sigma_hat": s, "denoised": x0})
        x = ancestral_step(x, x0, s, s_next, None, eta=0.0)
    return x


@torch.no_grad()
def sample_repaint_plus(denoise: Callable[[torch.Tensor, float], torch.Tensor], x: torch.Tensor, sigmas: list[float],
                        y: torch.Tensor, mask, noise: Callable, variant: str = "B", jump_length: int = 1,
                        resamples: int = 2, kappa_mode: str = "capped", kappa_cap: float = 4.0,
                        sigma_data: float = 1.0, window: tuple[float, float] = (0.0, 1.0),
                        callback: Callable[[dict], None] | None = None,
                        known_at: Callable[[float, torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """RePaint+ in VE σ-space with Euler (DDIM) moves: :class:`RePaintPlusDenoiser` inside :func:`sample_euler`.

    ``noise(σ, σ')`` fresh N(0, I) for the injections; ``known_at(σ, ε)`` default ``y + σ·ε``. The known
    region of the result is ``known_at`` at the last level (``y`` when the schedule ends at 0).
    """
    if known_at is None:
        def known_at(s, eps):
            return y + s * eps
    model = RePaintPlusDenoiser(denoise, y, mask, known_at, noise, sigmas, variant, jump_length, resamples,
                                kappa_mode, kappa_cap, sigma_data, window)
    x = sample_euler(model, x, sigmas, callback)
    return inject_known(x, mask, known_at, noise, float(sigmas[-1]))
