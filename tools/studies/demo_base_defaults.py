"""Which sampler_name / scheduler the Inpaint KSampler should default to (issue 19, "defaults from
measurements"): bench-presets' demo-model loop (tools/bench/bench_presets.py) for the balanced preset and
core inpainting (on the first pair, for reference) around each (sampler, scheduler) pair, on the same 20
image x mask pairs and seeds.

    python tools/studies/demo_base_defaults.py            (PAIRS=euler/karras,euler/simple to choose)

Prints one ROW per (method, sampler, scheduler): harmony KL, seam, hole PSNR, NFE (means over the 20 pairs),
and for balanced the paired difference from balanced on euler/karras (mean ± standard error over the pairs).
The exact-prior side of the same question is `make bench-posterior PROFILE=precise` (docs/benchmarks.md §i).
"""
import math
import os
import sys

sys.argv = sys.argv[:1] + ["--no-lanpaint"]
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))
import bench_presets as bp  # noqa: E402
import torch  # noqa: E402

from priorpaint.samplers.presets import PRESETS  # noqa: E402

DEFAULT_PAIRS = "euler/karras,euler/simple,euler_ancestral/karras,euler_ancestral/simple"


def main():
    pairs = [tuple(p.split("/")) for p in os.environ.get("PAIRS", DEFAULT_PAIRS).split(",")]
    for k in [k for k in PRESETS if k not in ("balanced", "core")]:
        del PRESETS[k]  # this process only: the loop runs whatever PRESETS holds
    per = {}
    for i, (sampler, scheduler) in enumerate(pairs):
        print(f"== {sampler} / {scheduler}", flush=True)
        if i == 1:  # core inpainting for reference on the first pair only
            PRESETS.pop("core", None)
        with torch.inference_mode():
            rows, _ = bp.presets_on_demo(20, 128, 0, False, sampler, scheduler, per_run=True)
        for r in rows:
            per[(r["method"], sampler, scheduler)] = r
    ref = per.get(("balanced", "euler", "karras"))
    for (method, sampler, scheduler), r in per.items():
        line = (f"ROW {method:8s} {sampler:16s} {scheduler:7s} KL {r['harmony']:.3f} seam {r['seam']:.3f} "
                f"psnr {r['psnr']:.2f} nfe {r['nfe']:.0f}")
        if ref is not None and method == "balanced":
            for key in ("harmony", "seam", "psnr"):
                d = torch.tensor([a[key] - b[key] for a, b in zip(r["runs"], ref["runs"])], dtype=torch.float64)
                se = float(d.std() / math.sqrt(len(d))) if len(d) > 1 else float("nan")
                line += f"  d{key} {float(d.mean()):+.3f}±{se:.3f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
