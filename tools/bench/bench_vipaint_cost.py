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

MODELS = {  # name: (family, pixel size, fit iterations, DPS steps)
    "real-size SD1.5 UNet (860 M) + SD VAE (84 M), 512 px": ("sd15-real", 512, 1, 2),
    "tiny SD1.5 + VAE, 512 px (latent 64²)": ("sd15", 512, 4, 8),
    "demo UNet (pixel space), 128 px": ("demo", 128, 4, 8),
}


def child(family: str, size: int, what: str, iterations: int, dps: int, split: bool) -> dict:
    sys.path.insert(0, os.path.join(ROOT, "tools", "lib"))
    import comfyenv

    comfyenv.comfy_setup()
    import torch

    torch.set_num_threads(2)
    import comfy.sample

    from priorpaint.nodes import vipaint as vipaint_node
    from priorpaint.nodes.models import LoadDemoModel
    from priorpaint.nodes.vipaint import VIPaint
    from priorpaint.samplers.vipaint import count_evaluations
    from priorpaint.support.comfy_models import real_size_sd15, tiny_model

    vipaint_node.SPLIT_DECODER = split  # our own switch: measure the backward pass split and not split

    with torch.inference_mode():
        if family == "demo":
            model, vae, pos = LoadDemoModel.execute("priorpaint-unet", "eps").args
            neg = pos
        elif family == "sd15-real":
            b = real_size_sd15(seed=0)
            model, vae, pos, neg = b.model, b.vae, b.positive, b.negative
        else:
            b = tiny_model(family, seed=0)
            model, vae, pos, neg = b.model, b.vae, b.positive, b.negative
        image = torch.rand(1, size, size, 3, generator=torch.Generator().manual_seed(0))
        latent = vae.encode(image)
        mask = torch.zeros(1, size, size)
        mask[:, size // 4: 3 * size // 4, size // 4: 3 * size // 4] = 1
        steps = count_evaluations(2, iterations, dps, split_decoder=split and family != "demo")
        noise = comfy.sample.prepare_noise(latent, 0)

        def plain(n):
            return comfy.sample.sample(model, noise, n, 1.0, "euler", "karras", pos, neg, latent, noise_mask=mask,
                                       disable_pbar=True, seed=0)

        def vip():
            return VIPaint.execute(model, pos, neg, {"samples": latent, "noise_mask": mask}, 0, 1.0, 550, 400, 2,
                                   iterations, 0.1, 1e-3, 0.01, 100.0, 100.0, 100.0, dps, 1.0, 1, vae=vae, image=image)

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
    ap.add_argument("--models", nargs="*", default=list(MODELS), help="which rows (names as in MODELS)")
    ap.add_argument("--resume", help="a JSON-lines file of finished measurements: reuse them, append new ones "
                                     "(a long run can be continued after an interruption)")
    ap.add_argument("--child", nargs=6, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        fam, size, what, it, dps, split = a.child
        print(json.dumps(child(fam, int(size), what, int(it), int(dps), split == "1")))
        return
    old = {}
    if os.path.isfile(a.out):
        old = {r["model"]: r for r in json.load(open(a.out)).get("rows", [])}
    done = {}
    if a.resume and os.path.isfile(a.resume):
        done = {e["key"]: e["result"] for e in map(json.loads, open(a.resume)) if e}
    rows = []
    for name, (family, size, it, dps) in MODELS.items():
        if name not in a.models:
            if name in old:
                rows.append(old[name])
            continue
        got = {}
        plans = [("plain_forward", 1), ("plain_run", 1), ("grad_eval", 1), ("vipaint_run", 1)]
        if family != "demo":  # the backward pass not split, for comparison (pixel models have no decoder)
            plans += [("grad_eval", 0), ("vipaint_run", 0)]
        for what, split in plans:
            key = f"{family} {size} {what} {it} {dps} {split}"
            if key in done:
                got[(what, split)] = done[key]
                continue
            env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536", MALLOC_TRIM_THRESHOLD_="0")
            r = subprocess.run([sys.executable, __file__, "--child", family, str(size), what, str(it), str(dps),
                                str(split)], capture_output=True, text=True, env=env)
            if r.returncode == -9:  # killed by the kernel's OOM killer: the run does not fit in this machine
                got[(what, split)] = {"out_of_memory": True, "machine_mib": _machine_mib()}
            elif r.returncode:
                raise SystemExit(f"{key} failed:\n{r.stderr[-3000:]}")
            else:
                got[(what, split)] = json.loads(r.stdout.strip().splitlines()[-1])
            print(name, what, "split" if split else "joint", got[(what, split)], flush=True)
            if a.resume:
                with open(a.resume, "a") as f:
                    f.write(json.dumps({"key": key, "result": got[(what, split)]}) + "\n")
        plain, vip, grad, fwd = got[("plain_run", 1)], got[("vipaint_run", 1)], got[("grad_eval", 1)], \
            got[("plain_forward", 1)]
        row = {"model": name, "setting": f"K=2, {it} iterations, DPS {dps}", "evaluations": vip["evaluations"],
               "time_ratio": vip["wall_s"] / plain["wall_s"] * (plain["evaluations"] / vip["evaluations"]),
               "plain_run_s": plain["wall_s"], "vipaint_run_s": vip["wall_s"],
               "plain_evaluations": plain["evaluations"],
               "forward_rise_mib": fwd["rise_mib"], "grad_rise_mib": grad["rise_mib"],
               "forward_peak_mib": fwd["peak_mib"], "grad_peak_mib": grad["peak_mib"],
               "plain_run_peak_mib": plain["peak_mib"], "vipaint_run_peak_mib": vip["peak_mib"],
               "run_peak_ratio": vip["peak_mib"] / plain["peak_mib"]}
        row["grad_peak_ratio"] = row["grad_peak_mib"] / row["forward_peak_mib"]
        row["grad_rise_ratio"] = row["grad_rise_mib"] / row["forward_rise_mib"]
        if ("grad_eval", 0) in got and "peak_mib" in got[("grad_eval", 0)]:
            row["joint_grad_peak_mib"] = got[("grad_eval", 0)]["peak_mib"]
            row["joint_grad_peak_ratio"] = row["joint_grad_peak_mib"] / plain["peak_mib"]
        joint = got.get(("vipaint_run", 0), {})
        if "peak_mib" in joint:
            row["joint_run_peak_ratio"] = joint["peak_mib"] / plain["peak_mib"]
            row["joint_vipaint_run_s"] = joint["wall_s"]
        elif joint.get("out_of_memory"):
            row["joint_run_out_of_memory_mib"] = joint["machine_mib"]
        rows.append(row)
        print(json.dumps(row), flush=True)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump({"setting": "per row", "rows": rows}, f, indent=1)
    print("wrote", a.out)
    if a.out == os.path.join(ROOT, "docs", "vipaint-cost.json"):
        render(rows, os.path.join(ROOT, "docs", "vipaint.md"))


def _machine_mib() -> float:
    with open("/proc/meminfo") as f:
        return int(f.readline().split()[1]) / 1024


def render(rows: list[dict], md: str) -> None:
    """Rewrite the cost table between the markers in docs/vipaint.md."""
    lines = ["| model | setting | VIPaint evaluations | plain euler s (same count) | VIPaint s | time per evaluation × "
             "| peak: plain run / VIPaint run MiB | VIPaint peak × plain | same, backward not split | "
             "one gradient evaluation: peak MiB (not split) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        joint = (f"{r['joint_run_peak_ratio']:.2f}×" if "joint_run_peak_ratio" in r else
                 f"out of memory (> {r['joint_run_out_of_memory_mib'] / 1024:.0f} GB)"
                 if "joint_run_out_of_memory_mib" in r else "–")
        jg = f" ({r['joint_grad_peak_mib']:.0f})" if "joint_grad_peak_mib" in r else ""
        lines.append(f"| {r['model']} | {r.get('setting', '')} | {r['evaluations']} | {r['plain_run_s']:.1f} | "
                     f"{r['vipaint_run_s']:.1f} | {r['time_ratio']:.1f}× | "
                     f"{r.get('plain_run_peak_mib', float('nan')):.0f} / {r.get('vipaint_run_peak_mib', float('nan')):.0f} "
                     f"| **{r['run_peak_ratio']:.2f}×** | {joint} | {r['grad_peak_mib']:.0f}{jg} |")
    text = open(md).read()
    a, b = text.index("<!-- cost:start -->"), text.index("<!-- cost:end -->")
    with open(md, "w") as f:
        f.write(text[: a + len("<!-- cost:start -->")] + "\n" + "\n".join(lines) + "\n" + text[b:])


if __name__ == "__main__":
    main()
