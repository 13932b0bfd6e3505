"""Inpaint helpers: Inpaint Encode (IMAGE + MASK + VAE → noise-masked LATENT), Inpaint Crop and Inpaint
Stitch (work on the region around the hole at the model's resolution, paste it back seamlessly)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from comfy_api.latest import io

import comfy.model_management

from ..samplers import composite as comp
from ..samplers import crop as cc
from ..samplers.masks import (InputError, bchw_to_image, broadcast_batch, check_finite, dilate, image_to_bchw,
                              mask_for, whole_scale)
from .common import CATEGORY, node_error, schema

Stitch = io.Custom("PRIORPAINT_STITCH")
FILLS = ("neutral grey", "keep")


def _image_and_mask(image, mask, node, socket="image"):
    try:
        img = image_to_bchw(image, socket)
        check_finite(img, socket)
        m = mask_for(mask, img, "mask")
    except InputError as e:
        raise node_error(node, e) from None
    return img, m


def _vae_multiple(vae) -> int:
    q = vae.spacial_compression_encode() if hasattr(vae, "spacial_compression_encode") else vae.downscale_ratio
    return int(q) if isinstance(q, int) else 8


class InpaintEncode(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return schema(
            node_id="PriorPaintInpaintEncode",
            display_name="Inpaint Encode",
            category=f"{CATEGORY}/image",
            search_aliases=["vae encode for inpainting", "inpaint", "set latent noise mask", "grow mask", "feather mask"],
            description=(
                "Encodes an image with its mask into a LATENT that carries the noise mask, ready for the Inpaint "
                "KSampler or any sampler: optionally grows and feathers the mask, and fills the hole with neutral grey "
                "(for denoise 1) or keeps it (for partial denoise). Images are cropped to the VAE's multiple (8 for SD) "
                "the way VAE Encode does; the mask output matches the encoded image, for Composite."),
            inputs=[
                io.Image.Input("pixels", tooltip="The image to inpaint (RGB)."),
                io.Mask.Input("mask", tooltip="1 = inpaint. Soft values are kept as blend weights."),
                io.Vae.Input("vae", tooltip="The model's VAE."),
                io.Int.Input("grow", default=0, min=0, max=256, tooltip="Grow the mask outward by this many pixels."),
                io.Float.Input("feather", default=0.0, min=0.0, max=256.0, step=0.5,
                               tooltip="Soften the grown mask's edge outward over this many pixels (soft noise mask)."),
                io.Combo.Input("fill", options=list(FILLS), default=FILLS[0],
                               tooltip="neutral grey: empty the hole before encoding (use denoise 1); keep: encode the "
                                       "image as it is (use denoise < 1 to change it gently)."),
            ],
            outputs=[io.Latent.Output("latent", display_name="latent", tooltip="The encoded image with its noise mask."),
                     io.Mask.Output("used_mask", display_name="mask", tooltip="The mask as used (grown, feathered, cropped).")],
        )

    @classmethod
    def execute(cls, pixels, mask, vae, grow=0, feather=0.0, fill=FILLS[0]) -> io.NodeOutput:
        node = "Inpaint Encode"
        if fill not in FILLS:
            raise node_error(node, InputError("fill", f"is {fill!r}", f"one of {list(FILLS)}"))
        img, m = _image_and_mask(pixels, mask, node, "pixels")
        m = broadcast_batch(m, img.shape[0], "mask")
        q = _vae_multiple(vae)
        h, w = img.shape[-2:]
        ch, cw = h // q * q, w // q * q
        if ch == 0 or cw == 0:
            raise node_error(node, InputError("pixels", f"is {w}x{h}", f"at least {q}x{q} pixels (the VAE's multiple)"))
        top, left = (h % q) // 2, (w % q) // 2
        img = img[..., top:top + ch, left:left + cw]
        m = m[..., top:top + ch, left:left + cw].float()
        m = comp.feather(dilate(m, int(grow)), float(feather))
        if fill == "neutral grey":
            hole = (m > 0.5).to(img.dtype)
            img = img * (1 - hole) + 0.5 * hole
        latent = vae.encode(bchw_to_image(img))
        return io.NodeOutput({"samples": latent, "noise_mask": m.to(torch.float32)}, m[:, 0].to(torch.float32))


@dataclass(frozen=True)
class StitchInfo:
    """What Inpaint Stitch needs: the full-size originals, the mask, the crop box, and what it checks the
    inpainted crop against (the crop's size and a coarse thumbnail of its known pixels)."""

    original: torch.Tensor  # [B, C, H, W]
    mask: torch.Tensor  # [B|1, 1, H, W]
    box: cc.Box | None  # None: the mask was empty, the crop is the whole image unchanged
    source: cc.Fingerprint | None = None


class InpaintCrop(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return schema(
            node_id="PriorPaintInpaintCrop",
            display_name="Inpaint Crop",
            category=f"{CATEGORY}/image",
            search_aliases=["crop and stitch", "crop around mask", "inpaint crop", "upscale region", "context crop"],
            description=(
                "Cuts out the region around the hole (with some context) and resizes it to the resolution the model "
                "likes, so a small hole in a large photo is inpainted quickly and at full detail. Inpaint Stitch puts "
                "the result back; pixels outside the hole's feather band stay exactly as they were. One region serves "
                "the whole batch (the union of the items' holes)."),
            inputs=[
                io.Image.Input("image", tooltip="The full-size image (RGB)."),
                io.Mask.Input("mask", tooltip="1 = inpaint (one for the batch or one per item)."),
                io.Float.Input("context", default=0.5, min=0.0, max=10.0, step=0.05,
                               tooltip="Surroundings kept on each side, as a fraction of the hole's larger side."),
                io.Int.Input("margin", default=32, min=0, max=4096,
                             tooltip="At least this many pixels of surroundings on each side (must cover the stitch's "
                                     "feather)."),
                io.Float.Input("megapixels", default=1.0, min=0.01, max=16.0, step=0.01,
                               tooltip="Size of the crop after resizing: 0.26 for SD1.5 (512²), 1.0 for SDXL, SD3.5 and "
                                       "Flux (1024²)."),
                io.Int.Input("multiple", default=16, min=1, max=256,
                             tooltip="Width and height are multiples of this (8 for SD1.5/SDXL, 16 for Flux/SD3.5)."),
                io.Int.Input("target_size", default=0, min=0, max=8192, step=8, optional=True,
                             tooltip="Size of the crop in pixels, as the side of a square of the same area: 512 for "
                                     "SD1.5, 1024 for SDXL, SD3.5 and Flux (the crop keeps the region's shape). "
                                     "0 = use 'megapixels'; any other value replaces it."),
            ],
            outputs=[io.Image.Output("cropped_image", display_name="cropped image", tooltip="The region to inpaint, resized."),
                     io.Mask.Output("cropped_mask", display_name="cropped mask", tooltip="Its mask, resized."),
                     Stitch.Output("stitch_info", display_name="stitch", tooltip="Connect to Inpaint Stitch.")],
        )

    @classmethod
    def execute(cls, image, mask, context=0.5, margin=32, megapixels=1.0, multiple=16,
                target_size=0) -> io.NodeOutput:
        node = "Inpaint Crop"
        size_input = "megapixels"
        if target_size:
            if not (isinstance(target_size, int) and 8 <= target_size <= 8192):
                raise node_error(node, InputError("target_size", f"is {target_size!r}",
                                                  "0 (use megapixels) or a size in pixels from 8 to 8192"))
            megapixels, size_input = target_size * target_size / 1e6, "target_size"
        img, m = _image_and_mask(image, mask, node)
        comfy.model_management.throw_exception_if_processing_interrupted()
        box = cc.crop_box(m, context, margin)
        if box is None:  # nothing to inpaint: pass the image through (Stitch returns it unchanged)
            return io.NodeOutput(image, m[:, 0].float(), StitchInfo(img, m, None))
        try:
            size = cc.target_size(box.height, box.width, megapixels, multiple)
        except ValueError as e:
            raise node_error(node, InputError(size_input, str(e))) from None
        if size[0] * size[1] > 64e6:
            raise node_error(node, InputError(size_input, f"gives a {size[1]}x{size[0]} crop", "at most 64 MP"))
        crop, cm = cc.crop_resize(img.float(), m.float(), box, size)
        info = StitchInfo(img, m, box, cc.fingerprint(crop, cm))
        return io.NodeOutput(bchw_to_image(crop).to(torch.float32), cm[:, 0].to(torch.float32), info)


def _from_this_crop(inp: torch.Tensor, src: cc.Fingerprint, check_pixels: bool = True) -> torch.Tensor:
    """``inp`` checked to be the decoded result of the crop ``src`` describes: its size (or a whole-number
    scale of it, brought back to it) and, with ``check_pixels``, its known pixels
    (:func:`samplers.crop.source_mismatch`)."""
    size, want = tuple(inp.shape[-2:]), (src.height, src.width)
    what = ("the decoded result of this Inpaint Crop's 'cropped image' (VAE Decode of the sampled crop; the "
            "full image or another image's crop cannot be stitched here)")
    if size != want:
        if not whole_scale(size, want):
            raise InputError("inpainted", f"is {size[1]}x{size[0]} (WxH) but Inpaint Crop cut a {want[1]}x{want[0]} "
                                          "crop", what + f", at {want[1]}x{want[0]} or a whole-number scale of it")
        inp = cc.resize(inp.float(), want, "bicubic")
    bad = cc.source_mismatch(src, inp) if check_pixels else []
    if bad:
        i, rms, corr = bad[0]
        raise InputError("inpainted", f"does not show the region Inpaint Crop cut out (item {i}: its known pixels "
                                      f"differ by RMS {rms:.2f} with correlation {corr:.2f})",
                         what + "; if the crop was regenerated as a whole on purpose, turn off 'check_source'")
    return inp


class InpaintStitch(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return schema(
            node_id="PriorPaintInpaintStitch",
            display_name="Inpaint Stitch",
            category=f"{CATEGORY}/image",
            search_aliases=["crop and stitch", "paste back", "uncrop", "color match", "colour match", "feather"],
            description=(
                "Puts the inpainted crop from Inpaint Crop back into the full-size image: resized to the region, "
                "optionally colour-matched to the original (Lab mean/std on the known pixels), blended inside the "
                "feathered hole. Everything outside the feather band is the original, bit for bit."),
            inputs=[
                Stitch.Input("stitch", tooltip="From Inpaint Crop."),
                io.Image.Input("inpainted", tooltip="The inpainted crop (decoded), at the crop's size."),
                io.Float.Input("feather", default=8.0, min=0.0, max=256.0, step=0.5,
                               tooltip="Outward feather of the seam in full-size pixels (at most Inpaint Crop's "
                                       "margin)."),
                io.Combo.Input("colour_match", options=["lab_mean_std", "none"], default="lab_mean_std",
                               tooltip="Match the crop's colour to the original on the known pixels before blending."),
                io.Boolean.Input("check_source", default=True, optional=True,
                                 tooltip="Refuse an image whose pixels around the hole do not match the crop (another "
                                         "photo, or the crop of another Inpaint Crop). Turn off only when the crop was "
                                         "regenerated as a whole on purpose (no noise mask), or with a VAE that does "
                                         "not reproduce pixels (random test weights). The size is always checked."),
            ],
            outputs=[io.Image.Output("stitched", display_name="image", tooltip="The full-size result.")],
        )

    @classmethod
    def execute(cls, stitch, inpainted, feather=8.0, colour_match="lab_mean_std", check_source=True) -> io.NodeOutput:
        node = "Inpaint Stitch"
        if not isinstance(stitch, StitchInfo):
            raise node_error(node, InputError("stitch", f"is a {type(stitch).__name__}", "the output of Inpaint Crop"))
        try:
            inp = image_to_bchw(inpainted, "inpainted")
            check_finite(inp, "inpainted")
            if stitch.box is None:
                return io.NodeOutput(bchw_to_image(stitch.original).to(torch.float32))
            batch = max(inp.shape[0], stitch.original.shape[0])
            orig = broadcast_batch(stitch.original, batch, "stitch (its image)", "'inpainted'")
            inp = broadcast_batch(inp, batch, "inpainted", "the cropped image")
            if stitch.source is not None:
                inp = _from_this_crop(inp, stitch.source, bool(check_source))
        except InputError as e:
            raise node_error(node, e) from None
        box = stitch.box
        if feather > box.margin:
            raise node_error(node, InputError("feather", f"is {feather:g} px but the crop keeps only {box.margin} px "
                                              "around the hole", "at most Inpaint Crop's margin (raise 'margin')"))
        out = cc.stitch(orig.float(), inp.float(), stitch.mask.float(), box, float(feather),
                        colour_match == "lab_mean_std")
        return io.NodeOutput(bchw_to_image(out.clamp(0, 1)).to(torch.float32))
