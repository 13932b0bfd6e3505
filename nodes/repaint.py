"""RePaint+ Sampler node: a SAMPLER that wraps any base SAMPLER with RePaint / RePaint+ resampling."""
from __future__ import annotations

import torch
from comfy_api.latest import io

import comfy.samplers

from ..samplers import noise as rng
from ..samplers import repaint as rp
from ..samplers import repaint_plus as rpp
from .common import ADVANCED, CATEGORY, schema
from .sampling import TransformedModel, VEView, make_ksampler, ve_core

MODES = {
    "repaint_plus_b": "RePaint+ variant B (noisy space): r noise-free rounds x += κ·k⊙(y − D(x)) per harmonising level, "
                      "inside the base sampler's model call (exact: the base sampler's own update of the hole)",
    "repaint_plus_a": "RePaint+ variant A (clean space): r rounds x̂0 = κ·D(k⊙y + u⊙x̂0); assumes zero-mean latents",
    "repaint": "plain RePaint (Lugmayr et al. 2022): fresh-noise time-travel jumps with its own DDPM ancestral moves "
               "over the whole schedule (the biased baseline; the base sampler is not used)",
}


def sample_repaint_plus(model, x, sigmas, extra_args=None, callback=None, disable=None, base=None,
                        mode="repaint_plus_b", jump_length=1, resamples=1, kappa_mode="capped", kappa_cap=4.0,
                        sigma_data=1.0, window=(0.0, 1.0), eta=0.0, solver="krylov", warm_start=True,
                        node="RePaint+ Sampler", **core_options):
    """RePaint+ inside **one** run of the base sampler over the schedule it was given: the base
    sampler's model is wrapped (:class:`nodes.sampling.TransformedModel`) so that every call does the
    injection and, at harmonising levels, the rounds of :class:`samplers.repaint_plus.RePaintPlusDenoiser`.
    Every sampler, scheduler and partial schedule keeps its own behaviour (state across steps, SDE
    noise, cfg_pp hooks, predictor-corrector calls). ``core_options`` go to the core unchanged (studies:
    ``stand_in_above``, ``stand_in_snr``)."""
    extra_args = dict(extra_args or {})
    if base is None:
        base = comfy.samplers.ksampler("euler_ancestral", {"eta": eta}) if eta > 0 else comfy.samplers.ksampler("euler")
    if extra_args.get("denoise_mask") is None:  # nothing known: the base sampler alone
        return base.sampler_function(model, x, sigmas, extra_args=extra_args, callback=callback, disable=disable,
                                     **base.extra_options)
    options = dict(variant="A" if mode == "repaint_plus_a" else "B", jump_length=jump_length, resamples=resamples,
                   kappa_mode=kappa_mode, kappa_cap=kappa_cap, sigma_data=sigma_data, window=window,
                   solver=solver, warm_start=warm_start, **core_options)
    wrapped = TransformedModel(model, sigmas, extra_args, lambda _, xs, sigma: core(xs, sigma))
    core = rpp.RePaintPlusDenoiser(wrapped.denoise, wrapped.latent_image, wrapped.mask, wrapped.known_at,
                                   rng.noise_sampler(x, int(extra_args.get("seed") or 0), "repaint_plus/inject"),
                                   wrapped.schedule(), signal=wrapped.signal, **options)
    out = base.sampler_function(wrapped, x, sigmas, extra_args=extra_args, callback=callback, disable=disable,
                                **base.extra_options)
    if not torch.isfinite(out).all():
        kmax = rpp.kappa(float(sigmas[0]), sigma_data, kappa_mode, kappa_cap)
        advice = ("use kappa_mode 'capped' with a smaller kappa_cap" if kappa_mode == "theory" else
                  "check the model, the latent and its noise mask for NaN/inf values")
        raise ValueError(
            f"PriorPaint {node}: the result is not finite (mode '{mode}', kappa_mode '{kappa_mode}', "
            f"kappa_cap {kappa_cap:g}, κ up to {kmax:.3g}); {advice}.")
    return out


