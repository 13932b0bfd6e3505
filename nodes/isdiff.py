"""IS-Diff nodes: GMM Seed (LATENT), DCE Check (IMAGE + MASK), Harmonized Sampler (SAMPLER)."""
from __future__ import annotations

import torch
from comfy_api.latest import io

import comfy.model_management
import comfy.samplers

from ..samplers import dce as dce_core
from ..samplers import gmm_seed as seed_core
from ..samplers import harmonized as dsr
from ..samplers.masks import InputError, check_finite, dilate, image_to_bchw, mask_for
from ..samplers import noise as rng
from .common import ADVANCED, CATEGORY, node_error, readout, schema, send_ui_message, unique_id
from .sampling import make_ksampler
from .validate import latent_hole


# ---------------------------------------------------------------------------------------------
# GMM Seed
# ---------------------------------------------------------------------------------------------
class GMMSeed(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return schema(
            node_id="PriorPaintGMMSeed",
            search_aliases=['gaussian mixture', 'seed fill', 'prefill', 'inpaint init', 'is-diff'],
            display_name="GMM Seed",
            category=f"{CATEGORY}/seed",
            description=(
                "IS-Diff's primary seed (Lyu et al. 2025): fits a Gaussian mixture to the known latent vectors (the "
                "mask taken to latent resolution) and fills the hole with per-position draws, so sampling starts from "
                "colours that agree with the surroundings instead of from plain noise. Outputs a LATENT with the noise "
                "mask set: use it with KSampler at denoise < 1 (which noises it to the start sigma, eq. 7) or with "
                "SamplerCustom and a split schedule. For pixel models the latent is the image itself."),
            inputs=[
                io.Latent.Input("samples", tooltip="The encoded image (VAEEncode), optionally with a noise mask."),
                io.Int.Input("components", default=5, min=1, max=32, tooltip="Mixture components K."),
                io.Int.Input("seed", default=0, min=0, max=2**64 - 1, control_after_generate=True,
                             tooltip="Seed for the subsample and the draws (deterministic per seed)."),
                io.Int.Input("max_points", **ADVANCED, default=2000, min=100, max=10_000_000,
                             tooltip="At most this many known positions (a seeded random subset) fit the mixture."),
                io.Float.Input("noise_blend", **ADVANCED, default=0.0, min=0.0, max=1.0, step=0.05,
                               tooltip="Mix the draws with standard normal noise: 0 = pure GMM seed, 1 = plain noise."),
                io.Mask.Input("mask", optional=True,
                              tooltip="1 = inpaint. Resized bilinearly to latent size. Optional if the LATENT has a "
                                      "noise mask."),
            ],
            outputs=[io.Latent.Output("LATENT", display_name="seeded latent", tooltip="Seeded latent with noise_mask set.")],
        )

    @classmethod
    def execute(cls, samples, components, seed, max_points, noise_blend, mask=None) -> io.NodeOutput:
        x = samples["samples"]
        if x.ndim not in (4, 5):
            raise node_error("GMM Seed", InputError("samples", f"has shape {tuple(x.shape)}",
                                                    "an image LATENT [B, C, H, W] or a video LATENT [B, C, T, H, W]"))
        try:
            check_finite(x, "samples")
        except InputError as e:
            raise node_error("GMM Seed", e) from None
        hole = latent_hole(samples, mask, "GMM Seed")
        if bool((hole >= 0.5).all()):
            raise node_error("GMM Seed", InputError("mask", "covers the whole image", "some known pixels (mask < 0.5)"))
        if not bool((hole > 0).any()):
            raise node_error("GMM Seed", InputError("mask", "is empty", "a region to inpaint (mask > 0)"))
        items = samples.get("batch_index")  # ComfyUI's LatentFromBatch/RepeatLatentBatch convention
        if items is not None and len(items) != x.shape[0]:
            items = None
        filled, _ = seed_core.gmm_seed(x, hole, components, max_points, seed, noise_blend, items=items,
                                       check=comfy.model_management.throw_exception_if_processing_interrupted)
        out = dict(samples)
        out["samples"] = filled
        out["noise_mask"] = hole.expand(x.shape[0], *hole.shape[1:]).clone()
        return io.NodeOutput(out)


# ---------------------------------------------------------------------------------------------
# DCE Check
# ---------------------------------------------------------------------------------------------
# The read-out's scale, from `make bench-presets` (docs/presets.json, README): finished inpaints of the demo
# model's held-out crops average KL 0.76 with ComfyUI's own inpainting and 0.38 with the balanced preset.
DCE_SCALE = ("Lower is more harmonious: 0 = the hole has the colours of its surroundings. For scale, finished "
             "inpaints on the demo set score about 0.4 (PriorPaint balanced) to 0.8 (ComfyUI's own inpainting).\n"
             "Heat map: the known region dimmed; in the hole, red = colours rare around it, blue = colours that fit.")


class DCECheck(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return schema(
            node_id="PriorPaintDCECheck",
            search_aliases=['heat map', 'harmony', 'dce', 'seam check', 'inpaint quality'],
            display_name="DCE Check",
            category=f"{CATEGORY}/analysis",
            description=(
                "IS-Diff's harmony check: the cross-entropy between the colour histograms of the known and the inpainted "
                "region (DCE), also reported as KL (DCE minus the known region's entropy) so one threshold works across "
                "images; lower is more harmonious. The heat map shows where the hole's colours are unlikely under the "
                "surroundings' histograms."),
            inputs=[
                io.Image.Input("image", tooltip="The inpainted image."),
                io.Mask.Input("mask", tooltip="1 = inpainted region (resized bilinearly if needed)."),
                io.Int.Input("bins", default=64, min=8, max=256, tooltip="Histogram bins per channel."),
                io.Boolean.Input("texture", **ADVANCED, default=False,
                                 tooltip="Also compare gradient-magnitude histograms (texture), weighted 0.5."),
            ],
            outputs=[
                io.Float.Output("kl", display_name="KL (harmony)", tooltip="KL(known ‖ hole) per image, averaged over the batch."),
                io.Float.Output("dce", display_name="DCE", tooltip="DCE = H(known, hole), averaged over the batch."),
                io.Image.Output("heat_map", display_name="heat map", tooltip="Disagreement heat map (red = unlikely under the surroundings)."),
                io.Mask.Output("heat_mask", display_name="heat map mask", tooltip="The heat map as a MASK in [0, 1]."),
            ],
            is_output_node=True,
        )

    @classmethod
    def execute(cls, image, mask, bins=64, texture=False) -> io.NodeOutput:
        try:
            x = image_to_bchw(image, "image")
            check_finite(x, "image")
            m = mask_for(mask, x, "mask")
        except InputError as e:
            raise node_error("DCE Check", e) from None
        if not bool((m > 0).any()) or bool((m >= 1).all()):
            raise node_error("DCE Check", InputError("mask", "is empty or covers everything",
                                                     "both a hole and known pixels"))
        scores = dce_core.dce(x, m, bins=bins, texture=texture)
        heat = dce_core.heat_map(x, m, bins=bins)
        # the picture: the known region dimmed, the hole coloured by surprise (red) -- one image-sized buffer
        rgb = torch.empty(x.shape[0], x.shape[-2], x.shape[-1], 3)
        for c, part in enumerate((heat, None, 1 - heat)):
            view = rgb[..., c]
            view.copy_(x[:, c]).mul_(0.5).mul_(1 - m[:, 0])
            if part is not None:
                view.add_(part[:, 0] * m[:, 0])
        kl, ce = float(scores["kl"].mean()), float(scores["dce"].mean())
        text = "\n".join(f"{'image ' + str(i + 1) + ': ' if x.shape[0] > 1 else ''}KL (harmony) {k:.4f}   DCE {d:.4f}"
                          for i, (k, d) in enumerate(zip(scores["kl"].tolist(), scores["dce"].tolist())))
        text += "\n" + DCE_SCALE
        rgb = rgb.clamp_(0, 1)
        return io.NodeOutput(kl, ce, rgb, heat[:, 0].contiguous(), ui=readout(text, rgb, cls))


# ---------------------------------------------------------------------------------------------
# Harmonized Sampler (dynamic selective refinement)
# ---------------------------------------------------------------------------------------------
def _to_rgb01(x0: torch.Tensor, base_model, vae) -> torch.Tensor:
    """A prediction in sampler space as RGB in [0, 1], ``[B, 3, *spatial]`` (video ``[B, 3, F, H, W]``):
    VAE decode when given, else Latent2RGB factors, else a per-item min-max of the latent."""
    if vae is not None:
        img = vae.decode(base_model.process_latent_out(x0.to(torch.float32)))
        if x0.ndim == 5:  # video: [B, F, H, W, 3] (or the frames of every item stacked)
            img = img.reshape(x0.shape[0], -1, *img.shape[-3:])
            return img.permute(0, 4, 1, 2, 3).float()
        if img.ndim == 5:
            img = img.reshape(-1, *img.shape[-3:])
        return image_to_bchw(img).float()
    fmt = base_model.latent_format
    factors = getattr(fmt, "latent_rgb_factors", None)
    if factors is not None and len(factors) == x0.shape[1]:
        f = torch.tensor(factors, dtype=torch.float32, device=x0.device)
        rgb = torch.einsum("bc...,cr->br...", x0.float(), f)
        bias = getattr(fmt, "latent_rgb_factors_bias", None)
        if bias is not None:
            rgb = rgb + torch.tensor(bias, dtype=torch.float32, device=x0.device).view(1, 3, *([1] * (x0.ndim - 2)))
        return ((rgb + 1) / 2).clamp(0, 1)
    dims = tuple(range(1, x0.ndim))
    lo, hi = x0.amin(dim=dims, keepdim=True), x0.amax(dim=dims, keepdim=True)
    return ((x0.float() - lo) / (hi - lo).clamp_min(1e-6))


def _hole_like(hole: torch.Tensor, img: torch.Tensor) -> torch.Tensor:
    """The latent hole ``[B, 1, *spatial]`` resized to the decoded image's spatial size (ComfyUI's rule)."""
    mode = "trilinear" if img.ndim == 5 else "bilinear"
    return torch.nn.functional.interpolate(hole, size=img.shape[2:], mode=mode, align_corners=False)


def _as_image(t: torch.Tensor) -> torch.Tensor:
    """``[B, C, T, H, W]`` → ``[B, C, T·H, W]`` (frames stacked; histograms ignore positions); images as they are."""
    return t.reshape(*t.shape[:2], -1, t.shape[-1]) if t.ndim == 5 else t


def _ring(hole: torch.Tensor, width: int) -> torch.Tensor:
    return dilate(hole, width) * (1 - hole)


def sample_harmonized(model, x, sigmas, extra_args=None, callback=None, disable=None, base=None, checkpoint=0.5,
                      attempts=3, delta=2, threshold=1.5, threshold_mode="fixed", components=5, max_points=2000,
                      noise_blend=0.0, texture=False, vae=None, node_id=None, bins=64, record=None):
    """KSAMPLER function: IS-Diff's loop around a base k-diffusion sampler function.

    Each attempt is a fresh run of the base sampler over the segment from its start level to the
    checkpoint (so a restart never depends on sampler state); the kept state is finished by one more
    run over the rest of the schedule. A sampler that carries history between steps (multistep:
    dpmpp_2m, lms, deis, ipndm, res_multistep, uni_pc, sa_solver, gradient_estimation) starts that
    history afresh at the checkpoint, as it does after SplitSigmas. With nothing to harmonise with (no
    known positions, no mask, fewer than 2 steps), nothing to inpaint, or a latent that continues an
    earlier stage (add_noise off: no fresh start exists to seed or restart from) it is the base sampler
    over the whole schedule.

    ``record``: an optional list that receives ``{"threshold", "attempts", "best"}`` per run (bench,
    calibration)."""
    extra_args = dict(extra_args or {})
    base = base or comfy.samplers.ksampler("euler")
    mask = extra_args.get("denoise_mask")
    levels = len(sigmas) - 1
    hole = None if mask is None else mask[:, :1].float()  # [B, 1, *spatial] (ComfyUI's denoise_mask)
    # add_noise off (KSamplerAdvanced, SamplerCustom with add_noise false, DisableNoise): the latent
    # continues an earlier stage and there is no fresh start to seed or restart from
    continuing = getattr(model, "noise", None) is not None and not bool(model.noise.any())
    if hole is None or levels < 2 or continuing or not bool((hole < 0.5).any()) or not bool((hole > 0).any()):
        # nothing to harmonise with, nothing to inpaint, or a continuation: the base sampler alone
        return base.sampler_function(model, x, sigmas, extra_args=extra_args, callback=callback, disable=disable,
                                     **base.extra_options)
    base_model = model.inner_model.inner_model
    ms = base_model.model_sampling
    y = model.latent_image
    seed = int(extra_args.get("seed") or 0)
    fits = seed_core.fit_known(y, hole, components, max_points, seed,
                               check=comfy.model_management.throw_exception_if_processing_interrupted)
    c = min(max(int(round(checkpoint * levels)), 1), levels - 1)
    if threshold_mode == "auto":  # decodes the known image: only needed here
        rgb = _to_rgb01(y, base_model, vae)
        hole_rgb = _as_image(_hole_like(hole, rgb)).expand(rgb.shape[0], -1, -1, -1)
        known_rgb = _as_image(rgb)
        ring = _ring((hole_rgb > 0.5).float(), max(2, known_rgb.shape[-1] // 16))
        _, kl = dce_core.histogram_ce(dce_core.histograms(known_rgb, 1 - hole_rgb, bins),
                                      dce_core.histograms(known_rgb, ring, bins))
        threshold = dsr.auto_threshold(float(kl.max()))
    sigma_max = float(ms.sigma_max)

    def start(n, level):
        x_init = seed_core.fill(y, hole, fits, rng.derive_seed(seed, "harmonized/fill", n), noise_blend)
        noise = model.noise if n == 0 and getattr(model, "noise", None) is not None else rng.randn(
            y.shape, rng.generator(seed, "harmonized/start", n), y)
        s = sigmas[level]
        return ms.noise_scaling(s, noise, x_init, max_denoise=level == 0 and float(s) >= sigma_max)

    def run(xs, a, b, n):
        got = {}

        def cb(d):
            got["x0"] = d["denoised"]
            if callback is not None:
                callback(dict(d, i=a + int(d["i"])))
        comfy.model_management.throw_exception_if_processing_interrupted()
        ea = dict(extra_args, seed=seed if n == 0 else rng.derive_seed(seed, "harmonized/run", n))
        out = base.sampler_function(model, xs, sigmas[a:b + 1], extra_args=ea, callback=cb, disable=True,
                                    **base.extra_options)
        return out, got.get("x0", out)

    def score(x0):
        img = _to_rgb01(x0, base_model, vae)
        return dce_core.dce(_as_image(img), _as_image(_hole_like(hole, img)), bins=bins, texture=texture)["kl"]

    def report(history, best):
        lines = [f"attempt {i + 1} (from step {h.start_level}): " + ", ".join(f"{v:.3f}" for v in h.scores)
                 for i, h in enumerate(history)]
        text = (f"Harmony check half way (KL, lower is better; an attempt at or below {threshold:.3f} is kept, "
                "otherwise it starts over):\n" + "\n".join(lines))
        if best is not None:
            text += "\nkept: " + ", ".join(f"attempt {b + 1}" for b in best)
        send_ui_message("status", {"text": text, "attempts": [h.scores for h in history], "threshold": threshold,
                                   "best": best}, node_id)

    result = dsr.dynamic_selective_refinement(start, run, score, levels, c, attempts, delta, threshold, report)
    if record is not None:
        record.append({"threshold": threshold, "attempts": [(a.start_level, a.scores) for a in result.attempts],
                       "best": result.best})
    return result.x


def harmonized_sampler(base=None, **options) -> comfy.samplers.KSAMPLER:
    """The SAMPLER the Harmonized Sampler node returns (also used by the bench and calibration)."""
    return make_ksampler(sample_harmonized, "harmonized", base=base, **options)


class HarmonizedSampler(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return schema(
            node_id="PriorPaintHarmonizedSampler",
            search_aliases=['is-diff', 'restart', 'dce', 'harmony', 'inpaint sampler'],
            display_name="Harmonized Sampler",
            category=f"{CATEGORY}/sampling",
            description=(
                "IS-Diff's dynamic selective refinement around any base sampler (it can be RePaint+): starts from a GMM "
                "seed of the known region, samples to a checkpoint, measures the harmony (DCE, KL form) of the predicted "
                "image, and if it is above τ restarts from a fresh seed with the start moved δ levels later (more seed, "
                "less noise), up to N attempts; the lowest-DCE state is finished. Attempts and scores are shown on the "
                "node. Use with SamplerCustom / SamplerCustomAdvanced and a noise-masked LATENT."),
            inputs=[
                io.Float.Input("checkpoint", **ADVANCED, default=0.5, min=0.05, max=0.95, step=0.05,
                               tooltip="Where the harmony is checked, as a fraction of the schedule."),
                io.Int.Input("attempts", default=3, min=1, max=20,
                             tooltip="How many times it may start over when the half-way preview does not fit its "
                                     "surroundings (the paper's N = 3); the most harmonious attempt is kept."),
                io.Int.Input("delta", **ADVANCED, default=2, min=0, max=100,
                             tooltip="After each failed attempt the start moves this many schedule levels later."),
                io.Combo.Input("threshold_mode", options=["fixed", "auto"], default="fixed",
                               tooltip="fixed: use 'threshold'; auto: 1.5× the KL between the known region and the "
                                       "known ring around the hole (the image's own local variation), at least 0.02. "
                                       "Auto is strict: checkpoint predictions are smoother than finished images, so "
                                       "it restarts more often than the fixed default."),
                io.Float.Input("threshold", **ADVANCED, default=1.5, min=0.0, max=20.0, step=0.01,
                               tooltip="How harmonious the half-way preview must be to keep an attempt: lower is "
                                       "stricter (more restarts). 1.5, the default, restarts about half of first "
                                       "attempts on the demo model's held-out crops (docs/is-diff.md). In detail: τ on "
                                       "the KL form of DCE of the checkpoint prediction; at or below it is accepted."),
                io.Int.Input("components", default=5, min=1, max=32,
                             tooltip="How many colour clusters of the surroundings the seed draws from (the GMM's K)."),
                io.Int.Input("max_points", **ADVANCED, default=2000, min=100, max=10_000_000,
                             tooltip="Known positions (a seeded random subset) used to fit the GMM."),
                io.Float.Input("noise_blend", **ADVANCED, default=0.0, min=0.0, max=1.0, step=0.05,
                               tooltip="Mix seed draws with plain noise (0 = pure GMM seed)."),
                io.Boolean.Input("texture", **ADVANCED, default=False, tooltip="Add the gradient-magnitude (texture) term to DCE."),
                io.Sampler.Input("sampler", optional=True,
                                 tooltip="Base sampler (KSamplerSelect, or the RePaint+ Sampler); default euler."),
                io.Vae.Input("vae", optional=True,
                             tooltip="Decode predictions to RGB for the check (latent models). Without it the latent "
                                     "preview colours (Latent2RGB) are used; decoding costs time and memory."),
            ],
            outputs=[io.Sampler.Output("SAMPLER", display_name="sampler", tooltip="Connect to SamplerCustom / SamplerCustomAdvanced.")],
            hidden=[io.Hidden.unique_id],
        )

    @classmethod
    def execute(cls, checkpoint, attempts, delta, threshold_mode, threshold, components, max_points, noise_blend,
                texture, sampler=None, vae=None) -> io.NodeOutput:
        if sampler is not None and not isinstance(sampler, comfy.samplers.KSAMPLER):
            raise ValueError("PriorPaint Harmonized Sampler: input 'sampler' must be a k-diffusion SAMPLER "
                             f"(KSamplerSelect, RePaint+ Sampler, ...); got {type(sampler).__name__}")
        opts = dict(base=sampler, checkpoint=checkpoint, attempts=attempts, delta=delta, threshold=threshold,
                    threshold_mode=threshold_mode, components=components, max_points=max_points,
                    noise_blend=noise_blend, texture=texture, vae=vae,
                    node_id=unique_id(cls))
        return io.NodeOutput(harmonized_sampler(**opts))
