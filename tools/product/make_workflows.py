"""Write the UI-format example workflows in ``example_workflows/`` from compact specs.

    python tools/product/make_workflows.py          # starts the pinned ComfyUI, reads /object_info, writes the files

Input names, socket types, widget order and defaults come from the running server's
``/object_info``, so a saved workflow always matches the nodes as they are registered.
A spec node is ``(id, class_type, {widget: value}, {input: (source_id, output_slot)})``.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(TOOLS, d) for d in ('lib',)]
from comfy_client import ROOT, ComfyServer, _is_widget  # noqa: E402
import templates  # noqa: E402

# Shared building blocks: the shipped example photo and its mask (no file in input/ needed: the
# templates run on first click), the demo model, the encoded latent.
LOAD = [
    (1, "PriorPaintExamplePhoto", {"photo": "cat", "width": 128, "hole": "box and stroke"}, {}),
    (2, "PriorPaintLoadDemoModel", {"model_name": "priorpaint-unet", "prediction": "eps"}, {}),
    (3, "VAEEncode", {}, {"pixels": (1, 0), "vae": (2, 1)}),
]
MASKED = LOAD + [(4, "SetLatentNoiseMask", {}, {"samples": (3, 0), "mask": (1, 1)}),
                 (5, "KSamplerSelect", {"sampler_name": "euler"}, {})]
REPAINT_PLUS = (6, "PriorPaintRePaintPlusSampler", {"mode": "repaint_plus_b", "jump_length": 1, "resamples": 1,
                                                    "kappa_mode": "capped", "kappa_cap": 4.0, "sigma_data": 0.5},
                {"sampler": (5, 0)})


HARMONIZED = (7, "PriorPaintHarmonizedSampler", {"checkpoint": 0.5, "attempts": 3, "delta": 2, "threshold_mode": "fixed"},
              {"sampler": (6, 0), "vae": (2, 1)})


def harmonized_tail(prefix):
    """SamplerCustom with the Harmonized Sampler (node 7) → decode → DCE Check → composite → save (ids 8 … 13)."""
    return sampler_custom(9, 7, 8) + [
        (10, "VAEDecode", {}, {"samples": (9, 0), "vae": (2, 1)}),
        (11, "PriorPaintDCECheck", {"bins": 64, "texture": False}, {"image": (10, 0), "mask": (1, 1)}),
        (12, "PriorPaintComposite", {"feather": 2.0, "colour_match": "lab_mean_std"},
         {"original": (1, 0), "inpainted": (10, 0), "mask": (1, 1)}),
        (13, "SaveImage", {"filename_prefix": prefix}, {"images": (12, 0)})]


def ksampler(nid, latent):
    return (nid, "KSampler", {"seed": 7, "steps": 20, "cfg": 1.0, "sampler_name": "euler", "scheduler": "karras",
                              "denoise": 1.0},
            {"model": (2, 0), "positive": (2, 2), "negative": (2, 2), "latent_image": (latent, 0)})


def sampler_custom(nid, sampler, sigmas):
    return [(sigmas, "BasicScheduler", {"scheduler": "karras", "steps": 20, "denoise": 1.0}, {"model": (2, 0)}),
            (nid, "SamplerCustom", {"add_noise": True, "noise_seed": 7, "cfg": 1.0},
             {"model": (2, 0), "positive": (2, 2), "negative": (2, 2), "sampler": (sampler, 0),
              "sigmas": (sigmas, 0), "latent_image": (4, 0)})]


def decode_save(nid, samples, prefix):
    return [(nid, "VAEDecode", {}, {"samples": (samples, 0), "vae": (2, 1)}),
            (nid + 1, "SaveImage", {"filename_prefix": prefix}, {"images": (nid, 0)})]


def decode_composite_save(nid, samples, prefix, colour_match="none"):
    """VAEDecode → feathered Composite onto the input photo → SaveImage (ids nid … nid + 2)."""
    return [(nid, "VAEDecode", {}, {"samples": (samples, 0), "vae": (2, 1)}),
            (nid + 1, "PriorPaintComposite", {"feather": 2.0, "colour_match": colour_match},
             {"original": (1, 0), "inpainted": (nid, 0), "mask": (1, 1)}),
            (nid + 2, "SaveImage", {"filename_prefix": prefix}, {"images": (nid + 1, 0)})]


WORKFLOWS = {
    # Start here: the drop-in Inpaint KSampler (a KSampler with a 'method' preset) between Inpaint Encode
    # and a colour-matched paste back.
    # The hole is the stroke across the cheek: fur the demo texture model can continue (an eye it cannot draw).
    "inpaint_ksampler": [(1, "PriorPaintExamplePhoto", {"photo": "cat", "width": 128, "hole": "stroke"}, {}),
                         LOAD[1]] + [
        (3, "PriorPaintInpaintEncode", {"grow": 0, "feather": 0.0, "fill": "neutral grey"},
         {"pixels": (1, 0), "mask": (1, 1), "vae": (2, 1)}),
        (4, "PriorPaintKSampler", {"seed": 7, "steps": 20, "cfg": 1.0, "sampler_name": "euler", "scheduler": "simple",
                                   "denoise": 1.0, "method": "balanced"},
         {"model": (2, 0), "positive": (2, 2), "negative": (2, 2), "latent_image": (3, 0)}),
        (5, "VAEDecode", {}, {"samples": (4, 0), "vae": (2, 1)}),
        (6, "PriorPaintComposite", {"feather": 2.0, "colour_match": "lab_mean_std"},
         {"original": (1, 0), "inpainted": (5, 0), "mask": (3, 1)}),
        (7, "SaveImage", {"filename_prefix": "priorpaint_inpaint_ksampler"}, {"images": (6, 0)}),
    ],
    # Crop & stitch: the region around the hole at the model's resolution, pasted back seamlessly.
    "crop_and_stitch": [
        (1, "PriorPaintExamplePhoto", {"photo": "coffee", "width": 512, "hole": "box"}, {}),
        LOAD[1],
        (3, "PriorPaintInpaintCrop", {"context": 0.5, "margin": 16, "megapixels": 0.02, "multiple": 8},
         {"image": (1, 0), "mask": (1, 1)}),
        (4, "PriorPaintInpaintEncode", {"grow": 0, "feather": 0.0, "fill": "neutral grey"},
         {"pixels": (3, 0), "mask": (3, 1), "vae": (2, 1)}),
        (5, "PriorPaintKSampler", {"seed": 7, "steps": 20, "cfg": 1.0, "sampler_name": "euler", "scheduler": "simple",
                                   "denoise": 1.0, "method": "balanced"},
         {"model": (2, 0), "positive": (2, 2), "negative": (2, 2), "latent_image": (4, 0)}),
        (6, "VAEDecode", {}, {"samples": (5, 0), "vae": (2, 1)}),
        (7, "PriorPaintInpaintStitch", {"feather": 8.0, "colour_match": "lab_mean_std"},
         {"stitch": (3, 2), "inpainted": (6, 0)}),
        (8, "SaveImage", {"filename_prefix": "priorpaint_crop_and_stitch"}, {"images": (7, 0)}),
    ],
    # The foundation demo: a shipped demo model inpaints a photo with ComfyUI's own KSampler and
    # noise mask, then PriorPaint's colour-safe composite pastes it back.
    "priorpaint_inpaint_demo": MASKED[:4] + [
        ksampler(5, 4),
        (6, "VAEDecode", {}, {"samples": (5, 0), "vae": (2, 1)}),
        (7, "PriorPaintComposite", {"feather": 0.0, "colour_match": "none"},
         {"original": (1, 0), "inpainted": (6, 0), "mask": (1, 1)}),
        (8, "SaveImage", {"filename_prefix": "priorpaint_demo"}, {"images": (7, 0)}),
    ],
    # RePaint+: a SAMPLER wrapping KSamplerSelect's euler, run by SamplerCustom on a noise-masked latent.
    "repaint_plus": MASKED + [REPAINT_PLUS] + sampler_custom(8, 6, 7) + decode_save(9, 8, "priorpaint_repaint_plus"),
    # IS-Diff: GMM seeds and DCE-checked restarts (Harmonized Sampler) around RePaint+, then the DCE check
    # of the result and a colour-safe composite.
    "is_diff": MASKED + [REPAINT_PLUS] + [
        HARMONIZED,
    ] + harmonized_tail("priorpaint_is_diff"),
    # IS-Diff's seed alone: GMM Seed fills the hole, the stock KSampler starts from it.
    "gmm_seed": LOAD + [
        (4, "PriorPaintGMMSeed", {"components": 5, "seed": 7, "max_points": 2000, "noise_blend": 0.0},
         {"samples": (3, 0), "mask": (1, 1)}),
        ksampler(5, 4),
    ] + decode_save(6, 5, "priorpaint_gmm_seed"),
    # VIPaint: fit the hierarchical posterior to the known pixels, draw two samples, DPS through the VAE,
    # then a colour-safe composite of both samples.
    "vipaint": MASKED[:4] + [
        (5, "PriorPaintVIPaint", {"seed": 7, "cfg": 1.0, "t_e": 550, "t_s": 400, "keypoints": 2, "iterations": 20,
                                  "lr_mean": 0.1, "lr_logvar": 0.001, "lr_gamma": 0.01, "prior_weight": 100.0,
                                  "hier_weight": 100.0, "recon_weight": 100.0, "dps_steps": 30, "dps_scale": 0.5,
                                  "samples": 2},
         {"model": (2, 0), "positive": (2, 2), "negative": (2, 2), "latent_image": (4, 0), "vae": (2, 1),
          "image": (1, 0)}),
    ] + decode_composite_save(6, 5, "priorpaint_vipaint"),
    # Everything together: GMM seed → Harmonized Sampler around RePaint+ → DCE check of the result →
    # colour-matched, feathered composite.
    "combined": LOAD + [
        (4, "PriorPaintGMMSeed", {"components": 5, "seed": 7, "max_points": 2000, "noise_blend": 0.0},
         {"samples": (3, 0), "mask": (1, 1)}),
        (5, "KSamplerSelect", {"sampler_name": "euler"}, {}),
        REPAINT_PLUS,
        HARMONIZED,
    ] + harmonized_tail("priorpaint_combined"),
    # AID: the shipped guidance module for the demo model corrects the stock KSampler's drift every step.
    "aid": MASKED[:4] + [
        (5, "PriorPaintLoadAIDGuidance", {"guidance_name": "priorpaint-unet-aid.safetensors"}, {}),
        (6, "PriorPaintApplyAIDGuidance", {"strength": 1.0}, {"model": (2, 0), "guidance": (5, 0)}),
        (7, "KSampler", {"seed": 7, "steps": 8, "cfg": 1.0, "sampler_name": "euler", "scheduler": "karras",
                         "denoise": 1.0},
         {"model": (6, 0), "positive": (2, 2), "negative": (2, 2), "latent_image": (4, 0)}),
    ] + decode_composite_save(8, 7, "priorpaint_aid"),
}


CHANGE = ["",
          "Your own picture: replace 'Example Photo and Mask' with Load Image",
          "  (right-click it → Open in MaskEditor to paint the hole).",
          "Your own model: replace 'Load Demo Model' with Load Checkpoint",
          "  (or Load Diffusion Model + Load CLIP + Load VAE) and CLIP Text Encode prompts;",
          "  set cfg as your model wants."]
PHOTO = ["",
         "Your own picture: replace 'Example Photo and Mask' with Load Image",
         "  (right-click it → Open in MaskEditor to paint the hole)."]
OTHER_MODELS = ["",
                "With SD1.5, SDXL, SD3.5 or Flux: set the RePaint+ Sampler's sigma_data to 1.0",
                "  (0.5 is this demo model's pixel scale) and use the scheduler you normally use."]
NOTES = {  # short lines: the Note node shows them as written
    "inpaint_ksampler": [
        "START HERE. Inpaint KSampler = KSampler + one choice, 'method':",
        "  balanced (recommended, 2 model calls per step), fast (1.5), core (ComfyUI's own, to compare).",
        "Swap it for the KSampler of any inpainting workflow.",
        "Inpaint Encode puts the mask on the latent (grow / feather it there).",
        "Composite pastes the result back, colour-matched."],
    "crop_and_stitch": [
        "Large photo, small hole:",
        "  Inpaint Crop cuts out the hole with some context, at the size the model likes",
        "  (megapixels: 0.26 for SD1.5, 1.0 for SDXL / SD3.5 / Flux; this demo model ~0.02).",
        "  Inpaint Stitch pastes the result back; outside the feathered hole nothing changes."],
    "priorpaint_inpaint_demo": [
        "For comparison: ComfyUI's own KSampler with a noise mask (Set Latent Noise Mask),",
        "and PriorPaint's Composite to paste the result back.",
        "Compare with template 01 (Inpaint KSampler)."],
    "repaint_plus": [
        "RePaint+ as a SAMPLER for SamplerCustom:",
        "  it wraps the sampler from KSamplerSelect (any of ComfyUI's)",
        "  and harmonises the hole inside each model call.",
        "  'resamples' = rounds per step."] + OTHER_MODELS,
    "is_diff": [
        "IS-Diff: the Harmonized Sampler seeds the hole from the known colours,",
        "  checks the harmony (DCE) half way and restarts if it is poor; here around RePaint+.",
        "DCE Check scores the result: its heat map is bright where the hole disagrees",
        "  with its surroundings, dark where it fits."] + OTHER_MODELS,
    "gmm_seed": [
        "IS-Diff's seed alone: GMM Seed fills the hole with colours drawn from its surroundings",
        "  before the stock KSampler runs (try denoise 0.8 to keep more of the seed)."],
    "vipaint": [
        "VIPaint fits a picture of what the hole could be to the known pixels,",
        "  then draws images from it and polishes them through the VAE.",
        "Slower (it runs the model backwards too), most faithful on large holes; two samples here."],
    "combined": [
        "Everything together: GMM seed → Harmonized Sampler around RePaint+",
        "  → DCE check → colour-matched composite."] + OTHER_MODELS,
    "aid": [
        "AID: a small learned module (from models/inpaint_guidance) corrects the sampler every step.",
        "Apply AID Guidance patches the MODEL, so any sampler node can use it.",
        "Train your own for your model with Train AID Guidance."],
}
TITLES = {"PriorPaintExamplePhoto": "Photo and mask (replace with Load Image)",
          "PriorPaintLoadDemoModel": "Model (replace with your checkpoint loader)"}

ROLE_OF = {  # which group a node sits in
    "PriorPaintExamplePhoto": 0, "PriorPaintLoadDemoModel": 0, "VAEEncode": 0, "SetLatentNoiseMask": 0,
    "PriorPaintInpaintEncode": 0, "PriorPaintInpaintCrop": 0, "PriorPaintGMMSeed": 0,
    "VAEDecode": 2, "PriorPaintComposite": 2, "SaveImage": 2, "PriorPaintDCECheck": 2, "PriorPaintInpaintStitch": 2,
    "CheckpointLoaderSimple": 0, "UNETLoader": 0, "DualCLIPLoader": 0, "TripleCLIPLoader": 0, "VAELoader": 0,
    "CLIPTextEncode": 0, "FluxGuidance": 0,
}
GROUPS = (("1 · Inputs: photo, mask, model", "#3f789e"), ("2 · Inpaint", "#8a6f3f"), ("3 · Result", "#4f7f4f"))
NODE_W, GAP_X, GAP_Y, PAD = 320, 40, 40, 20


# ---------------------------------------------------------------------------------------------
# Real model families through ComfyUI's stock loaders (CI runs them on tiny files: support/checkpoints.py)
# ---------------------------------------------------------------------------------------------
FAMILY = {  # loader nodes, prompt, sampling settings, crop size
    "sd15": dict(title="SD1.5", ckpt="v1-5-pruned-emaonly-fp16.safetensors", cfg=7.0, steps=25, scheduler="karras",
                 megapixels=0.26, multiple=8),
    "sdxl": dict(title="SDXL", ckpt="sd_xl_base_1.0.safetensors", cfg=6.0, steps=25, scheduler="karras",
                 megapixels=1.0, multiple=8),
    "sd35": dict(title="SD3.5", unet="sd3.5_medium.safetensors", vae="sd35_vae.safetensors",
                 clips=("clip_g.safetensors", "clip_l.safetensors", "t5xxl_fp16.safetensors"), cfg=4.5, steps=28,
                 scheduler="simple", megapixels=1.0, multiple=16),
    "flux": dict(title="Flux", unet="flux1-dev.safetensors", vae="ae.safetensors",
                 clips=("clip_l.safetensors", "t5xxl_fp16.safetensors"), cfg=1.0, steps=20, scheduler="simple",
                 megapixels=1.0, multiple=16, guidance=3.5),
}
# Official download locations, as ComfyUI's own templates give them (comfyui_workflow_templates): on load the
# frontend lists the ones missing from the model folders and offers the download. Files with no such official
# entry (SD3.5 Medium's model, VAE and clip_g) are named in the note instead.
MODEL_URLS = {
    "v1-5-pruned-emaonly-fp16.safetensors": ("checkpoints", "https://huggingface.co/Comfy-Org/"
                                             "stable-diffusion-v1-5-archive/resolve/main/v1-5-pruned-emaonly-fp16.safetensors"),
    "sd_xl_base_1.0.safetensors": ("checkpoints", "https://huggingface.co/stabilityai/stable-diffusion-xl-base-1.0/"
                                   "resolve/main/sd_xl_base_1.0.safetensors"),
    "flux1-dev.safetensors": ("diffusion_models", "https://huggingface.co/Comfy-Org/flux1-dev/resolve/main/"
                              "flux1-dev.safetensors"),
    "ae.safetensors": ("vae", "https://huggingface.co/Comfy-Org/Lumina_Image_2.0_Repackaged/resolve/main/"
                       "split_files/vae/ae.safetensors"),
    "clip_l.safetensors": ("text_encoders", "https://huggingface.co/comfyanonymous/flux_text_encoders/resolve/main/"
                           "clip_l.safetensors"),
    "t5xxl_fp16.safetensors": ("text_encoders", "https://huggingface.co/comfyanonymous/flux_text_encoders/resolve/"
                               "main/t5xxl_fp16.safetensors"),
}
POSITIVE = "a photo of a cat, detailed fur, soft natural light"
NEGATIVE = "blurry, low quality, watermark, text, deformed"


def family_workflow(family: str, stack: bool = False) -> list:
    """Example photo → Inpaint Crop → Inpaint Encode → (Inpaint KSampler | SamplerCustom stack) → decode →
    Inpaint Stitch → save, with the family's stock loaders and a real positive and negative prompt."""
    f = FAMILY[family]
    spec = [(1, "PriorPaintExamplePhoto", {"photo": "cat", "width": 512, "hole": "box and stroke"}, {})]
    if "ckpt" in f:
        spec.append((2, "CheckpointLoaderSimple", {"ckpt_name": f["ckpt"]}, {}))
        model, clip, vae = (2, 0), (2, 1), (2, 2)
    else:
        spec.append((2, "UNETLoader", {"unet_name": f["unet"], "weight_dtype": "default"}, {}))
        if family == "flux":
            spec.append((3, "DualCLIPLoader", {"clip_name1": f["clips"][0], "clip_name2": f["clips"][1],
                                               "type": "flux"}, {}))
        else:
            spec.append((3, "TripleCLIPLoader", {"clip_name1": f["clips"][0], "clip_name2": f["clips"][1],
                                                 "clip_name3": f["clips"][2]}, {}))
        spec.append((4, "VAELoader", {"vae_name": f["vae"]}, {}))
        model, clip, vae = (2, 0), (3, 0), (4, 0)
    spec += [(5, "CLIPTextEncode", {"text": POSITIVE}, {"clip": clip}),
             (6, "CLIPTextEncode", {"text": NEGATIVE}, {"clip": clip})]
    positive = (5, 0)
    if "guidance" in f:
        spec.append((7, "FluxGuidance", {"guidance": f["guidance"]}, {"conditioning": (5, 0)}))
        positive = (7, 0)
    spec += [(8, "PriorPaintInpaintCrop", {"context": 0.5, "margin": 32, "megapixels": f["megapixels"],
                                           "multiple": f["multiple"]}, {"image": (1, 0), "mask": (1, 1)}),
             (9, "PriorPaintInpaintEncode", {"grow": 4, "feather": 0.0, "fill": "neutral grey"},
              {"pixels": (8, 0), "mask": (8, 1), "vae": vae})]
    conds = {"model": model, "positive": positive, "negative": (6, 0), "latent_image": (9, 0)}
    if stack:
        spec += [(10, "KSamplerSelect", {"sampler_name": "euler"}, {}),
                 (11, "PriorPaintRePaintPlusSampler", {"mode": "repaint_plus_b", "jump_length": 1, "resamples": 1,
                                                       "kappa_mode": "capped", "kappa_cap": 4.0, "sigma_data": 1.0},
                  {"sampler": (10, 0)}),
                 (12, "BasicScheduler", {"scheduler": f["scheduler"], "steps": f["steps"], "denoise": 1.0},
                  {"model": model}),
                 (13, "SamplerCustom", {"add_noise": True, "noise_seed": 7, "cfg": f["cfg"]},
                  dict(conds, sampler=(11, 0), sigmas=(12, 0)))]
    else:
        spec.append((13, "PriorPaintKSampler", {"seed": 7, "steps": f["steps"], "cfg": f["cfg"], "sampler_name": "euler",
                                                "scheduler": f["scheduler"], "denoise": 1.0, "method": "balanced"},
                     conds))
    spec += [(14, "VAEDecode", {}, {"samples": (13, 0), "vae": vae}),
             (15, "PriorPaintInpaintStitch", {"feather": 8.0, "colour_match": "lab_mean_std"},
              {"stitch": (8, 2), "inpainted": (14, 0)}),
             (16, "SaveImage", {"filename_prefix": f"priorpaint_{family}"}, {"images": (15, 0)})]
    return spec


