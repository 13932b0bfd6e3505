"""Is the AID module's harmony/seam penalty a failure to generalise? Scores it per image group under the
trainer's own sampling.

The demo bench (tools/bench/bench_aid.py) scores held-out 64² centre crops. The module never saw those images, and
it trains on other data: random 32² crops of an image pyramid with random masks (tools/train/train_aid.py). This
tool removes both differences. It draws batches exactly as the trainer does (pyramid crops, ``random_masks
("mixed")``, the training rollout: Euler on the module's ramp, 8 steps, ComfyUI's replace inpainting) from
five image groups, and compares the unguided rollout with the guided one on the same crops, masks and noise:

- the training photos, grey and colour, and the training halves of the three textures;
- the held-out halves of the same textures (``support/photos.py: texture_split``: one photo, cut by columns);
- the held-out photos.

Per group: the terminal cost Ψ = ‖X − x*‖², the median ratio of the fill's spread to the truth's over the hole,
the harmony KL and the seam score.

    python tools/studies/aid_groups.py                      # the shipped module, ≈ 2.5 min on 2 CPU cores
    python tools/studies/aid_groups.py --module out/aid/x.safetensors --out out/aid/x-groups.json
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
from aid_tradeoff import spread_ratio  # noqa: E402
from bench_aid import SHIPPED, to_image  # noqa: E402
from train_demo_model import build_pyramid, sample_batch  # noqa: E402

from priorpaint.nodes import aid as N  # noqa: E402
from priorpaint.samplers import aid as A  # noqa: E402
from priorpaint.samplers import metrics as M  # noqa: E402
from priorpaint.samplers.maskgen import random_masks  # noqa: E402
from priorpaint.support import photos as P  # noqa: E402


def groups() -> dict[str, list]:
    return {"training photos, grey": [(n, P.load_photo(n)) for n in P.TRAIN_GREY],
            "training photos, colour": [(n, P.load_photo(n)) for n in P.TRAIN_COLOUR],
            "textures, training halves": [(n, P.texture_split(n)[0]) for n in P.TEXTURES],
            "textures, held-out halves": [(n, P.texture_split(n)[1]) for n in P.TEXTURES],
            "held-out photos": [(n, P.load_photo(n)) for n in P.HELD_OUT]}


def score_group(denoise, actors: dict, tp: A.TimeParam, images, crop: int, batches: int, batch: int,
                steps: int, seed: int) -> dict:
    pyramid = build_pyramid(images, crop)
    out = {}
    for name, actor in actors.items():
        g = torch.Generator().manual_seed(seed)  # every actor sees the same crops, masks and noise
        psi, ratio, kl, seam = [], [], [], []
        for _ in range(batches):
            x, hole = sample_batch(pyramid, batch, crop, g), random_masks("mixed", batch, crop, crop, g)
            fill = A.inpaint_rollout(denoise, actor, tp, x, hole, torch.randn(x.shape, generator=g), steps).x_final
            psi += A.terminal_cost(fill, x).tolist()
            ratio += [float(spread_ratio(fill[i:i + 1], x[i:i + 1], hole[i, 0] > 0.5)) for i in range(batch)]
            im, m = to_image(fill), hole.expand(batch, 1, crop, crop).float()
            kl += M.harmony_kl(im, m).tolist()
            seam += M.seam_score(im, m).tolist()
        out[name] = {"psi": statistics.mean(psi), "spread_ratio_median": statistics.median(ratio),
                     "harmony": statistics.mean(kl), "seam": statistics.mean(seam)}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--module", default=SHIPPED)
    ap.add_argument("--batches", type=int, default=2)
    ap.add_argument("--batch", type=int, default=48)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "aid-groups.json"))
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    import train_aid

    model, cond, _, _ = train_aid.backbone("priorpaint-unet")
    g = N.load_guidance_file(a.module)
    tr = g.info["training"]
    crop, steps = int(tr.get("crop", 32)), int(tr.get("steps", 8))
    actors = {"unguided": A.GuidanceNet(g.net.config["channels"], sigma_data=g.net.config["sigma_data"]),
              "AID": g.net}
    denoise = N.ve_denoiser(model, cond)
    res = {"module": os.path.relpath(a.module, ROOT), "crop": crop, "steps": steps, "samples": a.batches * a.batch,
           "groups": {}}
    with torch.no_grad():
        for gname, images in groups().items():
            r = score_group(denoise, actors, g.info["time"], images, crop, a.batches, a.batch, steps, seed=7)
            res["groups"][gname] = r
            for name, s in r.items():
                print(f"{gname:27s} {name:9s} Ψ {s['psi']:7.1f}  spread {s['spread_ratio_median']:.2f}  "
                      f"KL {s['harmony']:.3f}  seam {s['seam']:.3f}", flush=True)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
