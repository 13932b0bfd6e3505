"""VIPaint's cost against a plain sampler of equal steps: wall time and peak memory (make bench-vipaint).

Each measurement runs in a fresh process with glibc told to return large blocks to the system
(``MALLOC_MMAP_THRESHOLD_``), so resident memory tracks live memory; the peak is polled every 2 ms
(``support.bench.PeakMemory``; on CUDA the allocator's own peak) above the level after the model and
VAE are built and the input encoded. Reported per model:

* plain: ComfyUI's euler over S steps (S = VIPaint's model evaluations), no gradients;
* VIPaint: the node's sampler (fit + draw + DPS through the decoder), S evaluations with gradients;
* memory: peak rise above the warmed-up baseline, and the total peak, for one plain forward, one
  gradient evaluation (forward + backward through model and decoder), and the whole runs.

    python tools/bench/bench_vipaint_cost.py [--out docs/vipaint-cost.json]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

MODELS = {  # name: (family, pixel size)
    "tiny SD1.5 + VAE, 512 px (latent 64²)": ("sd15", 512),
    "demo UNet (pixel space), 128 px": ("demo", 128),
}
ITER, DPS = 4, 8  # VIPaint setting measured: 4 × 3 + 1 + 8 = 21 evaluations


def child(family: str, size: int, what: str) -> dict:
    sys.path.insert(0, os.path.join(ROOT, "tools", "lib"))
    import comfyenv

    comfyenv.comfy_setup()
    import torch

    torch.set_num_threads(2)
    import comfy.sample

    from priorpaint.nodes.models import LoadDemoModel
    from priorpaint.nodes.vipaint import VIPaint
    from priorpaint.samplers.vipaint import count_evaluations
    from priorpaint.support.comfy_models import tiny_model

    with torch.inference_mode():
        if family == "demo":
            model, vae, pos = LoadDemoModel.execute("priorpaint-unet", "eps").args
            neg = pos
        else:
            b = tiny_model(family, seed=0)
            model, vae, pos, neg = b.model, b.vae, b.positive, b.negative
        image = torch.rand(1, size, size, 3, generator=torch.Generator().manual_seed(0))
        latent = vae.encode(image)
        mask = torch.zeros(1, size, size)
        mask[:, size // 4: 3 * size // 4, size // 4: 3 * size // 4] = 1
        steps = count_evaluations(2, ITER, DPS)
        noise = comfy.sample.prepare_noise(latent, 0)

        def plain(n):
            return comfy.sample.sample(model, noise, n, 1.0, "euler", "karras", pos, neg, latent, noise_mask=mask,
                                       disable_pbar=True, seed=0)

        def vip():
            return VIPaint.execute(model, pos, neg, {"samples": latent, "noise_mask": mask}, 0, 1.0, 550, 400, 2,
                                   ITER, 0.1, 1e-3, 0.01, 100.0, 100.0, 100.0, DPS, 1.0, 1, vae=vae, image=image)

        import gc

        from priorpaint.support.bench import PeakMemory

        gc.collect()
        mem = PeakMemory("cpu", interval=0.002).__enter__()
        t0 = time.perf_counter()
        if what == "plain_forward":
            plain(1)
        elif what == "plain_run":
            plain(steps)
        elif what == "grad_eval":  # one gradient evaluation = a DPS-only run of one step, no fit
            VIPaint.execute(model, pos, neg, {"samples": latent, "noise_mask": mask}, 0, 1.0, 550, 400, 1, 0,
                            0.1, 1e-3, 0.01, 0.0, 0.0, 100.0, 1, 1.0, 1, vae=vae, image=image)
        elif what == "vipaint_run":
            vip()
        wall = time.perf_counter() - t0
        mem.__exit__(None, None, None)
        base = mem.base / 2**20
        return {"base_mib": base, "peak_mib": base + mem.peak_mb, "rise_mib": mem.peak_mb, "wall_s": wall,
                "evaluations": steps}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "vipaint-cost.json"))
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.child[0], int(a.child[1]), a.child[2])))
        return
    rows = []
    for name, (family, size) in MODELS.items():
        got = {}
        for what in ("plain_forward", "grad_eval", "plain_run", "vipaint_run"):
            env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536", MALLOC_TRIM_THRESHOLD_="0")
            r = subprocess.run([sys.executable, __file__, "--child", family, str(size), what], capture_output=True,
                               text=True, check=True, env=env)
            got[what] = json.loads(r.stdout.strip().splitlines()[-1])
        row = {"model": name, "evaluations": got["plain_run"]["evaluations"],
               "time_ratio": got["vipaint_run"]["wall_s"] / got["plain_run"]["wall_s"],
               "plain_run_s": got["plain_run"]["wall_s"], "vipaint_run_s": got["vipaint_run"]["wall_s"],
               "forward_rise_mib": got["plain_forward"]["rise_mib"], "grad_rise_mib": got["grad_eval"]["rise_mib"],
               "forward_peak_mib": got["plain_forward"]["peak_mib"], "grad_peak_mib": got["grad_eval"]["peak_mib"],
               "run_peak_ratio": got["vipaint_run"]["peak_mib"] / got["plain_run"]["peak_mib"]}
        row["grad_peak_ratio"] = row["grad_peak_mib"] / row["forward_peak_mib"]
        row["grad_rise_ratio"] = row["grad_rise_mib"] / row["forward_rise_mib"]
        rows.append(row)
        print(json.dumps(row), flush=True)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump({"setting": f"K=2, {ITER} iterations, DPS {DPS}", "rows": rows}, f, indent=1)
    print("wrote", a.out)
    if a.out == os.path.join(ROOT, "docs", "vipaint-cost.json"):
        render(rows, os.path.join(ROOT, "docs", "vipaint.md"))


def render(rows: list[dict], md: str) -> None:
    """Rewrite the cost table between the markers in docs/vipaint.md."""
    lines = ["| model | plain euler (s) | VIPaint (s) | time × | one forward: rise / peak MiB | one gradient "
             "evaluation: rise / peak MiB | gradient peak × (process) | gradient rise × (activations) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['plain_run_s']:.2f} | {r['vipaint_run_s']:.2f} | {r['time_ratio']:.1f}× | "
                     f"{r['forward_rise_mib']:.0f} / {r['forward_peak_mib']:.0f} | {r['grad_rise_mib']:.0f} / "
                     f"{r['grad_peak_mib']:.0f} | {r['grad_peak_ratio']:.2f}× | {r['grad_rise_ratio']:.1f}× |")
    text = open(md).read()
    a, b = text.index("<!-- cost:start -->"), text.index("<!-- cost:end -->")
    with open(md, "w") as f:
        f.write(text[: a + len("<!-- cost:start -->")] + "\n" + "\n".join(lines) + "\n" + text[b:])


if __name__ == "__main__":
    main()
