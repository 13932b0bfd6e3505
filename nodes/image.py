"""Image nodes: colour-safe compositing of an inpainted result onto its original."""
from __future__ import annotations

import torch
from comfy_api.latest import io

from ..samplers import composite as core
from ..samplers.masks import (InputError, bchw_to_image, broadcast_batch, check_finite, check_same_size,
                              image_to_bchw, mask_for)
from .common import CATEGORY, node_error


class Composite(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="PriorPaintComposite",
            display_name="Composite",
            category=f"{CATEGORY}/image",
            description=(
                "Pastes the inpainted image back onto the original inside the mask. Optionally matches the "
                "inpainted image's colour to the original (Lab mean/std measured on the known region only, which "
                "removes the tone shift of a VAE round trip) and feathers the seam outward. Soft masks are blend "
                "weights; outside the feathered mask the original pixels are returned unchanged."),
            inputs=[
                io.Image.Input("original", tooltip="The image before inpainting."),
                io.Image.Input("inpainted", tooltip="The inpainted image (same size; batch 1 or the original's batch)."),
                io.Mask.Input("mask", tooltip="1 = inpainted region. Resized bilinearly if its size differs; soft values blend."),
                io.Float.Input("feather", default=0.0, min=0.0, max=256.0, step=0.5,
                               tooltip="Outward feather radius in pixels (0 = hard edge at the mask)."),
                io.Combo.Input("colour_match", options=["lab_mean_std", "none"], default="lab_mean_std",
                               tooltip="lab_mean_std: match the inpainted image's Lab mean/std to the original on the "
                                       "known region before compositing; none: paste as is."),
            ],
            outputs=[io.Image.Output("image", tooltip="The composited image.")],
        )

    @classmethod
    def execute(cls, original, inpainted, mask, feather=0.0, colour_match="lab_mean_std") -> io.NodeOutput:
        try:
            orig = image_to_bchw(original, "original")
            inp = image_to_bchw(inpainted, "inpainted")
            check_same_size(orig, inp, "original", "inpainted")
            if orig.shape[1] != inp.shape[1]:
                raise InputError("inpainted", f"has {inp.shape[1]} channels but 'original' has {orig.shape[1]}",
                                 "the same channel count")
            check_finite(orig, "original")
            check_finite(inp, "inpainted")
            batch = max(orig.shape[0], inp.shape[0])
            orig = broadcast_batch(orig, batch, "original")
            inp = broadcast_batch(inp, batch, "inpainted")
            m = mask_for(mask, orig, "mask")
        except InputError as e:
            raise node_error("Composite", e) from None
        if colour_match == "lab_mean_std" and orig.shape[1] != 3:
            raise node_error("Composite", InputError("colour_match", "lab_mean_std needs RGB images", "'none' for non-RGB"))
        out = core.composite(orig.float(), inp.float().to(orig.device), m.float(), float(feather),
                             colour_match == "lab_mean_std")
        return io.NodeOutput(bchw_to_image(out.clamp(0, 1)).to(torch.float32))
