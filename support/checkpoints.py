"""Model FILES for the stock loaders: random weights in the real key layouts, sized so that ComfyUI's own
model detection picks the right family. Written once into a cache outside the repo (nothing is
downloaded) and placed under the names ComfyUI's own templates use, so a template runs unchanged.

=========  ==========================================================================================
family     files (folder / name) and what is real-size
=========  ==========================================================================================
sd15       checkpoints/v1-5-pruned-emaonly-fp16.safetensors: SD1.5 UNet at 320 channels (ComfyUI detects
           SD1.5 by model_channels 320 and a 768-wide context) with one level of blocks; CLIP-L and the SD
           VAE at their real sizes (ComfyUI fixes both configurations).
sdxl       checkpoints/sd_xl_base_1.0.safetensors: an SDXL-family UNet (Segmind Vega's transformer depths
           [0, 0, 1, 1, 2, 2], 320 channels at every level), CLIP-L + CLIP-G (817 M parameters) and the
           VAE at their real sizes.
sd35       diffusion_models/sd3.5_medium.safetensors (MMDiT, depth 2, real context and pooled widths),
           vae/sd35_vae.safetensors (16 channels), text_encoders/clip_l.safetensors (CLIP-L). T5-XXL
           (4.7 B parameters) does not fit a CI machine; SD3's text encoder takes any subset of its three
           encoders, and tests load CLIP-L alone with CLIPLoader type "sd3".
flux       diffusion_models/flux1-dev.safetensors: Flux's layout with one double and one single block at
           Flux's real width (ComfyUI fixes 24 heads of 128), whose text input is 768 wide (CLIP-L's
           token embeddings) in place of T5-XXL's 4096; vae/ae.safetensors (16 channels);
           text_encoders/clip_l.safetensors. Tests load CLIP-L with CLIPLoader type "stable_diffusion".
=========  ==========================================================================================

Files are float16 (as released checkpoints are). ``PRIORPAINT_MODEL_CACHE`` overrides the cache folder.
"""
from __future__ import annotations

import os

import torch

import comfy.model_management
import comfy.model_patcher
import comfy.sd
import comfy.supported_models
import comfy.utils

from .comfy_models import _UNET_BASE, SD_REAL_VAE, _init_

VERSION = "v2"
CACHE = os.environ.get("PRIORPAINT_MODEL_CACHE",
                       os.path.join(os.path.expanduser("~"), ".cache", "priorpaint", f"tiny-checkpoints-{VERSION}"))
FAMILIES = ("sd15", "sdxl", "sd35", "flux")

FILES = {
    "sd15": {"checkpoints": "v1-5-pruned-emaonly-fp16.safetensors"},
    "sdxl": {"checkpoints": "sd_xl_base_1.0.safetensors"},
    "sd35": {"diffusion_models": "sd3.5_medium.safetensors", "vae": "sd35_vae.safetensors",
             "text_encoders": "clip_l.safetensors"},
    "flux": {"diffusion_models": "flux1-dev.safetensors", "vae": "ae.safetensors", "text_encoders": "clip_l.safetensors"},
}
"""Per family: ComfyUI models folder -> file name (the names of ComfyUI's own templates)."""

SD15_UNET = dict(_UNET_BASE, model_channels=320, context_dim=768, num_heads=8, num_head_channels=-1,
                 channel_mult=[1, 1], num_res_blocks=[1, 1], transformer_depth=[1, 1], transformer_depth_output=[1, 1, 1, 1],
                 transformer_depth_middle=1)
SDXL_UNET = dict(_UNET_BASE, model_channels=320, context_dim=2048, adm_in_channels=2816, num_classes="sequential",
                 use_linear_in_transformer=True, num_heads=-1, num_head_channels=64, channel_mult=[1, 1, 1],
                 num_res_blocks=[2, 2, 2], transformer_depth=[0, 0, 1, 1, 2, 2],
                 transformer_depth_output=[0, 0, 0, 1, 1, 1, 2, 2, 2], transformer_depth_middle=1)
SD3_VAE = dict(SD_REAL_VAE, z_channels=16)


def _path(folder: str, name: str) -> str:
    return os.path.join(CACHE, folder, name)


