"""RePaint+ and VIPaint through the real server on tiny real architectures (SD1.5 EPS, SD2 v, Flux flow):
the workflow runs and the unmasked region of the latent is left intact."""
import os

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file


def tiny_input(server, name: str, seed: int) -> None:
    """A random 64² RGB image whose alpha marks the hole [16:48, 24:56] (LoadImage turns it into MASK = 1)."""
    rng = np.random.default_rng(seed)
    rgb = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
    alpha = np.full((64, 64), 255, np.uint8)
    alpha[16:48, 24:56] = 0
    Image.fromarray(np.dstack([rgb, alpha])).save(os.path.join(server.input_dir, name))


def check_known_kept(out, inp) -> None:
    """The latent outside the hole is unchanged (1e-4); inside it changed."""
    mask = torch.zeros(1, 1, 64, 64)
    mask[..., 16:48, 24:56] = 1
    keep = torch.nn.functional.interpolate(mask, size=out.shape[-2:], mode="bilinear").expand_as(out) == 0
    assert (out - inp)[keep].abs().max() < 1e-4
    assert (out - inp)[~keep].abs().max() > 1e-3


def latent_of(server, entry, node):
    info = entry["outputs"][node]["latents"][0]
    path = os.path.join(server.output_dir, info.get("subfolder", ""), info["filename"])
    return load_file(path)["latent_tensor"]


@pytest.mark.parametrize("family", ["sd15", "sd2v", "flux"])
def test_repaint_plus_workflow_on_tiny_architectures(server, family):
    tiny_input(server, "tiny_input.png", 0)
    prompt = {
        "1": {"class_type": "PriorPaintTestTinyModel", "inputs": {"family": family, "seed": 0}},
        "2": {"class_type": "LoadImage", "inputs": {"image": "tiny_input.png"}},
        "3": {"class_type": "VAEEncode", "inputs": {"pixels": ["2", 0], "vae": ["1", 1]}},
        "4": {"class_type": "SetLatentNoiseMask", "inputs": {"samples": ["3", 0], "mask": ["2", 1]}},
        "5": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}},
        "6": {"class_type": "PriorPaintRePaintPlusSampler",
              "inputs": {"mode": "repaint_plus_b", "jump_length": 1, "resamples": 1, "kappa_mode": "capped",
                         "kappa_cap": 4.0, "start_percent": 0.0, "end_percent": 1.0, "eta": 0.0, "sigma_data": 1.0,
                         "sampler": ["5", 0]}},
        "7": {"class_type": "BasicScheduler", "inputs": {"model": ["1", 0], "scheduler": "karras", "steps": 4,
                                                          "denoise": 1.0}},
        "8": {"class_type": "SamplerCustom",
              "inputs": {"model": ["1", 0], "add_noise": True, "noise_seed": 3, "cfg": 2.0, "positive": ["1", 2],
                         "negative": ["1", 3], "sampler": ["6", 0], "sigmas": ["7", 0], "latent_image": ["4", 0]}},
        "9": {"class_type": "SaveLatent", "inputs": {"samples": ["8", 0], "filename_prefix": f"rp_{family}_out"}},
        "10": {"class_type": "SaveLatent", "inputs": {"samples": ["3", 0], "filename_prefix": f"rp_{family}_in"}},
        "11": {"class_type": "VAEDecode", "inputs": {"samples": ["8", 0], "vae": ["1", 1]}},
        "12": {"class_type": "PreviewImage", "inputs": {"images": ["11", 0]}},
    }
    entry = server.run(prompt)
    out, inp = latent_of(server, entry, "9"), latent_of(server, entry, "10")
    assert out.shape == inp.shape and torch.isfinite(out).all()
    check_known_kept(out, inp)
    assert entry["outputs"]["12"]["images"]


@pytest.mark.parametrize("family", ["sd15", "sd2v", "flux"])
def test_vipaint_latent_path_on_tiny_architectures(server, family):
    """VIPaint through the real server with the VAE decoder in the loop: SD1.5 (EPS), SD2 (v) and Flux (flow)."""
    tiny_input(server, "tiny_vip.png", 1)
    prompt = {
        "1": {"class_type": "PriorPaintTestTinyModel", "inputs": {"family": family, "seed": 0}},
        "2": {"class_type": "LoadImage", "inputs": {"image": "tiny_vip.png"}},
        "3": {"class_type": "VAEEncode", "inputs": {"pixels": ["2", 0], "vae": ["1", 1]}},
        "4": {"class_type": "SetLatentNoiseMask", "inputs": {"samples": ["3", 0], "mask": ["2", 1]}},
        "5": {"class_type": "PriorPaintVIPaint", "inputs": {
            "model": ["1", 0], "positive": ["1", 2], "negative": ["1", 3], "latent_image": ["4", 0], "vae": ["1", 1],
            "image": ["2", 0], "seed": 0, "cfg": 2.0, "t_e": 550, "t_s": 400, "keypoints": 2, "iterations": 2,
            "lr_mean": 0.1, "lr_logvar": 0.001, "lr_gamma": 0.01, "prior_weight": 100.0, "hier_weight": 100.0,
            "recon_weight": 100.0, "dps_steps": 2, "dps_scale": 0.5, "samples": 2}},
        "9": {"class_type": "SaveLatent", "inputs": {"samples": ["5", 0], "filename_prefix": f"vip_{family}_out"}},
        "10": {"class_type": "SaveLatent", "inputs": {"samples": ["3", 0], "filename_prefix": f"vip_{family}_in"}},
        "11": {"class_type": "VAEDecode", "inputs": {"samples": ["5", 0], "vae": ["1", 1]}},
        "12": {"class_type": "PreviewImage", "inputs": {"images": ["11", 0]}},
    }
    entry = server.run(prompt)
    out, inp = latent_of(server, entry, "9"), latent_of(server, entry, "10")
    assert out.shape[0] == 2 and out.shape[1:] == inp.shape[1:] and torch.isfinite(out).all()
    check_known_kept(out[:1], inp)
    assert len(entry["outputs"]["12"]["images"]) == 2
