"""RePaint+ Sampler node: a SAMPLER that wraps any base SAMPLER with RePaint / RePaint+ resampling."""
from __future__ import annotations

import torch
from comfy_api.latest import io

import comfy.model_management
import comfy.samplers

from ..samplers import repaint as rp
from ..samplers import repaint_plus as rpp
from ..samplers.ve import ancestral_step
from .common import CATEGORY
from .sampling import VEView, make_ksampler

MODES = {
    "repaint_plus_b": "RePaint+ variant B (noisy space): r noise-free rounds x += κ·k⊙(y − D(x)) per harmonising level",
    "repaint_plus_a": "RePaint+ variant A (clean space): r rounds x̂0 = κ·D(k⊙y + u⊙x̂0); assumes zero-mean latents",
    "repaint": "plain RePaint (Lugmayr et al. 2022): fresh-noise time-travel jumps, ancestral steps (the biased baseline)",
}


class _CachedModel:
    """The sampler model seen by a base sampler for one descending move: the first call at the
    current (x, σ) returns the x̂0 the harmonisation already computed (no second evaluation); any
    further call (second-order samplers) is a real, counted model evaluation."""

    def __init__(self, view: VEView, x: torch.Tensor, sigma: float, x0: torch.Tensor):
        self._view, self._x, self._sigma, self._x0 = view, x, sigma, x0

    def __call__(self, x, sigma, **kwargs):
        if self._x0 is not None and abs(float(sigma.reshape(-1)[0]) - self._sigma) < 1e-12 and torch.equal(x, self._x):
            x0, self._x0 = self._x0, None
            return x0
        comfy.model_management.throw_exception_if_processing_interrupted()
        out = self._view.model(x, sigma, **kwargs)
        self._view._count(x, out, float(sigma.reshape(-1)[0]))
        return out

    def __getattr__(self, name):
        return getattr(self._view.model, name)


def base_step(view: VEView, base: comfy.samplers.KSAMPLER | None):
    """A ``step(x_VE, x̂0, σ, σ')`` that moves one level with ``base``'s sampler function (DDIM without one)."""
    counter = [0]

    def step(x_ve, x0, s_ve, s_next_ve):
        if base is None:
            return ancestral_step(x_ve, x0, s_ve, s_next_ve, None, eta=0.0)
        s, s_next = view.from_ve_sigma(s_ve), view.from_ve_sigma(s_next_ve)
        x = view.from_ve(x_ve, s_ve)
        sig = torch.tensor([s, s_next], dtype=view.sigmas.dtype, device=view.sigmas.device)
        counter[0] += 1
        extra = dict(view.extra, seed=int(view.extra.get("seed") or 0) + 7919 * counter[0])  # fresh noise per move
        out = base.sampler_function(_CachedModel(view, x, s, x0), x, sig, extra_args=extra, callback=None,
                                    disable=True, **base.extra_options)
        return view.to_ve(out, s_next) if s_next > 0 else out

    return step


def _expected(levels, mode="repaint_plus_b", jump_length=1, resamples=1, window=(0.0, 1.0), **_):
    if mode == "repaint":
        return rp.count_evaluations(levels, jump_length, resamples)
    return rpp.count_evaluations(levels, jump_length, resamples, window)


def _core(view: VEView, x, sigmas, callback, mode="repaint_plus_b", jump_length=1, resamples=1, kappa_mode="capped",
          kappa_cap=4.0, sigma_data=1.0, window=(0.0, 1.0), eta=0.0, base=None):
    if mode == "repaint":
        return rp.sample_repaint(view.denoise, x, sigmas, view.y, view.mask, view.noise, jump_length, resamples,
                                 eta if eta > 0 else 1.0, callback, known_at=view.known_at)
    out = rpp.sample_repaint_plus(view.denoise, x, sigmas, view.y, view.mask, view.noise,
                                  variant="A" if mode == "repaint_plus_a" else "B", jump_length=jump_length,
                                  resamples=resamples, kappa_mode=kappa_mode, kappa_cap=kappa_cap,
                                  sigma_data=sigma_data, window=window, eta=eta,
                                  step=base_step(view, base), callback=callback, known_at=view.known_at)
    if not torch.isfinite(out).all():
        kmax = rpp.kappa(max(sigmas), sigma_data, kappa_mode, kappa_cap)
        raise ValueError(
            f"PriorPaint RePaint+ Sampler: the result is not finite (mode '{mode}', kappa_mode '{kappa_mode}', "
            f"κ up to {kmax:.3g} at the first level). κ(σ) = (σ_d² + σ²)/σ_d² is only safe where the model's "
            "prediction is not near its mean; use kappa_mode 'capped' (and variant B), or a smaller kappa_cap.")
    return out


