"""Boundary conventions in one place: layouts, mask resizing, batch broadcasting, input errors.

ComfyUI's sockets:  IMAGE ``[B, H, W, C]`` float in [0, 1];  MASK ``[B, H, W]`` (or ``[H, W]``) float,
1 = region to regenerate;  LATENT ``{"samples": [B, C, H, W], "noise_mask": [B, 1, H, W] | ...}``.
The core works in ``[B, C, H, W]`` and ``[B, 1, H, W]``.

Mask resizing (e.g. pixel mask → latent resolution) is **bilinear, align_corners=False**, exactly what
ComfyUI's own ``comfy.utils.reshape_mask`` applies to a ``noise_mask`` inside the sampler, so a mask we
resize and the mask the sampler uses agree. Soft values are kept (no thresholding).

Batches: a mask (or image) with batch 1 is broadcast to the batch; otherwise batch sizes must match.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


class InputError(ValueError):
    """A bad node input. The message names the input and what was expected."""

    def __init__(self, name: str, problem: str, expected: str | None = None):
        msg = f"input '{name}': {problem}"
        if expected:
            msg += f"; expected {expected}"
        super().__init__(msg)
        self.input_name, self.problem, self.expected = name, problem, expected


def image_to_bchw(image: torch.Tensor, name: str = "image", channels: int | None = 3) -> torch.Tensor:
    """IMAGE ``[B, H, W, C]`` → ``[B, C, H, W]`` (a view; callers must not write into it). ``channels``:
    the number required (RGB by default; an alpha channel is refused, never silently dropped)."""
    if image.ndim == 3:
        image = image[None]
    if image.ndim != 4:
        raise InputError(name, f"has shape {tuple(image.shape)}", "an IMAGE [B, H, W, C]")
    if channels is not None and image.shape[-1] != channels:
        hint = " (RGBA: split off the alpha with ComfyUI's 'Split Image with Alpha')" if image.shape[-1] == 4 else ""
        raise InputError(name, f"has {image.shape[-1]} channels{hint}", f"an RGB IMAGE with {channels} channels")
    return image.movedim(-1, 1)


def bchw_to_image(x: torch.Tensor) -> torch.Tensor:
    """``[B, C, H, W]`` → IMAGE ``[B, H, W, C]`` (contiguous)."""
    return x.movedim(1, -1).contiguous()


def mask_to_b1hw(mask: torch.Tensor, name: str = "mask") -> torch.Tensor:
    """MASK ``[H, W]``, ``[B, H, W]`` or ``[B, 1, H, W]`` → ``[B, 1, H, W]``."""
    if mask.ndim == 2:
        return mask[None, None]
    if mask.ndim == 3:
        return mask[:, None]
    if mask.ndim == 4 and mask.shape[1] == 1:
        return mask
    raise InputError(name, f"has shape {tuple(mask.shape)}", "a MASK [B, H, W] or [H, W]")


def resize_mask(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize a ``[B, 1, H, W]`` mask to ``size`` = (h, w) bilinearly (ComfyUI's ``reshape_mask`` rule)."""
    if tuple(mask.shape[-2:]) == tuple(size):
        return mask
    return F.interpolate(mask.float(), size=tuple(size), mode="bilinear", align_corners=False)


def broadcast_batch(x: torch.Tensor, batch: int, name: str, other: str = "the batch") -> torch.Tensor:
    """Broadcast a batch-1 tensor to ``batch``; require equality otherwise."""
    if x.shape[0] == batch:
        return x
    if x.shape[0] == 1:
        return x.expand(batch, *x.shape[1:])
    raise InputError(name, f"has batch size {x.shape[0]} but {other} has {batch}",
                     f"batch size 1 (shared) or {batch} (one per item)")


