"""An AID guidance module against a real SD1.5-size UNet at 512 px (64² latent): FLOPs counted by
``torch.utils.flop_counter`` on the meta device, and (``--time``) the CPU wall time of one call of each
with random weights (3.4 GB of float32; about a minute on 2 cores). Prints JSON.

The pytorch attention path is selected so that attention runs on meta tensors; it does not change the
count (the same matmuls)."""
from __future__ import annotations

import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(TOOLS, d) for d in ('lib',)]
import comfyenv  # noqa: E402

sys.path.insert(0, comfyenv.COMFY_DIR)
from comfy.cli_args import args  # noqa: E402

args.use_pytorch_cross_attention = True  # before comfy.model_management is imported
comfyenv.comfy_setup()

import comfy.ops  # noqa: E402
from comfy.ldm.modules.diffusionmodules.openaimodel import UNetModel  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from priorpaint.samplers import aid as A  # noqa: E402

# ComfyUI's own SD1.5 UNet configuration (comfy/model_detection.py, unet_config for SD15)
SD15 = {"use_checkpoint": False, "image_size": 32, "out_channels": 4, "use_spatial_transformer": True, "legacy": False,
        "adm_in_channels": None, "in_channels": 4, "model_channels": 320, "num_res_blocks": [2, 2, 2, 2],
        "transformer_depth": [1, 1, 1, 1, 1, 1, 0, 0], "channel_mult": [1, 2, 4, 4], "transformer_depth_middle": 1,
        "use_linear_in_transformer": False, "context_dim": 768, "num_heads": 8,
        "transformer_depth_output": [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0], "use_temporal_attention": False,
        "use_temporal_resblock": False}


def main():
    with torch.device("meta"):
        unet = UNetModel(**SD15, operations=comfy.ops.disable_weight_init)
        net = A.GuidanceNet(4)
        x, t, ctx = torch.randn(1, 4, 64, 64), torch.ones(1), torch.randn(1, 77, 768)
        with FlopCounterMode(display=False) as fu:
            unet(x, t, context=ctx)
        with FlopCounterMode(display=False) as fm:
            net(t, x, t, torch.ones(1, 1, 64, 64), x)
    out = {"backbone": "SD1.5 UNet (ComfyUI config), 64x64 latent, batch 1",
           "backbone_params": sum(p.numel() for p in unet.parameters()), "module_params": A.parameter_count(net),
           "backbone_gflops": fu.get_total_flops() / 1e9, "module_gflops": fm.get_total_flops() / 1e9}
    out["flops_ratio"] = out["module_gflops"] / out["backbone_gflops"]
    if "--time" in sys.argv:
        from priorpaint.support.bench import median_seconds

        g = torch.Generator().manual_seed(0)
        with torch.no_grad():
            unet = unet.to_empty(device="cpu")
            for p in unet.parameters():
                p.normal_(0.0, 0.02, generator=g)
            net = A.GuidanceNet(4)
            x, t, ctx = torch.randn(1, 4, 64, 64, generator=g), torch.ones(1), torch.randn(1, 77, 768, generator=g)
            k = torch.ones(1, 1, 64, 64)
            out["backbone_s"] = median_seconds(lambda: unet(x, t, context=ctx), 3)
            out["module_s"] = median_seconds(lambda: net(t, x, t, k, x), 20)
            out["time_ratio"] = out["module_s"] / out["backbone_s"]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
