"""make demo: boot the pinned ComfyUI headless, inpaint a held-out photo with an example workflow.

    python tools/product/demo.py [--workflow priorpaint_inpaint_demo.json] [--out out/]

The photo ships inside scikit-image (``support.photos.HELD_OUT``, never used to fit the demo model);
the mask is the image's alpha channel (LoadImage turns transparent pixels into MASK = 1). Writes
``out/demo_input.png``, ``out/demo_result.png`` and ``out/demo_grid.png`` (original | masked | result).
No network, no model hub.
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


def grid(images: list[np.ndarray], pad: int = 4) -> np.ndarray:
    h = max(i.shape[0] for i in images)
    row = [np.pad(i, ((0, h - i.shape[0]), (pad, pad), (0, 0)), constant_values=255) for i in images]
    return np.concatenate(row, 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workflow", default="priorpaint_inpaint_demo.json")
    ap.add_argument("--out", default=os.path.join(ROOT, "out"))
    ap.add_argument("--docs", action="store_true", help="also copy the grid to docs/images/ (README picture)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rgb, mask = demo_input()
    t0 = time.time()
    with ComfyServer(os.path.join(a.out, "demo-server")) as server:
        print(f"ComfyUI up at {server.url} in {time.time() - t0:.1f}s")
        save_rgba(rgb, mask, os.path.join(server.input_dir, DEMO_INPUT))
        prompt = ui_to_api(load_workflow(a.workflow), server.get_json("/object_info"))
        for node in prompt.values():  # the template's example photo -> this demo's held-out photo and mask
            if node["class_type"] == "PriorPaintExamplePhoto":
                node.update(class_type="LoadImage", inputs={"image": DEMO_INPUT})
        t1 = time.time()
        entry = server.run(prompt)
        save_node = next(k for k, v in prompt.items() if v["class_type"] == "SaveImage")
        result = np.asarray(Image.open(io.BytesIO(server.output_images(entry, save_node)[0])).convert("RGB"))
        print(f"workflow {a.workflow} ran in {time.time() - t1:.1f}s")
    masked = rgb.copy()
    masked[mask] = (0.5 * masked[mask] + 0.5 * np.array([255, 0, 255])).astype(np.uint8)
    paths = {"input": os.path.join(a.out, "demo_input.png"), "result": os.path.join(a.out, "demo_result.png"),
             "grid": os.path.join(a.out, "demo_grid.png")}
    save_rgba(rgb, mask, paths["input"])
    Image.fromarray(result).save(paths["result"])
    Image.fromarray(grid([rgb, masked, result])).save(paths["grid"])
    outside = np.abs(result.astype(int) - rgb.astype(int))[~mask].max()
    print(f"max change outside the mask: {outside}/255; inside the mask mean |change| "
          f"{np.abs(result.astype(int) - rgb.astype(int))[mask].mean():.1f}/255")
    print(json.dumps(paths, indent=1))
    print(f"wrote {paths['grid']} (original | masked | result)")
    if a.docs:
        os.makedirs(os.path.join(ROOT, "docs", "images"), exist_ok=True)
        Image.fromarray(grid([rgb, masked, result])).save(os.path.join(ROOT, "docs", "images", "demo_grid.png"))


if __name__ == "__main__":
    main()