def masked_moments(x: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image, per-channel weighted mean and std of ``x [B, C, H, W]`` under weights ``w [B|1, 1, H, W]``
    (``[B, C, 1, 1]`` each; an all-zero weight gives mean 0, std 0)."""
    tot = w.sum((2, 3), keepdim=True).clamp_min(1e-8)
    mean = (x * w).sum((2, 3), keepdim=True) / tot
    var = ((x - mean) ** 2 * w).sum((2, 3), keepdim=True) / tot
    return mean, var.sqrt()


def dilate(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """Grow a ``[B, 1, H, W]`` mask by ``radius`` pixels (square structuring element, max-pooling)."""
    return F.max_pool2d(mask, 2 * radius + 1, stride=1, padding=radius) if radius > 0 else mask


def check_finite(x: torch.Tensor, name: str) -> None:
    if not torch.isfinite(x).all():
        raise InputError(name, "contains NaN or Inf values", "finite numbers")


def check_mask_values(mask: torch.Tensor, name: str = "mask") -> None:
    """Masks must be finite and within [0, 1]; nothing is silently clamped."""
    check_finite(mask, name)
    lo, hi = float(mask.min()), float(mask.max())
    if lo < 0.0 or hi > 1.0:
        raise InputError(name, f"has values in [{lo:.4g}, {hi:.4g}]", "values in [0, 1] (1 = inpaint)")


def check_same_size(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    """Spatial sizes (last two dims of BCHW tensors) must agree."""
    if tuple(a.shape[-2:]) != tuple(b.shape[-2:]):
        raise InputError(name_b, f"is {b.shape[-1]}x{b.shape[-2]} (WxH) but '{name_a}' is "
                                 f"{a.shape[-1]}x{a.shape[-2]}", f"the same size as '{name_a}'")


VAE_CROP_MULTIPLES = (8, 16, 32, 64)  # the spatial compressions of ComfyUI's VAEs (SD 8, Wan 2.2 16, ...)


def vae_crop(size: tuple[int, int], target: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """The centred crop ``(top, left, height, width)`` that ComfyUI's ``VAEEncode`` applies to an image of
    ``size`` (each side cut down to a multiple of the VAE's compression q, ``offset = (side mod q) // 2``),
    when that crop is what makes ``size`` a whole-number scale of ``target``; else None."""
    (mh, mw), (h, w) = size, target
    for q in VAE_CROP_MULTIPLES:
        ch, cw = mh // q * q, mw // q * q
        if (ch, cw) == (mh, mw) or ch == 0 or cw == 0:
            continue
        if whole_scale((ch, cw), (h, w)):
            return (mh % q) // 2, (mw % q) // 2, ch, cw
    return None


def whole_scale(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """``a`` is ``b`` times a whole number, or ``b`` is ``a`` times one (the same picture at another scale)."""
    (ah, aw), (bh, bw) = a, b
    return (ah % bh == 0 and aw % bw == 0 and ah // bh == aw // bw) or (
        bh % ah == 0 and bw % aw == 0 and bh // ah == bw // aw)


def fit_spatial(m: torch.Tensor, size: tuple[int, int], name: str) -> torch.Tensor:
    """The pack's one mask-size rule, for every node: a mask ``[..., H, W]`` is fitted to ``size``

    1. as it is, when the sizes agree;
    2. after the centred crop ComfyUI's ``VAEEncode`` makes (:func:`vae_crop`), when that crop is a
       whole-number scale of ``size`` -- the LoadImage mask of a 100×60 photo fits its 96×56 decode and
       its 12×7 latent;
    3. scaled, when it has the same aspect ratio to within one pixel of the smaller side;
    and refused otherwise (a different shape would be silently stretched). Resizing is ComfyUI's
    ``reshape_mask`` rule (bilinear, or trilinear over frames for video). Returns ``[..., *size]``."""
    (mh, mw), (h, w) = m.shape[-2:], tuple(size)
    if (mh, mw) == (h, w):
        return m
    crop = vae_crop((mh, mw), (h, w))
    if crop is not None:
        top, left, ch, cw = crop
        m = m[..., top:top + ch, left:left + cw]
    elif abs((mh / mw) / (h / w) - 1.0) > 1.0 / min(mh, mw, h, w) + 1e-6:
        raise InputError(name, f"is {mw}x{mh} (WxH) but the image/latent it masks is {w}x{h}",
                         "the same size, the size before VAEEncode's crop to a multiple of 8, or the same "
                         "aspect ratio (a mask is scaled to fit, never stretched)")
    if tuple(m.shape[-2:]) == (h, w):
        return m
    mode = "trilinear" if m.ndim == 5 else "bilinear"
    return F.interpolate(m.float(), size=(*m.shape[2:-2], h, w), mode=mode, align_corners=False)


def mask_for(mask: torch.Tensor, like: torch.Tensor, name: str = "mask") -> torch.Tensor:
    """A MASK made to fit ``like``: layout, values checked, resized (:func:`fit_spatial`), batch broadcast.

    Images and latents ``[B, C, H, W]`` get ``[B|1, 1, H, W]``. Video latents ``[B, C, T, H, W]`` get
    ``[B|1, 1, T, H, W]`` the way ComfyUI's sampler reads a video noise mask: a MASK's batch axis is the
    frames (one mask = every frame), resized trilinearly to T latent frames; a 5-D mask ``[B, 1, F, H, W]``
    is taken per item."""
    if like.ndim == 5:
        if mask.ndim == 5 and mask.shape[1] == 1:
            m = mask
        else:
            m = mask_to_b1hw(mask, name)
            m = m.reshape(1, 1, -1, *m.shape[-2:])
        check_mask_values(m, name)
        m = fit_spatial(m, like.shape[-2:], name)
        if m.shape[2] != like.shape[2]:
            m = F.interpolate(m.float(), size=tuple(like.shape[2:]), mode="trilinear", align_corners=False)
        return broadcast_batch(m.to(like.device, like.dtype), like.shape[0], name)
    m = mask_to_b1hw(mask, name)
    check_mask_values(m, name)
    m = fit_spatial(m, like.shape[-2:], name).to(like.device, like.dtype)
    return broadcast_batch(m, like.shape[0], name)