def family_note(family: str, stack: bool) -> list[str]:
    f = FAMILY[family]
    if "ckpt" in f:
        files = [f"  models/checkpoints/{f['ckpt']}"]
    else:
        files = [f"  models/diffusion_models/{f['unet']}", f"  models/vae/{f['vae']}"] + \
                [f"  models/text_encoders/{c}" for c in f["clips"]]
    how = (["with the SamplerCustom stack: KSamplerSelect → RePaint+ Sampler → SamplerCustom",
            "  (with BasicScheduler), for custom schedules and samplers."] if stack
           else ["with the drop-in Inpaint KSampler (method 'balanced')."])
    return ([f"{f['title']} inpainting " + how[0]] + how[1:] +
            ["Model files (ComfyUI offers to download them when they are missing; or pick yours in the loaders):"]
            + files +
            [f"Inpaint Crop cuts out the hole with context at {f['megapixels']:g} MP (what {f['title']} likes);",
             "  Inpaint Stitch pastes the result back into the full photo."])


def _family_templates() -> dict:
    out = {}
    for fam in FAMILY:
        out[f"{fam}_inpaint"] = family_workflow(fam)
        out[f"{fam}_inpaint_sampler_custom"] = family_workflow(fam, stack=True)
    return out


def _depths(spec):
    depth = {}
    for nid, _, _, links in spec:  # specs are listed in topological order
        depth[nid] = 1 + max((depth[s] for s, _ in links.values()), default=-1)
    return depth


