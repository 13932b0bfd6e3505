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


# --- issue 36: nothing silent, through the server a user runs ------------------------------------------------
def _refused(server, prompt, node, socket, expected):
    with pytest.raises(WorkflowError) as e:
        server.run(prompt)
    msg = json.dumps(e.value.details, ensure_ascii=False)
    assert f"PriorPaint {node}:" in msg and f"input '{socket}'" in msg and expected in msg, msg
    still_serving(server)
    return msg


def _ksampler(latent, method="core", cfg=1.0, node="PriorPaintKSampler"):
    """Tiny SD1.5 + ``latent`` (a node output) → Inpaint KSampler → SaveLatent."""
    return {"1": {"class_type": "PriorPaintTestTinyModel", "inputs": {"family": "sd15", "seed": 0}},
            "9": {"class_type": node, "inputs": {
                "model": ["1", 0], "seed": 0, "steps": 2, "cfg": cfg, "sampler_name": "euler", "scheduler": "simple",
                "positive": ["1", 2], "negative": ["1", 3], "latent_image": latent, "denoise": 1.0,
                "method": method}},
            "10": {"class_type": "SaveLatent", "inputs": {"samples": ["9", 0], "filename_prefix": "hostile"}}}


def _masked_latent(width=64, height=64, batch=1, mask_value="1.0", mask_w=64, mask_h=64, mask_batch=1):
    return {"2": {"class_type": "EmptyLatentImage", "inputs": {"width": width, "height": height, "batch_size": batch}},
            "3": {"class_type": "PriorPaintTestHostileMask", "inputs": {"value": mask_value, "width": mask_w,
                                                                         "height": mask_h, "batch": mask_batch}},
            "4": {"class_type": "SetLatentNoiseMask", "inputs": {"samples": ["2", 0], "mask": ["3", 0]}}}


@pytest.mark.parametrize("method,value,expected", [("core", "nan", "NaN or Inf"), ("core", "-0.5", "[-0.5, 0]"),
                                                   ("core", "2.0", "[0, 2]"), ("balanced", "inf", "NaN or Inf")])
def test_every_method_refuses_a_noise_mask_outside_0_1(server, method, value, expected):
    """method=core used to skip the check: NaN gave a NaN latent, -0.5 changed the known region."""
    _refused(server, {**_masked_latent(mask_value=value), **_ksampler(["4", 0], method)},
             "Inpaint KSampler", "latent_image", f"its noise_mask has values" if "[" in expected else expected)


def test_a_small_noise_mask_of_another_aspect_is_refused_not_stretched(server):
    _refused(server, {**_masked_latent(width=512, height=384, mask_w=10, mask_h=10), **_ksampler(["4", 0])},
             "Inpaint KSampler", "latent_image", "its noise_mask is 10x10 (WxH) but the image/latent it masks is 64x48")


def test_three_latents_with_two_masks_are_refused(server):
    _refused(server, {**_masked_latent(batch=3, mask_batch=2), **_ksampler(["4", 0], "balanced")},
             "Inpaint KSampler", "latent_image", "its noise_mask has batch size 2 but the batch has 3")


def test_a_guidance_scale_of_nan_is_refused_at_once_by_the_advanced_node(server):
    prompt = {**_masked_latent(), **_ksampler(["4", 0], "balanced", cfg=float("nan"))}
    inputs = prompt["9"]["inputs"]
    prompt["9"] = {"class_type": "PriorPaintKSamplerAdvanced", "inputs": {
        "model": inputs["model"], "add_noise": "enable", "noise_seed": 0, "steps": 2, "cfg": float("nan"),
        "sampler_name": "euler", "scheduler": "simple", "positive": inputs["positive"], "negative": inputs["negative"],
        "latent_image": inputs["latent_image"], "start_at_step": 0, "end_at_step": 10000,
        "return_with_leftover_noise": "disable", "method": "balanced"}}
    _refused(server, prompt, "Inpaint KSampler (Advanced)", "cfg", "a finite number")


def test_a_video_latent_into_an_image_model_is_refused(server):
    prompt = {"2": {"class_type": "EmptyHunyuanLatentVideo", "inputs": {"width": 64, "height": 64, "length": 5,
                                                                          "batch_size": 1}},
              **_ksampler(["2", 0], "balanced")}
    _refused(server, prompt, "Inpaint KSampler", "latent_image", "is a 5-D latent [B, C, T, H, W] (video)")


@pytest.mark.parametrize("side", [8, 16])
def test_an_8_or_16_pixel_image_through_the_sd_vae_is_refused_before_the_unet(server, side):
    prompt = {"1": {"class_type": "PriorPaintTestTinyModel", "inputs": {"family": "sd15", "seed": 0}},
              "5": {"class_type": "EmptyImage", "inputs": {"width": side, "height": side, "batch_size": 1, "color": 0}},
              "6": {"class_type": "SolidMask", "inputs": {"value": 1.0, "width": side, "height": side}},
              "7": {"class_type": "PriorPaintInpaintEncode", "inputs": {"pixels": ["5", 0], "mask": ["6", 0],
                                                                         "vae": ["1", 1], "grow": 0, "feather": 0.0,
                                                                         "fill": "neutral grey"}}}
    prompt.update({k: v for k, v in _ksampler(["7", 0], "core").items() if k != "1"})
    _refused(server, prompt, "Inpaint KSampler", "latent_image", "too small for this model")


