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


def _depths(spec):
    depth = {}
    for nid, _, _, links in spec:  # specs are listed in topological order
        depth[nid] = 1 + max((depth[s] for s, _ in links.values()), default=-1)
    return depth


def build_ui(spec, object_info: dict) -> dict:
    nodes, links = [], []
    out_links: dict[tuple[int, int], list[int]] = {}
    depth = _depths(spec)
    rows: dict[int, int] = {}
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
        d = depth[nid]
        row = rows.get(d, 0)
        rows[d] = row + 1
        nodes.append({"id": nid, "type": ctype, "pos": [40 + 340 * d, 60 + 300 * row], "size": [300, 220],
                      "flags": {}, "order": order, "mode": 0, "inputs": inputs, "outputs": [],
                      "properties": {"Node name for S&R": ctype}, "widgets_values": values})
    for node in nodes:
        info = object_info[node["type"]]
        names = info.get("output_name", info["output"])
        node["outputs"] = [{"name": names[i], "type": t, "links": out_links.get((node["id"], i), []),
                            "slot_index": i} for i, t in enumerate(info["output"])]
    return {"last_node_id": max(n["id"] for n in nodes), "last_link_id": link_id, "nodes": nodes, "links": links,
            "groups": [], "config": {}, "extra": {"ds": {"scale": 0.8, "offset": [0, 0]}}, "version": 0.4}


def thumbnail(server, ui: dict, object_info: dict, path: str) -> None:
    """Run the workflow as shipped and save its first output image as a 256-px JPEG thumbnail."""
    import io

    from comfy_client import ui_to_api
    from PIL import Image

    prompt = ui_to_api(ui, object_info)
    entry = server.run(prompt)
    save = next(k for k, v in prompt.items() if v["class_type"] == "SaveImage")
    im = Image.open(io.BytesIO(server.output_images(entry, save)[0])).convert("RGB")
    im.thumbnail((256, 256))
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
    with tempfile.TemporaryDirectory() as tmp, ComfyServer(tmp) as server:
        object_info = server.get_json("/object_info")
        for name, spec in WORKFLOWS.items():
            path = os.path.join(ROOT, "example_workflows", name + ".json")
            ui = build_ui(spec, object_info)
            with open(path, "w") as f:
                json.dump(ui, f, indent=1)
                f.write("\n")
            print("wrote", path)
            if a.thumbnails:
                thumbnail(server, ui, object_info, os.path.splitext(path)[0] + ".jpg")
                print("wrote", os.path.splitext(path)[0] + ".jpg")


if __name__ == "__main__":
    main()
