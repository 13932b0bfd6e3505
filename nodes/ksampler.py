"""Inpaint KSampler (Advanced) (ids PriorPaintKSampler, PriorPaintKSamplerAdvanced): drop-in replacements for ComfyUI's KSampler / KSamplerAdvanced with
one ``method`` choice of named inpainting presets.

Each preset is a SAMPLER the pack already ships (the RePaint+ Sampler around the chosen
``sampler_name``), run over the schedule KSampler itself would use (its scheduler, ``denoise``,
start/end steps, and the dropped penultimate σ of dpm_2 / uni_pc), so the node gives exactly what the
equivalent SamplerCustom stack gives (tests/nodes/test_ksampler_node.py). Presets are measured by
``make bench-presets`` (docs/benchmarks.md, "Presets").
"""
from __future__ import annotations

import torch
from comfy_api.latest import io

import comfy.sample
import comfy.samplers
import comfy.utils
import latent_preview

from ..samplers.presets import PRESETS
from ..samplers.masks import InputError
from .common import CATEGORY, log, node_error, readout, schema
from .repaint import repaint_sampler
from .validate import sampling_inputs



# The drop-in's defaults are KSampler's own (euler, simple). On the exact multimodal priors "simple" roughly halves
# the balanced preset's NLL excess against karras at equal or lower sliced W2, on three
# independent sets of priors; on the demo model it costs 1 % of seam score (docs/repaint-plus.md, "Default base
# sampler and schedule"; tools/studies/posterior_base_sweep.py, tools/studies/demo_base_defaults.py).
DEFAULT_SAMPLER, DEFAULT_SCHEDULER = "euler", "simple"

METHOD_TOOLTIP = ("How the hole is made to agree with its surroundings. balanced (recommended): the most "
                  "harmonious, 2 model calls per step; fast: nearly as good, 1.5 calls per step; core: ComfyUI's own "
                  "inpainting, 1 call per step, to compare. (Calls per step with a first-order sampler such as "
                  "euler; second-order samplers pay them per call. In detail: "
                  + "; ".join(f"{k}: {p.label}" for k, p in PRESETS.items()) + ".) "
                  "For more quality raise steps. Every method works from 1 step (Turbo, Lightning, LCM models): "
                  "the presets keep the hole in the latent's range, and at 2-8 steps they measured more "
                  "harmonious than core (docs/repaint-plus.md, 'Few steps'). Measured side by side by "
                  "`make bench-presets`.")


def preset_sampler(method: str, sampler_name: str, node: str = "Inpaint KSampler") -> comfy.samplers.KSAMPLER:
    """The SAMPLER of a preset around ComfyUI's ``sampler_name`` (what the SamplerCustom stack builds
    from KSamplerSelect + RePaint+ Sampler)."""
    if method not in PRESETS:
        raise node_error(node, InputError("method", f"is {method!r}", f"one of {list(PRESETS)}"))
    if sampler_name not in comfy.samplers.KSampler.SAMPLERS:
        raise node_error(node, InputError("sampler_name", f"is {sampler_name!r}",
                                          "one of ComfyUI's samplers (comfy.samplers.KSampler.SAMPLERS)"))
    base = comfy.samplers.sampler_object(sampler_name)
    preset = PRESETS[method]
    if preset.options is None:
        return base
    return repaint_sampler(base, node=node, **preset.options)


def ksampler_sigmas(model, steps: int, sampler_name: str, scheduler: str, denoise: float = 1.0,
                    start_step: int | None = None, last_step: int | None = None,
                    force_full_denoise: bool = False) -> torch.Tensor:
    """The schedule ``comfy.samplers.KSampler`` runs for these inputs (its steps/denoise rule, the
    dropped penultimate σ of some samplers, and KSamplerAdvanced's start/end slicing)."""
    ks = comfy.samplers.KSampler(model, steps=steps, device="cpu", sampler=sampler_name, scheduler=scheduler,
                                 denoise=denoise, model_options=model.model_options)
    sigmas = ks.sigmas.clone().cpu()
    if last_step is not None and last_step < len(sigmas) - 1:
        sigmas = sigmas[:last_step + 1]
        if force_full_denoise:
            sigmas[-1] = 0
    if start_step is not None:
        sigmas = sigmas[start_step:] if start_step < len(sigmas) - 1 else sigmas[:0]
    return sigmas


