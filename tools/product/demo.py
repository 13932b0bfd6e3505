"""make demo: boot the pinned ComfyUI headless and inpaint a held-out photo with the 'inpaint_ksampler'
template, once per method of the Inpaint KSampler (ComfyUI's core replace and each preset).

    python tools/product/demo.py [--workflow inpaint_ksampler.json] [--out out/] [--docs]

The photo ships inside scikit-image (``support.photos.HELD_OUT``, never used to fit the demo model);
the mask is the image's alpha channel (LoadImage turns transparent pixels into MASK = 1). Writes
``out/demo_compare.png`` (input | core | each preset, labelled with model evaluations and seconds),
``out/demo_input.png`` and ``out/demo_grid.png`` (original | masked | balanced). Fails if any result
changes a pixel outside the mask by more than the 8-bit round trip. No network, no model hub.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time

import numpy as np
from PIL import Image

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(TOOLS, d) for d in ('lib',)]
from comfy_client import ROOT, ComfyServer, load_workflow, ui_to_api  # noqa: E402
from demo_inputs import DEMO_INPUT, demo_input, save_rgba  # noqa: E402
from packimport import import_pack  # noqa: E402

import_pack()
from priorpaint.samplers.presets import PRESETS  # noqa: E402  (pure torch: no ComfyUI in this process)


def grid(images: list[np.ndarray], pad: int = 4) -> np.ndarray:
    h = max(i.shape[0] for i in images)
    row = [np.pad(i, ((0, h - i.shape[0]), (pad, pad), (0, 0)), constant_values=255) for i in images]
    return np.concatenate(row, 1)


def label(image: np.ndarray, lines: list[str], scale: int = 2) -> np.ndarray:
    """``image`` enlarged ``scale``× (nearest) with a caption strip below it."""
    from PIL import ImageDraw

    im = Image.fromarray(image).resize((image.shape[1] * scale, image.shape[0] * scale), Image.NEAREST)
    strip = Image.new("RGB", (im.width, 18 * len(lines) + 8), (255, 255, 255))
    draw = ImageDraw.Draw(strip)
    for i, text in enumerate(lines):
        draw.text((4, 4 + 18 * i), text, fill=(0, 0, 0))
    out = Image.new("RGB", (im.width, im.height + strip.height), (255, 255, 255))
    out.paste(im, (0, 0))
    out.paste(strip, (0, im.height))
    return np.asarray(out)


def combo_options(spec: list) -> list[str]:
    """The choices of a COMBO input in /object_info (both of ComfyUI's formats)."""
    if isinstance(spec[0], list):
        return list(spec[0])
    return list(spec[1]["options"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workflow", default="inpaint_ksampler.json")
    ap.add_argument("--out", default=os.path.join(ROOT, "out"))
    ap.add_argument("--docs", action="store_true", help="also copy the pictures to docs/images/ (README)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rgb, mask = demo_input()
    t0 = time.time()
    results = {}
    with ComfyServer(os.path.join(a.out, "demo-server")) as server:
        print(f"ComfyUI up at {server.url} in {time.time() - t0:.1f}s")
        save_rgba(rgb, mask, os.path.join(server.input_dir, DEMO_INPUT))
        info = server.get_json("/object_info")
        methods = combo_options(info["PriorPaintKSampler"]["input"]["required"]["method"])
        order = ["core"] + [m for m in methods if m != "core"]
        base = ui_to_api(load_workflow(a.workflow), info)
        for node in base.values():  # the template's example photo -> this demo's held-out photo and mask
            if node["class_type"] == "PriorPaintExamplePhoto":
                node.update(class_type="LoadImage", inputs={"image": DEMO_INPUT})
        sampler = next(k for k, v in base.items() if v["class_type"] == "PriorPaintKSampler")
        steps = int(base[sampler]["inputs"]["steps"])
        save_node = next(k for k, v in base.items() if v["class_type"] == "SaveImage")
        warm = json.loads(json.dumps(base))  # load the model and warm the caches once, untimed
        warm[sampler]["inputs"].update(method="core", steps=1)
        warm[save_node]["inputs"]["filename_prefix"] = "demo_warmup"
        server.run(warm)
        for method in order:
            prompt = json.loads(json.dumps(base))
            prompt[sampler]["inputs"]["method"] = method
            prompt[save_node]["inputs"]["filename_prefix"] = f"demo_{method}"
            t1 = time.time()
            entry = server.run(prompt)
            seconds = time.time() - t1
            img = np.asarray(Image.open(io.BytesIO(server.output_images(entry, save_node)[0])).convert("RGB"))
            results[method] = (img, seconds)
            print(f"{method:9s} {PRESETS[method].evaluations(steps):3d} model evaluations, {seconds:5.1f} s (the whole prompt, warm)")
    masked = rgb.copy()
    masked[mask] = (0.5 * masked[mask] + 0.5 * np.array([255, 0, 255])).astype(np.uint8)
    tiles = [label(masked, ["input (hole in magenta)", "held-out photo"])]
    for method in order:
        img, seconds = results[method]
        name = "ComfyUI core (replace)" if method == "core" else f"PriorPaint '{method}'"
        tiles.append(label(img, [name, f"{PRESETS[method].evaluations(steps)} model evals, {seconds:.1f} s"]))
        outside = np.abs(img.astype(int) - rgb.astype(int))[~mask].max()
        assert outside <= 1, f"{method} changed pixels outside the mask by {outside}/255"
    picture = grid(tiles)
    paths = {"compare": os.path.join(a.out, "demo_compare.png"), "input": os.path.join(a.out, "demo_input.png"),
             "grid": os.path.join(a.out, "demo_grid.png")}
    Image.fromarray(picture).save(paths["compare"])
    save_rgba(rgb, mask, paths["input"])
    Image.fromarray(grid([rgb, masked, results["balanced"][0]])).save(paths["grid"])
    print(json.dumps(paths, indent=1))
    print(f"wrote {paths['compare']}: input | " + " | ".join(order) +
          f" (Inpaint KSampler, euler, karras, {steps} steps, the shipped demo model)")
    if a.docs:
        os.makedirs(os.path.join(ROOT, "docs", "images"), exist_ok=True)
        Image.fromarray(picture).save(os.path.join(ROOT, "docs", "images", "demo_compare.png"))
        Image.fromarray(grid([rgb, masked, results["balanced"][0]])).save(
            os.path.join(ROOT, "docs", "images", "demo_grid.png"))


if __name__ == "__main__":
    main()
