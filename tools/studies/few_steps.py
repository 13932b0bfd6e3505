"""The presets at 2, 4 and 8 steps (Turbo / Lightning / LCM step counts) on the demo model, with and without
the stand-in bound of docs/repaint-plus.md ("Few steps"): bench-presets' demo-model loop
(tools/bench/bench_presets.py: 5 held-out crops x 4 masks x 2 samples, seed 0) for core, fast and balanced,
and fast / balanced with ``stand_in_snr = inf`` (the rule before the bound), around euler on three
schedulers.

    python tools/studies/few_steps.py            (STEPS=2,4,8 SCHEDULERS=simple,karras,exponential to choose)

Prints one ROW per (scheduler, steps, method): harmony KL, seam, the largest |x| in the hole (latents live in
[-1, 1]) and model calls, means over the 20 image x mask pairs (the largest |x| is the max over them)."""
import os
import sys

sys.argv = sys.argv[:1] + ["--no-lanpaint"]
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))
import bench_presets as bp  # noqa: E402
import torch  # noqa: E402

from priorpaint.samplers.presets import PRESETS, Preset  # noqa: E402


def main():
    steps_list = [int(s) for s in os.environ.get("STEPS", "2,4,8").split(",")]
    schedulers = os.environ.get("SCHEDULERS", "simple,karras,exponential").split(",")
    for name in ("fast", "balanced"):  # this process only: the loop runs whatever PRESETS holds
        p = PRESETS[name]
        PRESETS[f"{name} (before)"] = Preset(p.label + ", no stand-in bound", p.calls_per_step,
                                             dict(p.options, stand_in_snr=float("inf")))
    for scheduler in schedulers:
        for steps in steps_list:
            print(f"== euler / {scheduler} / {steps} steps", flush=True)
            with torch.inference_mode():
                rows, _ = bp.presets_on_demo(steps, 128, 0, False, "euler", scheduler, per_run=True)
            for r in rows:
                worst = max(run["hole_max"] for run in r["runs"])
                print(f"ROW {scheduler:12s} {steps:2d} {r['method']:18s} kl {r['harmony']:.3f} seam {r['seam']:.3f} "
                      f"max|x| {worst:6.2f} nfe {r['nfe']:.0f}", flush=True)


if __name__ == "__main__":
    main()
