"""A tiny Wan 2.1 video model (ComfyUI's own classes) inpaints a masked clip end to end through the real
server: an animated PNG whose alpha marks the hole per frame (LoadImage gives IMAGE and MASK batches of
frames), VAEEncode to a video LATENT [1, 16, T, H, W], a PriorPaint sampler, SaveLatent (issue 18)."""
import os

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

FRAMES, H, W = 5, 32, 48


def clip_input(server, name: str) -> None:
    """Frames 0-1 fully known; frames 2-4 have a box hole (alpha 0 -> MASK 1)."""
    rng = np.random.default_rng(0)
    frames = []
    for f in range(FRAMES):
        rgb = (rng.random((H, W, 3)) * 255).astype(np.uint8)
        alpha = np.full((H, W), 255, np.uint8)
        if f >= 2:
            alpha[8:24, 16:40] = 0
        frames.append(Image.fromarray(np.dstack([rgb, alpha]), "RGBA"))
    frames[0].save(os.path.join(server.input_dir, name), save_all=True, append_images=frames[1:], duration=100)


def latent_of(server, entry, node):
    info = entry["outputs"][node]["latents"][0]
    return load_file(os.path.join(server.output_dir, info.get("subfolder", ""), info["filename"]))["latent_tensor"]


def base_prompt(tag):
    return {
        "1": {"class_type": "PriorPaintTestTinyModel", "inputs": {"family": "wan", "seed": 0}},
        "2": {"class_type": "LoadImage", "inputs": {"image": "clip.png"}},
        "3": {"class_type": "VAEEncode", "inputs": {"pixels": ["2", 0], "vae": ["1", 1]}},
        "4": {"class_type": "SetLatentNoiseMask", "inputs": {"samples": ["3", 0], "mask": ["2", 1]}},
        "5": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}},
        "7": {"class_type": "BasicScheduler", "inputs": {"model": ["1", 0], "scheduler": "simple", "steps": 4,
                                                          "denoise": 1.0}},
        "10": {"class_type": "SaveLatent", "inputs": {"samples": ["3", 0], "filename_prefix": f"video_{tag}_in"}},
    }


SAMPLERS = {
    "repaint_plus": {"class_type": "PriorPaintRePaintPlusSampler",
                     "inputs": {"mode": "repaint_plus_b", "jump_length": 1, "resamples": 1, "kappa_mode": "capped",
                                "kappa_cap": 4.0, "start_percent": 0.0, "end_percent": 1.0, "eta": 0.0,
                                "sigma_data": 1.0, "sampler": ["5", 0]}},
    "harmonized": {"class_type": "PriorPaintHarmonizedSampler",
                   "inputs": {"checkpoint": 0.5, "attempts": 2, "delta": 1, "threshold_mode": "fixed",
                              "threshold": 0.0, "components": 3, "max_points": 2000, "noise_blend": 0.0,
                              "texture": False, "sampler": ["5", 0], "vae": ["1", 1]}},
}


@pytest.mark.parametrize("method", sorted(SAMPLERS))
def test_video_clip_inpaints_through_the_server(server, method):
    clip_input(server, "clip.png")
    prompt = base_prompt(method)
    prompt["6"] = SAMPLERS[method]
    prompt["8"] = {"class_type": "SamplerCustom",
                   "inputs": {"model": ["1", 0], "add_noise": True, "noise_seed": 3, "cfg": 2.0, "positive": ["1", 2],
                              "negative": ["1", 3], "sampler": ["6", 0], "sigmas": ["7", 0], "latent_image": ["4", 0]}}
    prompt["9"] = {"class_type": "SaveLatent", "inputs": {"samples": ["8", 0], "filename_prefix": f"video_{method}_out"}}
    prompt["11"] = {"class_type": "VAEDecode", "inputs": {"samples": ["8", 0], "vae": ["1", 1]}}
    prompt["12"] = {"class_type": "PreviewImage", "inputs": {"images": ["11", 0]}}
    entry = server.run(prompt)
    out, inp = latent_of(server, entry, "9"), latent_of(server, entry, "10")
    assert inp.shape == (1, 16, 2, H // 8, W // 8) and out.shape == inp.shape and torch.isfinite(out).all()
    mask = torch.zeros(1, 1, FRAMES, H, W)
    mask[:, :, 2:, 8:24, 16:40] = 1
    keep = torch.nn.functional.interpolate(mask, size=inp.shape[2:], mode="trilinear").expand_as(out) == 0
    assert keep.any() and (out - inp)[keep].abs().max() < 1e-4  # known frames and pixels kept
    assert (out - inp)[~keep].abs().max() > 1e-3
    assert len(entry["outputs"]["12"]["images"]) == FRAMES


def test_gmm_seed_on_a_clip_then_vipaint_refuses_video_and_the_server_keeps_serving(server):
    from comfy_client import WorkflowError

    clip_input(server, "clip.png")
    prompt = base_prompt("gmm")
    prompt["6"] = {"class_type": "PriorPaintGMMSeed", "inputs": {"samples": ["4", 0], "components": 3, "seed": 0,
                                                                "max_points": 2000, "noise_blend": 0.0}}
    prompt["9"] = {"class_type": "SaveLatent", "inputs": {"samples": ["6", 0], "filename_prefix": "video_gmm_out"}}
    entry = server.run(prompt)
    assert latent_of(server, entry, "9").shape == latent_of(server, entry, "10").shape
    bad = base_prompt("vip")
    bad["6"] = {"class_type": "PriorPaintVIPaint", "inputs": {
        "model": ["1", 0], "positive": ["1", 2], "negative": ["1", 3], "latent_image": ["4", 0], "seed": 0,
        "cfg": 1.0, "t_e": 550, "t_s": 400, "keypoints": 2, "iterations": 1, "lr_mean": 0.1, "lr_logvar": 0.001,
        "lr_gamma": 0.01, "prior_weight": 100.0, "hier_weight": 100.0, "recon_weight": 100.0, "dps_steps": 1,
        "dps_scale": 0.5, "samples": 1}}
    bad["9"] = {"class_type": "SaveLatent", "inputs": {"samples": ["6", 0], "filename_prefix": "video_vip_out"}}
    with pytest.raises(WorkflowError, match=r"VIPaint \(Advanced\): input 'latent_image': is a video LATENT"):
        server.run(bad)
    assert server.get_json("/system_stats")["system"]