def run_ksampler(model, seed: int, steps: int, cfg: float, sampler_name: str, scheduler: str, positive, negative,
                 latent: dict, method: str, denoise: float = 1.0, add_noise: bool = True, start_step=None,
                 last_step=None, force_full_denoise: bool = False, node: str = "Inpaint KSampler") -> dict:
    """KSampler's ``common_ksampler`` with the preset's SAMPLER; returns the output LATENT (a new dict).
    Every input is checked before the first model call (:func:`nodes.validate.sampling_inputs`); the
    LATENT's noise mask reaches the sampler fitted by the pack's mask rule, never stretched."""
    sampler = preset_sampler(method, sampler_name, node)
    if scheduler not in comfy.samplers.KSampler.SCHEDULERS:
        raise node_error(node, InputError("scheduler", f"is {scheduler!r}",
                                          "one of ComfyUI's schedulers (comfy.samplers.KSampler.SCHEDULERS)"))
    if not (isinstance(denoise, (int, float)) and 0.0 <= float(denoise) <= 1.0):  # NaN fails this too
        raise node_error(node, InputError("denoise", f"is {denoise!r}", "a number in [0, 1]"))
    x, noise_mask = sampling_inputs(model, latent, node, cfg)
    samples = comfy.sample.fix_empty_latent_channels(model, x)
    if add_noise:
        noise = comfy.sample.prepare_noise(samples, seed, latent.get("batch_index"))
    else:
        noise = torch.zeros(samples.size(), dtype=samples.dtype, layout=samples.layout, device="cpu")
    sigmas = ksampler_sigmas(model, steps, sampler_name, scheduler, denoise, start_step, last_step, force_full_denoise)
    if not bool(torch.isfinite(sigmas).all()):  # e.g. ComfyUI's kl_optimal at 1 step divides by zero
        raise node_error(node, InputError("scheduler", f"{scheduler!r} gives no valid schedule at {steps} step(s) "
                                          f"(ComfyUI computes {[round(float(v), 4) for v in sigmas[:4]]})",
                                          "more steps or another scheduler"))
    out = dict(latent)
    if len(sigmas) < 2:  # nothing to do (denoise 0, or start at/after the end): KSampler returns its input
        out["samples"] = samples
        return out
    callback = latent_preview.prepare_callback(model, len(sigmas) - 1)
    out["samples"] = comfy.sample.sample_custom(model, noise, cfg, sampler, sigmas, positive, negative, samples,
                                                noise_mask=noise_mask, callback=callback,
                                                disable_pbar=not comfy.utils.PROGRESS_BAR_ENABLED, seed=seed)
    return out


NO_MASK = ("no noise mask on 'latent_image', so this ran as a plain KSampler and regenerated the whole "
           "image. To inpaint, give the latent a mask: VAE Encode (for Inpainting), Set Latent Noise Mask, or "
           "PriorPaint's Inpaint Encode.")


def ksampler_readout(latent: dict, method: str, steps: int, node: str) -> dict:
    """What the node shows after a run: the method and the share of the latent it inpainted, or a warning
    where there was nothing to inpaint (no mask, or an all-zero mask). A plain KSampler run is also logged."""
    mask = latent.get("noise_mask") if isinstance(latent, dict) else None
    if mask is None:
        log.warning("%s: %s", node, NO_MASK)
        return readout("⚠ " + NO_MASK[0].upper() + NO_MASK[1:])
    share = float(torch.as_tensor(mask, dtype=torch.float32).mean())
    if share == 0.0:
        return readout("⚠ The noise mask is all 0: nothing was inpainted (the latent came back unchanged). "
                       "Paint the area to change white (1) in the mask.")
    calls = PRESETS[method].evaluations(steps)
    return readout(f"{method}, {steps} steps ({calls} model calls with a first-order sampler such as euler): "
                   f"inpainted {100 * share:.0f}% of the image")


def _common_inputs():
    return [
        io.Int.Input("steps", default=20, min=1, max=10000, tooltip="Steps of the schedule (model calls per step: see 'method')."),
        io.Float.Input("cfg", default=8.0, min=0.0, max=100.0, step=0.1, round=0.01,
                       tooltip="Classifier-free guidance scale, as in KSampler."),
        io.Combo.Input("sampler_name", options=list(comfy.samplers.KSampler.SAMPLERS), default=DEFAULT_SAMPLER,
                       tooltip="Any of ComfyUI's samplers: the preset harmonises the hole inside its model calls."),
        io.Combo.Input("scheduler", options=list(comfy.samplers.KSampler.SCHEDULERS), default=DEFAULT_SCHEDULER,
                       tooltip="The noise schedule, as in KSampler. Default 'simple' (KSampler's own): measured more "
                               "faithful to the exact posterior than karras with the presets (docs/repaint-plus.md)."),
        io.Conditioning.Input("positive", tooltip="What the image should show."),
        io.Conditioning.Input("negative", tooltip="What the image should not show."),
        io.Latent.Input("latent_image", tooltip="The latent to inpaint, with its noise mask (1 = inpaint): VAE Encode "
                                               "(for Inpainting), SetLatentNoiseMask or PriorPaint's Inpaint Encode. "
                                               "Without a mask the node is the plain sampler."),
    ]


