"""make bench-aid: AID guidance against the unguided sampler at equal NFE, and the module's time cost.

1. Exact prior (the trainer's ``exact-mixture``): trains a module (tools/train/train_aid.py, seeded) unless
   ``--exact-module`` is given, then samples 1024 held-out problems (x* from the prior, random-width
   right-side holes) with ComfyUI's KSampler (euler, karras) with and without Apply AID Guidance.
   Terminal error = Ψ = ‖X − x*‖² (the training cost), mean over problems.
2. Demo model: the shipped module (demomodel/weights/aid/) on the held-out crops × the bench's four mask
   kinds, 4 samples each, euler at 8 and 20 steps: the module's own terminal cost Ψ (from its metadata),
   hole MSE, masked PSNR, harmony KL, seam score; and the ground truth's KL and seam for reference.

Both parts hand the sampler a latent whose hole is emptied (``empty_hole``), so the truth under the
hole cannot leak in through ComfyUI's initial ``latent + σ·noise``.
3. Cost: a module call vs a backbone call on the same input (median of 30), the wall time of
   guided vs unguided sampling runs, and (tools/studies/aid_flops.py) the FLOPs of a 4-channel module against
   ComfyUI's SD1.5 UNet at 512 px.

Writes docs/aid-bench.json (rendered into docs/benchmarks.md by tools/bench/bench.py).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(TOOLS, d) for d in ('lib', 'train')]
import comfyenv  # noqa: E402

comfyenv.comfy_setup()
import comfy.sample  # noqa: E402

from priorpaint.nodes import aid as N  # noqa: E402
from priorpaint.samplers import aid as A  # noqa: E402
from priorpaint.samplers import metrics as M  # noqa: E402
from priorpaint.support.bench import empty_hole  # noqa: E402
from priorpaint.support.bench_data import MASK_KINDS, center_crop, make_mask  # noqa: E402
from priorpaint.support.photos import held_out_images  # noqa: E402

SHIPPED = os.path.join(N.SHIPPED, "priorpaint-unet-aid.safetensors")


def sample(model, y, mask, steps, cond, seed=0):
    return comfy.sample.sample(model, comfy.sample.prepare_noise(y, seed), steps, 1.0, "euler", "karras", cond, cond, y,
                               noise_mask=mask, disable_pbar=True, seed=seed)


def exact_part(module_path: str | None, threads: int) -> dict:
    import train_aid

    if module_path is None:
        module_path = os.path.join(ROOT, "out", "aid", "exact-mixture.safetensors")
        args = ["--backbone", "exact-mixture", "--iterations", "1500", "--batch", "128", "--steps", "8",
                "--threads", str(threads), "--out", module_path]
        t0 = time.time()
        train_aid.main(args)
        train_min = (time.time() - t0) / 60
    else:
        train_min = None
    model, cond, data, _ = train_aid.backbone("exact-mixture")
    from priorpaint.support.comfy_models import empty_conditioning

    cond = empty_conditioning()
    g = N.load_guidance_file(module_path)
    guided = N.ApplyAIDGuidance.execute(model, g, 1.0).args[0]
    x, hole = data(1024, torch.Generator().manual_seed(12345), 4)
    out = {"module": os.path.relpath(module_path, ROOT), "train_minutes": train_min, "problems": 1024, "rows": []}
    for steps in (8, 20):
        for name, m in (("unguided", model), ("AID", guided)):
            res = torch.cat([sample(m, empty_hole(x[i:i + 256], hole[i:i + 256]), hole[i:i + 256], steps, cond)
                             for i in range(0, 1024, 256)])
            psi = float(((res - x) ** 2).flatten(1).sum(1).mean())
            out["rows"].append({"method": name, "steps": steps, "nfe": steps, "psi": psi})
            print(f"  exact {name:9s} euler {steps:3d} steps  Ψ {psi:.3f}", flush=True)
    return out


def demo_cases(images, size: int):
    """The demo part's inputs: ``(image name, mask kind, gt [1, 3, size, size] in [0, 1], mask, y)`` for every
    image × mask kind (seeded as ``ii·10 + mi``), ``y`` the sampler's latent (4 samples, hole emptied)."""
    for ii, (iname, im) in enumerate(images):
        gt = center_crop(im, size)[None]
        for mi, kind in enumerate(MASK_KINDS):
            mask = make_mask(kind, size, size, seed=ii * 10 + mi)
            yield iname, kind, gt, mask, empty_hole(gt * 2 - 1, mask).expand(4, -1, -1, -1).contiguous()


def to_image(latent: torch.Tensor) -> torch.Tensor:
    """The demo model's latent in [−1, 1] as an image in [0, 1]."""
    return ((latent.float() + 1) / 2).clamp(0, 1)