READOUT_NODES = templates.readout_nodes()  # js/priorpaint.js gives them a read-out box


def _height(ctype: str, object_info: dict) -> int:
    """About the height the frontend gives a node after a run: sockets, one row per widget, the read-out
    box, and room for a preview image (SaveImage, DCE Check's heat map)."""
    if ctype == "SaveImage":
        return 320
    if ctype == "PriorPaintDCECheck":
        return 480
    info = object_info[ctype]
    specs = {**info["input"].get("required", {}), **info["input"].get("optional", {})}
    widgets = sum(1 for v in specs.values() if _is_widget(v))
    sockets = max(len(specs) - widgets, len(info["output"]))
    return 50 + 22 * sockets + 26 * widgets + (120 if ctype in READOUT_NODES else 0)


def _layout(spec, heights: dict[int, int], top: int = 260) -> dict[int, tuple[int, int]]:
    """Node positions: three blocks left to right (inputs, inpaint, result), columns by link depth inside
    each block, nodes of one column stacked; the note sits above."""
    depth = _depths(spec)
    role = {nid: ROLE_OF.get(ctype, 1) for nid, ctype, _, _ in spec}
    pos, x = {}, 40
    for r in range(len(GROUPS)):
        members = [nid for nid, *_ in spec if role[nid] == r]
        if not members:
            continue
        d0 = min(depth[n] for n in members)
        cols: dict[int, int] = {}
        for n in members:
            c = depth[n] - d0
            y = cols.get(c, top)
            pos[n] = (x + PAD + c * (NODE_W + GAP_X), y)
            cols[c] = y + heights[n] + GAP_Y
        x += 2 * PAD + (max(cols) + 1) * (NODE_W + GAP_X) + GAP_X
    return pos


