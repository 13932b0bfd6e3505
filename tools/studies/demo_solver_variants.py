"""RePaint+ solver variants on the demo model (issue 19): bench-presets' loop (tools/bench/bench_presets.py)
over 0.2's rounds (richardson, fresh noise) and the Krylov solve / warm start, one round per step.

    python tools/studies/demo_solver_variants.py        (ONLY=old,kry_warm to run a subset)

Prints per-run lines and one ROW per variant (harmony KL, seam, hole PSNR, NFE); paired differences
against 'old' can be read off the per-run lines.
"""
import os
import sys

sys.argv = sys.argv[:1] + ["--no-lanpaint"]
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))
import bench_presets as bp  # noqa: E402
import torch  # noqa: E402

from priorpaint.samplers.presets import PRESETS, Preset  # noqa: E402

BASE = dict(mode="repaint_plus_b", jump_length=1, resamples=1, kappa_mode="capped", kappa_cap=4.0)
VARIANTS = {
    "old": dict(BASE, solver="richardson", warm_start=False),
    "kry_warm": dict(BASE, solver="krylov", warm_start=True),
    "kry_cold": dict(BASE, solver="krylov", warm_start=False),
    "rich_warm": dict(BASE, solver="richardson", warm_start=True),
}

if __name__ == "__main__":
    only = os.environ.get("ONLY")
    PRESETS.clear()  # this process only: the loop runs whatever PRESETS holds
    for k, v in VARIANTS.items():
        if not only or k in only.split(","):
            PRESETS[k] = Preset(k, "2", v)
    with torch.inference_mode():
        rows, _ = bp.presets_on_demo(20, 128, 0, False)
    for r in rows:
        print("ROW", r["method"], f"KL {r['harmony']:.3f} seam {r['seam']:.3f} psnr {r['psnr']:.2f} nfe {r['nfe']:.0f}")
