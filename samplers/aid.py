"""AID: amortized guidance for inpainting (Huang & Zhou, arXiv 2605.13010), reconstructed (docs/derivations.md §7, docs/aid.md).

The backbone stays frozen. A small guidance module µ_ϑ(t, x; M, y) adds a control to the backbone's
probability-flow drift, ``ẋ = b(t, x) + u``, trained once by a continuous-time actor–critic on the
auxiliary Gaussian-policy problem (running cost ``(β/2)‖u‖²``, terminal cost Ψ) and then reused on any
masked image with one cheap module call per step and no backprop through the backbone.

**Time parameterisation** (stored in the module's metadata): generation time ``t ∈ [0, 1]`` maps to
noise level by the Karras/EDM ramp ``σ(t) = (σ_max^{1/ρ} + t(σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ``, so
``σ̇(σ) = ρ σ^{(ρ−1)/ρ}(σ_min^{1/ρ} − σ_max^{1/ρ}) < 0``. In VE coordinates the PF-ODE is
``dx/dt = σ̇ (x − D)/σ``; adding ``µ`` to it is the same as replacing the denoiser by
``D' = D − (σ/σ̇)·µ`` (docs/derivations.md §7), which is how the module plugs into any ComfyUI sampler.

**Terminal cost** (our choice, the paper's is not recoverable): ``Ψ = ‖X_1 − x*‖²`` against the
training image, summed over the latent (the known region is re-imposed by the sampler, so in practice
it measures the hole). Costs are sums over the d latent elements, as in the control problem; the
critic predicts them through a fixed scale d.

**Actor–critic** (§5.2): Gaussian exploration ``A_k ~ N(µ, 2λ/(βd)·I)``; the rollout advances each
solver step with ``D'(A_k)``; TD residual ``δ_k = V̂_{k+1} − V̂_k + (β/2)‖A_k‖²Δt_k`` with ``V̂_K = Ψ``;
critic ``ϑ_c ← ϑ_c + a Σ_k ∂V̂_k/∂ϑ_c δ_k``; actor ``ϑ_a ← ϑ_a − a Σ_k ∂ log π(A_k)/∂ϑ_a δ_k``
(score function: the backbone is only ever called forward, under ``no_grad``). Option (*ours*):
``td_lambda`` replaces ``δ_k`` in the actor's update by the generalised advantage ``Σ_{j≥k} λ_TD^{j−k} δ_j``
(Schulman et al. 2016, γ = 1); 1 is the Monte-Carlo return minus the baseline ``V̂_k``.

Pure torch; randomness is passed in.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Callable, Iterator

import torch
import torch.nn as nn
import torch.nn.functional as F

from .masks import masked_moments

FORMAT = "priorpaint.aid_guidance"
FORMAT_VERSION = 1


# ---------------------------------------------------------------------------------------------
# time parameterisation
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TimeParam:
    """The Karras ramp ``t ↦ σ`` (VE σ) the module was trained with."""

    sigma_min: float
    sigma_max: float
    rho: float = 7.0

    def sigma(self, t: torch.Tensor | float) -> torch.Tensor:
        a, b = self.sigma_max ** (1 / self.rho), self.sigma_min ** (1 / self.rho)
        return (a + torch.as_tensor(t, dtype=torch.float64) * (b - a)) ** self.rho

    def time(self, sigma: torch.Tensor | float) -> torch.Tensor:
        a, b = self.sigma_max ** (1 / self.rho), self.sigma_min ** (1 / self.rho)
        return (torch.as_tensor(sigma, dtype=torch.float64) ** (1 / self.rho) - a) / (b - a)

    def sigma_dot(self, sigma: torch.Tensor | float) -> torch.Tensor:
        a, b = self.sigma_max ** (1 / self.rho), self.sigma_min ** (1 / self.rho)
        s = torch.as_tensor(sigma, dtype=torch.float64)
        return self.rho * s ** ((self.rho - 1) / self.rho) * (b - a)

    def grid(self, steps: int) -> list[float]:
        """``steps`` equal time steps from σ_max to σ_min, then 0 (the training grid)."""
        return [float(s) for s in self.sigma(torch.linspace(0, 1, steps))] + [0.0]


def guided_denoised(x0: torch.Tensor, sigma: torch.Tensor, mu: torch.Tensor, tp: TimeParam,
                    strength: float | torch.Tensor = 1.0) -> torch.Tensor:
    """``D' = D − (σ/σ̇)·µ`` (per-sample σ ``[B]``); strength (a number or per-sample ``[B]``) scales µ."""
    shape = (-1, *([1] * (x0.ndim - 1)))
    s = sigma.reshape(shape).to(torch.float64)
    factor = (s / tp.sigma_dot(s)).to(x0.dtype)
    if torch.is_tensor(strength):
        strength = strength.reshape(shape).to(x0)
    return x0 - strength * factor * mu.to(x0.dtype)


