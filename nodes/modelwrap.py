"""Wrap a pure-torch VE denoiser as a real ComfyUI MODEL (ModelPatcher around BaseModel).

A *VE denoiser* is any ``nn.Module`` with ``forward(x, sigma) -> x0`` in the variance-exploding
convention ``x = x0 + σ ε`` (k-diffusion / EDM). :func:`wrap_ve_denoiser` turns it into a
``comfy.model_base.BaseModel`` of any prediction type (EPS, V-prediction, EDM, flow/CONST) so that
ComfyUI's ``calculate_denoised`` returns exactly ``D(x, σ)`` in the model's own noise space:

* the network input ``x_in = calculate_input(σ, x)`` is linear in ``x``; we undo it with the same
  ``model_sampling`` object (so object patches such as ModelSamplingSD3's shift are honoured);
* flow (CONST) coordinates map to VE as ``x_VE = x / (1 − σ)``, ``σ_VE = σ / (1 − σ)``;
* ``calculate_denoised(σ, out, x)`` is affine in ``out``; we solve it for ``out``.

The true σ is read from ``transformer_options["sigmas"]`` (set by ComfyUI's ``_calc_cond_batch``
for every sampler call); the network timestep is only a fallback, because discrete schedules
quantise it.
"""
from __future__ import annotations

import weakref

import torch

import comfy.latent_formats
import comfy.model_base
import comfy.model_management
import comfy.model_patcher
import comfy.model_sampling
import comfy.supported_models_base

from ..samplers.ve import flow_to_ve, flow_to_ve_sigma

PREDICTION_TYPES = {
    "eps": comfy.model_base.ModelType.EPS,
    "v": comfy.model_base.ModelType.V_PREDICTION,
    "edm": comfy.model_base.ModelType.EDM,
    "flow": comfy.model_base.ModelType.FLOW,
}


def latent_format_for(channels: int) -> type:
    """An identity latent format (no scale, no shift) with ``channels`` channels."""
    if channels == 3:
        return comfy.latent_formats.ChromaRadiance  # pixel space, identity process_in/out
    return type(f"PriorPaintIdentity{channels}", (comfy.latent_formats.LatentFormat,),
                {"latent_channels": channels, "scale_factor": 1.0})


class _VEAdapter(torch.nn.Module):
    """The ``diffusion_model`` of the wrapped BaseModel: converts ComfyUI's I/O to a VE denoiser."""

    def __init__(self, denoiser: torch.nn.Module = None, device=None, operations=None, dtype=None, **_):
        super().__init__()
        self.denoiser = denoiser
        self.dtype = dtype or torch.float32  # BaseModel.get_dtype() reads this
        self._owner = None

    def bind(self, base: comfy.model_base.BaseModel):
        self._owner = weakref.ref(base)  # a weakref: a module attribute would make a cycle

    def forward(self, x_in, timesteps, context=None, control=None, transformer_options={}, **kwargs):
        ms = self._owner().model_sampling
        sigma = transformer_options.get("sigmas")
        if sigma is None:
            sigma = ms.sigma(timesteps)
        sigma = sigma.to(x_in.device, torch.float32).reshape(-1)
        if sigma.numel() != x_in.shape[0]:  # one σ for all, or per item for a batch of cond chunks (cfg_pp)
            if x_in.shape[0] % sigma.numel():
                raise ValueError(f"PriorPaint wrapped model: {sigma.numel()} sigmas for a batch of {x_in.shape[0]}")
            sigma = sigma.repeat(x_in.shape[0] // sigma.numel())
        xin = x_in.float()
        scale = ms.calculate_input(sigma, torch.ones_like(xin))
        x = xin / scale
        if isinstance(ms, comfy.model_sampling.CONST):
            # σ = 1 is pure noise (x_VE = x/(1−σ) is undefined): the package's one capped conversion
            x0 = self.denoiser(flow_to_ve(x, sigma), flow_to_ve_sigma(sigma))
        else:
            x0 = self.denoiser(x, sigma)
        x0 = x0.to(x.dtype)
        a = ms.calculate_denoised(sigma, torch.zeros_like(x), x)
        b = ms.calculate_denoised(sigma, torch.ones_like(x), x) - a
        return (x0 - a) / b


def wrap_ve_denoiser(denoiser: torch.nn.Module, channels: int, prediction: str = "eps",
                     sampling_settings: dict | None = None, latent_format: type | None = None,
                     name: str = "PriorPaintWrapped") -> comfy.model_patcher.ModelPatcher:
    """Build a ComfyUI MODEL around ``denoiser`` (``forward(x, sigma_ve) -> x0``).

    ``prediction``: ``eps`` | ``v`` | ``edm`` | ``flow``. ``sampling_settings`` goes to
    ``model_sampling`` (e.g. ``{"shift": 3.0}`` for flow, ``{"sigma_data": 0.5}`` for EDM).
    """
    if prediction not in PREDICTION_TYPES:
        raise ValueError(f"prediction must be one of {sorted(PREDICTION_TYPES)}, got {prediction!r}")
    fmt = latent_format or latent_format_for(channels)
    config_cls = type(name + "Config", (comfy.supported_models_base.BASE,), {
        "unet_config": {},
        "unet_extra_config": {},
        "latent_format": fmt,
        "sampling_settings": dict(sampling_settings or {}),
        "memory_usage_factor": 1.0,
        "supported_inference_dtypes": [torch.float32],
    })
    config = config_cls({"denoiser": denoiser})
    device = comfy.model_management.get_torch_device()
    base = comfy.model_base.BaseModel(config, model_type=PREDICTION_TYPES[prediction], device=device,
                                      unet_model=_VEAdapter)
    base.diffusion_model.bind(base)
    return comfy.model_patcher.ModelPatcher(base, load_device=device,
                                            offload_device=comfy.model_management.unet_offload_device())


def empty_conditioning(dim: int = 8) -> list:
    """A CONDITIONING for unconditional models (the samplers need one; the model ignores it)."""
    return [[torch.zeros(1, 1, dim), {}]]
