"""make bench-presets: the Inpaint KSampler's presets side by side, and crop & stitch on a large photo
-> docs/presets.json (read into docs/benchmarks.md, section h).

    python tools/bench/bench_presets.py [--steps 20] [--size 128] [--full-steps 4] [--seed 0]

(a) Presets on the demo model: every ``method`` of the Inpaint KSampler (nodes/ksampler.py) around the node's
    default sampler and scheduler (``--sampler`` / ``--scheduler`` to choose others) at the same ``--steps``,
    on the held-out crops × the four mask kinds of `make bench`, 2 samples each:
    NFE counted by the harness, wall seconds, harmony KL (lower is better), seam (1 = invisible), hole
    PSNR (reported, never optimised for). Means over images and masks. Beside them LanPaint 2.1.0 through
    its own KSampler node (tools/lib/peers.py; skipped when its archive is absent) at its defaults (euler,
    karras, NumSteps 5), both samples in one call and one sample per call.
(c) Step counts: every preset at 2, 4, 8 and 20 steps (euler, simple), EPS and flow, on the first
    STEP_IMAGES held-out crops x 4 masks x 2 samples: harmony, seam and the hole's largest |x|.
(b) Crop & stitch: a 2048×1536 photo (a held-out photo upscaled) with a 60×80 px hole, inpainted by the
    demo model with the 'balanced' preset at ``--full-steps`` steps, once at full size and once through
    Inpaint Crop (0.25 MP) → Inpaint Encode → Inpaint KSampler → decode → Inpaint Stitch: wall seconds of
    each, and the largest change outside the hole's feather band (must be 0).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(TOOLS, d) for d in ('lib',)]
import comfyenv  # noqa: E402
import peers  # noqa: E402

comfyenv.comfy_setup()
import comfy.utils  # noqa: E402

comfy.utils.set_progress_bar_enabled(False)  # one line per run, not a bar per run

from priorpaint.nodes.inpaint import InpaintCrop, InpaintEncode, InpaintStitch  # noqa: E402
from priorpaint.nodes.ksampler import DEFAULT_SAMPLER, DEFAULT_SCHEDULER, PRESETS, PriorPaintKSampler  # noqa: E402
from priorpaint.nodes.models import LoadDemoModel  # noqa: E402
from priorpaint.samplers import metrics as M  # noqa: E402
from priorpaint.samplers.masks import dilate  # noqa: E402
from priorpaint.support import bench as B  # noqa: E402
from priorpaint.support.bench_data import MASK_KINDS, center_crop, make_mask  # noqa: E402
from priorpaint.support.photos import held_out_images  # noqa: E402

ROOT = comfyenv.ROOT


# LanPaint at its default NumSteps (5), both samples in one call and one per call; its other NumSteps are in
# `make bench-posterior` (here each costs ~25 s per image and mask on 2 cores)
PEER_SETTINGS = [(5, False), (5, True)]


def presets_on_demo(steps: int, size: int, seed: int, with_lanpaint: bool, sampler: str = DEFAULT_SAMPLER,
                    scheduler: str = DEFAULT_SCHEDULER, per_run: bool = False, prediction: str = "eps",
                    images: int | None = None) -> tuple[list[dict], list[dict]]:
    model, vae, cond = LoadDemoModel.execute("priorpaint-unet", prediction).result[:3]
    counted = B.Counted(model)
    # name -> (row fields, run(latent) -> samples)
    runs = {m: ({"method": m, "label": PRESETS[m].label},
                lambda lat, m=m: PriorPaintKSampler.execute(counted.model, seed, steps, 1.0, sampler, scheduler,
                                                            cond, cond, lat, 1.0, m).result[0]["samples"])
            for m in PRESETS}
    node = peers.load_lanpaint() if with_lanpaint else None
    if node is not None:
        for num, per_sample in PEER_SETTINGS:
            setting = f"NumSteps {num}, " + ("one sample per call" if per_sample else "batch of 2")
            run = peers.lanpaint_sampler(node, steps, num, per_sample)
            runs[f"LanPaint {setting}"] = ({"method": peers.LANPAINT, "label": f"its LanPaint KSampler, {setting}",
                                            "peer": True},
                                           lambda lat, run=run: run(counted.model, cond, cond, lat, seed))
    per = {name: [] for name in runs}
    for ii, (iname, im) in enumerate(held_out_images()[:images]):
        gt = center_crop(im, size)[None]
        for mi, kind in enumerate(MASK_KINDS):
            mask = make_mask(kind, size, size, seed=seed * 1000 + ii * 10 + mi)
            latent = {"samples": B.empty_hole(gt * 2 - 1, mask).expand(2, -1, -1, -1).contiguous(), "noise_mask": mask}
            for name, (_, run) in runs.items():
                counted.reset()
                t0 = time.perf_counter()
                out = run(latent)
                wall = time.perf_counter() - t0
                x = ((out.float() + 1) / 2).clamp(0, 1)
                per[name].append({"nfe": counted.nfe(2)[0], "wall_s": wall,
                                  "harmony": float(M.harmony_kl(x, mask).mean()),
                                  "seam": float(M.seam_score(x, mask).mean()),
                                  "psnr": float(M.masked_psnr(x, gt, mask).mean()),
                                  "hole_max": float((out.float().abs() * (mask > 0.5)).amax())})
                r = per[name][-1]
                print(f"  {iname[:16]:16s} {kind:6s} {name:9s} nfe {r['nfe']:4.0f} kl {r['harmony']:.3f} "
                      f"seam {r['seam']:.3f} psnr {r['psnr']:.2f} {wall:.2f}s", flush=True)
    rows, peer_rows = [], []
    for name, rs in per.items():
        fields = dict(runs[name][0])
        mean = {k: sum(r[k] for r in rs) / len(rs) for k in rs[0]}
        if per_run:  # each image x mask run, in the same order for every method (paired comparisons)
            mean["runs"] = rs
        (peer_rows if fields.pop("peer", False) else rows).append({**fields, "steps": steps, **mean})
    return rows, peer_rows


STEP_COUNTS = (2, 4, 8, 20)  # few-step models (Turbo, Lightning, LCM, Hyper, schnell) to the usual 20
STEP_IMAGES = 2  # held-out images in the step-count table (x 4 masks x 2 samples): about 3 min per prediction


def by_step_count(seed: int, predictions=("eps", "flow")) -> list[dict]:
    """Every preset at 2, 4, 8 and 20 steps on the node's defaults, EPS and flow: harmony, seam, and the hole's
    largest |x| over all runs (latents live in [-1, 1]; a preset must not leave that range at few steps)."""
    out = []
    for prediction in predictions:
        for steps in STEP_COUNTS:
            rows, _ = presets_on_demo(steps, 128, seed, False, prediction=prediction, per_run=True,
                                      images=STEP_IMAGES)
            for r in rows:
                runs = r.pop("runs")
                out.append({"prediction": prediction, "steps": steps, "method": r["method"], "nfe": r["nfe"],
                            "harmony": r["harmony"], "seam": r["seam"],
                            "hole_max": max(x["hole_max"] for x in runs), "wall_s": r["wall_s"]})
                print(f"  {prediction:4s} {steps:2d} steps {r['method']:9s} kl {r['harmony']:.3f} seam {r['seam']:.3f} "
                      f"max|x| {out[-1]['hole_max']:.2f}", flush=True)
    return out


def crop_and_stitch(full_steps: int, seed: int) -> dict:
    from PIL import Image

    model, vae, cond = LoadDemoModel.execute("priorpaint-unet", "eps").result[:3]
    _, im = held_out_images()[0]
    big = torch.nn.functional.interpolate(im[None], size=(1536, 2048), mode="bicubic", align_corners=False).clamp(0, 1)
    image = big.movedim(1, -1).contiguous()
    mask = torch.zeros(1, 1536, 2048)
    mask[:, 700:760, 900:980] = 1
    feather = 8.0

    def full():
        latent = InpaintEncode.execute(image, mask, vae, 0, 0.0, "neutral grey").result[0]
        out = PriorPaintKSampler.execute(model, seed, full_steps, 1.0, DEFAULT_SAMPLER, DEFAULT_SCHEDULER, cond, cond,
                                         latent, 1.0, "balanced").result[0]
        return vae.decode(out["samples"])

    def cropped():
        crop, cmask, info = InpaintCrop.execute(image, mask, 0.5, 32, 0.25, 8).result
        latent = InpaintEncode.execute(crop, cmask, vae, 0, 0.0, "neutral grey").result[0]
        out = PriorPaintKSampler.execute(model, seed, full_steps, 1.0, DEFAULT_SAMPLER, DEFAULT_SCHEDULER, cond, cond,
                                         latent, 1.0, "balanced").result[0]
        return InpaintStitch.execute(info, vae.decode(out["samples"]), feather, "lab_mean_std").result[0], crop.shape

    t0 = time.perf_counter()
    stitched, crop_shape = cropped()
    t_crop = time.perf_counter() - t0
    print(f"  crop & stitch ({crop_shape[2]}x{crop_shape[1]} crop): {t_crop:.1f}s", flush=True)
    t0 = time.perf_counter()
    full()
    t_full = time.perf_counter() - t0
    print(f"  full size 2048x1536: {t_full:.1f}s", flush=True)
    outside = dilate(mask[:, None], int(feather))[:, 0] == 0
    change = float((stitched - image).abs()[outside].max())
    os.makedirs(os.path.join(ROOT, "out"), exist_ok=True)
    Image.fromarray((stitched[0] * 255).round().byte().numpy()).save(os.path.join(ROOT, "out", "crop_stitch.png"))
    return {"image": "2048x1536", "hole": "60x80", "crop": f"{crop_shape[2]}x{crop_shape[1]}", "preset": "balanced",
            "steps": full_steps, "crop_s": t_crop, "full_s": t_full, "fraction": t_crop / t_full,
            "max_change_outside_band": change, "feather": feather}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--full-steps", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-lanpaint", action="store_true")
    ap.add_argument("--sampler", default=DEFAULT_SAMPLER)
    ap.add_argument("--scheduler", default=DEFAULT_SCHEDULER)
    ap.add_argument("--no-step-counts", action="store_true", help="skip the table at 2, 4, 8, 20 steps")
    ap.add_argument("--only-step-counts", action="store_true",
                    help="rerun only the table at 2, 4, 8, 20 steps into the existing docs/presets.json")
    a = ap.parse_args()
    t0 = time.time()
    path = os.path.join(ROOT, "docs", "presets.json")
    if a.only_step_counts:
        with open(path) as f:
            out = json.load(f)
        with torch.inference_mode():
            out["by_steps"], out["by_steps_images"] = by_step_count(a.seed), STEP_IMAGES
        with open(path, "w") as f:
            json.dump(out, f, indent=1)
            f.write("\n")
        print("wrote", path)
        return
    with torch.inference_mode():
        rows, peer_rows = presets_on_demo(a.steps, a.size, a.seed, not a.no_lanpaint, a.sampler, a.scheduler)
        cs = crop_and_stitch(a.full_steps, a.seed)
        step_rows = [] if a.no_step_counts else by_step_count(a.seed)
    out = {"presets": rows, "peers": peer_rows, "crop_stitch": cs, "by_steps": step_rows, "by_steps_images": STEP_IMAGES, "sampler": a.sampler, "scheduler": a.scheduler,
           "size": a.size, "images": len(held_out_images()),
           "masks": list(MASK_KINDS), "samples": 2, "minutes": (time.time() - t0) / 60}
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    for r in rows + peer_rows:
        print(f"{r['method']:9s} {r['label'][:40]:40s} NFE {r['nfe']:.0f} KL {r['harmony']:.3f} seam {r['seam']:.3f} PSNR {r['psnr']:.2f} "
              f"{r['wall_s']:.2f}s")
    print(f"crop & stitch {cs['crop_s']:.1f}s vs full size {cs['full_s']:.1f}s = {cs['fraction']:.3f}; "
          f"max change outside the feather band {cs['max_change_outside_band']}")
    print("wrote", path)


if __name__ == "__main__":
    main()