def _repaint_expected(levels, jump_length=1, resamples=1, **_):
    return rp.count_evaluations(levels, jump_length, resamples)


def _repaint_core(view: VEView, x, sigmas, callback, jump_length=1, resamples=1, eta=1.0, **_):
    """Plain RePaint walks the whole schedule itself (its time-travel jumps re-noise x, which a model
    call cannot do to the sampler's state), with DDPM ancestral moves as the method defines them."""
    return rp.sample_repaint(view.denoise, x, sigmas, view.y, view.mask, view.noise, jump_length, resamples,
                             eta if eta > 0 else 1.0, callback, known_at=view.known_at)


_sample_repaint = ve_core(_repaint_core, expected=_repaint_expected, stream="repaint/noise")


def repaint_sampler(base: comfy.samplers.KSAMPLER | None = None, mode="repaint_plus_b", node="RePaint+ Sampler",
                    **options) -> comfy.samplers.KSAMPLER:
    """The SAMPLER the node returns (also used by the Inpaint KSampler's presets and the bench); ``node``:
    the display name run-time errors give (the node the user placed)."""
    if base is not None and not isinstance(base, comfy.samplers.KSAMPLER):
        raise ValueError("PriorPaint RePaint+ Sampler: input 'sampler' must be a k-diffusion SAMPLER (KSamplerSelect "
                         f"or a Sampler* node); got {type(base).__name__}")
    if mode == "repaint":
        keep = {k: options[k] for k in ("jump_length", "resamples", "eta") if k in options}
        return make_ksampler(_sample_repaint, "repaint", node=node, **keep)
    if mode not in MODES:
        raise ValueError(f"PriorPaint RePaint+ Sampler: input 'mode' must be one of {list(MODES)}, got {mode!r}")
    return make_ksampler(sample_repaint_plus, "repaint_plus", base=base, mode=mode, node=node, **options)


