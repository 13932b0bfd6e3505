"""SD1.5, SDXL, SD3.5 and Flux inpainting templates end to end through ComfyUI's stock loaders
(CheckpointLoaderSimple; UNETLoader + CLIP loader + VAELoader) on tiny model files in the real layouts
(support/checkpoints.py; text encoders as harness.for_tiny_models explains), real positive and negative
prompts: the unmasked region is kept (outside the stitch's feather band, within the 8-bit round trip), and
the negative prompt acts through cfg > 1 (and is ignored at cfg 1, as ComfyUI skips the uncond pass)."""
import io

import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import binary_dilation

from comfy_client import load_workflow, ui_to_api
from harness import FAMILIES, for_tiny_models


def run(server, family, cfg=None, negative=None, seed=None):
    name = f"{family}_inpaint"
    prompt = ui_to_api(for_tiny_models(load_workflow(name + ".json"), name, server.models_dir),
                       server.get_json("/object_info"))
    sampler = next(k for k, v in prompt.items() if v["class_type"] == "PriorPaintKSampler")
    enc = [k for k, v in prompt.items() if v["class_type"] == "CLIPTextEncode"]
    neg = prompt[sampler]["inputs"]["negative"][0]
    assert neg in enc and prompt[neg]["inputs"]["text"], "the template has a real negative prompt"
    if cfg is not None:
        prompt[sampler]["inputs"]["cfg"] = cfg
    if negative is not None:
        prompt[neg]["inputs"]["text"] = negative
    if seed is not None:
        prompt[sampler]["inputs"]["seed"] = seed
    src = next(k for k, v in prompt.items() if v["class_type"] == "PriorPaintExamplePhoto")
    prompt["901"] = {"class_type": "SaveImage", "inputs": {"images": [src, 0], "filename_prefix": "truth"}}
    prompt["902"] = {"class_type": "MaskToImage", "inputs": {"mask": [src, 1]}}
    prompt["903"] = {"class_type": "SaveImage", "inputs": {"images": ["902", 0], "filename_prefix": "mask"}}
    entry = server.run(prompt)
    save = next(k for k, v in prompt.items() if v["class_type"] == "SaveImage" and k not in ("901", "903"))

    def image(node):
        return np.asarray(Image.open(io.BytesIO(server.output_images(entry, node)[0])).convert("RGB")).astype(int)
    feather = prompt[next(k for k, v in prompt.items() if v["class_type"] == "PriorPaintInpaintStitch")]["inputs"]["feather"]
    return image(save), image("901"), image("903")[..., 0] > 127, prompt[sampler]["inputs"]["cfg"], feather


@pytest.mark.parametrize("family", FAMILIES)
def test_family_template_keeps_the_known_region_and_honours_cfg_and_the_negative_prompt(server, family):
    out, rgb, mask, cfg, feather = run(server, family, cfg=None if family != "flux" else 3.0)
    assert cfg > 1
    assert out.shape == rgb.shape
    band = binary_dilation(mask, iterations=int(np.ceil(feather)) + 1)
    assert np.abs(out - rgb)[~band].max() <= 1, "pixels outside the hole's feather band changed"
    assert np.abs(out - rgb)[mask].mean() > 1, "the hole was not regenerated"
    other, *_ = run(server, family, cfg=cfg, negative="a red sports car, neon")
    # runs are deterministic (same seed): any change comes from the negative prompt (random weights make it small)
    changed = (other != out)[mask].mean()
    assert changed > 0.05, f"changing the negative prompt changed only {changed:.1%} of the hole at cfg > 1"
    a, *_ = run(server, family, cfg=1.0)
    b, *_ = run(server, family, cfg=1.0, negative="a red sports car, neon")
    assert np.array_equal(a, b), "at cfg 1 the negative prompt must not matter (no uncond pass)"
