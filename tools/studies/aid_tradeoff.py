"""Why AID's squared-error module cannot lower hole MSE, harmony KL and seam together on the demo bench.

Takes the unguided fills of the AID bench (ComfyUI KSampler, euler, karras, 8 steps, empty hole, 4 samples
per image × mask) and edits only the fill's per-channel mean and spread over the hole, using nothing but
the known region — the cheapest corrections a guidance module could learn:

- ``shrink ×f``: the fill's deviations from its own hole mean scaled by f (what the shipped module does: its
  fills have about 0.6× the unguided spread);
- ``mean → known``: the fill's hole mean moved to the known region's mean, spread kept;
- ``mean → known, spread ×f``: the same with the spread scaled by f.

Each edit is scored with the bench's metrics on two sets: the AID bench's held-out crops (3 of 5 are
stationary textures) and the same-size centre crops of the training photos the module learns from. The
shipped module's own row (and its fills' spread and mean error) is measured next to them.

    python tools/studies/aid_tradeoff.py            # ≈ 5 min on 2 CPU cores, writes docs/aid-tradeoff.json
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(TOOLS, d) for d in ('lib', 'bench', 'train')]
import comfyenv  # noqa: E402

comfyenv.comfy_setup()
from bench_aid import SHIPPED, demo_cases, sample, to_image  # noqa: E402

from priorpaint.nodes import aid as N  # noqa: E402
from priorpaint.samplers import metrics as M  # noqa: E402
from priorpaint.support.photos import held_out_images, training_images  # noqa: E402

EDITS = [("shrink ×0.7", None, 0.7), ("mean → known", "known", 1.0)] + [
    (f"mean → known, spread ×{f}", "known", f) for f in (1.1, 1.2, 1.3)]


def edit_fill(x: torch.Tensor, gt: torch.Tensor, hole: torch.Tensor, target: str | None, factor: float) -> torch.Tensor:
    """``x`` [B, 3, H, W] in [0, 1] with its hole's per-channel deviations scaled by ``factor`` around a new
    mean: the known region's mean of ``gt`` (target ``"known"``) or the fill's own (``None``)."""
    h = x[:, :, hole]
    own = h.mean(-1, keepdim=True)
    mean = gt[:, :, ~hole].mean(-1, keepdim=True).expand_as(own) if target == "known" else own
    out = x.clone()
    out[:, :, hole] = ((h - own) * factor + mean).clamp(0, 1)
    return out


def spread_ratio(x: torch.Tensor, gt: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """``[B]``: the fill's per-channel standard deviation over the hole (bool ``[H, W]``) divided by the
    truth's, averaged over channels (a truth flatter than 1e-3 counts as 1e-3)."""
    return (x[:, :, hole].std(-1) / gt[:, :, hole].std(-1).clamp_min(1e-3)).mean(-1)


def score(x, gt, mask, hole) -> dict:
    return {"hole_mse": float(M.masked_mse(x, gt, mask).mean()),
            "harmony": float(M.harmony_kl(x, mask).mean()), "seam": float(M.seam_score(x, mask).mean()),
            "spread_ratio": float(spread_ratio(x, gt, hole).mean()),
            "mean_err": float((x[:, :, hole].mean(-1) - gt[:, :, hole].mean(-1)).abs().mean())}


def run_set(images, model, guided, cond, size: int, steps: int) -> list[dict]:
    rows = []
    for iname, kind, gt, mask, y in demo_cases(images, size):
        hole = mask[0, 0] > 0.5
        plain = to_image(sample(model, y, mask, steps, cond))
        cases = [("unguided", plain), ("AID module", to_image(sample(guided, y, mask, steps, cond))),
                 ("ground truth", gt)]
        cases += [(name, edit_fill(plain, gt, hole, target, f)) for name, target, f in EDITS]
        for name, x in cases:
            rows.append({"image": iname, "mask": kind, "method": name, **score(x, gt, mask, hole)})
        print(f"  {iname} {kind}", flush=True)
    return rows


def summarise(rows: list[dict]) -> list[dict]:
    out = []
    base = [r for r in rows if r["method"] == "unguided"]
    for name in dict.fromkeys(r["method"] for r in rows):
        sel = [r for r in rows if r["method"] == name]
        s = {"method": name, **{k: statistics.mean(r[k] for r in sel)
                                for k in ("hole_mse", "harmony", "seam", "spread_ratio", "mean_err")}}
        s["all_three_lower"] = sum(1 for a, b in zip(base, sel) if all(b[k] < a[k] for k in ("hole_mse", "harmony", "seam")))
        s["cases"] = len(sel)
        out.append(s)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--module", default=SHIPPED)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "aid-tradeoff.json"))
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    from priorpaint.nodes.models import LoadDemoModel

    model, _, cond = LoadDemoModel.execute("priorpaint-unet", "eps").args
    guided = N.ApplyAIDGuidance.execute(model, N.load_guidance_file(a.module), 1.0).args[0]
    result = {"module": os.path.relpath(a.module, ROOT), "size": a.size, "steps": a.steps, "samples": 4, "sets": {}}
    with torch.inference_mode():
        for set_name, images in (("held-out (AID bench)", held_out_images()), ("training photos", training_images())):
            print(set_name, flush=True)
            result["sets"][set_name] = summarise(run_set(images, model, guided, cond, a.size, a.steps))
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)
    for set_name, rows in result["sets"].items():
        print(f"\n{set_name}\n| fill | hole MSE | KL | seam | spread / truth | mean error | all three lower |")
        print("|---|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['method']} | {r['hole_mse']:.4f} | {r['harmony']:.3f} | {r['seam']:.3f} | "
                  f"{r['spread_ratio']:.2f} | {r['mean_err']:.4f} | {r['all_three_lower']}/{r['cases']} |")
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
