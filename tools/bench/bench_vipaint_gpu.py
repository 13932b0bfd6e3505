"""VIPaint's cost at real size on a GPU: real-size SD1.5 at 512 px and SDXL at 1024 px (ComfyUI's own
classes, random weights, fp16 UNet as ComfyUI loads it on CUDA), against ComfyUI's euler with as many
steps as VIPaint makes model evaluations. Peak = ``torch.cuda.max_memory_allocated`` over the run
(weights included); each run starts from a reset peak.

    python tools/bench/bench_vipaint_gpu.py [--out out/vipaint-gpu.json]

Needs CUDA; writes JSON rows (docs/vipaint.md quotes them).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(TOOLS, d) for d in ("lib",)]
import comfyenv  # noqa: E402


def build(family: str, dtype):
    import torch

    import comfy.model_management as mm
    import comfy.model_patcher
    import comfy.sd
    import comfy.supported_models
    from comfy.ldm.models.autoencoder import AutoencoderKL

    from priorpaint.support.comfy_models import SD15_REAL_UNET, SD_REAL_VAE, TinyBundle, _UNET_BASE

    g = torch.Generator().manual_seed(0)
    if family == "sd15":
        cfg, ctx, pooled = comfy.supported_models.SD15(dict(SD15_REAL_UNET, dtype=dtype)), 768, None
    else:  # ComfyUI's SDXL detection, as model_detection writes it
        unet = dict(_UNET_BASE, model_channels=320, num_res_blocks=[2, 2, 2], transformer_depth=[0, 0, 2, 2, 10, 10],
                    channel_mult=[1, 2, 4], transformer_depth_middle=10, use_linear_in_transformer=True,
                    context_dim=2048, num_head_channels=64, num_heads=-1, adm_in_channels=2816,
                    num_classes="sequential", transformer_depth_output=[0, 0, 0, 2, 2, 2, 10, 10, 10], dtype=dtype)
        cfg, ctx, pooled = comfy.supported_models.SDXL(unet), 2048, 1280
    cfg.set_inference_dtype(dtype, None)
    base = cfg.get_model({}, device=torch.device("cpu"))
    sd = {}
    for k, v in base.diffusion_model.state_dict().items():
        sd[k] = (torch.ones_like(v) if v.ndim == 1 and "norm" in k and k.endswith("weight")
                 else torch.randn(v.shape, generator=g).to(v.dtype) * 0.02)
    base.diffusion_model.load_state_dict(sd)
    del sd
    mp = comfy.model_patcher.ModelPatcher(base, load_device=mm.get_torch_device(), offload_device=mm.unet_offload_device())
    proto = AutoencoderKL(ddconfig=SD_REAL_VAE, embed_dim=4)
    vsd = {k: (torch.randn(v.shape, generator=g) * 0.02 if v.dtype.is_floating_point else v)
           for k, v in proto.state_dict().items()}
    vsd.update({k: torch.ones_like(v) for k, v in vsd.items() if ".norm" in k and k.endswith("weight") and v.ndim == 1})
    vae = comfy.sd.VAE(sd=vsd, config={"params": {"ddconfig": SD_REAL_VAE, "embed_dim": 4}})
    extras = {} if pooled is None else {"pooled_output": torch.zeros(1, pooled), "width": 1024, "height": 1024}
    pos = [[torch.randn(1, 77, ctx, generator=g) * 0.1, dict(extras)]]
    return TinyBundle(mp, vae, pos, pos, 4, family)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(os.environ.get("OUT", "out"), "vipaint-gpu.json"))
    ap.add_argument("--cases", nargs="*", default=["sd15:512", "sdxl:1024"])
    ap.add_argument("--iterations", type=int, default=4)
    ap.add_argument("--dps", type=int, default=8)
    a = ap.parse_args()
    comfyenv.comfy_setup(cpu=False)
    import torch

    import comfy.model_management as mm
    import comfy.sample

    from priorpaint.nodes import vipaint as vipaint_node
    from priorpaint.nodes.vipaint import VIPaint
    from priorpaint.samplers.vipaint import count_evaluations

    rows = []
    for case in a.cases:
        family, size = case.split(":")
        size = int(size)
        with torch.inference_mode():
            t = time.time()
            b = build(family, torch.float16)
            print(f"{case}: built in {time.time() - t:.0f} s; UNet "
                  f"{sum(p.numel() for p in b.model.model.diffusion_model.parameters()) / 1e9:.2f} B params", flush=True)
            image = torch.rand(1, size, size, 3, generator=torch.Generator().manual_seed(0))
            latent = b.vae.encode(image)
            mask = torch.zeros(1, size, size)
            mask[:, size // 4: 3 * size // 4, size // 4: 3 * size // 4] = 1
            steps = count_evaluations(2, a.iterations, a.dps, split_decoder=True)
            noise = comfy.sample.prepare_noise(latent, 0)
            got = {}

            def measure(name, fn):
                mm.soft_empty_cache()
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
                t0 = time.perf_counter()
                fn()
                torch.cuda.synchronize()
                got[name] = {"s": time.perf_counter() - t0, "peak_mib": torch.cuda.max_memory_allocated() / 2**20}
                print(case, name, got[name], flush=True)

            def vip():
                return VIPaint.execute(b.model, b.positive, b.negative, {"samples": latent, "noise_mask": mask}, 0, 1.0,
                                       550, 400, 2, a.iterations, 0.1, 1e-3, 0.01, 100.0, 100.0, 100.0, a.dps, 1.0, 1,
                                       vae=b.vae, image=image)
            plain = lambda: comfy.sample.sample(b.model, noise, steps, 1.0, "euler", "karras", b.positive,  # noqa: E731
                                                b.negative, latent, noise_mask=mask, disable_pbar=True, seed=0)
            measure("warm-up plain", plain)
            measure("plain", plain)
            vipaint_node.SPLIT_DECODER = True
            measure("vipaint split", vip)
            vipaint_node.SPLIT_DECODER = False
            try:
                measure("vipaint joint", vip)
            except torch.cuda.OutOfMemoryError as e:
                got["vipaint joint"] = {"error": str(e)[:200]}
            vipaint_node.SPLIT_DECODER = True
        row = {"case": case, "evaluations": steps, "setting": f"K=2, {a.iterations} iterations, DPS {a.dps}",
               "gpu": torch.cuda.get_device_name(), "unet_dtype": "float16", "vae_dtype": str(b.vae.vae_dtype),
               "torch": torch.__version__, **{k.replace(" ", "_"): v for k, v in got.items()}}
        row["peak_ratio_split"] = got["vipaint split"]["peak_mib"] / got["plain"]["peak_mib"]
        if "peak_mib" in got.get("vipaint joint", {}):
            row["peak_ratio_joint"] = got["vipaint joint"]["peak_mib"] / got["plain"]["peak_mib"]
        row["time_ratio_split"] = got["vipaint split"]["s"] / got["plain"]["s"]
        rows.append(row)
        print(json.dumps(row), flush=True)
        b = None  # free the models before the next case
        mm.unload_all_models()
        mm.soft_empty_cache()
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    with open(a.out, "w") as f:
        json.dump({"command": "python tools/bench/bench_vipaint_gpu.py", "rows": rows}, f, indent=1)
    print("wrote", a.out)


if __name__ == "__main__":
    main()
