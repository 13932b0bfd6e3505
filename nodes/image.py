"""Image nodes: colour-safe compositing of an inpainted result onto its original; the example photo."""
from __future__ import annotations

import os

import numpy as np
import torch
from comfy_api.latest import io

from ..samplers import composite as core
from ..samplers.masks import (InputError, bchw_to_image, broadcast_batch, check_finite, check_same_size,
                              image_to_bchw, mask_for)
from .common import CATEGORY, node_error, schema


class Composite(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return schema(
            node_id="PriorPaintComposite",
            search_aliases=['paste back', 'color match', 'colour match', 'blend', 'feather', 'stitch'],
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
            outputs=[io.Image.Output("image", display_name="composited image", tooltip="The composited image.")],
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


# ---------------------------------------------------------------------------------------------
# Example Photo and Mask: templates that run on first click
# ---------------------------------------------------------------------------------------------
EXAMPLES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "demomodel", "images")
EXAMPLES = {"cat": "cat.jpg", "coffee": "coffee.jpg"}  # CC0 photos (demomodel/images/README.md)
MASKS = ("box and stroke", "box", "stroke")


def example_mask(h: int, w: int, kind: str) -> torch.Tensor:
    """The demo hole at ``h × w`` (1 = inpaint): a box over the middle and/or a diagonal stroke."""
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    mask = torch.zeros(h, w, dtype=torch.bool)
    if kind in ("box and stroke", "box"):
        mask[int(0.28 * h):int(0.62 * h), int(0.30 * w):int(0.58 * w)] = True
    if kind in ("box and stroke", "stroke"):
        d = ((yy - 0.80 * h) - 0.35 * (xx - 0.55 * w)).abs()
        mask |= (d < max(1.0, 0.035 * h)) & (xx > 0.55 * w) & (xx < 0.92 * w)
    return mask.float()


class ExamplePhoto(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return schema(
            node_id="PriorPaintExamplePhoto",
            display_name="Example Photo and Mask",
            category=f"{CATEGORY}/image",
            search_aliases=["example image", "sample photo", "demo image", "test image", "inpaint example"],
            description=(
                "A photo shipped with the pack (CC0, never used to train the demo models) and a hole mask, so an "
                "inpainting workflow runs without any file in ComfyUI's input folder. Replace it with Load Image "
                "(paint the mask in the mask editor) to inpaint your own picture."),
            inputs=[
                io.Combo.Input("photo", options=list(EXAMPLES), default="cat", tooltip="Which shipped photo."),
                io.Int.Input("width", default=256, min=64, max=512, step=8,
                             tooltip="Output width in pixels (a multiple of 8); the height keeps the photo's aspect "
                                     "ratio, rounded to a multiple of 8."),
                io.Combo.Input("hole", options=list(MASKS), default=MASKS[0], tooltip="The shape of the hole."),
            ],
            outputs=[io.Image.Output("image", display_name="image", tooltip="The photo, RGB in [0, 1]."),
                     io.Mask.Output("mask", display_name="mask", tooltip="1 = the region to inpaint.")],
        )

    @classmethod
    def execute(cls, photo="cat", width=256, hole=MASKS[0]) -> io.NodeOutput:
        from PIL import Image

        if photo not in EXAMPLES:
            raise node_error("Example Photo and Mask", InputError("photo", f"is {photo!r}", f"one of {list(EXAMPLES)}"))
        if hole not in MASKS:
            raise node_error("Example Photo and Mask", InputError("hole", f"is {hole!r}", f"one of {list(MASKS)}"))
        if width % 8 or not 64 <= width <= 512:
            raise node_error("Example Photo and Mask", InputError("width", f"is {width}", "a multiple of 8 in 64 … 512"))
        with Image.open(os.path.join(EXAMPLES_DIR, EXAMPLES[photo])) as im:
            im = im.convert("RGB")
            height = max(8, round(width * im.height / im.width / 8) * 8)
            im = im.resize((width, height), Image.LANCZOS)
            rgb = torch.from_numpy(np.asarray(im, dtype=np.float32) / 255.0)
        return io.NodeOutput(rgb[None].contiguous(), example_mask(height, width, hole)[None])
