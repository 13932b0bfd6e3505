"""AID guidance nodes: Load AID Guidance (safetensors from models/inpaint_guidance) and Apply AID Guidance
(a patched clone of the MODEL whose post-CFG hook adds the module's drift at every step).

Extension points used (docs/architecture.md): ``set_model_sampler_post_cfg_function`` (the
correction, composable with other packs, works with every sampler), a ``SAMPLER_SAMPLE`` wrapper (reads
this run's known latent and mask, which the post-CFG hook does not receive) and
``set_additional_models`` (the module is loaded and offloaded by ComfyUI's memory manager).
"""
from __future__ import annotations

import copy

import hashlib
import json
import os

import torch
from comfy_api.latest import io

import comfy.model_management
import comfy.model_patcher
import comfy.model_sampling
import comfy.patcher_extension
import comfy.utils
import folder_paths

from ..samplers import aid as core
from ..samplers.maskgen import random_masks
from ..samplers.masks import InputError
from ..samplers.ve import flow_to_ve, flow_to_ve_sigma, ve_to_flow, ve_to_flow_sigma
from .common import ADVANCED, CATEGORY, node_error, readout, schema, schema_defaults, send_ui_message, unique_id

FOLDER = "inpaint_guidance"
MAX_BYTES = 512 * 2**20  # a guidance module is < 1% of a backbone; 512 MiB covers a 12B-parameter one
STATE_KEY = "priorpaint_aid"


SHIPPED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "demomodel", "weights", "aid")


def register_folder() -> None:
    """``models/inpaint_guidance`` (.safetensors only) plus the pack's shipped modules, added without
    dropping paths a user's extra_model_paths.yaml already registered (docs/architecture.md, models folder)."""
    paths, _ = folder_paths.folder_names_and_paths.get(FOLDER, ([], set()))
    paths = list(paths)
    for d in (os.path.join(folder_paths.models_dir, FOLDER), SHIPPED):
        if d not in paths:
            paths.append(d)
    folder_paths.folder_names_and_paths[FOLDER] = (paths, {".safetensors"})


register_folder()


# ---------------------------------------------------------------------------------------------
# backbone identity and a VE denoiser for training
# ---------------------------------------------------------------------------------------------
def _sampling_kind(ms) -> str:
    for cls, name in ((comfy.model_sampling.CONST, "flow"), (comfy.model_sampling.V_PREDICTION, "v"),
                      (comfy.model_sampling.EDM, "edm"), (comfy.model_sampling.EPS, "eps")):
        if isinstance(ms, cls):
            return name
    return type(ms).__name__


