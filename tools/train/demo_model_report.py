"""Write docs/demo-model.md: the demo UNet's training curve and an unconditional sample grid.

    python tools/train/demo_model_report.py

Samples are drawn through ComfyUI's own sampler (dpmpp_2m, karras, 40 steps) from the MODEL that
the Load Demo Model node returns; the curve comes from the training log written by make demo-model.
"""
from __future__ import annotations

import json
import os
import sys

import numpy as np
import torch
from PIL import Image

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(TOOLS, d) for d in ('lib',)]
import comfyenv  # noqa: E402

comfyenv.comfy_setup()
import comfy.sample  # noqa: E402

from priorpaint.demomodel import WEIGHTS_DIR  # noqa: E402
from priorpaint.nodes.models import LoadDemoModel  # noqa: E402

ROOT = comfyenv.ROOT
IMG = os.path.join(ROOT, "docs", "images")


def main():
    os.makedirs(IMG, exist_ok=True)
    with open(os.path.join(WEIGHTS_DIR, "demo_unet.log.json")) as f:
        log = json.load(f)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [c["step"] for c in log["curve"]]
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.plot(steps, [c["loss"] for c in log["curve"]])
    ax.set(xlabel="step (batch 32, 32x32 crops)", ylabel="EDM loss (running mean)", yscale="log",
           title=f"demo UNet, {log['params'] / 1e6:.2f}M parameters, {log['minutes']:.0f} min on CPU")
    fig.tight_layout()
    fig.savefig(os.path.join(IMG, "demo_model_curve.png"), dpi=110)
    plt.close(fig)

    torch.set_flush_denormal(True)
    with torch.inference_mode():
        model, vae, cond = LoadDemoModel.execute("priorpaint-unet", "eps").result
        latent = torch.zeros(16, 3, 64, 64)
        out = comfy.sample.sample(model, comfy.sample.prepare_noise(latent, 0), 40, 1.0, "dpmpp_2m", "karras", cond,
                                  cond, latent, disable_pbar=True, seed=0)
        imgs = vae.decode(out).numpy()
    grid = np.ones((4 * 68, 4 * 68, 3), dtype=np.float32)
    for i in range(16):
        r, c = divmod(i, 4)
        grid[r * 68 + 2:r * 68 + 66, c * 68 + 2:c * 68 + 66] = imgs[i]
    Image.fromarray((grid * 255).round().astype(np.uint8)).resize((4 * 68 * 2, 4 * 68 * 2), Image.NEAREST).save(
        os.path.join(IMG, "demo_model_samples.png"))
    cfg = log["config"]
    final = log["curve"][-1]["loss"]
    text = f"""# The demo model

`priorpaint-unet`, the default of **Load Demo Model**: a small fully convolutional pixel-space UNet
(`demomodel/unet.py`; base width {cfg['base']}, widths ×1/×2/×2, one residual block per level, two in the
middle, GroupNorm, SiLU, Fourier noise embedding, no attention) with EDM preconditioning
(Karras et al. 2022, σ_data = 0.5), {log['params'] / 1e6:.2f}M parameters, weights in
`demomodel/weights/demo_unet.safetensors` ({os.path.getsize(os.path.join(WEIGHTS_DIR, 'demo_unet.safetensors')) / 1e6:.1f} MB).

Rebuild it with `make demo-model` (seeded, {cfg['steps']} steps of batch {cfg['batch']}, {cfg['crop']}×{cfg['crop']} crops, Adam
lr {cfg['lr']} with 200 warm-up steps, gradient clip 1, EMA 0.999; log-normal σ with P_mean −1.2, P_std 1.2).
This build took {log['minutes']:.1f} minutes on this machine's 2 CPU cores (it shared them with other work;
an idle machine trains at about 3.5 steps/s). `torch.set_flush_denormal(True)` matters on CPU
(zero-initialised layers produce denormals).

## Data (all ships inside Python packages; nothing is downloaded)

Multi-scale (×1, 0.7, 0.5, 0.35, 0.25) random crops with horizontal flips of:
{chr(10).join('- `' + n + '`' for n in log['images'])}

Held out, never seen in training: {', '.join('`' + n + '`' for n in log['held_out'] + log['held_out_texture_regions'])}
(the right 25% of each texture). The demo and the bench evaluate on these.

## Training curve

![training curve](images/demo_model_curve.png)

Final running loss {final:.3f}.

## Unconditional samples (64×64, dpmpp_2m, 40 steps, through ComfyUI's sampler)

![samples](images/demo_model_samples.png)

What to expect, honestly: the model learns colour and texture statistics (rock, gravel, fur-like
and plaster-like surfaces), not objects. It fills holes with matching texture and colour and makes
the differences between inpainting methods plainly visible; it does not complete semantics.
Regenerate this page with `python tools/train/demo_model_report.py`.
"""
    with open(os.path.join(ROOT, "docs", "demo-model.md"), "w") as f:
        f.write(text)
    print("wrote docs/demo-model.md")


if __name__ == "__main__":
    main()