def test_inpaint_encode_names_its_pixels_socket(server):
    odd_photo(server, "rgba_encode.png", (64, 48))
    _refused(server, {"1": {"class_type": "PriorPaintTestTinyModel", "inputs": {"family": "sd15", "seed": 0}},
                      "2": {"class_type": "LoadImage", "inputs": {"image": "rgba_encode.png"}},
                      "3": {"class_type": "JoinImageWithAlpha", "inputs": {"image": ["2", 0], "alpha": ["2", 1]}},
                      "4": {"class_type": "PriorPaintInpaintEncode", "inputs": {
                          "pixels": ["3", 0], "mask": ["2", 1], "vae": ["1", 1], "grow": 0, "feather": 0.0,
                          "fill": "neutral grey"}},
                      "5": {"class_type": "SaveLatent", "inputs": {"samples": ["4", 0], "filename_prefix": "x"}}},
             "Inpaint Encode", "pixels", "4 channels")


def _crop(image_node):
    return {"c": {"class_type": "PriorPaintInpaintCrop", "inputs": {"image": image_node, "mask": ["p", 1],
                                                                      "context": 0.5, "margin": 16,
                                                                      "megapixels": 0.05, "multiple": 16}}}


def test_stitch_refuses_the_full_original_and_another_photos_crop(server):
    photo = {"p": {"class_type": "PriorPaintExamplePhoto", "inputs": {"photo": "cat", "width": 512,
                                                                      "hole": "box and stroke"}},
             "q": {"class_type": "PriorPaintExamplePhoto", "inputs": {"photo": "coffee", "width": 512,
                                                                      "hole": "box and stroke"}}}
    other = {"d": {"class_type": "PriorPaintInpaintCrop", "inputs": {"image": ["q", 0], "mask": ["p", 1],
                                                                      "context": 0.5, "margin": 16,
                                                                      "megapixels": 0.05, "multiple": 16}}}

    def stitch(inpainted):
        return {"s": {"class_type": "PriorPaintInpaintStitch", "inputs": {"stitch": ["c", 2], "inpainted": inpainted,
                                                                           "feather": 4.0, "colour_match": "none"}},
                "o": {"class_type": "PreviewImage", "inputs": {"images": ["s", 0]}}}

    _refused(server, {**photo, **_crop(["p", 0]), **stitch(["p", 0])}, "Inpaint Stitch", "inpainted",
             "but Inpaint Crop cut a")
    _refused(server, {**photo, **_crop(["p", 0]), **other, **stitch(["d", 0])}, "Inpaint Stitch", "inpainted",
             "does not show the region Inpaint Crop cut out")
    entry = server.run({**photo, **_crop(["p", 0]), **stitch(["c", 0])})  # its own crop stitches back
    assert entry["outputs"]["o"]["images"]


def test_inpaint_crop_refuses_a_strip_it_cannot_bound(server):
    _refused(server, {"i": {"class_type": "EmptyImage", "inputs": {"width": 96, "height": 1, "batch_size": 1,
                                                                     "color": 0}},
                      "m": {"class_type": "SolidMask", "inputs": {"value": 1.0, "width": 96, "height": 1}},
                      "c": {"class_type": "PriorPaintInpaintCrop", "inputs": {
                          "image": ["i", 0], "mask": ["m", 0], "context": 0.5, "margin": 32, "megapixels": 1.0,
                          "multiple": 256}},
                      "o": {"class_type": "PreviewImage", "inputs": {"images": ["c", 0]}}},
             "Inpaint Crop", "megapixels", "needs at least 6.29 megapixels")


def test_train_aid_refuses_to_save_a_diverged_module(server):
    msg = _refused(server, {
        "m": {"class_type": "PriorPaintLoadDemoModel", "inputs": {"model_name": "priorpaint-unet", "prediction": "eps"}},
        "p": {"class_type": "PriorPaintExamplePhoto", "inputs": {"photo": "cat", "width": 64, "hole": "box"}},
        "t": {"class_type": "PriorPaintTrainAIDGuidance", "inputs": {
            "model": ["m", 0], "vae": ["m", 1], "images": ["p", 0], "name": "diverged", "mask_kind": "mixed",
            "iterations": 30, "batch": 8, "crop": 8, "steps": 4, "lr_actor": 0.5, "lr_critic": 0.001, "lam": 0.1,
            "beta": 1.0, "seed": 0, "resume": False, "checkpoint_every": 5}}},
        "Train AID Guidance (Advanced)", "lr_actor", "training diverged at iteration")
    assert "the module was not saved" in msg
    assert not os.path.exists(os.path.join(server.guidance_dir, "diverged.safetensors"))