class PriorPaintKSampler(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return schema(
            node_id="PriorPaintKSampler",
            search_aliases=["ksampler", "inpaint", "inpainting sampler", "repaint", "drop-in"],
            display_name="Inpaint KSampler",
            category=f"{CATEGORY}/sampling",
            description=(
                "Drop-in KSampler for inpainting with any model (SD1.5, SDXL, SD3.x, Flux, video): the same inputs as "
                "KSampler plus 'method', a named preset that harmonises the hole with its surroundings inside every "
                "model call of the sampler you pick. Swap it for a KSampler in an existing inpainting workflow. "
                "'core' runs ComfyUI's own inpainting, for side-by-side comparison."),
            inputs=[io.Model.Input("model", tooltip="The model (any family ComfyUI loads)."),
                    io.Int.Input("seed", default=0, min=0, max=0xffffffffffffffff, control_after_generate=True,
                                 tooltip="The random seed, as in KSampler."),
                    *_common_inputs(),
                    io.Float.Input("denoise", default=1.0, min=0.0, max=1.0, step=0.01,
                                   tooltip="Fraction of the schedule to run, as in KSampler."),
                    io.Combo.Input("method", options=list(PRESETS), default="balanced", tooltip=METHOD_TOOLTIP)],
            outputs=[io.Latent.Output("latent", display_name="LATENT", tooltip="The inpainted latent.")],
        )

    @classmethod
    def execute(cls, model, seed, steps, cfg, sampler_name, scheduler, positive, negative, latent_image, denoise,
                method) -> io.NodeOutput:
        return io.NodeOutput(run_ksampler(model, seed, steps, cfg, sampler_name, scheduler, positive, negative,
                                          latent_image, method, denoise=denoise),
                             ui=ksampler_readout(latent_image, method, steps, "Inpaint KSampler"))


class PriorPaintKSamplerAdvanced(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return schema(
            node_id="PriorPaintKSamplerAdvanced",
            search_aliases=["ksampler advanced", "inpaint", "refiner", "start at step", "repaint"],
            display_name="Inpaint KSampler (Advanced)",
            category=f"{CATEGORY}/sampling",
            description=(
                "Drop-in KSamplerAdvanced for inpainting: its inputs (add noise, start/end step, return with leftover "
                "noise) plus 'method'. Chains of stages (base + refiner, split schedules) keep the known region the "
                "way ComfyUI's own inpainting does."),
            inputs=[io.Model.Input("model", tooltip="The model (any family ComfyUI loads)."),
                    io.Combo.Input("add_noise", options=["enable", "disable"], default="enable",
                                   tooltip="disable for a later stage that continues a latent with leftover noise."),
                    io.Int.Input("noise_seed", default=0, min=0, max=0xffffffffffffffff, control_after_generate=True,
                                 tooltip="The random seed, as in KSamplerAdvanced."),
                    *_common_inputs(),
                    io.Int.Input("start_at_step", default=0, min=0, max=10000, tooltip="First step of the schedule to run."),
                    io.Int.Input("end_at_step", default=10000, min=0, max=10000, tooltip="Step to stop at."),
                    io.Combo.Input("return_with_leftover_noise", options=["disable", "enable"], default="disable",
                                   tooltip="enable to hand a noisy latent to a later stage."),
                    io.Combo.Input("method", options=list(PRESETS), default="balanced", tooltip=METHOD_TOOLTIP)],
            outputs=[io.Latent.Output("latent", display_name="LATENT", tooltip="The inpainted (or partly denoised) latent.")],
        )

    @classmethod
    def execute(cls, model, add_noise, noise_seed, steps, cfg, sampler_name, scheduler, positive, negative,
                latent_image, start_at_step, end_at_step, return_with_leftover_noise, method) -> io.NodeOutput:
        return io.NodeOutput(run_ksampler(
            model, noise_seed, steps, cfg, sampler_name, scheduler, positive, negative, latent_image, method,
            add_noise=add_noise == "enable", start_step=start_at_step, last_step=end_at_step,
            force_full_denoise=return_with_leftover_noise != "enable", node="Inpaint KSampler (Advanced)"),
            ui=ksampler_readout(latent_image, method, steps, "Inpaint KSampler (Advanced)"))