def fingerprint(model) -> str:
    """A cheap identity of the backbone's weights: keys, shapes and 64 strided values per tensor."""
    h = hashlib.sha256()
    for k, v in sorted(model.model.diffusion_model.state_dict().items()):
        h.update(k.encode())
        h.update(str(tuple(v.shape)).encode())
        if v.numel() and v.dtype.is_floating_point:
            flat = v.detach().reshape(-1)
            sample = flat[:: max(1, flat.numel() // 64)][:64].to("cpu", torch.float64)
            h.update(json.dumps([round(float(x), 6) for x in sample]).encode())
    return h.hexdigest()[:16]


def backbone_info(model) -> dict:
    """What a module is pinned to: latent channels, model_sampling kind/shift, VE σ range, fingerprint."""
    ms = model.get_model_object("model_sampling")
    kind = _sampling_kind(ms)
    lo, hi = float(ms.sigma_min), float(ms.sigma_max)
    if kind == "flow":
        lo, hi = flow_to_ve_sigma(lo), flow_to_ve_sigma(hi)
    return {"latent_channels": int(model.model.latent_format.latent_channels), "sampling": kind,
            "shift": float(getattr(ms, "shift", 1.0)) if kind == "flow" else None, "sigma_min": lo, "sigma_max": hi,
            "fingerprint": fingerprint(model)}


def ve_denoiser(model, conditioning: list | None = None):
    """``D(x_VE, σ_VE [B])`` through ComfyUI's own conditioning path (``process_conds`` and
    ``calc_cond_batch``: cross-attention, pooled outputs, Flux guidance, SDXL size embeddings...), cfg 1,
    one conditioning, no gradients (the backbone is only ever called forward). Conditions are prepared
    once per latent shape."""
    import comfy.sampler_helpers
    import comfy.samplers

    base = model.model
    ms = base.model_sampling
    flow = isinstance(ms, comfy.model_sampling.CONST)
    prepared: dict[tuple, list] = {}

    def conds_for(x: torch.Tensor) -> list:
        key = tuple(x.shape)
        if key not in prepared:
            c = comfy.sampler_helpers.convert_cond(conditioning or [[None, {}]])
            prepared[key] = comfy.samplers.process_conds(base, x, {"positive": c}, x.device, latent_image=x)["positive"]
        return prepared[key]

    def denoise(x_ve: torch.Tensor, s_ve: torch.Tensor) -> torch.Tensor:
        s = ve_to_flow_sigma(s_ve) if flow else s_ve
        x = ve_to_flow(x_ve, s) if flow else x_ve
        outside_a_run = getattr(base, "current_patcher", None) is None
        if outside_a_run:
            model.pre_run()  # what a sampler run does first (sets the patcher calc_cond_batch asks for)
        try:
            with torch.no_grad():
                out = comfy.samplers.calc_cond_batch(base, [conds_for(x)], x, s.to(x),
                                                     {"transformer_options": {"sigmas": s}})[0]
        finally:
            if outside_a_run:
                model.cleanup()
        return out.float()

    return denoise


# ---------------------------------------------------------------------------------------------
# loading
# ---------------------------------------------------------------------------------------------
class Guidance:
    """A loaded module: the network (CPU, eval), its decoded metadata and where it came from."""

    def __init__(self, net: core.GuidanceNet, info: dict, name: str):
        self.net, self.info, self.name = net, info, name

    def summary(self) -> str:
        b, t = self.info["backbone"], self.info["training"]
        return (f"{self.name}: {core.parameter_count(self.net):,} params; backbone {b.get('sampling')}, "
                f"{b.get('latent_channels')} ch, fingerprint {b.get('fingerprint')}; trained "
                f"{t.get('iterations', '?')} it"
                + (f"; acts only at σ ≥ {self.net.sigma_floor:g} (coarse-only)" if self.net.sigma_floor > 0 else ""))


def load_guidance_file(path: str, name: str | None = None) -> Guidance:
    """Load and validate a module file: safetensors only, size-limited; the metadata (against the
    schema in ``samplers/aid.py``) and the header's tensor shapes are checked before any tensor is read."""
    from safetensors import safe_open

    label = name or os.path.basename(path)
    if not path.endswith(".safetensors"):
        raise InputError("guidance_name", f"{label!r} is not a .safetensors file", "a .safetensors module")
    size = os.path.getsize(path)
    if size > MAX_BYTES:
        raise InputError("guidance_name", f"{label!r} is {size / 2**20:.0f} MiB", f"at most {MAX_BYTES // 2**20} MiB")
    expected = "a module written by PriorPaint's AID trainer"
    try:
        with safe_open(path, framework="pt", device="cpu") as f:  # reads the header only
            meta = f.metadata()
            shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except Exception as e:  # truncated / corrupt files
        raise InputError("guidance_name", f"{label!r} cannot be read as safetensors ({type(e).__name__}: "
                                          f"{str(e)[:120]})", "an intact module file") from None
    try:
        info = core.parse_metadata(meta)
        core.check_state_shapes(shapes, info)
        sd = comfy.utils.load_torch_file(path, safe_load=True)
        net = core.build_from_state(sd, info)
    except core.ModuleFormatError as e:
        raise InputError("guidance_name", f"{label!r} {e}", expected) from None
    return Guidance(net, info, label)


def file_fingerprint(path: str) -> str:
    """Changes whenever the file's content may have: size, modification time and inode (a file the
    trainer rewrites under the same name is re-read; an unchanged one stays cached)."""
    st = os.stat(path)
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"


def resolve_name(name: str) -> str:
    """A listed name inside a registered inpaint_guidance folder. The name itself never climbs out of
    the folder (no absolute paths, no ``..``); a symlink the user placed inside the folder is followed,
    as ComfyUI follows them in every model folder (docs/aid.md, "Where modules live")."""
    if not name or os.path.isabs(name) or ".." in name.replace("\\", "/").split("/"):
        raise InputError("guidance_name", f"{name!r} is not a plain file name",
                         f"one of the files in models/{FOLDER}")
    path = folder_paths.get_full_path(FOLDER, name)
    if path is None:
        raise InputError("guidance_name", f"{name!r} is not in models/{FOLDER}", "a listed module file")
    return path


class LoadAIDGuidance(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return schema(
            node_id="PriorPaintLoadAIDGuidance",
            search_aliases=['aid', 'guidance module', 'load guidance'],
            display_name="Load AID Guidance",
            category=f"{CATEGORY}/aid",
            description=("Loads an AID guidance module (.safetensors from models/inpaint_guidance, or any folder "
                         "listed under 'inpaint_guidance' in extra_model_paths.yaml). Its metadata says which "
                         "backbone and time parameterisation it was trained for; Apply AID Guidance checks them."),
            inputs=[io.Combo.Input("guidance_name", options=folder_paths.get_filename_list(FOLDER),
                                   tooltip="A module trained by PriorPaint's AID trainer for your MODEL.")],
            outputs=[io.Custom("PRIORPAINT_AID").Output("GUIDANCE", display_name="guidance", tooltip="Connect to Apply AID Guidance.")],
            hidden=[io.Hidden.unique_id],
        )

    @classmethod
    def fingerprint_inputs(cls, guidance_name):
        try:
            return file_fingerprint(resolve_name(guidance_name))
        except (InputError, OSError):
            return guidance_name  # execute() reports the problem

    @classmethod
    def execute(cls, guidance_name) -> io.NodeOutput:
        try:
            g = load_guidance_file(resolve_name(guidance_name), guidance_name)
        except InputError as e:
            raise node_error("Load AID Guidance", e) from None
        node_id = unique_id(cls)
        send_ui_message("status", {"text": g.summary(), "metadata": {k: v for k, v in g.info.items() if k != "time"}},
                        node_id)
        return io.NodeOutput(g, ui=readout(g.summary()))


# ---------------------------------------------------------------------------------------------
# applying
# ---------------------------------------------------------------------------------------------
def _per_frame(t: torch.Tensor) -> torch.Tensor:
    """``[B, C, T, H, W]`` → ``[B·T, C, H, W]`` (each frame an image); images unchanged."""
    return t.transpose(1, 2).reshape(-1, t.shape[1], *t.shape[-2:]) if t.ndim == 5 else t


def patch_model(model, guidance: Guidance, strength: float, start_percent: float = 0.0,
                end_percent: float = 1.0):
    """A clone of ``model`` whose denoiser output becomes ``D − strength·(σ/σ̇)·µ`` at every evaluation
    whose σ lies in the ``[start_percent, end_percent]`` part of the schedule (ComfyUI's ControlNet
    convention: 0 = the noisiest σ, 1 = the last), and ``D`` elsewhere."""
    tp: core.TimeParam = guidance.info["time"]
    m = model.clone()
    ms = m.get_model_object("model_sampling")
    sigma_hi, sigma_lo = float(ms.percent_to_sigma(start_percent)), float(ms.percent_to_sigma(end_percent))
    device = comfy.model_management.get_torch_device()
    holder = comfy.model_patcher.ModelPatcher(guidance.net, load_device=device,
                                              offload_device=comfy.model_management.unet_offload_device())
    m.set_additional_models(STATE_KEY, [holder])
    flow = isinstance(m.get_model_object("model_sampling"), comfy.model_sampling.CONST)

    def sampler_wrapper(executor, guider, sigmas, extra_args, callback, noise, latent_image=None,
                        denoise_mask=None, disable_pbar=False):
        opts = extra_args.setdefault("model_options", {})
        topts = dict(opts.get("transformer_options", {}))
        topts[STATE_KEY] = {"y": latent_image, "mask": denoise_mask}
        opts["transformer_options"] = topts
        return executor(guider, sigmas, extra_args, callback, noise, latent_image, denoise_mask, disable_pbar)

    def post_cfg(args):
        den = args["denoised"]
        state = args["model_options"].get("transformer_options", {}).get(STATE_KEY, {})
        x, sigma = args["input"], args["sigma"].reshape(-1).float()
        if sigma.numel() == 1:
            sigma = sigma.expand(x.shape[0])
        s_ve = flow_to_ve_sigma(sigma) if flow else sigma
        active = (sigma <= sigma_hi) & (sigma >= sigma_lo) & (s_ve >= guidance.net.sigma_floor)
        if not bool(active.any()):
            return den
        x_ve = flow_to_ve(x, sigma) if flow else x
        y, mask = state.get("y"), state.get("mask")
        known = torch.zeros_like(x[:, :1]) if mask is None else 1.0 - mask[:, :1].to(x).expand(x.shape[0], 1, *x.shape[2:])
        y = torch.zeros_like(x) if y is None else y.to(x)
        frames = x.shape[2] if x.ndim == 5 else 1  # video [B, C, T, H, W]: the module sees each frame as an image
        p = next(guidance.net.parameters())
        s_in = s_ve.repeat_interleave(frames)
        with torch.no_grad():
            mu = guidance.net(tp.time(s_in).float().to(p.device), _per_frame(x_ve).to(p), s_in.to(p),
                              _per_frame(known).to(p), _per_frame(known * y).to(p)).to(den)
        if x.ndim == 5:
            mu = mu.reshape(x.shape[0], frames, *mu.shape[1:]).transpose(1, 2)
        return core.guided_denoised(den, s_ve.to(den.device), mu, tp, strength * active.to(den.device, den.dtype))

    m.set_model_sampler_post_cfg_function(post_cfg)
    m.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.SAMPLER_SAMPLE, STATE_KEY, sampler_wrapper)
    return m


class ApplyAIDGuidance(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return schema(
            node_id="PriorPaintApplyAIDGuidance",
            search_aliases=['aid', 'guidance', 'drift correction', 'inpaint guidance'],
            display_name="Apply AID Guidance",
            category=f"{CATEGORY}/aid",
            description=("AID (Huang & Zhou 2026): returns a copy of the MODEL whose sampler drift is corrected at "
                         "every step by the learned guidance module (D' = D − (σ/σ̇)·µ(t, x; mask, known image)). "
                         "Works with any sampler node; sample a noise-masked LATENT as usual. Costs one small "
                         "module call per model evaluation. Fails if the module was trained for another model."),
            inputs=[
                io.Model.Input("model", tooltip="The backbone the module was trained for."),
                io.Custom("PRIORPAINT_AID").Input("guidance", tooltip="From Load AID Guidance."),
                io.Float.Input("strength", default=1.0, min=0.0, max=10.0, step=0.05,
                               tooltip="Scales the module's drift (1 = as trained, 0 = off)."),
                io.Float.Input("start_percent", default=0.0, min=0.0, max=1.0, step=0.001, optional=True,
                               tooltip="Where in the schedule the guidance starts (0 = the first, noisiest step), "
                                       "as in Apply ControlNet."),
                io.Float.Input("end_percent", default=1.0, min=0.0, max=1.0, step=0.001, optional=True,
                               tooltip="Where it stops (1 = the last step). Outside [start, end] the MODEL is "
                                       "unchanged and the module is not called."),
            ],
            outputs=[io.Model.Output("MODEL", display_name="guided model", tooltip="The patched MODEL (the input MODEL is not changed).")],
        )

    @classmethod
    def execute(cls, model, guidance, strength, start_percent=0.0, end_percent=1.0) -> io.NodeOutput:
        if start_percent > end_percent:
            raise node_error("Apply AID Guidance", InputError(
                "start_percent", f"is {start_percent}, after end_percent {end_percent}", "start_percent ≤ end_percent"))
        try:
            core.check_backbone(guidance.info, backbone_info(model))
        except core.ModuleFormatError as e:
            raise node_error("Apply AID Guidance", InputError("guidance", f"{guidance.name!r} {e}",
                                                              "a module trained for this MODEL")) from None
        return io.NodeOutput(patch_model(model, guidance, strength, start_percent, end_percent))


# ---------------------------------------------------------------------------------------------
# training inside ComfyUI
# ---------------------------------------------------------------------------------------------
def latent_crops(latents: torch.Tensor, batch: int, crop: int, g: torch.Generator) -> torch.Tensor:
    """``batch`` random ``crop``² windows (random image, position and horizontal flip) of ``latents``."""
    n, _, h, w = latents.shape
    out = []
    for _ in range(batch):
        k = int(torch.randint(0, n, (1,), generator=g))
        i = int(torch.randint(0, h - crop + 1, (1,), generator=g))
        j = int(torch.randint(0, w - crop + 1, (1,), generator=g))
        x = latents[k, :, i:i + crop, j:j + crop]
        out.append(x.flip(-1) if float(torch.rand((), generator=g)) < 0.5 else x)
    return torch.stack(out)


def train_guidance(model, vae, images, name, mask_kind, iterations, batch, crop, steps, lr_actor, lr_critic, lam,
                   beta, seed, resume, checkpoint_every, conditioning=None, harmony_weight=0.0, moment_weight=0.0,
                   lowpass=1, context=False, td_lambda=0.0, sigma_floor=0.0, node_id=None,
                   node: str = "Train AID Guidance"):
    """Both Train AID Guidance nodes: check the inputs, train (resumable, interruptible, divergence-watched),
    save the module. Returns ``(guidance, path, read-out text)``."""
    import re
    import time

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}", name) or ".." in name:
        raise node_error(node, InputError("name", f"is {name!r}", "a plain file name (letters, digits, - _ .)"))
    if batch % 2:
        raise node_error(node, InputError("batch", f"is {batch}", "an even number (± exploration pairs)"))
    if crop % lowpass:
        raise node_error(node, InputError("lowpass", f"is {lowpass}, which does not divide crop {crop}",
                                          "a divisor of 'crop'"))
    if not torch.is_tensor(images) or not bool(torch.isfinite(images).all()):
        raise node_error(node, InputError("images", "contains NaN or Inf values", "finite pixel values in [0, 1]"))
    name = name[:-12] if name.endswith(".safetensors") else name
    out_dir = os.path.join(folder_paths.models_dir, FOLDER)
    ckpt_dir = os.path.join(folder_paths.get_output_directory(), "priorpaint_aid")
    os.makedirs(out_dir, exist_ok=True)
    os.makedirs(ckpt_dir, exist_ok=True)
    ckpt = os.path.join(ckpt_dir, name + ".ckpt.safetensors")
    with torch.inference_mode(False):
        pixels = images.clone()
        with torch.no_grad():
            latents = vae.encode(pixels[..., :3])
        if latents.ndim != 4:
            raise node_error(node, InputError("vae", f"encodes the images to a video latent {tuple(latents.shape)}",
                                              "an image VAE (the trainer learns a module for image latents)"))
        latents = model.model.process_latent_in(latents.clone().float())
        if min(latents.shape[-2:]) < crop:
            raise node_error(node, InputError("crop", f"is {crop} but the encoded images are "
                                                      f"{tuple(latents.shape[-2:])}", "crop ≤ the latent size"))
        info = backbone_info(model)
        tp = core.TimeParam(max(info["sigma_min"], 0.002), min(info["sigma_max"], 80.0))
        ch = info["latent_channels"]
        sd = 0.5 if ch == 3 else 1.0
        with torch.random.fork_rng(devices=[]):  # seeded initial weights; ComfyUI's global RNG untouched
            torch.manual_seed(seed)
            actor = core.GuidanceNet(ch, sigma_data=sd, context=context, sigma_floor=sigma_floor)
            critic = core.CriticNet(ch, sigma_data=sd, context=context)
        g = torch.Generator().manual_seed(seed)
        start, opt_state, log = 0, None, []
        if resume and os.path.isfile(ckpt):
            try:
                start, opt_state, extra = core.load_checkpoint(ckpt, actor, critic, g, backbone=info)
            except core.ModuleFormatError as e:
                raise node_error(node, InputError("resume", f"the checkpoint {os.path.basename(ckpt)!r} {e}",
                                                  "the same MODEL and network settings, or resume off (or "
                                                  "another name) to start afresh")) from None
            log = extra.get("log", [])
        if harmony_weight > 0 and ch != 3:
            raise node_error(node, InputError("harmony_weight", f"is {harmony_weight} for a {ch}-channel latent",
                                              "0 (the harmony term needs a 3-channel pixel-space model)"))
        cfg = core.AIDConfig(steps=steps, beta=beta, lam=lam, lr_actor=lr_actor, lr_critic=lr_critic,
                             harmony_weight=harmony_weight, moment_weight=moment_weight,
                             lowpass=lowpass, td_lambda=td_lambda)
        denoise = ve_denoiser(model, conditioning)
        comfy.model_management.load_models_gpu([model])
        try:  # one forward call: a model that needs text conditioning says so here, not mid-training
            probe = latent_crops(latents, 2, crop, torch.Generator().manual_seed(0))
            denoise(probe.to(comfy.model_management.get_torch_device()), torch.full((2,), tp.sigma_max))
        except Exception as e:
            if conditioning is not None:
                raise
            raise node_error(node, InputError("conditioning", f"is not connected and this MODEL cannot run "
                                              f"without it ({type(e).__name__}: {str(e)[:80]})",
                                              "the conditioning the model is used with (CLIPTextEncode; an "
                                              "empty prompt is fine)")) from None
        pbar = comfy.utils.ProgressBar(iterations)
        pbar.update_absolute(start, iterations)
        t0 = time.time()

        def batches():
            while True:
                yield latent_crops(latents, batch, crop, g), random_masks(mask_kind, batch, crop, crop, g)

        watch = core.DivergenceWatch()
        state = {"pending": None, "good": None}  # the weights before this iteration's step; the last proven

        def on_iteration(it, stats, opt):
            # stats measure the weights from before this iteration's step (``pending``): healthy stats prove
            # them good; exploding ones mean training diverged: keep the last good state, save nothing else
            problem = watch.check(stats, actor, critic)
            if problem is not None:
                _diverged(problem, it, state["good"])
            state["good"] = state["pending"]
            log.append(dict(stats, iteration=it))
            done = it + 1
            state["pending"] = _snapshot(done, opt)
            pbar.update_absolute(done, iterations)
            interrupted = comfy.model_management.processing_interrupted()
            if done % checkpoint_every == 0 or done == iterations or interrupted:
                core.save_checkpoint(ckpt, actor, critic, opt, done, g,
                                     {"log": log, "net": actor.config, "backbone": info})
            if done % 10 == 0 or done == iterations:
                send_ui_message("status", {"text": f"training {done}/{iterations}: the fills' error Ψ "
                                                   f"{stats['psi']:.3f} (lower is better; it started at "
                                                   f"{log[0]['psi']:.3f}), critic error |δ| {stats['td']:.3f}",
                                           "curve": [r["psi"] for r in log]}, node_id)
            comfy.model_management.throw_exception_if_processing_interrupted()

        def _snapshot(done, opt):
            return (done, copy.deepcopy(actor.state_dict()), copy.deepcopy(critic.state_dict()),
                    copy.deepcopy(opt), g.get_state(), len(log))

        def _diverged(problem, it, good):
            kept = "no checkpoint of this run was kept (it diverged at once)"
            if good is not None:
                done, a_sd, c_sd, opt, g_state, n_log = good
                actor.load_state_dict(a_sd)
                critic.load_state_dict(c_sd)
                g.set_state(g_state)
                core.save_checkpoint(ckpt, actor, critic, opt, done, g,
                                     {"log": log[:n_log], "net": actor.config, "backbone": info})
                kept = (f"the last good state (iteration {done}) is kept in "
                        f"{os.path.relpath(ckpt, folder_paths.get_output_directory())} for resume")
            send_ui_message("status", {"text": f"AID diverged at iteration {it + 1}: {problem}"}, node_id)
            raise node_error(node, InputError(
                "lr_actor", f"is {lr_actor:g} (lr_critic {lr_critic:g}), and training diverged at iteration "
                            f"{it + 1}: {problem}; the module was not saved; {kept}",
                "smaller learning rates (the default 0.001), then run again with resume on"))

        comfy.model_management.load_models_gpu([model])
        core.train(denoise, actor, critic, tp, batches(), iterations, cfg, g, start=start, opt_state=opt_state,
                   on_iteration=on_iteration)
        if not core.weights_finite(actor):
            _diverged("the module's weights are not finite after the last step", iterations - 1, state["good"])
        training = {"backbone": "comfyui-model", "iterations": iterations, "batch": batch, "crop": crop,
                    "steps": steps, "lr_actor": lr_actor, "lr_critic": lr_critic, "lam": lam, "beta": beta,
                    "seed": seed, "mask_kind": mask_kind, **cfg.terminal(), "context": context,
                    "td_lambda": td_lambda, "sigma_floor": sigma_floor,
                    "terminal_cost": core.terminal_cost_name(**cfg.terminal()),
                    "minutes_this_run": round((time.time() - t0) / 60, 2)}
        path = os.path.join(out_dir, name + ".safetensors")
        core.save_module(path, actor, core.module_metadata(actor, info, tp, training))
        g_out = load_guidance_file(path, name + ".safetensors")
    return g_out, path, training_readout(iterations, start, log, path, g_out)


def training_readout(iterations: int, start: int, log: list[dict], path: str, g_out) -> str:
    """The read-out: how much the rollouts' cost fell, in words, then the module's details."""
    text = f"trained {iterations} iterations" + (f" (resumed at {start})" if start else "")
    if log:
        first, last = log[0]["psi"], log[-1]["psi"]
        change = f"{100 * (first - last) / first:.0f}% lower" if first > 0 else "unchanged"
        text += (f": the fills' error to the training images is {change} than at the start (Ψ {first:.3f} → "
                 f"{last:.3f}; lower is better)")
    return text + f"\nsaved {os.path.basename(path)}\n" + g_out.summary()


class TrainAIDGuidance(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return schema(
            node_id="PriorPaintTrainAIDGuidance",
            search_aliases=['aid', 'train guidance', 'actor critic', 'train aid advanced'],
            display_name="Train AID Guidance (Advanced)",
            category=f"{CATEGORY}/aid",
            description=("Trains an AID guidance module for this MODEL (actor–critic, the backbone frozen and only run "
                         "forward): random latent crops of 'images' with random masks, Euler rollouts whose steps are "
                         "nudged by the module, terminal cost = squared error to the image (options below add harmony, "
                         "hole-moment and low-pass terms). Saves "
                         "models/inpaint_guidance/<name>.safetensors (and a resumable checkpoint every "
                         "'checkpoint_every' iterations in the output folder). Interrupting writes a checkpoint; "
                         "run again with resume on to continue. Long: see docs/aid.md for times."),
            inputs=[
                io.Model.Input("model", tooltip="The frozen backbone."),
                io.Vae.Input("vae", tooltip="Encodes the training images to the model's latent space."),
                io.Image.Input("images", tooltip="Training images (any size ≥ the crop after encoding)."),
                io.String.Input("name", default="my-aid-guidance",
                                tooltip="File name (letters, digits, - _ .) in models/inpaint_guidance."),
                io.Combo.Input("mask_kind", options=["mixed", "wide", "half", "expand", "box"], default="mixed",
                               tooltip="Training masks: LaMa-style strokes, half, expand, box, or a mix."),
                io.Int.Input("iterations", default=600, min=1, max=1_000_000, tooltip="Actor–critic iterations."),
                io.Int.Input("batch", **ADVANCED, default=48, min=2, max=4096, step=2,
                             tooltip="Rollouts per iteration (even: explored in ± pairs)."),
                io.Int.Input("crop", **ADVANCED, default=32, min=8, max=512, tooltip="Crop size in latent pixels."),
                io.Int.Input("steps", **ADVANCED, default=8, min=2, max=100, tooltip="Euler steps per training rollout."),
                io.Float.Input("lr_actor", **ADVANCED, default=1e-3, min=0.0, max=1.0, step=1e-4, tooltip="Actor learning rate."),
                io.Float.Input("lr_critic", **ADVANCED, default=1e-3, min=0.0, max=1.0, step=1e-4, tooltip="Critic learning rate."),
                io.Float.Input("lam", **ADVANCED, default=0.1, min=1e-6, max=100.0, step=0.01,
                               tooltip="λ: exploration variance 2λ/(βd)."),
                io.Float.Input("beta", **ADVANCED, default=1.0, min=1e-6, max=1000.0, step=0.1, tooltip="β: cost of the control."),
                io.Int.Input("seed", default=0, min=0, max=0xFFFFFFFFFFFFFFFF, tooltip="Seed of the whole run."),
                io.Boolean.Input("resume", default=True, tooltip="Continue from this name's checkpoint if there is one."),
                io.Int.Input("checkpoint_every", **ADVANCED, default=50, min=1, max=100_000, tooltip="Checkpoint interval."),
                io.Conditioning.Input("conditioning", optional=True,
                                      tooltip="Conditioning the backbone sees during training (default: the "
                                              "model's empty/unconditional input)."),
                io.Float.Input("harmony_weight", **ADVANCED, default=0.0, min=0.0, max=100.0, step=0.01, optional=True,
                               tooltip="w: adds w·d·KL(known ‖ hole) of the colour histograms to the terminal cost "
                                       "(3-channel pixel-space models only; 0 = squared error alone)."),
                io.Float.Input("moment_weight", **ADVANCED, default=0.0, min=0.0, max=1000.0, step=0.1, optional=True,
                               tooltip="w: adds w·n_hole·Σ_c[(mean_c − mean*_c)² + (std_c − std*_c)²] of the hole to the "
                                       "terminal cost, so flat low-contrast fills no longer pay off (any latent; "
                                       "0 = off)."),
                io.Int.Input("lowpass", **ADVANCED, default=1, min=1, max=64, optional=True,
                             tooltip="k: the terminal squared error compares k×k block means, so flattening texture "
                                     "finer than k latent pixels earns nothing (must divide 'crop'; 1 = per pixel)."),
                io.Boolean.Input("context", **ADVANCED, default=False, optional=True,
                                 tooltip="The module also sees the known region's mean and spread per channel, so it "
                                         "can correct colours deep inside holes larger than its convolutions reach."),
                io.Float.Input("td_lambda", **ADVANCED, default=0.0, min=0.0, max=1.0, step=0.05, optional=True,
                               tooltip="λ_TD of the actor's advantage: 0 = the TD residual δ_k (the paper's update), "
                                       "1 = the whole remaining cost (Monte-Carlo); between = generalised advantage."),
                io.Float.Input("sigma_floor", **ADVANCED, default=0.0, min=0.0, max=1000.0, step=0.01, optional=True,
                               tooltip="A coarse-only module: it does not act where the noise level (VE σ) is below "
                                       "this, in training and when applied, so it steers the hole's layout and colour "
                                       "and leaves the fine texture to the model. 0 = every step."),
            ],
            outputs=[io.Custom("PRIORPAINT_AID").Output("GUIDANCE", display_name="guidance", tooltip="The trained module."),
                     io.String.Output("path", display_name="saved to", tooltip="Where the module was saved.")],
            hidden=[io.Hidden.unique_id],
            is_output_node=True,
        )

    @classmethod
    def execute(cls, model, vae, images, name, mask_kind, iterations, batch, crop, steps, lr_actor, lr_critic, lam,
                beta, seed, resume, checkpoint_every, conditioning=None, harmony_weight=0.0,
                moment_weight=0.0, lowpass=1, context=False, td_lambda=0.0, sigma_floor=0.0) -> io.NodeOutput:
        g_out, path, text = train_guidance(
            model, vae, images, name, mask_kind, iterations, batch, crop, steps, lr_actor, lr_critic, lam, beta,
            seed, resume, checkpoint_every, conditioning, harmony_weight, moment_weight, lowpass, context, td_lambda,
            sigma_floor, unique_id(cls),
            node="Train AID Guidance (Advanced)")
        return io.NodeOutput(g_out, path, ui=readout(text))


class TrainAIDGuidanceSimple(io.ComfyNode):
    """The choices an artist makes; the rest at Train AID Guidance (Advanced)'s defaults."""

    @classmethod
    def define_schema(cls):
        return schema(
            node_id="PriorPaintTrainAIDGuidanceSimple",
            search_aliases=['aid', 'train guidance', 'train aid'],
            display_name="Train AID Guidance",
            category=f"{CATEGORY}/aid",
            description=("Teaches a small guidance module how this MODEL should fill holes in pictures like "
                         "'images' (your style, your subject), so Apply AID Guidance can steer every later inpaint. "
                         "The model itself is not changed. Saves models/inpaint_guidance/<name>.safetensors; "
                         "stop at any time and run again to continue. Long: 600 iterations took 25 min on 2 CPU cores "
                         "for the small demo model, and each iteration runs the model 8 × 48 times, so large models "
                         "take far longer (docs/aid.md). Train AID Guidance (Advanced) has every setting."),
            inputs=[
                io.Model.Input("model", tooltip="The model the module is for (it only works with this model)."),
                io.Vae.Input("vae", tooltip="The model's VAE, to read the training images."),
                io.Image.Input("images", tooltip="Pictures like the ones you will inpaint (any size, more is better)."),
                io.String.Input("name", default="my-aid-guidance",
                                tooltip="File name of the module (letters, digits, - _ .)."),
                io.Combo.Input("mask_kind", options=["mixed", "wide", "half", "expand", "box"], default="mixed",
                               tooltip="The holes it practises on: brush strokes (wide), half the picture, "
                                       "outpainting (expand), boxes, or a mix of all (mixed, recommended)."),
                io.Int.Input("iterations", default=600, min=1, max=1_000_000,
                             tooltip="How long to train: more is better up to a point (600 is a good start)."),
                io.Int.Input("seed", default=0, min=0, max=0xFFFFFFFFFFFFFFFF, tooltip="Seed of the whole run."),
                io.Boolean.Input("resume", default=True,
                                 tooltip="Continue from where this name's last run stopped, if it did."),
                io.Conditioning.Input("conditioning", optional=True,
                                      tooltip="A prompt the model needs to run (models such as Flux); an empty "
                                              "prompt is fine."),
            ],
            outputs=[io.Custom("PRIORPAINT_AID").Output("GUIDANCE", display_name="guidance", tooltip="The trained module."),
                     io.String.Output("path", display_name="saved to", tooltip="Where the module was saved.")],
            hidden=[io.Hidden.unique_id],
            is_output_node=True,
        )

    @classmethod
    def execute(cls, model, vae, images, name, mask_kind, iterations, seed, resume, conditioning=None) -> io.NodeOutput:
        settings = dict(schema_defaults(TrainAIDGuidance), name=name, mask_kind=mask_kind, iterations=iterations,
                        seed=seed, resume=resume)
        g_out, path, text = train_guidance(model, vae, images, **settings, conditioning=conditioning,
                                           node_id=unique_id(cls))
        return io.NodeOutput(g_out, path, ui=readout(text))
