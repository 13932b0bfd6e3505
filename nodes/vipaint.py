"""VIPaint node: fit a hierarchical variational posterior once, draw samples, DPS-refine through the VAE.

The whole method runs as one ``KSAMPLER`` function through ComfyUI's own sampling path
(``comfy.sample.sample_custom``): conditioning, CFG, model loading, ``noise_mask`` preparation,
``denoise_mask_function``, previews and the progress bar are ComfyUI's. The schedule handed to the
sampler is the keypoints ``σ(T_e) … σ(T_s)`` followed by the DPS schedule down to 0, all read from the
MODEL's own ``model_sampling`` (discrete EPS/V and flow alike: ``percent_to_sigma(1 − t/1000)``).
"""
from __future__ import annotations

import dataclasses

import torch
from comfy_api.latest import io

import comfy.model_management
import comfy.sample
import comfy.samplers
import comfy.utils
import latent_preview

from ..samplers import vipaint as core
from ..samplers.masks import InputError, check_finite, fit_spatial, image_to_bchw, resize_mask, vae_crop
from .common import ADVANCED, CATEGORY, node_error, readout, schema, schema_defaults, send_ui_message, unique_id
from .sampling import VEView, autograd_unsupported, make_ksampler
from .validate import check_cfg, check_latent, latent_hole

NODE = "VIPaint"


def timestep_sigma(ms, t: float) -> float:
    """The model's own σ at DDPM-style timestep ``t`` ∈ [0, 1000] (0 = clean)."""
    return float(ms.percent_to_sigma(1.0 - float(t) / 1000.0))


def schedule(ms, t_e: int, t_s: int, keypoints: int, dps_steps: int) -> tuple[list[float], list[float], list[float]]:
    """``(keypoints, dps, prior grid)`` in sampler σ. Keypoints: ``linspace(T_e, T_s, K)`` (K = 1: T_s only,
    the Gaussian variant); DPS: ``linspace(T_s, 0, steps + 1)[1:]`` ending at σ = 0; the prior grid: every
    integer timestep above T_e (the reference's 1000-step grid)."""
    ts = torch.linspace(float(t_e), float(t_s), keypoints).tolist() if keypoints > 1 else [float(t_s)]
    kp = [timestep_sigma(ms, t) for t in ts]
    dps = [timestep_sigma(ms, t) for t in torch.linspace(float(t_s), 0.0, dps_steps + 1)[1:].tolist()]
    grid = [timestep_sigma(ms, t) for t in range(int(ts[0]) + 1, 1000)]
    return kp, dps, grid


def _decoder(vae, base_model, offload: bool = True):
    """Differentiable sampler-space x0 → RGB in [0, 1], ``[B, 3, H, W]`` (no clamp: it would cut gradients)."""
    fsm = vae.first_stage_model

    def decode(x0: torch.Tensor) -> torch.Tensor:
        z = base_model.process_latent_out(x0.float()).to(vae.device, vae.vae_dtype)
        if z.is_cuda and z.requires_grad and offload:
            # the decoder's activations at full resolution are the largest graph VIPaint builds: on a GPU
            # they wait for the backward pass in host memory (PyTorch's save_on_cpu; exact, costs transfers)
            with torch.autograd.graph.save_on_cpu(pin_memory=True):
                img = fsm.decode(z).float()
        else:
            img = fsm.decode(z).float()
        if img.ndim != 4:
            raise ValueError(f"PriorPaint {NODE}: input 'vae' decodes to shape {tuple(img.shape)}; expected an image "
                             "VAE [B, 3, H, W] (video VAEs are not supported)")
        return ((img + 1.0) / 2.0).to(x0.device)

    return decode


SPLIT_DECODER = True  # with a VAE, split the backward pass (tools/bench/bench_vipaint_cost.py measures both)