def demo_part(size: int, module: str = SHIPPED) -> dict:
    from priorpaint.nodes.models import LoadDemoModel

    model, vae, cond = LoadDemoModel.execute("priorpaint-unet", "eps").args
    g = N.load_guidance_file(module)
    guided = N.ApplyAIDGuidance.execute(model, g, 1.0).args[0]
    tr = g.info["training"]
    cost = {"harmony_weight": tr.get("harmony_weight", 0.0), "moment_weight": tr.get("moment_weight", 0.0),
            "lowpass": tr.get("lowpass", 1)}  # the module's own terminal cost Ψ
    rows, truth = [], []
    for iname, kind, gt, mask, y in demo_cases(held_out_images(), size):
        truth.append((float(M.harmony_kl(gt, mask).mean()), float(M.seam_score(gt, mask).mean())))
        for steps in (8, 20):
            for name, m in (("unguided", model), ("AID", guided)):
                t0 = time.perf_counter()
                res = sample(m, y, mask, steps, cond)
                wall = time.perf_counter() - t0
                xo = to_image(res)
                mse = float(M.masked_mse(xo, gt, mask).mean())
                psi = float(A.terminal_cost(res.float(), (gt * 2 - 1).expand_as(res), mask.reshape(1, 1, size, size),
                                            **cost).mean())
                rows.append({"image": iname, "mask": kind, "method": name, "steps": steps, "hole_mse": mse, "psi": psi,
                             "psnr": float(M.masked_psnr(xo, gt, mask).mean()),
                             "harmony": float(M.harmony_kl(xo, mask).mean()),
                             "seam": float(M.seam_score(xo, mask).mean()), "wall_s": wall})
                print(f"  demo {iname[:16]:16s} {kind:6s} {name:9s} {steps:3d} steps mse {mse:.4f} "
                      f"kl {rows[-1]['harmony']:.3f} seam {rows[-1]['seam']:.3f}", flush=True)
    summary = []
    for steps in (8, 20):
        for name in ("unguided", "AID"):
            sel = [r for r in rows if r["steps"] == steps and r["method"] == name]
            summary.append({"method": name, "steps": steps, "nfe": steps,
                            **{k: statistics.mean(r[k] for r in sel) for k in ("hole_mse", "psi", "psnr", "harmony",
                                                                                 "seam", "wall_s")}})
    wins = {k: sum(1 for a, b in zip([r for r in rows if r["method"] == "unguided"],
                                     [r for r in rows if r["method"] == "AID"]) if b[k] < a[k])
            for k in ("psi", "hole_mse", "harmony", "seam")}
    return {"module": os.path.relpath(module, ROOT), "info": g.info["training"], "size": size, "samples": 4,
            "terminal_cost": A.terminal_cost_name(**cost), "aid_better": wins,
            "truth": {"harmony": statistics.mean(t[0] for t in truth), "seam": statistics.mean(t[1] for t in truth)},
            "rows": rows, "summary": summary, "cases": len(rows) // 2,
            "params": sum(p.numel() for p in g.net.parameters()),
            "backbone_params": sum(p.numel() for p in model.model.diffusion_model.parameters())}


def cost_part(size: int) -> dict:
    from priorpaint.nodes.models import LoadDemoModel

    model, _, cond = LoadDemoModel.execute("priorpaint-unet", "eps").args
    g = N.load_guidance_file(SHIPPED)
    den = N.ve_denoiser(model, cond)
    x = torch.randn(4, 3, size, size, generator=torch.Generator().manual_seed(0))
    s = torch.full((4,), 1.0)
    k = torch.ones(4, 1, size, size)
    from priorpaint.support.bench import median_seconds

    with torch.no_grad():
        t_model = median_seconds(lambda: den(x, s))
        t_module = median_seconds(lambda: g.net(s, x, s, k, x))
    return {"size": size, "batch": 4, "backbone_ms": 1e3 * t_model, "module_ms": 1e3 * t_module,
            "ratio": t_module / t_model}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--exact-module", default=None)
    ap.add_argument("--demo-module", default=SHIPPED, help="module evaluated on the demo model (default: shipped)")
    ap.add_argument("--demo-only", action="store_true", help="only the demo-model part (printed, nothing written)")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "aid-bench.json"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_flush_denormal(True)
    if a.demo_only:
        with torch.inference_mode():
            d = demo_part(a.size, a.demo_module)
        for r in d["summary"]:
            print(r)
        print("AID better in", d["aid_better"], "of", d["cases"], "cases; ground truth", d["truth"])
        return
    with torch.inference_mode():
        print("cost:", flush=True)
        cost = cost_part(a.size)
        print(" ", cost, flush=True)
        print("demo model:", flush=True)
        demo = demo_part(a.size, a.demo_module)
    print("exact prior:", flush=True)
    exact = exact_part(a.exact_module, a.threads)  # trains first (outside inference mode) unless given
    import subprocess

    r = subprocess.run([sys.executable, os.path.join(TOOLS, "studies", "aid_flops.py"), "--time"], capture_output=True, text=True,
                       check=True)
    cost["sd15"] = json.loads(r.stdout.strip().splitlines()[-1])
    with open(a.out, "w") as f:
        json.dump({"exact": exact, "demo": demo, "cost": cost}, f, indent=1)
    print("wrote", a.out)


if __name__ == "__main__":
    main()