def paths(family: str) -> dict[str, str]:
    """Folder -> absolute path of each file of ``family`` (written on first use)."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    out = {folder: _path(folder, name) for folder, name in FILES[family].items()}
    if not all(os.path.isfile(p) for p in out.values()):
        _BUILD[family]()
    return out


def _save(sd: dict, path: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    sd = {k: (v.to(torch.float16) if v.dtype.is_floating_point else v).contiguous() for k, v in sd.items()}
    tmp = path + ".tmp"
    comfy.utils.save_torch_file(sd, tmp)
    os.replace(tmp, path)  # a half-written file never looks complete


def _vae(ddconfig: dict, g: torch.Generator) -> comfy.sd.VAE:
    from comfy.ldm.models.autoencoder import AutoencoderKL

    proto = AutoencoderKL(ddconfig=ddconfig, embed_dim=ddconfig["z_channels"])
    sd = {k: (torch.randn(v.shape, generator=g) * 0.02 if v.dtype.is_floating_point else v)
          for k, v in proto.state_dict().items()}
    sd.update({k: torch.ones_like(v) for k, v in sd.items() if ("norm" in k and k.endswith("weight") and v.ndim == 1)})
    return comfy.sd.VAE(sd=sd, config={"params": {"ddconfig": ddconfig, "embed_dim": ddconfig["z_channels"]}})


def _clip(tokenizer, model, g: torch.Generator) -> comfy.sd.CLIP:
    clip = comfy.sd.CLIP(target=comfy.supported_models_base.ClipTarget(tokenizer, model))
    _init_(clip.cond_stage_model, g, std=0.02)
    with torch.no_grad():  # unit layer norms: token embeddings come out O(1), so prompts differ as they should
        for m in clip.cond_stage_model.modules():
            if isinstance(m, torch.nn.LayerNorm) and m.weight is not None:
                m.weight.fill_(1.0)
    return clip


def _patcher(base) -> comfy.model_patcher.ModelPatcher:
    return comfy.model_patcher.ModelPatcher(base, load_device=comfy.model_management.get_torch_device(),
                                           offload_device=comfy.model_management.unet_offload_device())


def _checkpoint(family: str, cfg, clip_target, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    base = cfg.get_model({}, device=torch.device("cpu"))
    _init_(base.diffusion_model, g)
    clip = _clip(*clip_target, g)
    vae = _vae(SD_REAL_VAE, g)
    path = _path("checkpoints", FILES[family]["checkpoints"])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    comfy.sd.save_checkpoint(path + ".tmp", _patcher(base), clip, vae)  # ComfyUI's own saving layout
    os.replace(path + ".tmp", path)


def _build_sd15() -> None:
    from comfy import sd1_clip

    _checkpoint("sd15", comfy.supported_models.SD15(dict(SD15_UNET)), (sd1_clip.SD1Tokenizer, sd1_clip.SD1ClipModel), 15)


def _build_sdxl() -> None:
    from comfy import sdxl_clip

    _checkpoint("sdxl", comfy.supported_models.Segmind_Vega(dict(SDXL_UNET)),
                (sdxl_clip.SDXLTokenizer, sdxl_clip.SDXLClipModel), 16)


def _clip_l_file(g: torch.Generator) -> None:
    from comfy import sd1_clip

    path = _path("text_encoders", "clip_l.safetensors")
    if os.path.isfile(path):
        return
    clip = _clip(sd1_clip.SD1Tokenizer, sd1_clip.SD1ClipModel, g)
    prefix = "clip_l.transformer."
    sd = {k[len(prefix):]: v for k, v in clip.get_sd().items() if k.startswith(prefix)}  # "text_model.*" (HF)
    _save(sd, path)


def _build_sd35() -> None:
    g = torch.Generator().manual_seed(35)
    cfg = comfy.supported_models.SD3({
        "in_channels": 16, "out_channels": 16, "patch_size": 2, "depth": 2, "input_size": None,
        "adm_in_channels": 2048, "pos_embed_max_size": 32, "num_patches": 1024, "qk_norm": "rms",
        "context_embedder_config": {"target": "torch.nn.Linear", "params": {"in_features": 4096, "out_features": 128}},
        "pos_embed_scaling_factor": None, "x_block_self_attn_layers": [0]})
    base = cfg.get_model({}, device=torch.device("cpu"))
    _init_(base.diffusion_model, g)
    _save(base.diffusion_model.state_dict(), _path("diffusion_models", FILES["sd35"]["diffusion_models"]))
    _save(_vae(SD3_VAE, g).get_sd(), _path("vae", FILES["sd35"]["vae"]))
    _clip_l_file(g)


def _build_flux() -> None:
    from .comfy_models import _flux_config

    g = torch.Generator().manual_seed(1)
    cfg = comfy.supported_models.Flux(dict(_flux_config(), hidden_size=3072, num_heads=24, axes_dim=[16, 56, 56],
                                           context_in_dim=768, vec_in_dim=768, depth=1, depth_single_blocks=1))
    base = cfg.get_model({}, device=torch.device("cpu"))
    _init_(base.diffusion_model, g, std=0.01)
    _save(base.diffusion_model.state_dict(), _path("diffusion_models", FILES["flux"]["diffusion_models"]))
    _save(_vae(SD3_VAE, g).get_sd(), _path("vae", FILES["flux"]["vae"]))
    _clip_l_file(g)


_BUILD = {"sd15": _build_sd15, "sdxl": _build_sdxl, "sd35": _build_sd35, "flux": _build_flux}


def install(family: str, models_dir: str) -> dict[str, str]:
    """Link (or copy) the files of ``family`` into ``models_dir/<folder>/`` under their template names;
    returns folder -> file name."""
    out = {}
    for folder, src in paths(family).items():
        dst_dir = os.path.join(models_dir, folder)
        os.makedirs(dst_dir, exist_ok=True)
        dst = os.path.join(dst_dir, os.path.basename(src))
        if not os.path.exists(dst):
            try:
                os.symlink(src, dst)
            except OSError:
                import shutil

                shutil.copyfile(src, dst)
        out[folder] = os.path.basename(src)
    return out


CLIP_TYPE = {"sd35": "sd3", "flux": "stable_diffusion"}
"""The CLIPLoader type the tests use in place of the family's T5-XXL encoders (see the module docstring)."""