def sample_vipaint_k(model, x, sigmas, extra_args=None, callback=None, disable=None, keypoints=2, samples=1,
                     dps_steps=50, prior_grid=None, settings=None, vae=None, image=None, pixel_mask=None,
                     node_id=None, record=None):
    """KSAMPLER function. ``sigmas`` = keypoints then the DPS schedule to 0 (sampler space); the batch is
    ``samples`` copies of the images (the node repeats the LATENT)."""
    view = VEView(model, x, sigmas, extra_args, "vipaint/noise")
    if x.shape[0] % samples:
        raise ValueError(f"PriorPaint {NODE}: batch {x.shape[0]} is not a multiple of samples={samples}")
    b = x.shape[0] // samples
    ve = view.ve_sigmas()
    kp, dps = ve[:keypoints], ve[keypoints:]
    grid = [view.to_ve_sigma(s) for s in (prior_grid or [])]
    grid = [s for s in grid if s > kp[0]]
    st = settings or core.VIPaintSettings()
    if vae is not None and SPLIT_DECODER and not st.split_decoder:
        # the decoder in the loop: never hold its graph and the denoiser's together (docs/vipaint.md, cost)
        st = dataclasses.replace(st, split_decoder=True)
    total = core.count_evaluations(keypoints, st.iterations, dps_steps, st.prior_weight > 0 and len(grid) >= 2,
                                   split_decoder=st.split_decoder)
    view.callback(callback, total)
    hole_lat = view.mask(kp[-1]).float()
    hole_lat = hole_lat[:b] if hole_lat.shape[0] > 1 else hole_lat
    y_lat = view.y[:b].float()
    base = model.inner_model.inner_model
    losses = []

    def on_iteration(i, rec):
        losses.append(rec["total"])
        if record is not None:
            record.append(rec)
        if node_id is not None and (i % 5 == 0 or i == st.iterations - 1):
            send_ui_message("status", {"text": f"VIPaint fit {i + 1}/{st.iterations}: loss {rec['total']:.3f} "
                                               f"(prior {rec['prior']:.3f}, hier {rec['hier']:.3f}, recon "
                                               f"{rec['recon']:.4f})", "curve": list(losses)}, node_id)

    with torch.inference_mode(False):
        view.prepare_autograd(vae)
        if vae is None:
            decode = lambda z: z  # noqa: E731 - pixel-space / latent-space reconstruction
            y_pix = y_lat.clone()
            known = 1.0 - hole_lat.clone()
        else:
            comfy.model_management.load_models_gpu([vae.patcher])
            decode = _decoder(vae, base, offload=st.split_decoder)
            if image is not None:
                y_pix = image.clone().float().to(x.device)
            else:
                with torch.no_grad():
                    y_pix = decode(y_lat).clamp(0, 1)
            pm = pixel_mask if pixel_mask is not None else hole_lat
            known = 1.0 - resize_mask(pm.clone().float(), y_pix.shape[-2:]).to(x.device)
            known = known[:b] if known.shape[0] > 1 else known
        rep = core.HierarchicalPosterior._rep
        y_pix_n = rep(y_pix, samples) if y_pix.shape[0] == b else y_pix
        known_n = rep(known, samples) if known.shape[0] == b and b > 1 else known
        out, _ = core.sample_vipaint(view.denoise_diff, decode, y_lat, hole_lat.clone(), y_pix_n, known_n, kp,
                                     grid, dps, samples, view.noise, view.generator, st, on_iteration)
        out = out.detach().clone()
    # the known latent outside the hole, as the model's final mask says (Differential Diffusion aware)
    final = view.mask(ve[-2] if len(ve) > 1 else kp[-1]).float()
    out = final * out + (1 - final) * view.y.float()
    return view.from_ve(out, 0.0).to(x.dtype)


def vipaint_sampler(**options) -> comfy.samplers.KSAMPLER:
    """The KSAMPLER VIPaint runs (the node and the bench)."""
    return make_ksampler(sample_vipaint_k, "vipaint", **options)