def _groups(spec, pos, heights) -> list[dict]:
    out = []
    for r, (title, colour) in enumerate(GROUPS):
        ids = [nid for nid, ctype, _, _ in spec if ROLE_OF.get(ctype, 1) == r]
        if ids:
            x0, y0 = min(pos[i][0] for i in ids) - PAD, min(pos[i][1] for i in ids) - 60
            x1, y1 = max(pos[i][0] for i in ids) + NODE_W + PAD, max(pos[i][1] + heights[i] for i in ids) + PAD
            out.append({"title": title, "bounding": [x0, y0, x1 - x0, y1 - y0], "color": colour, "font_size": 24,
                        "flags": {}})
    return out


def build_ui(spec, object_info: dict, note: list[str] | None = None, key: str | None = None) -> dict:
    nodes, links = [], []
    out_links: dict[tuple[int, int], list[int]] = {}
    heights = {nid: _height(ctype, object_info) for nid, ctype, _, _ in spec}
    note_h = 40 + 18 * len(note) if note else 0
    pos = _layout(spec, heights, top=30 + note_h + 100)  # the groups' titles sit 60 px above their nodes
    link_id = 0
    for order, (nid, ctype, widgets, ins) in enumerate(spec):
        info = object_info[ctype]
        req, opt = info["input"].get("required", {}), info["input"].get("optional", {})
        order_names = info.get("input_order", {"required": list(req), "optional": list(opt)})
        inputs, values = [], []
        for section, table in (("required", req), ("optional", opt)):
            for name in order_names.get(section, []):
                spec_ = table[name]
                if _is_widget(spec_):
                    opts = spec_[1] if len(spec_) > 1 and isinstance(spec_[1], dict) else {}
                    if name in widgets:
                        v = widgets[name]
                    elif "default" in opts:
                        v = opts["default"]
                    elif isinstance(spec_[0], list):
                        v = spec_[0][0]
                    else:
                        raise KeyError(f"{ctype}.{name} needs a value")
                    values.append(v)
                    if opts.get("control_after_generate") or (spec_[0] == "INT" and name in ("seed", "noise_seed")):
                        values.append("fixed")
                    if opts.get("image_upload"):
                        values.append("image")
                elif name in ins:
                    link_id += 1
                    src, slot = ins[name]
                    src_type = object_info[[s for s in spec if s[0] == src][0][1]]["output"][slot]
                    links.append([link_id, src, slot, nid, len(inputs), src_type])
                    out_links.setdefault((src, slot), []).append(link_id)
                    inputs.append({"name": name, "type": spec_[0] if isinstance(spec_[0], str) else "COMBO",
                                   "link": link_id})
                elif section == "required":
                    raise KeyError(f"{ctype}.{name} (required) is not connected in the spec")
        node = {"id": nid, "type": ctype, "pos": list(pos[nid]), "size": [NODE_W, heights[nid]],
                "flags": {}, "order": order, "mode": 0, "inputs": inputs, "outputs": [],
                "properties": {"Node name for S&R": ctype}, "widgets_values": values}
        if ctype in TITLES:
            node["title"] = TITLES[ctype]
        models = [{"name": v, "url": MODEL_URLS[v][1], "directory": MODEL_URLS[v][0]}
                  for v in values if isinstance(v, str) and v in MODEL_URLS]
        if models:
            node["properties"]["models"] = models
        nodes.append(node)
    for node in nodes:
        info = object_info[node["type"]]
        names = info.get("output_name", info["output"])
        node["outputs"] = [{"name": names[i], "type": t, "links": out_links.get((node["id"], i), []),
                            "slot_index": i} for i, t in enumerate(info["output"])]
    groups = _groups(spec, pos, heights)
    if note:
        nid = max(n["id"] for n in nodes) + 1
        width = max(g["bounding"][0] + g["bounding"][2] for g in groups) - 40 if groups else 900
        nodes.append({"id": nid, "type": "Note", "pos": [40, 30], "size": [min(width, 1400), note_h],
                      "flags": {}, "order": len(nodes), "mode": 0, "inputs": [], "outputs": [],
                      "title": "What this shows", "properties": {}, "widgets_values": ["\n".join(note)],
                      "color": "#432", "bgcolor": "#653"})
    extra = {"ds": first_view(nodes, groups)}
    if key:
        extra["priorpaint_template"] = key
    return {"last_node_id": max(n["id"] for n in nodes), "last_link_id": link_id, "nodes": nodes, "links": links,
            "groups": groups, "config": {}, "extra": extra, "version": 0.4}


