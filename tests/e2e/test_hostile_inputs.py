"""Hostile inputs found outside the original matrix (issue 18), through the real server: each gives a clear
error naming the node and the input, or the correct result, and the server keeps serving after each."""
import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

from comfy_client import WorkflowError


def odd_photo(server, name="odd.png", size=(100, 60)):
    """A photo whose size is not a multiple of 8 (VAEEncode crops it to 96x56), hole in its alpha."""
    rng = np.random.default_rng(0)
    w, h = size
    rgb = (rng.random((h, w, 3)) * 80 + 90).astype(np.uint8)
    alpha = np.full((h, w), 255, np.uint8)
    alpha[16:44, 30:70] = 0
    Image.fromarray(np.dstack([rgb, alpha])).save(os.path.join(server.input_dir, name))


def still_serving(server):
    assert server.get_json("/system_stats")["system"]


def test_a_photo_not_divisible_by_8_goes_through_every_node_of_the_chain(server):
    """One mask-size rule: GMM Seed, DCE Check and VIPaint all accept LoadImage's 100x60 mask (and VIPaint
    the 100x60 photo) beside the 96x56 decode of the cropped latent."""
    odd_photo(server)
    prompt = {
        "1": {"class_type": "PriorPaintTestTinyModel", "inputs": {"family": "sd15", "seed": 0}},
        "2": {"class_type": "LoadImage", "inputs": {"image": "odd.png"}},
        "3": {"class_type": "VAEEncode", "inputs": {"pixels": ["2", 0], "vae": ["1", 1]}},
        "4": {"class_type": "PriorPaintGMMSeed", "inputs": {"samples": ["3", 0], "components": 3, "seed": 0,
                                                             "max_points": 10_000_000, "noise_blend": 0.0,
                                                             "mask": ["2", 1]}},
        "5": {"class_type": "VAEDecode", "inputs": {"samples": ["4", 0], "vae": ["1", 1]}},
        "6": {"class_type": "PriorPaintDCECheck", "inputs": {"image": ["5", 0], "mask": ["2", 1], "bins": 32,
                                                              "texture": False}},
        "7": {"class_type": "PriorPaintVIPaint", "inputs": {
            "model": ["1", 0], "positive": ["1", 2], "negative": ["1", 3], "latent_image": ["4", 0], "vae": ["1", 1],
            "image": ["2", 0], "mask": ["2", 1], "seed": 0, "cfg": 1.0, "t_e": 550, "t_s": 400, "keypoints": 2,
            "iterations": 1, "lr_mean": 0.1, "lr_logvar": 0.001, "lr_gamma": 0.01, "prior_weight": 100.0,
            "hier_weight": 100.0, "recon_weight": 100.0, "dps_steps": 1, "dps_scale": 0.5, "samples": 1}},
        "8": {"class_type": "SaveLatent", "inputs": {"samples": ["7", 0], "filename_prefix": "odd"}},
    }
    entry = server.run(prompt)
    assert entry["outputs"]["6"]["text"] or entry["outputs"]["6"]
    still_serving(server)


def _hostile_module(server, name, net_changes):
    from safetensors.torch import save_file

    meta = {"format": "priorpaint.aid_guidance", "format_version": "1",
            "net": json.dumps(dict({"channels": 3, "width": 16, "emb": 32, "sigma_data": 0.5}, **net_changes)),
            "backbone": "{}", "time": json.dumps({"sigma_min": 0.03, "sigma_max": 14.6, "rho": 7.0}), "training": "{}"}
    save_file({"out.weight": torch.zeros(3, 16, 3, 3)}, os.path.join(server.guidance_dir, name), metadata=meta)


@pytest.mark.parametrize("name,changes,expected", [
    ("wide.safetensors", {"width": 4096}, "net.width' = 4096, expected 4 … 512"),
    ("extra.safetensors", {"depth": 3}, "unknown 'net' keys"),
    ("shapes.safetensors", {}, "do not match its declared network"),
])
def test_hostile_module_files_fail_clearly(server, name, changes, expected):
    _hostile_module(server, name, changes)
    with pytest.raises(WorkflowError) as e:
        server.run({"1": {"class_type": "PriorPaintLoadAIDGuidance", "inputs": {"guidance_name": name}},
                    "2": {"class_type": "PriorPaintApplyAIDGuidance", "inputs": {
                        "model": ["3", 0], "guidance": ["1", 0], "strength": 1.0}},
                    "3": {"class_type": "PriorPaintLoadDemoModel", "inputs": {"model_name": "priorpaint-unet",
                                                                              "prediction": "eps"}},
                    "4": {"class_type": "PriorPaintTestChecksum", "inputs": {"value": ["2", 0]}}})
    msg = json.dumps(e.value.details, ensure_ascii=False)
    assert "Load AID Guidance" in msg and "input 'guidance_name'" in msg and expected in msg, msg
    still_serving(server)


def test_rgba_image_into_dce_check_and_a_full_mask_into_harmonized(server):
    odd_photo(server, "rgba.png", (64, 48))
    with pytest.raises(WorkflowError) as e:
        server.run({"1": {"class_type": "LoadImage", "inputs": {"image": "rgba.png"}},
                    "2": {"class_type": "JoinImageWithAlpha", "inputs": {"image": ["1", 0], "alpha": ["1", 1]}},
                    "3": {"class_type": "PriorPaintDCECheck", "inputs": {"image": ["2", 0], "mask": ["1", 1],
                                                                          "bins": 32, "texture": False}}})
    msg = json.dumps(e.value.details, ensure_ascii=False)
    assert "DCE Check" in msg and "input 'image'" in msg and "4 channels" in msg, msg
    still_serving(server)
    # Harmonized on a mask covering everything samples like its base sampler (nothing to harmonise with)
    entry = server.run({
        "1": {"class_type": "PriorPaintLoadDemoModel", "inputs": {"model_name": "priorpaint-unet", "prediction": "eps"}},
        "2": {"class_type": "EmptyLatentImage", "inputs": {"width": 32, "height": 32, "batch_size": 1}},
        "3": {"class_type": "SolidMask", "inputs": {"value": 1.0, "width": 32, "height": 32}},
        "4": {"class_type": "SetLatentNoiseMask", "inputs": {"samples": ["2", 0], "mask": ["3", 0]}},
        "5": {"class_type": "PriorPaintHarmonizedSampler", "inputs": {
            "checkpoint": 0.5, "attempts": 2, "delta": 1, "threshold_mode": "fixed", "threshold": 1.5,
            "components": 3, "max_points": 2000, "noise_blend": 0.0, "texture": False}},
        "6": {"class_type": "BasicScheduler", "inputs": {"model": ["1", 0], "scheduler": "karras", "steps": 4,
                                                          "denoise": 1.0}},
        "7": {"class_type": "SamplerCustom", "inputs": {
            "model": ["1", 0], "add_noise": True, "noise_seed": 0, "cfg": 1.0, "positive": ["1", 2],
            "negative": ["1", 2], "sampler": ["5", 0], "sigmas": ["6", 0], "latent_image": ["4", 0]}},
        "8": {"class_type": "SaveLatent", "inputs": {"samples": ["7", 0], "filename_prefix": "full"}}})
    assert entry["outputs"]["8"]["latents"]
    still_serving(server)