def run_vipaint(model, positive, negative, latent_image, seed, cfg, t_e, t_s, keypoints, iterations, lr_mean,
                lr_logvar, lr_gamma, prior_weight, hier_weight, recon_weight, dps_steps, dps_scale, samples,
                vae=None, image=None, mask=None, node_id=None, node: str = NODE) -> tuple[dict, str]:
    """Both VIPaint nodes: check every input, then fit and sample through ``comfy.sample.sample_custom``.
    Returns the output LATENT and the read-out text."""
    x = latent_image["samples"]
    try:
        if x.ndim == 5:
            raise InputError("latent_image", f"is a video LATENT {tuple(x.shape)}; VIPaint optimises one image "
                                             "posterior through the VAE and does not take video",
                             "an image LATENT [B, C, H, W] (for video use RePaint+, Harmonized or AID)")
        if x.ndim != 4:
            raise InputError("latent_image", f"has shape {tuple(x.shape)}", "an image LATENT [B, C, H, W]")
        check_finite(x, "latent_image")
        if t_s >= t_e and keypoints > 1:
            raise InputError("t_s", f"is {t_s} but t_e is {t_e}", "t_s < t_e when keypoints > 1")
        img = None
        if image is not None:
            img = image_to_bchw(image, "image")
            check_finite(img, "image")
    except InputError as e:
        raise node_error(node, e) from None
    check_cfg(cfg, node)
    check_latent(model, x, node)  # the noise mask (or the MASK input that replaces it) is checked just below
    hole = latent_hole(latent_image, mask, node, "latent_image")
    if not bool((hole > 0).any()):
        raise node_error(node, InputError("mask", "is empty", "a region to inpaint (mask > 0)"))
    if bool((hole >= 1).all()):
        raise node_error(node, InputError("mask", "covers the whole image", "some known pixels to fit to"))
    pixel_mask = mask if mask is not None else latent_image.get("noise_mask")
    pixel_mask = pixel_mask.reshape(-1, 1, *pixel_mask.shape[-2:]).float()
    if img is not None:
        if img.shape[0] not in (1, x.shape[0]):
            raise node_error(node, InputError("image", f"has batch {img.shape[0]}", f"1 or {x.shape[0]}"))
        if vae is None:
            raise node_error(node, InputError("image", "is connected without a 'vae'",
                                              "a VAE too (the reconstruction is measured on decoded pixels)"))
        r = vae.spacial_compression_decode()
        want = (x.shape[-2] * r, x.shape[-1] * r) if isinstance(r, int) else None
        if want is not None and tuple(img.shape[-2:]) != want:
            crop = vae_crop(tuple(img.shape[-2:]), want)  # the photo before VAEEncode's crop: crop it alike
            if crop is None or (crop[2], crop[3]) != want:
                raise node_error(node, InputError("image", f"is {img.shape[-1]}x{img.shape[-2]} (WxH)",
                                                  f"the decoded size of 'latent_image', {want[1]}x{want[0]}, "
                                                  "or the image it was encoded from"))
            top, left, ch, cw = crop
            img = img[..., top:top + ch, left:left + cw]
        if want is not None:
            try:
                pixel_mask = fit_spatial(pixel_mask, want, "mask")  # the pack's one mask-size rule
            except InputError as e:
                raise node_error(node, e) from None
        img = img.expand(x.shape[0], -1, -1, -1)

    ms = model.get_model_object("model_sampling")
    kp, dps, grid = schedule(ms, t_e, t_s, keypoints, dps_steps)
    sigmas = torch.tensor(kp + dps, dtype=torch.float32)
    st = core.VIPaintSettings(iterations=iterations, lr_mean=lr_mean, lr_logvar=lr_logvar, lr_gamma=lr_gamma,
                              prior_weight=prior_weight, hier_weight=hier_weight, recon_weight=recon_weight,
                              dps_scale=dps_scale)
    fit: list[dict] = []  # the fit's loss records (the read-out)
    sampler = vipaint_sampler(keypoints=len(kp), samples=samples, dps_steps=dps_steps, prior_grid=grid,
                              settings=st, vae=vae, image=img, pixel_mask=pixel_mask, node_id=node_id,
                              record=fit)
    lat = comfy.sample.fix_empty_latent_channels(model, x)
    batch = lat.repeat(samples, 1, 1, 1)
    noise_mask = hole if hole.shape[0] == 1 else hole.repeat(samples, 1, 1, 1)
    noise = comfy.sample.prepare_noise(batch, seed)
    callback = latent_preview.prepare_callback(model, len(sigmas) - 1)
    try:
        out = comfy.sample.sample_custom(model, noise, cfg, sampler, sigmas, positive, negative, batch,
                                         noise_mask=noise_mask, callback=callback,
                                         disable_pbar=not comfy.utils.PROGRESS_BAR_ENABLED, seed=seed)
    except RuntimeError as e:
        clear = autograd_unsupported(e, node)
        if clear is None:
            raise
        raise clear from None
    result = {k: v for k, v in latent_image.items() if k not in ("noise_mask", "batch_index")}
    result["samples"] = out
    return result, fit_readout(fit, samples, dps_steps, vae is not None)