def repaint_sampler(base: comfy.samplers.KSAMPLER | None = None, **options) -> comfy.samplers.KSAMPLER:
    """The SAMPLER the node returns (also used by the bench)."""
    if base is not None and not isinstance(base, comfy.samplers.KSAMPLER):
        raise ValueError("PriorPaint RePaint+ Sampler: input 'sampler' must be a k-diffusion SAMPLER (KSamplerSelect "
                         f"or a Sampler* node); got {type(base).__name__}")
    return make_ksampler(_core, "repaint_plus", expected=_expected, base=base, **options)


class RePaintPlusSampler(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="PriorPaintRePaintPlusSampler",
            display_name="RePaint+ Sampler",
            category=f"{CATEGORY}/sampling",
            description=(
                "Inpainting sampler for any model (EPS, v-prediction, flow). Wraps a base SAMPLER for the descending "
                "moves and harmonises the hole with its surroundings at chosen levels. RePaint+ (Rout et al. 2023) "
                "realigns the drift (κ) and removes the fresh-noise dispersion of RePaint's resampling, so it converges "
                "instead of drifting towards the mean. Use with SamplerCustom / SamplerCustomAdvanced and a LATENT with "
                "a noise mask (SetLatentNoiseMask). Cost: one model call per level plus 'resamples' per harmonising "
                "level; the progress bar counts every call."),
            inputs=[
                io.Combo.Input("mode", options=list(MODES), default="repaint_plus_b",
                               tooltip="; ".join(f"{k}: {v}" for k, v in MODES.items())),
                io.Int.Input("jump_length", default=1, min=1, max=100,
                             tooltip="Harmonise every j-th level (RePaint+), or jump back j levels (RePaint)."),
                io.Int.Input("resamples", default=1, min=1, max=50,
                             tooltip="Harmonisation rounds per harmonising level (RePaint+), or resampling count r "
                                     "(RePaint: r−1 jumps back at each jump point)."),
                io.Combo.Input("kappa_mode", options=list(rpp.KAPPA_MODES), default="capped",
                               tooltip="Drift realignment κ(σ) = (σ_d² + σ²)/σ_d²: 'theory' (exact for Gaussian data), "
                                       "'capped' (min(theory, cap): safe for real models at high σ) or '1' (none)."),
                io.Float.Input("kappa_cap", default=4.0, min=1.0, max=1000.0, step=0.5,
                               tooltip="Upper bound on κ in 'capped' mode."),
                io.Float.Input("start_percent", default=0.0, min=0.0, max=1.0, step=0.01,
                               tooltip="Harmonise only from this fraction of the schedule (0 = first step)."),
                io.Float.Input("end_percent", default=1.0, min=0.0, max=1.0, step=0.01,
                               tooltip="... up to this fraction of the schedule (1 = last step)."),
                io.Float.Input("eta", default=0.0, min=0.0, max=1.0, step=0.05,
                               tooltip="Noise of the descending moves when no base sampler is connected (0 = DDIM). "
                                       "RePaint mode always uses ancestral moves (eta 1 if 0)."),
                io.Float.Input("sigma_data", default=1.0, min=0.01, max=10.0, step=0.01,
                               tooltip="Data standard deviation in the model's latent space for κ: about 1 for "
                                       "SD/SDXL/SD3/Flux latents, 0.5 for pixel models in [-1, 1]."),
                io.Sampler.Input("sampler", optional=True,
                                 tooltip="Base sampler for the descending moves (KSamplerSelect etc.). Without one: "
                                         "DDIM moves (deterministic)."),
            ],
            outputs=[io.Sampler.Output("SAMPLER", tooltip="Connect to SamplerCustom / SamplerCustomAdvanced.")],
        )

    @classmethod
    def validate_inputs(cls, start_percent=0.0, end_percent=1.0, **_):
        if start_percent is not None and end_percent is not None and start_percent > end_percent:
            return f"start_percent ({start_percent}) must not exceed end_percent ({end_percent})"
        return True

    @classmethod
    def execute(cls, mode, jump_length, resamples, kappa_mode, kappa_cap, start_percent, end_percent, eta, sigma_data,
                sampler=None) -> io.NodeOutput:
        if start_percent > end_percent:
            raise ValueError(f"PriorPaint RePaint+ Sampler: input 'start_percent' ({start_percent}) exceeds "
                             f"'end_percent' ({end_percent}); expected start <= end")
        return io.NodeOutput(repaint_sampler(sampler if mode != "repaint" else None, mode=mode, jump_length=jump_length,
                                             resamples=resamples, kappa_mode=kappa_mode, kappa_cap=kappa_cap,
                                             sigma_data=sigma_data, window=(start_percent, end_percent), eta=eta))