VIEW = (1250, 650)  # screen pixels a template should fit: a 1600x1000 window less the bars, and room for
# Nodes 2.0, which scales an older layout up by 1.2 on load (its Comfy.VueNodes.AutoScaleLayout)
VIEW_TOP_LEFT = (80, 110)  # where the graph's top-left corner lands on screen: clear of the top bars


def first_view(nodes, groups) -> dict:
    """The saved view (``extra.ds``) that shows the whole graph below the frontend's top bars. (Without one the
    frontend fits the view itself, but Nodes 2.0 (frontend 1.32) then places nodes and groups apart.)
    LiteGraph draws canvas point p at screen (p + offset)·scale."""
    x0 = min([n["pos"][0] for n in nodes] + [g["bounding"][0] for g in groups])
    y0 = min([n["pos"][1] - 30 for n in nodes] + [g["bounding"][1] for g in groups])
    x1 = max([n["pos"][0] + n["size"][0] for n in nodes] + [g["bounding"][0] + g["bounding"][2] for g in groups])
    y1 = max([n["pos"][1] + n["size"][1] for n in nodes] + [g["bounding"][1] + g["bounding"][3] for g in groups])
    scale = round(min(1.0, VIEW[0] / (x1 - x0), VIEW[1] / (y1 - y0)), 3)
    return {"scale": scale, "offset": [round(VIEW_TOP_LEFT[0] / scale - x0, 1), round(VIEW_TOP_LEFT[1] / scale - y0, 1)]}


