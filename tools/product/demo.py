"""make demo: boot the pinned ComfyUI headless and inpaint the held-out photos with the start-here template
(Inpaint KSampler), once per method: ComfyUI's core inpainting and each preset, several seeds.

    python tools/product/demo.py [--workflow inpaint_ksampler] [--out out/] [--seeds 3] [--docs]

The cases follow one rule, written here and in the README, not picked by eye: every held-out image of the
bench (``support.photos.held_out_images``: two photos and the held-out parts of three textures, never used
to fit the demo model), centre-cropped to 128² as `make bench` does, gets one square hole of 40 px where the
8-px ring of known pixels around it varies least in colour (stride 4, at least 12 px from the border). The
demo model is a texture model: such a hole asks it to continue one surface, which it can, and the methods
then differ where the README says they do, in how well the fill matches its surroundings.

Writes ``out/demo_compare.png``: one row per image (seed 0), columns input | core | fast | balanced, each
tile with a 4× zoom of the hole's left edge (the seam) and labelled with its model calls, its harmony KL
and seam score (lower is better; seam 1 = invisible), and the means over all seeds. Also
``out/demo_compare.json`` (every run's numbers) and ``out/demo_input.png``. Fails if any result changes a
pixel outside the mask by more than the 8-bit round trip. No network, no model hub.
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
from demo_inputs import save_rgba  # noqa: E402
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


HOLE, RING, BORDER, STRIDE, SIZE = 40, 8, 12, 4, 128


def hole_by_rule(rgb: np.ndarray) -> np.ndarray:
    """The square hole of side HOLE whose RING-px ring of known pixels varies least in colour (summed
    per-channel variance), on a STRIDE grid at least BORDER px from the edges: the rule of the demo."""
    h, w = rgb.shape[:2]
    x = rgb.astype(np.float64)
    best, where = None, None
    for top in range(BORDER, h - BORDER - HOLE + 1, STRIDE):
        for left in range(BORDER, w - BORDER - HOLE + 1, STRIDE):
            t, l = max(top - RING, 0), max(left - RING, 0)
            ring = np.ones((min(top + HOLE + RING, h) - t, min(left + HOLE + RING, w) - l), bool)
            ring[top - t:top - t + HOLE, left - l:left - l + HOLE] = False
            v = x[t:t + ring.shape[0], l:l + ring.shape[1]][ring].var(0).sum()
            if best is None or v < best:
                best, where = v, (top, left)
    mask = np.zeros((h, w), bool)
    mask[where[0]:where[0] + HOLE, where[1]:where[1] + HOLE] = True
    return mask


def seam_zoom(img: np.ndarray, mask: np.ndarray, half: int = 12, zoom: int = 4) -> np.ndarray:
    """A ``zoom``× (nearest) view of the 2·half square centred on the middle of the hole's left edge."""
    ys, xs = np.nonzero(mask)
    cy, cx = (ys.min() + ys.max()) // 2, xs.min()
    t, l = int(np.clip(cy - half, 0, img.shape[0] - 2 * half)), int(np.clip(cx - half, 0, img.shape[1] - 2 * half))
    win = img[t:t + 2 * half, l:l + 2 * half]
    return np.asarray(Image.fromarray(win).resize((win.shape[1] * zoom, win.shape[0] * zoom), Image.NEAREST))


def big(img: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(img).resize((img.shape[1] * 2, img.shape[0] * 2), Image.NEAREST))


def cases() -> list[tuple[str, np.ndarray, np.ndarray]]:
    import_pack()
    from priorpaint.support.bench_data import center_crop
    from priorpaint.support.photos import held_out_images

    out = []
    for name, im in held_out_images():
        rgb = (center_crop(im, SIZE).movedim(0, -1).clamp(0, 1) * 255).round().byte().numpy()
        out.append((name, rgb, hole_by_rule(rgb)))
    return out


