"""make soak: 50 queued prompts mixing every PriorPaint node against one real ComfyUI server, some
interrupted mid-run; reports the server's resident memory after a warm-up and at the end.

    python tools/soak.py [--prompts 50] [--warmup 10]     -> docs/soak.json (rendered in docs/benchmarks.md)

Every prompt changes a seed or widget, so the nodes really re-execute (ComfyUI caches unchanged ones).
Every 7th prompt is a long one (VIPaint, RePaint+ or the Harmonized Sampler run for minutes) and is
interrupted through /interrupt after 1 s. Goal: ≤ 5% RSS growth after warm-up.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import psutil

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))

from comfy_client import ComfyServer  # noqa: E402
from prompts import BASE, POS, RPP, sampler_custom  # noqa: E402


def prompt(kind: str, v: int, long: bool = False) -> dict:
    """One prompt of ``kind``; ``long`` makes it run for minutes (to be interrupted mid-run)."""
    p = {k: dict(n, inputs=dict(n["inputs"])) for k, n in BASE.items()}
    decode = True
    if kind == "gmm":
        p["10"] = {"class_type": "PriorPaintGMMSeed", "inputs": {"samples": ["3", 0], "mask": ["1", 1], "components": 3,
                                                                  "seed": v, "max_points": 500, "noise_blend": 0.0}}
    elif kind == "dce":
        p["10"] = {"class_type": "PriorPaintDCECheck", "inputs": {"image": ["1", 0], "mask": ["1", 1],
                                                                   "bins": 16 + v % 32, "texture": bool(v % 2)}}
        p["11"] = {"class_type": "PreviewImage", "inputs": {"images": ["10", 2]}}
        decode = False
    elif kind == "composite":
        p["10"] = {"class_type": "PriorPaintComposite", "inputs": {"original": ["1", 0], "inpainted": ["1", 0],
                                                                    "mask": ["1", 1], "feather": float(v % 5),
                                                                    "colour_match": "lab_mean_std"}}
        p["11"] = {"class_type": "PreviewImage", "inputs": {"images": ["10", 0]}}
        decode = False
    elif kind in ("repaint_plus", "harmonized"):
        p["11"] = {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}}
        p["12"] = ({"class_type": "PriorPaintRePaintPlusSampler", "inputs": dict(RPP, sampler=["11", 0])}
                   if kind == "repaint_plus" else
                   {"class_type": "PriorPaintHarmonizedSampler", "inputs": {
                       "checkpoint": 0.5, "attempts": 2, "delta": 1, "threshold_mode": "fixed", "threshold": 0.5,
                       "components": 3, "max_points": 500, "noise_blend": 0.0, "texture": False,
                       "sampler": ["11", 0], "vae": ["2", 1]}})
        p.update(sampler_custom("12", v))
        p["13"]["inputs"]["steps"] = 200 if long else 10
        if long and kind == "repaint_plus":
            p["12"]["inputs"]["resamples"] = 50
    elif kind == "vipaint":
        p["10"] = {"class_type": "PriorPaintVIPaint", "inputs": {
            "model": ["2", 0], **POS, "latent_image": ["4", 0], "vae": ["2", 1], "image": ["1", 0], "seed": v,
            "cfg": 1.0, "t_e": 550, "t_s": 400, "keypoints": 2, "iterations": 5, "lr_mean": 0.1, "lr_logvar": 0.001,
            "lr_gamma": 0.01, "prior_weight": 100.0, "hier_weight": 100.0, "recon_weight": 100.0, "dps_steps": 5,
            "dps_scale": 0.5, "samples": 2}}
        if long:
            p["10"]["inputs"].update(iterations=1000, dps_steps=1000)
    elif kind == "aid":
        p["11"] = {"class_type": "PriorPaintLoadAIDGuidance",
                   "inputs": {"guidance_name": "priorpaint-unet-aid.safetensors"}}
        p["12"] = {"class_type": "PriorPaintApplyAIDGuidance", "inputs": {"model": ["2", 0], "guidance": ["11", 0],
                                                                           "strength": 1.0}}
        p["10"] = {"class_type": "KSampler", "inputs": {"model": ["12", 0], **POS, "latent_image": ["4", 0], "seed": v,
                                                        "steps": 10, "cfg": 1.0, "sampler_name": "euler",
                                                        "scheduler": "karras", "denoise": 1.0}}
    if decode:
        p["20"] = {"class_type": "VAEDecode", "inputs": {"samples": ["10", 0], "vae": ["2", 1]}}
        p["21"] = {"class_type": "PreviewImage", "inputs": {"images": ["20", 0]}}
    return p


KINDS = ("gmm", "dce", "composite", "repaint_plus", "harmonized", "vipaint", "aid")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompts", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "soak.json"))
    a = ap.parse_args()
    from harness import photo_with_hole

    rows = []
    with tempfile.TemporaryDirectory() as tmp, ComfyServer(tmp) as server:
        photo_with_hole(server)
        proc = psutil.Process(server.proc.pid)
        rss = lambda: proc.memory_info().rss / 2**20  # noqa: E731
        base = None
        t0 = time.time()
        for i in range(a.prompts):
            interrupt = i % 7 == 6
            kind = ("vipaint", "repaint_plus", "harmonized")[(i // 7) % 3] if interrupt else KINDS[i % len(KINDS)]
            pid = server.queue(prompt(kind, 1000 + i, long=interrupt))
            if interrupt:
                time.sleep(1.0)
                server.interrupt()
            entry = server.wait(pid, timeout=600)
            status = entry["status"]["status_str"]
            interrupted = any(m[0] == "execution_interrupted" for m in entry["status"]["messages"])
            if i + 1 == a.warmup:
                base = rss()
            rows.append({"i": i, "kind": kind, "interrupt_sent": interrupt, "status": status,
                         "interrupted": interrupted, "rss_mib": rss()})
            print(f"{i + 1:3d} {kind:12s} {status:8s}{' (interrupted)' if interrupted else ''} RSS {rss():.0f} MiB",
                  flush=True)
        final = rss()
    failed = [r for r in rows if r["status"] != "success" and not r["interrupted"]]
    out = {"prompts": a.prompts, "warmup": a.warmup, "rss_after_warmup_mib": base, "rss_final_mib": final,
           "growth_pct": 100 * (final - base) / base, "interrupted": sum(r["interrupted"] for r in rows),
           "failed": len(failed), "minutes": (time.time() - t0) / 60, "rows": rows}
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
    print(f"RSS after warm-up {base:.0f} MiB, final {final:.0f} MiB: {out['growth_pct']:+.1f}%; "
          f"{out['interrupted']} interrupted, {len(failed)} failed; wrote {a.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