def thumbnail(server, ui: dict, object_info: dict, path: str) -> None:
    """Run the workflow as shipped and save its first output image as a 256-px JPEG thumbnail."""
    import io

    from comfy_client import ui_to_api
    from PIL import Image

    prompt = ui_to_api(ui, object_info)
    entry = server.run(prompt)
    save = next(k for k, v in prompt.items() if v["class_type"] == "SaveImage")
    im = Image.open(io.BytesIO(server.output_images(entry, save)[0])).convert("RGB")
    _to_thumbnail_size(im).save(path, quality=90)


def _to_thumbnail_size(im):
    """The template browser's card is about 256 px wide: scale the picture so its long side is 256."""
    from PIL import Image

    k = 256 / max(im.size)
    return im.resize((round(im.size[0] * k), round(im.size[1] * k)), Image.LANCZOS)


def family_thumbnail(family: str, variant: str, path: str) -> None:
    """A model-family template cannot be run here (no real weights): its thumbnail is the photo and hole it
    starts from, labelled with the family and the node it shows, never a made-up result."""
    import numpy as np
    from demo_inputs import demo_input
    from PIL import Image, ImageDraw

    rgb, mask = demo_input()
    im = _to_thumbnail_size(Image.fromarray(np.where(mask[..., None], np.uint8(128), rgb)))
    draw = ImageDraw.Draw(im)
    for i, text in enumerate((FAMILY[family]["title"], variant, "the input (grey = hole), not a result")):
        y = 6 + 16 * i
        draw.rectangle((4, y - 2, 8 + 7 * len(text), y + 12), fill=(0, 0, 0))
        draw.text((6, y), text, fill=(255, 255, 255))
    im.save(path, quality=90)


