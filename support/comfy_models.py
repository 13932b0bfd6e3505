"""Models with known truth and tiny real architectures, as real ComfyUI MODEL / VAE objects.

Tests and the bench import this module (it needs ComfyUI importable); shipped node code never does.

* :func:`exact_prior_model` -- an exact prior from :mod:`support.exact_priors` wrapped as an EPS,
  V-prediction or flow (CONST, shifted) model through :func:`nodes.modelwrap.wrap_ve_denoiser`.
* :func:`tiny_model` -- ComfyUI's own model classes (SD1.5 UNet, SD2 v-prediction UNet, SDXL UNet, Flux DiT, Wan 2.1
  video DiT with its video VAE) at
  tiny random configurations, each with a tiny AutoencoderKL that ``VAEEncode``/``VAEDecode`` accept
  and the conditioning the family expects.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

import comfy.model_base
import comfy.model_management
import comfy.model_patcher
import comfy.sd
import comfy.supported_models

from ..nodes.modelwrap import empty_conditioning, wrap_ve_denoiser
from .exact_priors import GaussianMixturePrior

PREDICTIONS = ("eps", "v", "flow")
FLOW_SHIFT = 3.0  # SD3's shift: the flow wrappers are "CONST, shifted"


class PriorDenoiser(torch.nn.Module):
    """``forward(x [B, C, H, W], sigma [B]) -> E[x0 | x]`` for an exact prior over ``C·H·W`` values."""

    def __init__(self, prior: GaussianMixturePrior):
        super().__init__()
        self.prior = prior

    def forward(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        if math.prod(x.shape[1:]) != self.prior.dim:
            raise ValueError(f"latent {tuple(x.shape[1:])} does not match the prior's shape {self.prior.shape}")
        s = sigma.reshape(-1)
        if s.numel() == 1:
            s = s.expand(b)
        return self.prior.denoise(x.reshape(b, -1), s).to(x.dtype).reshape(x.shape)


def exact_prior_model(prior: GaussianMixturePrior, prediction: str = "eps", shift: float = FLOW_SHIFT):
    """The exact prior as a ComfyUI MODEL; its latent is ``prior.shape`` (identity latent format)."""
    settings = {"shift": shift, "multiplier": 1000} if prediction == "flow" else {}
    return wrap_ve_denoiser(PriorDenoiser(prior), channels=prior.shape[0], prediction=prediction,
                            sampling_settings=settings, name=f"ExactPrior_{prediction}")


# ---------------------------------------------------------------------------------------------
# Tiny real architectures
# ---------------------------------------------------------------------------------------------

_UNET_BASE = dict(use_checkpoint=False, image_size=32, out_channels=4, use_spatial_transformer=True, legacy=False,
                  adm_in_channels=None, in_channels=4, model_channels=32, num_res_blocks=[1, 1],
                  transformer_depth=[0, 1], channel_mult=[1, 2], transformer_depth_middle=1,
                  use_linear_in_transformer=False, num_heads=2, transformer_depth_output=[0, 0, 1, 1],
                  use_temporal_attention=False, use_temporal_resblock=False)

_FLUX = dict(image_model="flux", in_channels=16, out_channels=16, vec_in_dim=768, context_in_dim=4096, hidden_size=64,
             mlp_ratio=4.0, num_heads=2, depth=1, depth_single_blocks=1, axes_dim=[8, 12, 12], theta=10000,
             patch_size=2, qkv_bias=True, guidance_embed=True)

_WAN = dict(image_model="wan2.1", model_type="t2v", dim=64, ffn_dim=128, num_heads=2, num_layers=1, text_dim=4096,
            freq_dim=256, in_dim=16, out_dim=16, patch_size=(1, 2, 2), eps=1e-6)

def _flux_config() -> dict:
    """The tiny Flux config for the running ComfyUI: since 0.4 ``FluxParams`` also needs ``txt_ids_dims``
    (which text-position axes carry ids; ``[]`` for Flux.1, as ComfyUI's own model detection sets it)."""
    import dataclasses

    import comfy.ldm.flux.model

    fields = {f.name for f in dataclasses.fields(comfy.ldm.flux.model.FluxParams)}
    return dict(_FLUX, **({"txt_ids_dims": []} if "txt_ids_dims" in fields else {}))


FAMILIES = ("sd15", "sd2v", "sdxl", "flux", "wan")


@dataclass
class TinyBundle:
    """What a checkpoint loader plus text encoder would give a workflow."""

    model: comfy.model_patcher.ModelPatcher
    vae: comfy.sd.VAE
    positive: list
    negative: list
    latent_channels: int
    family: str


def _init_(module: torch.nn.Module, generator: torch.Generator, std: float = 0.02):
    """ComfyUI's ops skip initialisation: give every parameter a seeded value."""
    sd = {}
    for k, v in module.state_dict().items():
        if k.endswith("norm.weight") or ".norm" in k and k.endswith("weight") and v.ndim == 1:
            sd[k] = torch.ones_like(v)
        elif v.dtype.is_floating_point:
            sd[k] = torch.randn(v.shape, generator=generator, dtype=torch.float32).to(v.dtype) * std
        else:
            sd[k] = v
    module.load_state_dict(sd)


def tiny_vae(latent_channels: int, seed: int = 0) -> comfy.sd.VAE:
    """A tiny AutoencoderKL (8× down-sampling, like SD's) built through ``comfy.sd.VAE``."""
    ddconfig = {"double_z": True, "z_channels": latent_channels, "resolution": 64, "in_channels": 3, "out_ch": 3,
                "ch": 32, "ch_mult": [1, 1, 2, 2], "num_res_blocks": 1, "attn_resolutions": [], "dropout": 0.0}
    config = {"params": {"ddconfig": ddconfig, "embed_dim": latent_channels}}
    from comfy.ldm.models.autoencoder import AutoencoderKL

    proto = AutoencoderKL(ddconfig=ddconfig, embed_dim=latent_channels)
    g = torch.Generator().manual_seed(seed)
    sd = {k: (torch.randn(v.shape, generator=g) * 0.05 if v.dtype.is_floating_point else v)
          for k, v in proto.state_dict().items()}
    for k in sd:
        if k.endswith("norm.weight") or k.endswith("norm1.weight") or k.endswith("norm2.weight") or k.endswith("norm_out.weight"):
            sd[k] = torch.ones_like(sd[k])
    vae = comfy.sd.VAE(sd=sd, config=config)
    vae.latent_channels = latent_channels
    return vae


def tiny_wan_vae(seed: int = 0) -> comfy.sd.VAE:
    """A tiny Wan 2.1 video VAE (4× in time, 8× in space, 16 latent channels) built from ComfyUI's own
    class; ``comfy.sd.VAE`` recognises it by its keys and reads its width from them."""
    from comfy.ldm.wan.vae import WanVAE

    proto = WanVAE(dim=8, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
                   temperal_downsample=[False, True, True])
    g = torch.Generator().manual_seed(seed)
    sd = {k: (torch.randn(v.shape, generator=g) * 0.05 if v.dtype.is_floating_point else v)
          for k, v in proto.state_dict().items()}
    sd.update({k: torch.ones_like(v) for k, v in sd.items() if k.endswith("gamma")})
    return comfy.sd.VAE(sd=sd)


def tiny_model(family: str = "sd15", seed: int = 0) -> TinyBundle:
    """A real ComfyUI architecture of ``family`` at a tiny random configuration (CPU, seconds)."""
    g = torch.Generator().manual_seed(seed)
    cpu = torch.device("cpu")
    if family == "sd15":
        cfg = comfy.supported_models.SD15(dict(_UNET_BASE, context_dim=768))
        base = cfg.get_model({}, device=cpu)
        ctx, extras, channels = 768, {}, 4
    elif family == "sd2v":
        cfg = comfy.supported_models.SD20(dict(_UNET_BASE, context_dim=1024))
        base = comfy.model_base.BaseModel(cfg, model_type=comfy.model_base.ModelType.V_PREDICTION, device=cpu)
        ctx, extras, channels = 1024, {}, 4
    elif family == "sdxl":  # pooled CLIP-G output + size embeddings through the UNet's ADM input
        cfg = comfy.supported_models.SDXL(dict(_UNET_BASE, context_dim=2048, adm_in_channels=2816, num_classes="sequential"))
        base = cfg.get_model({}, device=cpu)
        ctx, channels = 2048, 4
        extras = {"pooled_output": torch.zeros(1, 1280), "width": 64, "height": 64}
    elif family == "flux":
        cfg = comfy.supported_models.Flux(_flux_config())
        base = cfg.get_model({}, device=cpu)
        ctx, channels = 4096, 16
        extras = {"pooled_output": torch.zeros(1, 768), "guidance": 3.5}
    elif family == "wan":  # a video model: latents [B, 16, T, H, W]
        cfg = comfy.supported_models.WAN21_T2V(dict(_WAN))
        base = cfg.get_model({}, device=cpu)
        ctx, extras, channels = 4096, {}, 16
    else:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    _init_(base.diffusion_model, g)
    mp = comfy.model_patcher.ModelPatcher(base, load_device=comfy.model_management.get_torch_device(),
                                          offload_device=comfy.model_management.unet_offload_device())
    pos = [[torch.randn(1, 4, ctx, generator=g) * 0.1, dict(extras)]]
    neg = [[torch.zeros(1, 4, ctx), dict(extras)]]
    vae = tiny_wan_vae(seed) if family == "wan" else tiny_vae(channels, seed)
    return TinyBundle(mp, vae, pos, neg, channels, family)


SD15_REAL_UNET = dict(_UNET_BASE, model_channels=320, num_res_blocks=[2, 2, 2, 2], transformer_depth=[1, 1, 1, 1, 1, 1, 0, 0],
                      channel_mult=[1, 2, 4, 4], transformer_depth_middle=1, context_dim=768, num_heads=8,
                      transformer_depth_output=[1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0])  # ComfyUI's SD1.5 detection
SD_REAL_VAE = {"double_z": True, "z_channels": 4, "resolution": 256, "in_channels": 3, "out_ch": 3, "ch": 128,
               "ch_mult": [1, 2, 4, 4], "num_res_blocks": 2, "attn_resolutions": [], "dropout": 0.0}


def real_size_sd15(seed: int = 0) -> TinyBundle:
    """ComfyUI's SD1.5 UNet (860 M parameters) and SD VAE (84 M) at their real sizes, random weights: for
    measuring time and memory as a user's checkpoint would cost them (3.7 GB of float32 weights)."""
    g = torch.Generator().manual_seed(seed)
    cfg = comfy.supported_models.SD15(dict(SD15_REAL_UNET))
    base = cfg.get_model({}, device=torch.device("cpu"))
    _init_(base.diffusion_model, g)
    mp = comfy.model_patcher.ModelPatcher(base, load_device=comfy.model_management.get_torch_device(),
                                          offload_device=comfy.model_management.unet_offload_device())
    from comfy.ldm.models.autoencoder import AutoencoderKL

    proto = AutoencoderKL(ddconfig=SD_REAL_VAE, embed_dim=4)
    sd = {k: (torch.randn(v.shape, generator=g) * 0.02 if v.dtype.is_floating_point else v)
          for k, v in proto.state_dict().items()}
    sd.update({k: torch.ones_like(v) for k, v in sd.items() if k.endswith("norm.weight") or ".norm" in k
               and k.endswith("weight") and v.ndim == 1})
    del proto
    vae = comfy.sd.VAE(sd=sd, config={"params": {"ddconfig": SD_REAL_VAE, "embed_dim": 4}})
    pos = [[torch.randn(1, 77, 768, generator=g) * 0.1, {}]]
    neg = [[torch.zeros(1, 77, 768), {}]]
    return TinyBundle(mp, vae, pos, neg, 4, "sd15-real")


__all__ = ["PriorDenoiser", "exact_prior_model", "tiny_model", "tiny_vae", "TinyBundle", "FAMILIES", "PREDICTIONS",
           "empty_conditioning"]