# ---------------------------------------------------------------------------------------------
# networks
# ---------------------------------------------------------------------------------------------
class _Fourier(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("freqs", torch.exp(torch.linspace(0, math.log(64.0), dim // 2)), persistent=False)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        a = t[:, None].float() * self.freqs[None] * math.pi
        return torch.cat([a.sin(), a.cos()], 1)


class _Block(nn.Module):
    def __init__(self, width: int, emb: int):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(4, width), nn.Conv2d(width, width, 3, padding=1)
        self.film = nn.Linear(emb, 2 * width)
        self.norm2, self.conv2 = nn.GroupNorm(4, width), nn.Conv2d(width, width, 3, padding=1)

    def forward(self, h, e):
        scale, shift = self.film(e)[:, :, None, None].chunk(2, 1)
        r = self.conv1(F.silu(self.norm1(h)))
        r = self.norm2(r) * (1 + scale) + shift
        return h + self.conv2(F.silu(r))


def known_statistics(known: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``[B, 2C + 1]``: per-channel mean and standard deviation of ``y`` over the known region, and the
    known fraction (the module's global view of the context, whatever the hole's size)."""
    mean, std = masked_moments(y, known)
    return torch.cat([mean[..., 0, 0], std[..., 0, 0], known.mean((2, 3))], 1)


class _Trunk(nn.Module):
    """Inputs ``[c_in·x, k⊙y/σ_d, k]`` at latent resolution, a time embedding of t, two FiLM res blocks.
    With ``context`` the embedding also gets :func:`known_statistics`: a pixel deep inside a large hole,
    beyond the convolutions' reach, is told the colours around the hole directly (otherwise only the
    GroupNorm statistics carry anything global, entangled with the hole's own content)."""

    def __init__(self, channels: int, width: int, emb: int, sigma_data: float, context: bool = False):
        super().__init__()
        self.sigma_data = sigma_data
        self.embed = nn.Sequential(_Fourier(emb), nn.Linear(emb, emb), nn.SiLU())
        self.context = nn.Linear(2 * channels + 1, emb) if context else None
        self.conv_in = nn.Conv2d(2 * channels + 1, width, 3, padding=1)
        self.blocks = nn.ModuleList([_Block(width, emb), _Block(width, emb)])

    def forward(self, t, x, sigma, known, y):
        c_in = 1.0 / torch.sqrt(sigma.float() ** 2 + self.sigma_data**2)
        k = known.expand(x.shape[0], 1, *x.shape[-2:]).to(x.dtype)
        h = self.conv_in(torch.cat([x * c_in[:, None, None, None], k * y / self.sigma_data, k], 1))
        e = self.embed(t)
        if self.context is not None:
            e = e + F.silu(self.context(known_statistics(k, y.expand_as(x) / self.sigma_data)))
        for b in self.blocks:
            h = b(h, e)
        return h


class GuidanceNet(nn.Module):
    """The actor ``µ_ϑ(t, x; M, y)`` (the shipped guidance module). Output layer starts at zero, so an
    untrained module is exactly the unguided sampler.

    ``sigma_floor`` > 0 (*ours*) makes a coarse-only module: µ = 0 wherever the VE σ is below the floor, in
    training and at deployment alike. It steers only the noisy part of the trajectory, where the hole's
    layout and colour are decided; the backbone alone then draws the fine texture."""

    def __init__(self, channels: int, width: int = 16, emb: int = 32, sigma_data: float = 0.5, context: bool = False,
                 sigma_floor: float = 0.0):
        super().__init__()
        self.config = {"channels": channels, "width": width, "emb": emb, "sigma_data": sigma_data}
        if context:
            self.config["context"] = True  # older files have no key: context off
        if sigma_floor < 0:
            raise ValueError(f"sigma_floor must be ≥ 0, got {sigma_floor}")
        self.sigma_floor = float(sigma_floor)
        if sigma_floor > 0:
            self.config["sigma_floor"] = self.sigma_floor  # older files have no key: acts at every σ
        self.trunk = _Trunk(channels, width, emb, sigma_data, context)
        self.out = nn.Conv2d(width, channels, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, t, x, sigma, known, y):
        mu = self.out(F.silu(self.trunk(t, x, sigma, known, y)))
        if self.sigma_floor > 0:  # a coarse-only module: no drift below its VE σ floor
            mu = mu * (sigma.reshape(-1, *([1] * (mu.ndim - 1))) >= self.sigma_floor).to(mu)
        return mu

    def active(self, sigma: float) -> bool:
        """Whether the module acts at VE noise level ``sigma``."""
        return sigma >= self.sigma_floor


class CriticNet(nn.Module):
    """``V̂(t, x; M, y)`` per element (the trainer multiplies by d); only needed for training."""

    def __init__(self, channels: int, width: int = 16, emb: int = 32, sigma_data: float = 0.5, context: bool = False):
        super().__init__()
        self.trunk = _Trunk(channels, width, emb, sigma_data, context)
        self.head = nn.Linear(width + 1, 1)

    def forward(self, t, x, sigma, known, y):
        h = F.silu(self.trunk(t, x, sigma, known, y)).mean((2, 3))
        return self.head(torch.cat([h, (1 - t.float())[:, None]], 1))[:, 0]


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# ---------------------------------------------------------------------------------------------
# module file format
# ---------------------------------------------------------------------------------------------
def module_metadata(net: GuidanceNet, backbone: dict, tp: TimeParam, training: dict) -> dict[str, str]:
    """safetensors metadata (strings): what the module was trained for and how."""
    return {"format": FORMAT, "format_version": str(FORMAT_VERSION), "net": json.dumps(net.config),
            "backbone": json.dumps(backbone, sort_keys=True), "time": json.dumps(asdict(tp)),
            "training": json.dumps(training, sort_keys=True)}


class ModuleFormatError(ValueError):
    pass


# What a module file may declare, with bounds: memory stays bounded whatever the metadata says (the
# largest network these allow has ~10 M parameters, 40 MiB), and nothing is allocated before the
# declared network and the file's tensor shapes agree.
NET_FIELDS = {  # name: (type, lo, hi, required)
    "channels": (int, 1, 128, True), "width": (int, 4, 512, True), "emb": (int, 2, 512, True),
    "sigma_data": (float, 1e-3, 100.0, True), "context": (bool, None, None, False),
    "sigma_floor": (float, 0.0, 1e4, False)}
TIME_FIELDS = {"sigma_min": (float, 1e-6, 1e4, True), "sigma_max": (float, 1e-5, 1e5, True),
               "rho": (float, 0.1, 100.0, False)}


def _check_fields(section: str, value, fields: dict) -> dict:
    if not isinstance(value, dict):
        raise ModuleFormatError(f"has metadata '{section}' of type {type(value).__name__}, expected an object")
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise ModuleFormatError(f"has unknown '{section}' keys {unknown} (this PriorPaint knows {sorted(fields)})")
    out = {}
    for key, (kind, lo, hi, required) in fields.items():
        if key not in value:
            if required:
                raise ModuleFormatError(f"lacks '{section}.{key}'")
            continue
        v = value[key]
        ok = isinstance(v, bool) if kind is bool else (
            isinstance(v, int) and not isinstance(v, bool) if kind is int else
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v))
        if not ok:
            raise ModuleFormatError(f"has '{section}.{key}' = {v!r}, expected a finite {kind.__name__}")
        if lo is not None and not lo <= v <= hi:
            raise ModuleFormatError(f"has '{section}.{key}' = {v!r}, expected {lo:g} … {hi:g}")
        out[key] = kind(v)
    return out


def parse_metadata(meta: dict | None) -> dict:
    """Validate and decode a module's metadata against the schema above; raises
    :class:`ModuleFormatError` naming the offending key. Allocates nothing."""
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModuleFormatError(f"is not a PriorPaint AID guidance module (metadata format "
                                f"{(meta or {}).get('format') if isinstance(meta, dict) else None!r}, "
                                f"expected {FORMAT!r})")
    if meta.get("format_version") != str(FORMAT_VERSION):
        raise ModuleFormatError(f"has format version {meta.get('format_version')!r}; this PriorPaint reads "
                                f"version {FORMAT_VERSION}")
    try:
        out = {k: json.loads(meta[k]) for k in ("net", "backbone", "time", "training")}
    except (KeyError, TypeError, json.JSONDecodeError) as e:
        raise ModuleFormatError(f"has missing or unreadable metadata ({type(e).__name__}: {e})") from None
    out["net"] = _check_fields("net", out["net"], NET_FIELDS)
    if out["net"]["width"] % 4:
        raise ModuleFormatError(f"has 'net.width' = {out['net']['width']}, expected a multiple of 4 (GroupNorm(4))")
    if out["net"]["emb"] % 2:
        raise ModuleFormatError(f"has 'net.emb' = {out['net']['emb']}, expected an even number")
    t = _check_fields("time", out["time"], TIME_FIELDS)
    if not t["sigma_min"] < t["sigma_max"]:
        raise ModuleFormatError(f"has time.sigma_min {t['sigma_min']:g} ≥ time.sigma_max {t['sigma_max']:g}")
    out["time"] = TimeParam(**t)
    for k in ("backbone", "training"):
        if not isinstance(out[k], dict):
            raise ModuleFormatError(f"has metadata '{k}' of type {type(out[k]).__name__}, expected an object")
    return out


def declared_shapes(info: dict) -> dict[str, tuple[int, ...]]:
    """The tensor names and shapes the declared network has (built on the meta device: no memory)."""
    with torch.device("meta"):
        net = GuidanceNet(**info["net"])
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


def check_state_shapes(shapes: dict[str, tuple[int, ...]], info: dict) -> None:
    """Raise :class:`ModuleFormatError` unless ``shapes`` (from the file's header) are exactly the
    declared network's."""
    want = declared_shapes(info)
    missing = sorted(set(want) - set(shapes))
    unexpected = sorted(set(shapes) - set(want))
    wrong = [f"{k} {tuple(shapes[k])} (declared {want[k]})" for k in sorted(set(want) & set(shapes))
             if tuple(shapes[k]) != want[k]]
    if missing or unexpected or wrong:
        raise ModuleFormatError("has tensors that do not match its declared network ("
                                + "; ".join(x for x in (f"missing {missing[:3]}" if missing else "",
                                                        f"unexpected {unexpected[:3]}" if unexpected else "",
                                                        f"wrong shape {wrong[:3]}" if wrong else "") if x) + ")")


def build_from_state(sd: dict, info: dict) -> GuidanceNet:
    check_state_shapes({k: tuple(v.shape) for k, v in sd.items()}, info)
    bad = [k for k, v in sd.items() if not (v.is_floating_point() and torch.isfinite(v).all())]
    if bad:
        raise ModuleFormatError(f"has non-finite or non-float weights in {bad[:3]}")
    net = GuidanceNet(**info["net"])
    net.load_state_dict(sd, strict=True)
    return net.eval().requires_grad_(False)


def check_backbone(info: dict, backbone: dict) -> None:
    """Raise a clear error when the MODEL is not the one the module was trained for."""
    want = info["backbone"]
    diffs = [f"{k}: module {want.get(k)!r} vs model {backbone.get(k)!r}"
             for k in ("latent_channels", "sampling", "fingerprint") if want.get(k) != backbone.get(k)]
    for k in ("shift", "sigma_min", "sigma_max"):
        a, b = want.get(k), backbone.get(k)
        if (a is None) != (b is None) or (a is not None and abs(a - b) > 1e-4 * max(1.0, abs(a))):
            diffs.append(f"{k}: module {a!r} vs model {b!r}")
    if diffs:
        raise ModuleFormatError("was trained for another backbone (" + "; ".join(diffs) + ")")


# ---------------------------------------------------------------------------------------------
# rollouts and the actor-critic update
# ---------------------------------------------------------------------------------------------
Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # D(x_VE [B,...], σ [B]) → x0, no grad needed


@dataclass
class AIDConfig:
    steps: int = 10  # solver steps of a training rollout (Euler on the Karras ramp)
    beta: float = 1.0  # running-cost weight β
    lam: float = 0.1  # auxiliary temperature λ (ART-RL's value): exploration variance 2λ/(βd)
    lr_actor: float = 1e-4
    lr_critic: float = 1e-3
    antithetic: bool = True  # explore in ± pairs on the same image, mask and noise (variance reduction)
    harmony_weight: float = 0.0  # w in Ψ = ‖X − x*‖² + w·d·KL_harmony(X, M) (pixel-space RGB data in [−1, 1])
    moment_weight: float = 0.0  # w in Ψ += w·Σ_c n_hole·[(m_c − m*_c)² + (s_c − s*_c)²] (hole mean/std per channel)
    lowpass: int = 1  # k: Ψ's squared error is taken between k×k block means (×k², still a sum over elements)
    td_lambda: float = 0.0  # actor's advantage: Σ_j (λ_TD)^(j−k) δ_j (0 = the TD residual δ_k, 1 = Monte-Carlo return)

    def terminal(self) -> dict:
        """The terminal-cost settings, as :func:`terminal_cost` and :func:`terminal_cost_name` take them (and
        as the module's training metadata records them)."""
        return {"harmony_weight": self.harmony_weight, "moment_weight": self.moment_weight, "lowpass": self.lowpass}


@dataclass
class Rollout:
    xs: list[torch.Tensor]  # X_0 … X_{K−1} (states where actions were taken)
    sigmas: list[float]
    actions: list[torch.Tensor]
    x_final: torch.Tensor
    active: list[bool]  # steps where the module acts; elsewhere A_k = 0 and nothing is explored


def inpaint_rollout(denoise: Denoiser, actor: GuidanceNet, tp: TimeParam, x_star: torch.Tensor, hole: torch.Tensor,
                    noise: torch.Tensor, steps: int, explore_std: float | None = None,
                    explore: torch.Tensor | None = None) -> Rollout:
    """Euler on the ramp with ComfyUI's replace inpainting (the known region set to ``y + σ·noise`` before
    every call and in the denoised output, as ``KSamplerX0Inpaint`` does); each step uses ``D'(A_k)``.
    ``explore_std=None`` uses the mean action (deployment); else ``A_k = µ + std·explore[k]``. Where a
    coarse-only module does not act (σ below its ``sigma_floor``) the action is 0: no exploration there."""
    sig = tp.grid(steps)
    known = 1.0 - hole
    x = noise * sig[0]
    xs, actions = [], []
    active = [actor.active(s) for s in sig[:-1]]
    b = x.shape[0]
    for i in range(steps):
        s, s_next = sig[i], sig[i + 1]
        x = known * (x_star + s * noise) + hole * x
        st = torch.full((b,), s, dtype=torch.float32, device=x.device)
        with torch.no_grad():
            x0 = denoise(x, st)
            x0 = known * x_star + hole * x0
            mu = actor(tp.time(st).float(), x, st, known, known * x_star)
        a = mu if explore_std is None or not active[i] else mu + explore_std * explore[i].to(mu)
        xs.append(x)
        actions.append(a)
        d = guided_denoised(x0, st, a, tp)
        x = x + (s_next - s) * (x - d) / s if s_next > 0 else d
    x = known * x_star + hole * x
    return Rollout(xs, sig[:-1], actions, x, active)


def hole_moments(x: torch.Tensor, hole: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-sample, per-channel mean and standard deviation of ``x`` over the hole (weights ``hole``),
    and the hole's weight ``n`` per sample: ``[B, C]``, ``[B, C]``, ``[B, 1]``."""
    w = hole.expand(x.shape[0], 1, *x.shape[-2:]).to(x)
    mean, std = masked_moments(x, w)
    return mean[..., 0, 0], std[..., 0, 0], w.sum((2, 3))


def terminal_cost(x: torch.Tensor, x_star: torch.Tensor, hole: torch.Tensor | None = None,
                  harmony_weight: float = 0.0, moment_weight: float = 0.0, lowpass: int = 1) -> torch.Tensor:
    """``Ψ = ‖X − x*‖²`` per sample (summed over the latent), with three options (*ours*):

    - ``lowpass`` k > 1 takes the squared error between k×k block means instead, times k² (a smooth
      error counts as before). Texture finer than k px then earns nothing by being flattened: the
      pixel-wise error is lowest for the conditional mean, which is blurred where the hole is uncertain.

    - ``moment_weight`` w > 0 adds ``w·Σ_c n_hole·[(m_c − m*_c)² + (s_c − s*_c)²]``: the hole's mean and
      standard deviation per channel against the training image's. The squared error alone is lowest
      for a fill shrunk towards the conditional mean (flat, low-contrast); the std term prices that
      shrinkage, the mean term weights the colour shift. Scaled by the hole's size, so it is a sum over
      hole elements like the squared error. Any latent format.
    - ``harmony_weight`` w > 0 adds ``w·d·KL(known ‖ hole)`` of the colour histograms (the DCE Check's
      harmony number) of X read as RGB in [−1, 1].

    The actor–critic only ever evaluates Ψ, so it need not be differentiable."""
    if lowpass > 1:
        if x.shape[-1] % lowpass or x.shape[-2] % lowpass:
            raise ValueError(f"lowpass {lowpass} must divide the latent size {tuple(x.shape[-2:])}")
        psi = lowpass**2 * (F.avg_pool2d(x - x_star, lowpass) ** 2).flatten(1).sum(1)
    else:
        psi = ((x - x_star) ** 2).flatten(1).sum(1)
    if moment_weight > 0:
        if hole is None:
            raise ValueError("the moment term needs the hole mask")
        m, s, n = hole_moments(x, hole)
        m_star, s_star, _ = hole_moments(x_star, hole)
        psi = psi + moment_weight * (n * ((m - m_star) ** 2 + (s - s_star) ** 2)).sum(1)
    if harmony_weight > 0:
        if x.shape[1] != 3 or hole is None:
            raise ValueError("the harmony term needs 3-channel pixel-space data and the hole mask")
        from .dce import dce

        kl = dce(((x + 1) / 2).clamp(0, 1), hole.expand(x.shape[0], 1, *x.shape[-2:]).float(), bins=32)["kl"]
        psi = psi + harmony_weight * x[0].numel() * kl.to(psi)
    return psi


def terminal_cost_name(harmony_weight: float = 0.0, moment_weight: float = 0.0, lowpass: int = 1) -> str:
    """How :func:`terminal_cost` was configured, for the module's training metadata."""
    name = f"{lowpass}^2·sum (pool{lowpass}(X - x*))^2" if lowpass > 1 else "sum (X - x*)^2"
    if moment_weight:
        name += f" + {moment_weight:g}·sum_c n_hole·((mean_c - mean*_c)^2 + (std_c - std*_c)^2)"
    if harmony_weight:
        name += f" + {harmony_weight:g}·d·KL_harmony"
    return name


def actor_critic_losses(ro: Rollout, actor: nn.Module, critic: nn.Module, tp: TimeParam, x_star: torch.Tensor,
                        hole: torch.Tensor, cfg: AIDConfig) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """Surrogate losses whose gradients are the actor–critic updates of §5.2 (descend both):
    critic ``−Σ_k V̂_k·sg(δ_k)``, actor ``Σ_k log π(A_k)·sg(δ_k)``, averaged over the batch and the K
    steps. All K states go through each network in one call (one forward per backward, as DDP wants)."""
    b, d, k_steps = x_star.shape[0], x_star[0].numel(), len(ro.xs)
    known = (1.0 - hole).expand(b, 1, *hole.shape[-2:])
    var = 2 * cfg.lam / (cfg.beta * d)
    ts = [tp.time(s).item() for s in ro.sigmas] + [1.0]
    rep = lambda t: t.repeat(k_steps, *([1] * (t.ndim - 1)))  # noqa: E731 - step-major stacking
    x = torch.cat(ro.xs)
    a = torch.cat(ro.actions)
    st = torch.cat([torch.full((b,), s, dtype=torch.float32, device=x.device) for s in ro.sigmas])
    tk = torch.cat([torch.full((b,), ts[k], dtype=torch.float32, device=x.device) for k in range(k_steps)])
    yk = rep(known * x_star)
    values = (d * critic(tk, x, st, rep(known), yk)).reshape(k_steps, b)
    mu = actor(tk, x, st, rep(known), yk)
    logp = (-((a - mu) ** 2).flatten(1).sum(1) / (2 * var)).reshape(k_steps, b)
    dt = torch.tensor([ts[k + 1] - ts[k] for k in range(k_steps)], device=x.device)[:, None]
    run = 0.5 * cfg.beta * (a**2).flatten(1).sum(1).reshape(k_steps, b) * dt
    psi = terminal_cost(ro.x_final, x_star, hole, **cfg.terminal())
    nxt = torch.cat([values[1:].detach(), psi[None]])
    delta = nxt - values.detach() + run
    critic_loss = -(values * delta).mean()
    adv = delta
    if cfg.td_lambda > 0:  # generalised advantage (Schulman et al. 2016), γ = 1: adv_k = δ_k + λ_TD·adv_{k+1}
        adv = delta.clone()
        for k in range(k_steps - 2, -1, -1):
            adv[k] = delta[k] + cfg.td_lambda * adv[k + 1]
    if all(ro.active):
        actor_loss = (logp * adv).mean()
    else:  # only the steps where the module acts carry a policy (elsewhere A_k = 0 exactly)
        on = torch.tensor(ro.active, dtype=logp.dtype, device=logp.device)[:, None]
        actor_loss = (logp * adv * on).sum() / (on.sum() * b)
    stats = {"psi": float(psi.mean()), "running": float(run.sum(0).mean()), "td": float(delta.abs().mean())}
    return actor_loss, critic_loss, stats


def train(denoise: Denoiser, actor: GuidanceNet, critic: CriticNet, tp: TimeParam,
          batches: Iterator[tuple[torch.Tensor, torch.Tensor]], iterations: int, cfg: AIDConfig,
          generator: torch.Generator, start: int = 0, opt_state: dict | None = None,
          on_iteration: Callable[[int, dict, dict], None] | None = None,
          actor_train: nn.Module | None = None, critic_train: nn.Module | None = None,
          shard: slice | None = None) -> dict:
    """Run iterations ``start … iterations−1``; ``batches`` yields the *global* ``(x*, hole)`` batch.

    Data parallel (DDP): every process draws the same global batch and noise from the same generator
    and keeps its ``shard`` of rows; ``actor_train``/``critic_train`` are the DDP wrappers (their
    backward averages the gradients), so two processes follow the one-process trajectory exactly up
    to float reduction order. Returns the optimiser state (for resume)."""
    actor_train = actor_train or actor
    critic_train = critic_train or critic
    opt_a = torch.optim.Adam(actor_train.parameters(), lr=cfg.lr_actor)
    opt_c = torch.optim.Adam(critic_train.parameters(), lr=cfg.lr_critic)
    if opt_state:
        opt_a.load_state_dict(opt_state["actor"])
        opt_c.load_state_dict(opt_state["critic"])
        for opt, lr in ((opt_a, cfg.lr_actor), (opt_c, cfg.lr_critic)):  # a resumed run takes the rates asked now
            for group in opt.param_groups:
                group["lr"] = lr
    for it in range(start, iterations):
        x_star, hole = next(batches)
        d = x_star[0].numel()
        std = math.sqrt(2 * cfg.lam / (cfg.beta * d))
        noise = torch.randn(x_star.shape, generator=generator)
        explore = torch.randn((cfg.steps, *x_star.shape), generator=generator)
        if cfg.antithetic:  # rows b and b + B/2 share image, mask and noise; their exploration is ±ξ
            h = x_star.shape[0] // 2
            x_star, hole, noise = (torch.cat([t[:h], t[:h]]) for t in (x_star, hole.expand(x_star.shape[0], -1, -1, -1),
                                                                        noise))
            explore = torch.cat([explore[:, :h], -explore[:, :h]], 1)
        if shard is not None:
            x_star, hole, noise, explore = x_star[shard], hole[shard], noise[shard], explore[:, shard]
        ro = inpaint_rollout(denoise, actor, tp, x_star, hole, noise, cfg.steps, std, explore)
        la, lc, stats = actor_critic_losses(ro, actor_train, critic_train, tp, x_star, hole, cfg)
        opt_a.zero_grad(set_to_none=True)
        opt_c.zero_grad(set_to_none=True)
        (la + lc).backward()
        opt_a.step()
        opt_c.step()
        if on_iteration is not None:
            on_iteration(it, stats, {"actor": opt_a.state_dict(), "critic": opt_c.state_dict()})
    return {"actor": opt_a.state_dict(), "critic": opt_c.state_dict()}


def weights_finite(*modules: nn.Module) -> bool:
    """Whether every parameter of ``modules`` is finite."""
    return all(bool(torch.isfinite(p).all()) for m in modules for p in m.parameters())


class DivergenceWatch:
    """Tells when actor–critic training has diverged, from the statistics of each iteration.

    Diverged: the terminal cost Ψ or the running cost is not finite, or Ψ exceeds ``factor`` × the Ψ of
    the first iteration watched (a learning rate too large for the module makes Ψ explode by orders of
    magnitude within a few iterations, while healthy training lowers it). ``check`` returns the reason
    as text, or None while training is healthy."""

    def __init__(self, factor: float = 100.0):
        self.factor = float(factor)
        self.start: float | None = None

    def check(self, stats: dict, *modules: nn.Module) -> str | None:
        psi, running = float(stats["psi"]), float(stats.get("running", 0.0))
        if not (math.isfinite(psi) and math.isfinite(running)):
            return f"the cost is not finite (Ψ {psi:.4g}, running {running:.4g})"
        if not weights_finite(*modules):
            return "the module's weights are not finite"
        if self.start is None:
            self.start = psi
            return None
        if psi > self.factor * max(self.start, 1e-12):
            return f"the terminal cost Ψ went from {self.start:.4g} to {psi:.4g} (over {self.factor:g}× its start)"
        return None


# ---------------------------------------------------------------------------------------------
# files: the module (actor only) and resumable checkpoints (actor, critic, optimisers, RNG), both safetensors
# ---------------------------------------------------------------------------------------------
def save_module(path: str, actor: GuidanceNet, metadata: dict[str, str]) -> None:
    from safetensors.torch import save_file

    save_file({k: v.detach().cpu().contiguous() for k, v in actor.state_dict().items()}, path, metadata=metadata)


def _flatten_opt(prefix: str, state: dict, out: dict, meta: dict) -> None:
    meta[prefix] = json.dumps({"param_groups": state["param_groups"],
                               "steps": {str(i): float(s["step"]) for i, s in state["state"].items()}})
    for i, s in state["state"].items():
        for k, v in s.items():
            if k != "step":
                out[f"{prefix}.{i}.{k}"] = v.detach().cpu().contiguous()


def _unflatten_opt(prefix: str, tensors: dict, meta: dict) -> dict:
    info = json.loads(meta[prefix])
    state = {}
    for i, step in info["steps"].items():
        s = {"step": torch.tensor(step)}
        for k, v in tensors.items():
            if k.startswith(f"{prefix}.{i}."):
                s[k[len(prefix) + len(i) + 2:]] = v
        state[int(i)] = s
    return {"state": state, "param_groups": info["param_groups"]}


def save_checkpoint(path: str, actor: nn.Module, critic: nn.Module, opt_state: dict, iteration: int,
                    generator: torch.Generator, extra: dict) -> None:
    from safetensors.torch import save_file

    out = {f"actor.{k}": v.detach().cpu().contiguous() for k, v in actor.state_dict().items()}
    out.update({f"critic.{k}": v.detach().cpu().contiguous() for k, v in critic.state_dict().items()})
    out["rng"] = generator.get_state()
    meta = {"format": FORMAT + ".checkpoint", "iteration": str(iteration), "extra": json.dumps(extra, sort_keys=True)}
    _flatten_opt("opt_actor", opt_state["actor"], out, meta)
    _flatten_opt("opt_critic", opt_state["critic"], out, meta)
    tmp = path + ".tmp"
    save_file(out, tmp, metadata=meta)
    import os

    os.replace(tmp, path)  # a checkpoint is never half-written


def load_checkpoint(path: str, actor: nn.Module, critic: nn.Module, generator: torch.Generator,
                    backbone: dict | None = None) -> tuple[int, dict, dict]:
    """Restore a training checkpoint into ``actor``/``critic``/``generator``. Raises
    :class:`ModuleFormatError` naming the difference when it was written for another network config
    (``actor.config``: context, σ floor, width...) or, given ``backbone``, another backbone."""
    from safetensors import safe_open

    with safe_open(path, framework="pt") as f:
        meta = f.metadata() or {}
        shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
        if meta.get("format") != FORMAT + ".checkpoint":
            raise ModuleFormatError(f"{path} is not an AID training checkpoint")
        try:
            extra = json.loads(meta.get("extra", "{}"))
        except json.JSONDecodeError:
            raise ModuleFormatError(f"{path} has unreadable metadata") from None
        saved_net = extra.get("net")
        if saved_net is not None and saved_net != getattr(actor, "config", saved_net):
            diff = sorted(k for k in set(saved_net) | set(actor.config) if saved_net.get(k) != actor.config.get(k))
            raise ModuleFormatError("was written for another network (" + "; ".join(
                f"{k}: checkpoint {saved_net.get(k)!r} vs now {actor.config.get(k)!r}" for k in diff) + ")")
        if backbone is not None and extra.get("backbone") is not None:
            check_backbone({"backbone": extra["backbone"]}, backbone)
        want = {f"actor.{k}": tuple(v.shape) for k, v in actor.state_dict().items()}
        want.update({f"critic.{k}": tuple(v.shape) for k, v in critic.state_dict().items()})
        wrong = sorted(k for k in want if shapes.get(k) != want[k])
        if wrong:
            raise ModuleFormatError(f"does not match the network being trained (first differences: {wrong[:3]})")
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    actor.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("actor.")})
    critic.load_state_dict({k[7:]: v for k, v in tensors.items() if k.startswith("critic.")})
    generator.set_state(tensors["rng"])
    opt = {"actor": _unflatten_opt("opt_actor", tensors, meta), "critic": _unflatten_opt("opt_critic", tensors, meta)}
    return int(meta["iteration"]), opt, extra