def main():
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--thumbnails", action="store_true", help="also run each workflow and write <name>.jpg")
    a = ap.parse_args()
    if a.thumbnails:  # the "before" picture of the README gallery: the demo input with its hole greyed
        import numpy as np
        from demo_inputs import demo_input
        from PIL import Image

        rgb, mask = demo_input()
        before = np.where(mask[..., None], np.uint8(128), rgb)
        im = Image.fromarray(before)
        im.thumbnail((256, 256))
        os.makedirs(os.path.join(ROOT, "docs", "images"), exist_ok=True)
        im.save(os.path.join(ROOT, "docs", "images", "workflow_input.jpg"), quality=90)
    for f in os.listdir(templates.FOLDER):  # files of templates renamed or gone
        if os.path.splitext(f)[0] not in templates.KEYS:
            os.remove(os.path.join(templates.FOLDER, f))
    with tempfile.TemporaryDirectory() as tmp, ComfyServer(tmp) as server:
        object_info = server.get_json("/object_info")
        notes = {k: v + CHANGE for k, v in NOTES.items()}
        notes.update({f"{fam}_inpaint{sfx}": family_note(fam, bool(sfx)) + PHOTO for fam in FAMILY
                      for sfx in ("", "_sampler_custom")})
        for name, spec in dict(WORKFLOWS, **_family_templates()).items():
            path = templates.path(name)
            ui = build_ui(spec, object_info, notes.get(name), key=name)
            with open(path, "w") as f:
                json.dump(ui, f, indent=1)
                f.write("\n")
            print("wrote", path)
            fam = next((f for f in FAMILY if name.startswith(f + "_inpaint")), None)
            if a.thumbnails and fam:
                family_thumbnail(fam, "SamplerCustom stack" if name.endswith("_sampler_custom") else "Inpaint KSampler",
                                 os.path.splitext(path)[0] + ".jpg")
                print("wrote", os.path.splitext(path)[0] + ".jpg")
            elif a.thumbnails:
                thumbnail(server, ui, object_info, os.path.splitext(path)[0] + ".jpg")
                print("wrote", os.path.splitext(path)[0] + ".jpg")


if __name__ == "__main__":
    main()
