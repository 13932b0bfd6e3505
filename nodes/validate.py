"""One validation path for the inputs of every sampling node, run before the first model call.

Each check raises the node's own error (:func:`nodes.common.node_error`): the display name of the node
the user placed, the input by its socket name, and what was expected. Nothing is clamped, stretched or
repeated silently:

* :func:`check_cfg` -- a guidance scale that is a finite number;
* :func:`check_latent` -- a LATENT dict whose ``samples`` are finite and have the layout, channels and
  size the MODEL takes (5-D video latents only for video models; a UNet needs enough pixels left at its
  deepest level for its group norms);
* :func:`latent_mask` -- a LATENT's ``noise_mask`` through the pack's one mask-size rule
  (:func:`samplers.masks.fit_spatial`: same size, VAEEncode's crop, or the same aspect ratio) and batch
  rule (one mask for the batch, or one per item), with values finite and in [0, 1];
* :func:`sampling_inputs` -- all of the above for a node that samples a LATENT with a MODEL.
"""
from __future__ import annotations

import math

import torch

from ..samplers.masks import InputError, check_finite, mask_for
from .common import node_error

VIDEO_HINT = "(a video VAE's latent: use a video model, or an image VAE for this model)"


def check_cfg(cfg, node: str, socket: str = "cfg") -> None:
    """The guidance scale is a finite number (a NaN widget value would run the whole schedule to NaN)."""
    if not isinstance(cfg, (int, float)) or isinstance(cfg, bool) or not math.isfinite(float(cfg)):
        raise node_error(node, InputError(socket, f"is {cfg!r}", "a finite number (1 = no guidance)"))


def latent_samples(latent, node: str, socket: str = "latent_image") -> torch.Tensor:
    """The ``samples`` tensor of a LATENT input, finite."""
    if not isinstance(latent, dict) or not torch.is_tensor(latent.get("samples")):
        raise node_error(node, InputError(socket, f"is a {type(latent).__name__}", "a LATENT (a dict with 'samples')"))
    x = latent["samples"]
    try:
        check_finite(x, socket)
    except InputError as e:
        raise node_error(node, e) from None
    return x


def _unet_size_problem(net, h: int, w: int) -> str | None:
    """Why ComfyUI's ``UNetModel`` cannot take an ``h × w`` latent, or None. Level ``i`` works at ``⌈s/2^i⌉``
    pixels (stride-2 downsampling) on at least ``model_channels · min(channel_mult[i−1], channel_mult[i])``
    channels; every group norm there (32 groups) must see more than one value, or torch refuses the call
    mid-sampling (SD1.5/SDXL at their real widths take any size; tiny widths do not)."""
    mult = getattr(net, "channel_mult", None)
    ch = getattr(net, "model_channels", None)
    if not mult or not isinstance(ch, int):
        return None

    def fits(hh: int, ww: int) -> bool:
        for i, m in enumerate(mult):  # a level's first block still sees the level above's channels
            f, c = 2 ** i, ch * min(m, mult[i - 1] if i else m)
            if max(1, c // 32) * (-(-hh // f)) * (-(-ww // f)) <= 1:
                return False
        return True

    if fits(h, w):
        return None
    side = 1
    while not fits(side, side):  # the smallest square latent this UNet takes
        side += 1
    return f"at least {side}x{side} latent pixels for this UNet ({side * 8}x{side * 8} image pixels with an SD VAE)"


def check_latent(model, x: torch.Tensor, node: str, socket: str = "latent_image") -> None:
    """``x`` has the layout, channels and size ``model`` (a MODEL or its ``BaseModel``) takes, before ComfyUI
    adds a frame axis to an image latent for a video model (``comfy.sample.fix_empty_latent_channels``)."""
    base = model.model if hasattr(model, "get_model_object") else model  # a MODEL (ModelPatcher) or its BaseModel
    fmt = model.get_model_object("latent_format") if base is not model else base.latent_format
    dims = int(getattr(fmt, "latent_dimensions", 2))
    ok_ndims = {dims + 2} | ({4} if dims == 3 else set())
    if x.ndim not in ok_ndims:
        layouts = {1: "[B, C, L] (audio)", 2: "[B, C, H, W] (image)", 3: "[B, C, T, H, W] (video)"}
        got = layouts.get(x.ndim - 2, f"of shape {tuple(x.shape)}")
        hint = f" {VIDEO_HINT}" if x.ndim == 5 and dims == 2 else ""
        raise node_error(node, InputError(socket, f"is a {x.ndim}-D latent {got}, {tuple(x.shape)}{hint}",
                                          f"a {layouts.get(dims, str(dims + 2) + '-D')} latent for this MODEL"))
    channels = getattr(fmt, "latent_channels", None)
    if (isinstance(channels, int) and x.shape[1] != channels and bool(torch.count_nonzero(x))):
        raise node_error(node, InputError(socket, f"has {x.shape[1]} channels but this MODEL's latents have "
                                                  f"{channels} (encoded with another model family's VAE?)",
                                          f"a latent from this model's VAE, with {channels} channels"))
    if x.ndim >= 4:
        h, w = int(x.shape[-2]), int(x.shape[-1])
        net = getattr(base, "diffusion_model", None)
        need = _unet_size_problem(net, h, w) if net is not None else None
        if need is not None:
            raise node_error(node, InputError(socket, f"is {w}x{h} latent pixels, too small for this model", need))


def latent_mask(latent: dict, like: torch.Tensor, node: str, socket: str = "latent_image") -> torch.Tensor | None:
    """The LATENT's ``noise_mask`` fitted to ``like`` (``[B|1, 1, *spatial]``), or None when it has none."""
    nm = latent.get("noise_mask")
    if nm is None:
        return None
    if not torch.is_tensor(nm):
        raise node_error(node, InputError(socket, f"has a noise_mask of type {type(nm).__name__}", "a MASK tensor"))
    try:
        return mask_for(nm if nm.ndim == 5 else nm.reshape(-1, *nm.shape[-2:]), like, socket)
    except InputError as e:
        raise node_error(node, InputError(socket, f"its noise_mask {e.problem}", e.expected)) from None
    except RuntimeError as e:  # a reshape that cannot be done: not a mask layout
        raise node_error(node, InputError(socket, f"has a noise_mask of shape {tuple(nm.shape)} ({e})",
                                          "a mask [B, 1, H, W] or [H, W]")) from None


def latent_hole(latent: dict, mask: torch.Tensor | None, node: str, socket: str = "samples") -> torch.Tensor:
    """The hole mask at latent resolution ``[B|1, 1, *spatial]`` from a MASK input or, without one, the
    LATENT's noise_mask (an error when there is neither)."""
    samples = latent["samples"]
    if mask is not None:
        try:
            return mask_for(mask, samples, "mask")
        except InputError as e:
            raise node_error(node, e) from None
    hole = latent_mask(latent, samples, node, socket)
    if hole is None:
        raise node_error(node, InputError("mask", "is missing and the LATENT has no noise_mask",
                                          "a MASK (1 = inpaint) or a LATENT from SetLatentNoiseMask"))
    return hole


def sampling_inputs(model, latent, node: str, cfg=None, socket: str = "latent_image"
                    ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Every check a node that samples ``latent`` with ``model`` needs: ``(samples, noise mask fitted to
    them or None)``."""
    if cfg is not None:
        check_cfg(cfg, node)
    x = latent_samples(latent, node, socket)
    check_latent(model, x, node, socket)
    return x, latent_mask(latent, x, node, socket)
