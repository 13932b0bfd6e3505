"""make bench-base-samplers: RePaint+ around different base samplers, beside core inpainting with the
same sampler, at equal model evaluations (NFE) -> docs/base-samplers.json (read into docs/benchmarks.md).

    python tools/bench/bench_base_samplers.py [--samples 512] [--seed 0]

RePaint+ (variant B, one realigned round per call, κ ≤ 4) now runs inside one run of its base sampler
(docs/repaint-plus.md), so any ComfyUI sampler can carry it. For each base sampler and budget N:
core replace with that sampler at N steps against RePaint+ around it at N/2 steps (each call = one
round + the prediction: N evaluations, flow models included: their σ = 1 call stands in for a later level).

(a) the exact priors of `make bench` (linear-Gaussian and Gaussian mixture, d = 48, EPS and flow
    wrappers): sliced W2 to exact posterior samples beside the exact-vs-exact floor;
(b) the demo model on held-out crops (4 masks, 2 samples each): harmony KL, seam, hole PSNR, and the
    wall time per evaluation relative to core euler in the same run (RePaint+'s overhead).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as full  # noqa: E402  (tools/bench/bench.py: its problems, scheduler and harness setup)

from priorpaint.samplers import metrics as M  # noqa: E402
from priorpaint.support import bench as B  # noqa: E402
from priorpaint.support.bench_data import MASK_KINDS, center_crop, make_mask  # noqa: E402
from priorpaint.support.comfy_models import empty_conditioning, exact_prior_model  # noqa: E402
from priorpaint.support.photos import held_out_images  # noqa: E402

BASES = ("euler", "dpmpp_2m", "dpmpp_2m_sde", "uni_pc")
BUDGETS = (20, 40)


def methods(sigma_data: float):
    out = []
    for nfe in BUDGETS:
        for base in BASES:
            out.append((base, nfe, "core replace", B.core_replace(base, nfe)))
            out.append((base, nfe, "RePaint+", B.repaint_plus(nfe // 2, "B", 1, 1, sigma_data=sigma_data, base=base)))
    return out


def exact_rows(samples: int, seed: int) -> list[dict]:
    rows = []
    with torch.inference_mode(False):
        problems = full.exact_problems(seed)
    for pname, prior, y, known in problems:
        post = prior.posterior(y, known)
        exact = post.sample(samples, torch.Generator().manual_seed(seed + 1)).float()
        exact2 = post.sample(samples, torch.Generator().manual_seed(seed + 2)).float()
        floor = M.sliced_wasserstein2(exact, exact2, generator=torch.Generator().manual_seed(seed + 3))
        mask = (~known).float().reshape(1, *full.SHAPE)[:, :1]
        for prediction in ("eps", "flow"):
            counted = B.Counted(exact_prior_model(prior, prediction))
            task = B.Task(B.empty_hole(y.float().reshape(1, *full.SHAPE), mask).expand(samples, -1, -1, -1).contiguous(),
                          mask, empty_conditioning(), empty_conditioning(), seed, full.SCHEDULERS[prediction])
            with torch.inference_mode():
                for base, budget, name, method in methods(1.0):
                    out, rec = B.run_method(method, counted, task)
                    flat = out.reshape(samples, -1).double()
                    sw2 = M.sliced_wasserstein2(flat, exact.double(), generator=torch.Generator().manual_seed(seed + 3))
                    rows.append({"problem": pname, "prediction": prediction, "base": base, "budget": budget,
                                 "method": name, "nfe": rec["nfe_cond"], "sw2": sw2, "floor": floor})
                    print(f"  {pname[:14]:14s} {prediction:4s} {base:13s} {budget:3d} {name:13s} nfe {rec['nfe_cond']:4.0f} "
                          f"sw2 {sw2:.4f} ({sw2 / floor:.2f}× floor)", flush=True)
    return rows


def image_rows(seed: int, size: int = 64, samples: int = 2) -> list[dict]:
    from priorpaint.nodes.models import LoadDemoModel

    images = held_out_images()
    images = [images[0], images[-1]]
    model, vae, cond = LoadDemoModel.execute("priorpaint-unet", "eps").result
    counted = B.Counted(model)
    rows = []
    with torch.inference_mode():
        for ii, (iname, im) in enumerate(images):
            gt = center_crop(im, size)[None]
            for mi, kind in enumerate(MASK_KINDS):
                mask = make_mask(kind, size, size, seed=seed * 1000 + ii * 10 + mi)
                task = B.Task(B.empty_hole(gt * 2 - 1, mask).expand(samples, -1, -1, -1).contiguous(), mask, cond, cond,
                              seed)
                for base, budget, name, method in methods(0.5):
                    out, rec = B.run_method(method, counted, task)
                    x = ((out.float() + 1) / 2).clamp(0, 1)
                    rows.append({"image": iname, "mask": kind, "base": base, "budget": budget, "method": name,
                                 "nfe": rec["nfe_cond"], "wall_s": rec["wall_s"],
                                 "harmony": float(M.harmony_kl(x, mask).mean()), "seam": float(M.seam_score(x, mask).mean()),
                                 "psnr": float(M.masked_psnr(x, gt, mask).mean())})
                print(f"  demo {iname[:16]:16s} {kind:6s} done", flush=True)
    return rows


def summarise(exact: list[dict], image: list[dict]) -> dict:
    def mean(vals):
        vals = list(vals)
        return sum(vals) / len(vals) if vals else float("nan")

    table = []
    for budget in BUDGETS:
        for base in BASES:
            for name in ("core replace", "RePaint+"):
                sel = [r for r in exact if r["base"] == base and r["budget"] == budget and r["method"] == name]
                img = [r for r in image if r["base"] == base and r["budget"] == budget and r["method"] == name]
                row = {"base": base, "budget": budget, "method": name, "nfe_demo": mean(r["nfe"] for r in img)}
                for pred in ("eps", "flow"):
                    for key, prob in (("lin", "linear"), ("mix", "mixture")):
                        s = [r for r in sel if r["prediction"] == pred and prob in r["problem"]]
                        row[f"sw2_{key}_{pred}"] = mean(r["sw2"] for r in s)
                        row[f"floor_{key}"] = mean(r["floor"] for r in s)
                    row[f"nfe_{pred}"] = mean(r["nfe"] for r in sel if r["prediction"] == pred)
                row.update(harmony=mean(r["harmony"] for r in img), seam=mean(r["seam"] for r in img),
                           psnr=mean(r["psnr"] for r in img))
                # wall time per evaluation relative to core euler at the same budget (same images and masks)
                eul = [r for r in image if r["base"] == "euler" and r["budget"] == budget and r["method"] == "core replace"]
                per_eval = sum(r["wall_s"] for r in eul) / max(sum(r["nfe"] for r in eul), 1)
                row["time_per_eval_x_core_euler"] = (sum(r["wall_s"] for r in img) / max(sum(r["nfe"] for r in img), 1)
                                                     / per_eval)
                table.append(row)
    return {"table": table}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=512)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=os.path.join(full.ROOT, "docs", "base-samplers.json"))
    ap.add_argument("--summarise-only", action="store_true", help="rebuild the summary from the rows in --out")
    a = ap.parse_args()
    t0 = time.time()
    if a.summarise_only:
        with open(a.out) as f:
            old = json.load(f)
        exact, image = old["exact_rows"], old["image_rows"]
        t0 -= old["minutes"] * 60
    else:
        exact = exact_rows(a.samples, a.seed)
        image = image_rows(a.seed)
    d = summarise(exact, image)
    d.update(samples=a.samples, seed=a.seed, minutes=(time.time() - t0) / 60, threads=torch.get_num_threads(),
             demo="2 held-out crops 64², masks " + ", ".join(MASK_KINDS) + ", 2 samples each",
             exact_rows=exact, image_rows=image)
    with open(a.out, "w") as f:
        json.dump(d, f, indent=1)
    print("\n".join(full.base_sampler_section(d)))
    print(f"wrote {a.out} in {d['minutes']:.1f} min")


if __name__ == "__main__":
    main()
