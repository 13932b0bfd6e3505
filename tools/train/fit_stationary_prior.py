"""Fit the stationary Gaussian demo prior to photos that ship in scikit-image; write safetensors.

    python tools/train/fit_stationary_prior.py [--out demomodel/weights/stationary_gaussian.safetensors]

Deterministic (seeded crops). Held out (never used for fitting): support.photos.HELD_OUT -- the demo inpaints those.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from safetensors.torch import save_file

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(TOOLS, d) for d in ('lib',)]
from packimport import ROOT, import_pack  # noqa: E402

def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=os.path.join(ROOT, "demomodel", "weights", "stationary_gaussian.safetensors"))
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    import_pack()
    from priorpaint.demomodel.stationary import fit_stationary_gaussian as fit
    from priorpaint.support.photos import HELD_OUT, TRAIN_COLOUR, load_photo

    names = list(TRAIN_COLOUR)
    params = fit([load_photo(n) * 2 - 1 for n in names], seed=a.seed)
    meta = {"format": "priorpaint.stationary_gaussian", "version": "1", "fitted_on": json.dumps(names),
            "held_out": json.dumps(list(HELD_OUT)), "seed": str(a.seed)}
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    save_file({k: v.contiguous() for k, v in params.items()}, a.out, metadata=meta)
    print(f"wrote {a.out}: " + ", ".join(f"{k}={v.numpy().round(4).tolist()}" for k, v in params.items() if k != "Q"))


if __name__ == "__main__":
    main()