def fit_readout(fit: list[dict], samples: int, dps_steps: int, decoded: bool) -> str:
    """The read-out: how closely the fitted posterior reproduces the known pixels, on a scale a person can read
    (the reconstruction term is a mean absolute error; with a VAE on pixels in [0, 1])."""
    text = f"{samples} image(s) drawn, each refined in {dps_steps} DPS steps"
    if not fit:
        return text
    r0, r1 = fit[0]["recon"], fit[-1]["recon"]
    if decoded:
        err = f"known pixels off by {100 * r1:.1f}% of the pixel range on average (first iteration {100 * r0:.1f}%)"
    else:
        err = f"known latent off by {r1:.3f} on average, in latent units (first iteration {r0:.3f})"
    return (f"fitted in {len(fit)} iterations: {err}; lower is closer\n{text}\n"
            f"loss {fit[0]['total']:.3f} → {fit[-1]['total']:.3f} (prior {fit[-1]['prior']:.3f}, "
            f"hierarchy {fit[-1]['hier']:.3f}, reconstruction {r1:.4f})")


class VIPaint(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return schema(
            node_id="PriorPaintVIPaint",
            search_aliases=['variational inpainting', 'posterior', 'dps', 'inpaint', 'vipaint advanced'],
            display_name="VIPaint (Advanced)",
            category=f"{CATEGORY}/sampling",
            description=(
                "VIPaint (Agarwal et al., AISTATS 2026): fits a hierarchical variational posterior over a few "
                "intermediate latents between T_e and T_s to the known pixels (prior, hierarchical and one-step "
                "reconstruction losses, Adam), then draws samples from it and refines them with DPS through the "
                "VAE decoder down to σ = 0. Fit once, draw 'samples' images per input. Heavy: every model call "
                "back-propagates through the model (and the VAE), see docs/vipaint.md for time and memory. "
                "The known region is kept outside the mask."),
            inputs=[
                io.Model.Input("model", tooltip="Any ComfyUI diffusion model (EPS, V-prediction or flow)."),
                io.Conditioning.Input("positive", tooltip="Positive conditioning."),
                io.Conditioning.Input("negative", tooltip="Negative conditioning (used when cfg > 1)."),
                io.Latent.Input("latent_image",
                                tooltip="The image to inpaint as a LATENT with a noise_mask (SetLatentNoiseMask / "
                                        "VAE Encode (for Inpainting)), or pass 'mask'."),
                io.Int.Input("seed", default=0, min=0, max=0xFFFFFFFFFFFFFFFF, control_after_generate=True,
                             tooltip="Seed for the posterior initialisation, the samples and DPS noise."),
                io.Float.Input("cfg", default=1.0, min=0.0, max=100.0, step=0.1, round=0.01,
                               tooltip="Classifier-free guidance inside every model call (cfg > 1 doubles the cost "
                                       "of each gradient evaluation)."),
                io.Int.Input("t_e", **ADVANCED, default=550, min=1, max=999,
                             tooltip="T_e: the highest keypoint, as a timestep of 1000 (reference: 550)."),
                io.Int.Input("t_s", **ADVANCED, default=400, min=1, max=999,
                             tooltip="T_s: the lowest keypoint; DPS runs from here to 0 (reference: 400)."),
                io.Int.Input("keypoints", **ADVANCED, default=2, min=1, max=16,
                             tooltip="K keypoints between T_e and T_s (1 = the Gaussian variant at T_s only)."),
                io.Int.Input("iterations", default=50, min=0, max=1000,
                             tooltip="Adam iterations fitting the posterior (reference: 50)."),
                io.Float.Input("lr_mean", **ADVANCED, default=0.1, min=0.0, max=10.0, step=0.001,
                               tooltip="Learning rate of the means µ (reference: 0.1)."),
                io.Float.Input("lr_logvar", **ADVANCED, default=0.001, min=0.0, max=10.0, step=0.0001,
                               tooltip="Learning rate of the log-variances (reference: 1e-3)."),
                io.Float.Input("lr_gamma", **ADVANCED, default=0.01, min=0.0, max=10.0, step=0.001,
                               tooltip="Learning rate of the mixing weights γ (reference: 0.01)."),
                io.Float.Input("prior_weight", **ADVANCED, default=100.0, min=0.0, max=1e6, step=1.0,
                               tooltip="β1: weight of the prior loss above T_e (reference: 100)."),
                io.Float.Input("hier_weight", **ADVANCED, default=100.0, min=0.0, max=1e6, step=1.0,
                               tooltip="β2: weight of the hierarchical KL between keypoints (reference: 100)."),
                io.Float.Input("recon_weight", **ADVANCED, default=100.0, min=0.0, max=1e6, step=1.0,
                               tooltip="Weight of the one-step reconstruction loss on the known pixels "
                                       "(mean absolute error; reference: 100)."),
                io.Int.Input("dps_steps", default=50, min=1, max=1000,
                             tooltip="DPS refinement steps from T_s to 0, one gradient evaluation each "
                                     "(the reference walks every timestep: 400)."),
                io.Float.Input("dps_scale", **ADVANCED, default=1.0, min=0.0, max=100.0, step=0.05,
                               tooltip="ζ: DPS step size on the gradient of ‖k⊙(y − Dec(x̂0))‖₂."),
                io.Int.Input("samples", default=1, min=1, max=64,
                             tooltip="Images drawn per input from the one fitted posterior (also the number of "
                                     "posterior samples averaged in each fitting step)."),
                io.Vae.Input("vae", optional=True,
                             tooltip="The model's VAE: the reconstruction and DPS are measured on decoded pixels "
                                     "(gradients pass through the decoder). Without it they are measured on the "
                                     "latent (right for pixel-space models, a shortcut for latent ones)."),
                io.Image.Input("image", optional=True,
                               tooltip="The original pixels for the reconstruction (with 'vae'); default: the "
                                       "decoded latent."),
                io.Mask.Input("mask", optional=True,
                              tooltip="Inpainting mask (1 = inpaint); default: the LATENT's noise_mask."),
            ],
            outputs=[io.Latent.Output("LATENT", display_name="samples", tooltip="samples × batch images, sample j of image b at j·B + b.")],
            hidden=[io.Hidden.unique_id],
        )

    @classmethod
    def execute(cls, model, positive, negative, latent_image, seed, cfg, t_e, t_s, keypoints, iterations, lr_mean,
                lr_logvar, lr_gamma, prior_weight, hier_weight, recon_weight, dps_steps, dps_scale, samples,
                vae=None, image=None, mask=None) -> io.NodeOutput:
        result, text = run_vipaint(model, positive, negative, latent_image, seed, cfg, t_e, t_s, keypoints,
                                   iterations, lr_mean, lr_logvar, lr_gamma, prior_weight, hier_weight,
                                   recon_weight, dps_steps, dps_scale, samples, vae, image, mask,
                                   unique_id(cls),
                                   node="VIPaint (Advanced)")
        return io.NodeOutput(result, ui=readout(text))


QUALITY = {  # name: (iterations, dps_steps), the rest at VIPaint (Advanced)'s defaults (the reference's settings)
    "draft": (20, 25),
    "standard": (50, 50),
    "reference": (50, 400),
}


class VIPaintSimple(io.ComfyNode):
    """The choices an artist makes; everything else at the paper's settings (VIPaint (Advanced) has them all)."""

    @classmethod
    def define_schema(cls):
        return schema(
            node_id="PriorPaintVIPaintSimple",
            search_aliases=['variational inpainting', 'posterior', 'dps', 'inpaint', 'vipaint'],
            display_name="VIPaint",
            category=f"{CATEGORY}/sampling",
            description=(
                "Inpaints by first fitting a picture of what the hole could be to everything around it, then "
                "drawing images from that fit and polishing them so the known pixels match. Slow but careful: "
                "every model call also runs backwards through the model (and the VAE). 'quality' sets how long it "
                "fits and polishes; VIPaint (Advanced) has every setting of the paper (Agarwal et al., AISTATS 2026)."),
            inputs=[
                io.Model.Input("model", tooltip="Any ComfyUI diffusion model (EPS, V-prediction or flow)."),
                io.Conditioning.Input("positive", tooltip="What the image should show."),
                io.Conditioning.Input("negative", tooltip="What the image should not show (used when cfg > 1)."),
                io.Latent.Input("latent_image",
                                tooltip="The image to inpaint as a LATENT with a noise mask (Set Latent Noise Mask, "
                                        "VAE Encode (for Inpainting), Inpaint Encode), or connect 'mask'."),
                io.Int.Input("seed", default=0, min=0, max=0xFFFFFFFFFFFFFFFF, control_after_generate=True,
                             tooltip="The random seed: the same seed gives the same images."),
                io.Float.Input("cfg", default=1.0, min=0.0, max=100.0, step=0.1, round=0.01,
                               tooltip="Prompt strength, as in KSampler (above 1 doubles the cost of each call)."),
                io.Combo.Input("quality", options=list(QUALITY), default="standard",
                               tooltip="draft: 20 fitting iterations and 25 polishing steps, for a quick look. "
                                       "standard: 50 and 50. reference: 50 and 400, the paper's setting (about "
                                       "4× the time of standard)."),
                io.Int.Input("samples", default=1, min=1, max=64,
                             tooltip="Images drawn per input from one fit (a cheap way to get variations)."),
                io.Vae.Input("vae", optional=True,
                             tooltip="The model's VAE: with it the known pixels are matched as pixels (better "
                                     "for latent models such as SD, SDXL, Flux; costs memory)."),
                io.Image.Input("image", optional=True,
                               tooltip="The original photo, matched exactly (with 'vae'); default: the decoded latent."),
                io.Mask.Input("mask", optional=True,
                              tooltip="The area to inpaint (white = 1); default: the LATENT's noise mask."),
            ],
            outputs=[io.Latent.Output("LATENT", display_name="samples",
                                      tooltip="samples × batch images, sample j of image b at j·B + b.")],
            hidden=[io.Hidden.unique_id],
        )

    @classmethod
    def execute(cls, model, positive, negative, latent_image, seed, cfg, quality, samples, vae=None, image=None,
                mask=None) -> io.NodeOutput:
        if quality not in QUALITY:
            raise node_error("VIPaint", InputError("quality", f"is {quality!r}", f"one of {list(QUALITY)}"))
        iterations, dps_steps = QUALITY[quality]
        settings = dict(schema_defaults(VIPaint), seed=seed, cfg=cfg, iterations=iterations, dps_steps=dps_steps,
                        samples=samples)
        result, text = run_vipaint(model, positive, negative, latent_image, **settings, vae=vae, image=image,
                                   mask=mask, node_id=unique_id(cls), node="VIPaint")
        return io.NodeOutput(result, ui=readout(text))
