"""Calibrate the Harmonized Sampler's default τ on held-out crops with the demo model.

    python tools/studies/calibrate_dce.py [--size 64] [--seed 0]

For every held-out image × mask kind (support.bench_data), one attempt of the Harmonized Sampler
(euler base, 20 levels, checkpoint 0.5) records the KL form of DCE of the checkpoint prediction.
Prints the distribution, the 'auto' thresholds, and the median -- the default τ, so that on this
data about half of the first attempts are accepted and half get a restart.
"""
from __future__ import annotations

import argparse
import os
import sys

import torch

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(TOOLS, d) for d in ('lib',)]
import comfyenv  # noqa: E402

comfyenv.comfy_setup()

from priorpaint.nodes.isdiff import harmonized_sampler  # noqa: E402
from priorpaint.nodes.models import LoadDemoModel  # noqa: E402
from priorpaint.support import bench as B  # noqa: E402
from priorpaint.support.bench_data import MASK_KINDS, center_crop, make_mask  # noqa: E402
from priorpaint.support.photos import held_out_images  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_flush_denormal(True)
    fixed, auto = [], []
    with torch.inference_mode():
        model, _, cond = LoadDemoModel.execute("priorpaint-unet", "eps").result
        for ii, (name, im) in enumerate(held_out_images()):
            gt = center_crop(im, a.size)[None] * 2 - 1
            for mi, kind in enumerate(MASK_KINDS):
                mask = make_mask(kind, a.size, a.size, seed=a.seed * 1000 + ii * 10 + mi)
                for mode, out in (("fixed", fixed), ("auto", auto)):
                    rec = []
                    sampler = harmonized_sampler(attempts=1, threshold=0.0, threshold_mode=mode, record=rec)
                    task = B.Task(B.empty_hole(gt, mask).expand(2, -1, -1, -1).contiguous(), mask, cond, cond, a.seed)
                    B._sample_custom(model, task, sampler, 20)  # task.scheduler: karras
                    out.append((name, kind, rec[0]["threshold"], rec[0]["attempts"][0][1]))
    scores = sorted(s for _, _, _, ss in fixed for s in ss)
    print(f"{len(scores)} checkpoint KL values: min {scores[0]:.3f}, quartiles "
          f"{scores[len(scores) // 4]:.3f} / {scores[len(scores) // 2]:.3f} / {scores[3 * len(scores) // 4]:.3f}, "
          f"max {scores[-1]:.3f}")
    taus = [t for _, _, t, _ in auto]
    print(f"auto τ: min {min(taus):.3f}, median {sorted(taus)[len(taus) // 2]:.3f}, max {max(taus):.3f}")
    for name, kind, t, ss in auto:
        print(f"  {name:28s} {kind:6s} auto τ {t:.3f}  checkpoint KL {', '.join(f'{s:.3f}' for s in ss)}")
    print(f"median (default τ): {scores[len(scores) // 2]:.3f}")


if __name__ == "__main__":
    main()
