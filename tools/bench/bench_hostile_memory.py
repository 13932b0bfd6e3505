"""Peak memory of the pack's nodes on hostile inputs (issue 18), each case in a fresh process.

    python tools/bench/bench_hostile_memory.py [--check] [--out docs/hostile-memory.json]

Each case runs in its own subprocess; its cost is the peak resident set size (``VmHWM``) minus the RSS
after ComfyUI and the pack are imported and the inputs built, so it measures what the node itself
allocates. ``--check`` fails when a case exceeds its documented bound (memory, never time). Rendered
into docs/benchmarks.md by ``tools/bench/bench.py``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(TOOLS, d) for d in ('lib',)]
from packimport import ROOT  # noqa: E402

MiB = 2**20
# case: (what, bound in MiB above the process's RSS with the inputs built, why that bound)
CASES = {
    "aid_width_30000": ("Load AID Guidance: a 60 KB file declaring net.width = 30000 (asked for 32 GB before)", 64,
                        "nothing declared is allocated before the schema and the header shapes are checked"),
    "aid_width_4096": ("Load AID Guidance: a 60 KB file declaring net.width = 4096 (2.3 GB before)", 64,
                       "as above"),
    "gmm_max_points_tiny": ("GMM Seed, max_points = 10,000,000 (the widget's maximum) on an 8x8 latent", 64,
                            "points are drawn without replacement, at most the 48 known positions"),
    "gmm_max_points_4096": ("GMM Seed, max_points = 10,000,000 on a 512x512x4 latent (a 4096² SD photo)", 512,
                            "≤ the known positions (~190k) × C float64, EM in chunks of 32k points"),
    "dce_4096": ("DCE Check on a 4096x4096 image (input 192 MiB)", 1024,
                 "heat map computed on ≤ 512² positions and upsampled; outputs are an IMAGE and a MASK of the "
                 "image's size (256 MiB together)"),
}


def rss_mib(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(field)


def child(case: str) -> dict:
    sys.path.insert(0, os.path.join(TOOLS, "lib"))
    import comfyenv

    comfyenv.comfy_setup()
    import tempfile

    import torch

    torch.set_num_threads(2)
    import folder_paths

    from priorpaint.nodes import aid as AIDN
    from priorpaint.nodes.isdiff import DCECheck, GMMSeed

    g = torch.Generator().manual_seed(0)
    if case.startswith("aid_"):
        from safetensors.torch import save_file

        d = tempfile.mkdtemp()
        width = int(case.split("_")[-1])
        meta = {"format": "priorpaint.aid_guidance", "format_version": "1",
                "net": json.dumps({"channels": 3, "width": width, "emb": 32, "sigma_data": 0.5}), "backbone": "{}",
                "time": json.dumps({"sigma_min": 0.03, "sigma_max": 14.6, "rho": 7.0}), "training": "{}"}
        save_file({"out.weight": torch.zeros(3, 16, 3, 3), "pad": torch.zeros(14000)},
                  os.path.join(d, "hostile.safetensors"), metadata=meta)
        folder_paths.folder_names_and_paths[AIDN.FOLDER] = ([d], {".safetensors"})

        def run():
            try:
                AIDN.LoadAIDGuidance.execute("hostile.safetensors")
            except ValueError as e:
                return str(e)[:160]
            return "loaded (unexpected)"
    elif case.startswith("gmm_"):
        side = 8 if case.endswith("tiny") else 512
        lat = {"samples": torch.randn(1, 4, side, side, generator=g)}
        mask = torch.zeros(1, side * 8, side * 8)
        mask[:, side * 2:side * 6, side * 2:side * 6] = 1

        def run():
            out = GMMSeed.execute(lat, 5, 0, 10_000_000, 0.0, mask).result[0]
            return f"filled {tuple(out['samples'].shape)}"
    elif case == "dce_4096":
        img = torch.rand(1, 4096, 4096, 3, generator=g)
        mask = torch.zeros(1, 4096, 4096)
        mask[:, 1024:3072, 1024:3072] = 1

        def run():
            kl, ce, heat, _ = DCECheck.execute(img, mask, 64, False).result
            return f"KL {kl:.4f}, heat map {tuple(heat.shape)}"
    else:
        raise SystemExit(f"unknown case {case}")
    before = rss_mib("VmRSS")
    t = time.time()
    note = run()
    return {"case": case, "baseline_mib": round(before, 1), "peak_mib": round(rss_mib("VmHWM"), 1),
            "above_baseline_mib": round(rss_mib("VmHWM") - before, 1), "seconds": round(time.time() - t, 2),
            "result": note}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "hostile-memory.json"))
    ap.add_argument("--check", action="store_true", help="exit 1 when a case exceeds its bound")
    ap.add_argument("--cases", nargs="*", default=list(CASES))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        print(json.dumps(child(a.child)))
        return 0
    rows, bad = [], []
    for case in a.cases:
        r = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", case], capture_output=True, text=True,
                           timeout=900)
        if r.returncode:
            raise SystemExit(f"{case} failed:\n{r.stderr[-3000:]}")
        row = json.loads(r.stdout.strip().splitlines()[-1])
        what, bound, why = CASES[case]
        row.update(what=what, bound_mib=bound, why=why)
        rows.append(row)
        print(f"{case:22s} +{row['above_baseline_mib']:8.1f} MiB (bound {bound} MiB) {row['seconds']:6.2f} s  "
              f"{row['result']}")
        if row["above_baseline_mib"] > bound:
            bad.append(case)
    if a.out and set(a.cases) == set(CASES):
        with open(a.out, "w") as f:
            json.dump({"command": "python tools/bench/bench_hostile_memory.py", "rows": rows}, f, indent=1)
    if a.check and bad:
        print("over the bound:", bad)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