def scores(img: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """Harmony KL and seam score of one result, as `make bench` measures them."""
    import torch

    from priorpaint.samplers import metrics as M

    x = torch.from_numpy(img).float().div(255).movedim(-1, 0)[None]
    m = torch.from_numpy(mask).float()[None, None]
    return float(M.harmony_kl(x, m)[0]), float(M.seam_score(x, m)[0])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workflow", default="inpaint_ksampler")
    ap.add_argument("--out", default=os.path.join(ROOT, "out"))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--docs", action="store_true", help="also copy the picture to docs/images/ (README)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    todo = cases()
    t0 = time.time()
    runs = []
    with ComfyServer(os.path.join(a.out, "demo-server")) as server:
        print(f"ComfyUI up at {server.url} in {time.time() - t0:.1f}s", flush=True)
        info = server.get_json("/object_info")
        methods = combo_options(info["PriorPaintKSampler"]["input"]["required"]["method"])
        order = ["core"] + [m for m in methods if m != "core"]
        base = ui_to_api(load_workflow(a.workflow), info)
        sampler = next(k for k, v in base.items() if v["class_type"] == "PriorPaintKSampler")
        steps = int(base[sampler]["inputs"]["steps"])
        save_node = next(k for k, v in base.items() if v["class_type"] == "SaveImage")
        for i, (name, rgb, mask) in enumerate(todo):
            file = f"priorpaint_demo_{i}.png"
            save_rgba(rgb, mask, os.path.join(server.input_dir, file))
            for seed in range(a.seeds):
                for method in order:
                    prompt = json.loads(json.dumps(base))
                    for node in prompt.values():  # the template's example photo -> this case's photo and hole
                        if node["class_type"] == "PriorPaintExamplePhoto":
                            node.update(class_type="LoadImage", inputs={"image": file})
                    prompt[sampler]["inputs"].update(method=method, seed=seed)
                    prompt[save_node]["inputs"]["filename_prefix"] = f"demo_{i}_{method}_{seed}"
                    t1 = time.time()
                    entry = server.run(prompt)
                    seconds = time.time() - t1
                    img = np.asarray(Image.open(io.BytesIO(server.output_images(entry, save_node)[0])).convert("RGB"))
                    outside = np.abs(img.astype(int) - rgb.astype(int))[~mask].max()
                    assert outside <= 1, f"{method} changed pixels outside the mask by {outside}/255"
                    kl, seam = scores(img, mask)
                    runs.append({"image": name, "seed": seed, "method": method, "kl": kl, "seam": seam,
                                 "calls": PRESETS[method].evaluations(steps), "seconds": seconds, "img": img})
                    print(f"{name[:24]:24s} seed {seed} {method:9s} KL {kl:.3f} seam {seam:.3f} {seconds:4.1f} s",
                          flush=True)

    def mean(method, key, image=None):
        rs = [r[key] for r in runs if r["method"] == method and (image is None or r["image"] == image)]
        return sum(rs) / len(rs)

    rows = []
    for name, rgb, mask in todo:
        masked = rgb.copy()
        masked[mask] = (0.5 * masked[mask] + 0.5 * np.array([255, 0, 255])).astype(np.uint8)
        tiles = [label(grid([big(masked), seam_zoom(rgb, mask)], pad=2),
                       ["input (hole in magenta)", name.split(":")[-1][:30], "right: 4x zoom of the seam"], scale=1)]
        for method in order:
            r = next(r for r in runs if r["image"] == name and r["method"] == method and r["seed"] == 0)
            title = "ComfyUI core" if method == "core" else f"PriorPaint {method}"
            tiles.append(label(grid([big(r["img"]), seam_zoom(r["img"], mask)], pad=2), [
                f"{title}, {r['calls']} model calls",
                f"this seed: KL {r['kl']:.2f}, seam {r['seam']:.2f}",
                f"{a.seeds} seeds: KL {mean(method, 'kl', name):.2f}, seam {mean(method, 'seam', name):.2f}"], scale=1))
        rows.append(grid(tiles))
    width = max(r.shape[1] for r in rows)
    picture = np.concatenate([np.pad(r, ((0, 6), (0, width - r.shape[1]), (0, 0)), constant_values=255)
                              for r in rows], 0)
    summary = {m: {"kl": mean(m, "kl"), "seam": mean(m, "seam"), "calls": PRESETS[m].evaluations(steps)}
               for m in order}
    paths = {"compare": os.path.join(a.out, "demo_compare.png"), "json": os.path.join(a.out, "demo_compare.json"),
             "input": os.path.join(a.out, "demo_input.png")}
    Image.fromarray(picture).save(paths["compare"])
    save_rgba(todo[0][1], todo[0][2], paths["input"])
    with open(paths["json"], "w") as f:
        json.dump({"rule": f"{HOLE}px square hole where the {RING}px ring of known pixels varies least in colour",
                   "size": SIZE, "steps": steps, "seeds": a.seeds, "summary": summary,
                   "runs": [{k: v for k, v in r.items() if k != "img"} for r in runs]}, f, indent=1)
    print(json.dumps(paths, indent=1))
    for m, s_ in summary.items():
        print(f"{m:9s} {s_['calls']:3d} calls: mean KL {s_['kl']:.3f}, seam {s_['seam']:.3f} "
              f"({len(todo)} images x {a.seeds} seeds)")
    if a.docs:
        os.makedirs(os.path.join(ROOT, "docs", "images"), exist_ok=True)
        Image.fromarray(picture).save(os.path.join(ROOT, "docs", "images", "demo_compare.png"))
        with open(os.path.join(ROOT, "docs", "demo_compare.json"), "w") as f:
            json.dump({"rule": f"{HOLE}px square hole where the {RING}px ring of known pixels varies least in "
                               "colour", "size": SIZE, "steps": steps, "seeds": a.seeds, "summary": summary}, f,
                      indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