class RePaintPlusSampler(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return schema(
            node_id="PriorPaintRePaintPlusSampler",
            search_aliases=['repaint', 'inpaint sampler', 'resample', 'harmonize'],
            display_name="RePaint+ Sampler",
            category=f"{CATEGORY}/sampling",
            description=(
                "Inpainting sampler for any model (EPS, v-prediction, flow). Runs a base SAMPLER (any of ComfyUI's) once "
                "over the schedule it is given and harmonises the hole with its surroundings inside each model call, "
                "where ComfyUI's own inpainting acts, so every sampler, scheduler and split schedule keeps its "
                "behaviour. RePaint+ (Rout et al. 2023) realigns the drift (κ) and removes the fresh-noise dispersion "
                "of RePaint's resampling, so it converges instead of drifting towards the mean. Use with SamplerCustom / "
                "SamplerCustomAdvanced and a LATENT with a noise mask (SetLatentNoiseMask). Cost: the base sampler's "
                "model calls plus 'resamples' per call at a harmonising level."),
            inputs=[
                io.Combo.Input("mode", options=list(MODES), default="repaint_plus_b",
                               tooltip="repaint_plus_b (recommended) makes the hole agree with its surroundings at "
                                       "every step; repaint_plus_a is a variant for zero-mean latents; repaint is the "
                                       "original RePaint, for comparison. In detail: "
                                       + "; ".join(f"{k}: {v}" for k, v in MODES.items())),
                io.Int.Input("jump_length", default=1, min=1, max=100,
                             tooltip="Harmonise at every step (1) or every j-th step (2 = cheaper, the 'fast' "
                                     "preset). In RePaint mode: how many levels each jump goes back."),
                io.Int.Input("resamples", default=1, min=1, max=50,
                             tooltip="Rounds of harmonising per step: each costs one more model call; 1 is the "
                                     "measured best value per call (for more quality raise steps). In RePaint mode: "
                                     "the resampling count r (r−1 jumps back at each jump point)."),
                io.Combo.Input("kappa_mode", **ADVANCED, options=list(rpp.KAPPA_MODES), default="capped",
                               tooltip="How strongly each round pulls the hole towards what the known pixels imply "
                                       "when the image is still noisy: 'capped' (recommended, safe for real models), "
                                       "'theory' (uncapped) or '1' (no realignment). In detail: the drift "
                                       "realignment κ(σ) = (σ_d² + σ²)/σ_d², exact for Gaussian data; 'capped' is "
                                       "min(theory, kappa_cap)."),
                io.Float.Input("kappa_cap", **ADVANCED, default=4.0, min=1.0, max=1000.0, step=0.5,
                               tooltip="The largest pull in 'capped' mode (the upper bound on κ)."),
                io.Float.Input("start_percent", **ADVANCED, default=0.0, min=0.0, max=1.0, step=0.01,
                               tooltip="Harmonise only from this fraction of the schedule (0 = first step)."),
                io.Float.Input("end_percent", **ADVANCED, default=1.0, min=0.0, max=1.0, step=0.01,
                               tooltip="... up to this fraction of the schedule (1 = last step)."),
                io.Float.Input("eta", **ADVANCED, default=0.0, min=0.0, max=1.0, step=0.05,
                               tooltip="Without a base sampler: 0 = euler (DDIM), > 0 = euler_ancestral with this eta. "
                                       "RePaint mode always uses ancestral moves (eta 1 if 0)."),
                io.Float.Input("sigma_data", **ADVANCED, default=1.0, min=0.01, max=10.0, step=0.01,
                               tooltip="The spread of the model's latents: 1.0 for SD1.5, SDXL, SD3.5 and Flux; 0.5 "
                                       "for pixel models such as the demo model. (The data standard deviation σ_d in "
                                       "κ.)"),
                io.Sampler.Input("sampler", optional=True,
                                 tooltip="Base sampler that runs the schedule (KSamplerSelect etc.). Without one: euler "
                                         "(euler_ancestral when eta > 0). Not used in 'repaint' mode."),
                io.Combo.Input("solver", **ADVANCED, options=list(rpp.SOLVERS), default="krylov", optional=True,
                               tooltip="'krylov' (recommended: the most faithful per model call) or 'richardson' "
                                       "(the paper's rounds). In detail: how variant B's rounds reach data "
                                       "consistency; krylov takes the minimal residual over the rounds' directions "
                                       "with the prediction extrapolated, richardson the fixed-κ rounds."),
                io.Boolean.Input("warm_start", **ADVANCED, default=True, optional=True,
                                 tooltip="On (recommended): each step's rounds start from where the step before ended, "
                                         "instead of from fresh noise (off, the paper's way)."),
            ],
            outputs=[io.Sampler.Output("SAMPLER", display_name="sampler", tooltip="Connect to SamplerCustom / SamplerCustomAdvanced.")],
        )

    @classmethod
    def validate_inputs(cls, start_percent=0.0, end_percent=1.0, **_):
        if start_percent is not None and end_percent is not None and start_percent > end_percent:
            return f"start_percent ({start_percent}) must not exceed end_percent ({end_percent})"
        return True

    @classmethod
    def execute(cls, mode, jump_length, resamples, kappa_mode, kappa_cap, start_percent, end_percent, eta, sigma_data,
                sampler=None, solver="krylov", warm_start=True) -> io.NodeOutput:
        if start_percent > end_percent:
            raise ValueError(f"PriorPaint RePaint+ Sampler: input 'start_percent' ({start_percent}) exceeds "
                             f"'end_percent' ({end_percent}); expected start <= end")
        return io.NodeOutput(repaint_sampler(sampler if mode != "repaint" else None, mode=mode, jump_length=jump_length,
                                             resamples=resamples, kappa_mode=kappa_mode, kappa_cap=kappa_cap,
                                             sigma_data=sigma_data, window=(start_percent, end_percent), eta=eta,
                                             solver=solver, warm_start=warm_start))
