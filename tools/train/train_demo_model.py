"""make demo-model: train the demo UNet (EDM, pixel space) on images that ship inside packages.

    python tools/train/train_demo_model.py [--steps 4000] [--base 48] [--out demomodel/weights/demo_unet.safetensors]

Data: multi-scale random crops of support.photos.training_images() (photos and the training part of
textures; held-out photos and texture regions are never seen). Seeded and deterministic on a given
machine. Writes the EMA weights (safetensors, config in metadata) and a JSON training log.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(TOOLS, d) for d in ('lib',)]
from packimport import ROOT, import_pack  # noqa: E402

SCALES = (1.0, 0.7, 0.5, 0.35, 0.25)


def build_pyramid(images, crop):
    out = []
    for _, im in images:
        for s in SCALES:
            h, w = int(im.shape[1] * s), int(im.shape[2] * s)
            if min(h, w) < crop:
                continue
            x = F.interpolate(im[None], size=(h, w), mode="area")[0] if s != 1.0 else im
            out.append(x * 2 - 1)
    return out


def sample_batch(pyr, batch, crop, g):
    xs = []
    weights = torch.tensor([p.shape[1] * p.shape[2] for p in pyr], dtype=torch.float64).sqrt()
    idx = torch.multinomial(weights, batch, replacement=True, generator=g)
    for k in idx.tolist():
        p = pyr[k]
        i = int(torch.randint(0, p.shape[1] - crop + 1, (1,), generator=g))
        j = int(torch.randint(0, p.shape[2] - crop + 1, (1,), generator=g))
        x = p[:, i:i + crop, j:j + crop]
        if torch.rand((), generator=g) < 0.5:
            x = x.flip(-1)
        xs.append(x)
    return torch.stack(xs)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--crop", type=int, default=32)
    ap.add_argument("--base", type=int, default=48)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=os.path.join(ROOT, "demomodel", "weights", "demo_unet.safetensors"))
    a = ap.parse_args()
    torch.set_flush_denormal(True)  # zero-initialised layers make denormals: 10x slower without this
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    import_pack()
    from priorpaint.demomodel.unet import SIGMA_DATA, DemoUNet, EDMDenoiser
    from priorpaint.support.photos import HELD_OUT, TEXTURES, training_images

    images = training_images()
    pyr = build_pyramid(images, a.crop)
    g = torch.Generator().manual_seed(a.seed)
    net = DemoUNet(base=a.base)
    ema = DemoUNet(base=a.base)
    ema.load_state_dict(net.state_dict())
    ema.requires_grad_(False)
    den = EDMDenoiser(net)
    nparams = sum(p.numel() for p in net.parameters())
    opt = torch.optim.Adam(net.parameters(), lr=a.lr)
    log = {"config": vars(a), "params": nparams, "images": [n for n, _ in images], "held_out": list(HELD_OUT),
           "held_out_texture_regions": [t + "#heldout" for t in TEXTURES], "curve": []}
    print(f"{nparams / 1e6:.2f}M parameters, {len(pyr)} training images across scales", flush=True)
    t0, run = time.time(), 0.0
    for step in range(1, a.steps + 1):
        x0 = sample_batch(pyr, a.batch, a.crop, g)
        sigma = (torch.randn(a.batch, generator=g) * 1.2 - 1.2).exp()
        noise = torch.randn(x0.shape, generator=g)
        d = den(x0 + sigma.view(-1, 1, 1, 1) * noise, sigma)
        w = (sigma**2 + SIGMA_DATA**2) / (sigma * SIGMA_DATA) ** 2
        loss = (w.view(-1, 1, 1, 1) * (d - x0) ** 2).mean()
        for group in opt.param_groups:
            group["lr"] = a.lr * min(1.0, step / 200)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            for pe, pn in zip(ema.parameters(), net.parameters()):
                pe.lerp_(pn, 1 - 0.999)
        lv = loss.item()
        run = 0.98 * run + 0.02 * lv if step > 1 else lv
        if step % 50 == 0 or step == a.steps:
            el = time.time() - t0
            log["curve"].append({"step": step, "loss": round(run, 5), "seconds": round(el, 1)})
            if step % 200 == 0 or step == a.steps:
                print(f"step {step}/{a.steps} loss {run:.4f} {step / el:.2f} it/s {el / 60:.1f} min", flush=True)
    for be, bn in zip(ema.buffers(), net.buffers()):
        be.copy_(bn)
    meta = {"format": "priorpaint.demo_unet", "version": "1", "config": json.dumps(ema.config),
            "sigma_data": str(SIGMA_DATA), "train": json.dumps({k: v for k, v in vars(a).items() if k != "out"}),
            "held_out": json.dumps(log["held_out"] + log["held_out_texture_regions"])}
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    save_file({k: v.contiguous() for k, v in ema.state_dict().items()}, a.out, metadata=meta)
    log["minutes"] = round((time.time() - t0) / 60, 2)
    with open(os.path.splitext(a.out)[0] + ".log.json", "w") as f:
        json.dump(log, f, indent=1)
    print(f"wrote {a.out} ({os.path.getsize(a.out) / 1e6:.1f} MB) in {log['minutes']} min")


if __name__ == "__main__":
    main()
