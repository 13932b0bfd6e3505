"""Video latents ``[B, C, T, H, W]`` through every node, on a tiny Wan 2.1 video model built from ComfyUI's
own classes (issue 18): masks per frame or one for all frames; known frames and pixels are kept; where a
technique cannot take video, the error names the node, the input and the shape."""
import pytest
import torch

import comfy.sample
import comfy.samplers
import comfy.utils

from priorpaint.nodes import aid as AIDN
from priorpaint.nodes.image import Composite
from priorpaint.nodes.isdiff import DCECheck, GMMSeed, HarmonizedSampler
from priorpaint.nodes.repaint import MODES, repaint_sampler
from priorpaint.nodes.vipaint import VIPaint
from priorpaint.samplers import aid as A
from priorpaint.support.comfy_models import tiny_model

FRAMES, H, W = 5, 32, 48  # -> latent [1, 16, 2, 4, 6]


@pytest.fixture(scope="module")
def wan():
    b = tiny_model("wan", seed=0)
    clip = torch.rand(FRAMES, H, W, 3, generator=torch.Generator().manual_seed(0)) * 0.3 + 0.35
    return b, clip, b.vae.encode(clip)


def masks():
    """Per-frame masks (the last frames are the hole) and one mask for every frame (a box)."""
    per_frame = torch.zeros(FRAMES, H, W)
    per_frame[2:] = 1
    box = torch.zeros(1, H, W)
    box[:, 8:24, 16:40] = 1
    return {"per_frame": per_frame, "one_for_all": box}


def sample(b, latent, mask, sampler, steps=4):
    noise_mask = comfy.utils.reshape_mask(mask.reshape(1, 1, -1, H, W), latent.shape)[:, :1]
    sigmas = comfy.samplers.calculate_sigmas(b.model.get_model_object("model_sampling"), "simple", steps)
    out = comfy.sample.sample_custom(b.model, comfy.sample.prepare_noise(latent, 0), 1.0, sampler, sigmas, b.positive,
                                     b.negative, latent, noise_mask=noise_mask, disable_pbar=True, seed=0)
    return out.detach(), noise_mask


def assert_known_kept(out, latent, noise_mask):
    keep = (noise_mask == 0).expand_as(latent)
    assert out.shape == latent.shape and torch.isfinite(out).all()
    assert keep.any() and (out - latent)[keep].abs().max() < 1e-5
    assert (out - latent)[~keep].abs().max() > 1e-4


@pytest.mark.parametrize("which", ["per_frame", "one_for_all"])
def test_gmm_seed_on_video(wan, which):
    b, _, latent = wan
    mask = masks()[which]
    out = GMMSeed.execute({"samples": latent}, 3, 0, 2000, 0.0, mask).result[0]
    nm = out["noise_mask"]
    assert out["samples"].shape == latent.shape and nm.shape == (1, 1, *latent.shape[2:])
    keep = (nm == 0).expand_as(latent)
    assert torch.equal(out["samples"][keep], latent[keep])
    # the seeded latent samples like any noise-masked LATENT (KSampler at denoise < 1)
    again = GMMSeed.execute({"samples": latent, "noise_mask": nm}, 3, 0, 2000, 0.0).result[0]
    assert torch.equal(again["samples"], out["samples"])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("which", ["per_frame", "one_for_all"])
def test_repaint_plus_on_video(wan, mode, which):
    b, _, latent = wan
    out, nm = sample(b, latent, masks()[which], repaint_sampler(mode=mode, jump_length=1, resamples=1))
    assert_known_kept(out, latent, nm)


@pytest.mark.parametrize("which", ["per_frame", "one_for_all"])
def test_harmonized_on_video(wan, which):
    b, _, latent = wan
    for vae in (None, b.vae):
        s = HarmonizedSampler.execute(checkpoint=0.5, attempts=2, delta=1, threshold_mode="auto", threshold=0.0,
                                      components=3, max_points=2000, noise_blend=0.0, texture=False, vae=vae).result[0]
        out, nm = sample(b, latent, masks()[which], s)
        assert_known_kept(out, latent, nm)


def test_apply_aid_on_video(wan, tmp_path):
    """The module acts on each frame as an image; an untrained module is exactly the unguided sampler."""
    b, _, latent = wan
    with torch.inference_mode(False):
        net = A.GuidanceNet(16, sigma_data=1.0)
        info = AIDN.backbone_info(b.model)
        tp = A.TimeParam(max(info["sigma_min"], 0.002), min(info["sigma_max"], 80.0))
        path = str(tmp_path / "wan.safetensors")
        A.save_module(path, net, A.module_metadata(net, info, tp, {"iterations": 0}))
        g = AIDN.load_guidance_file(path)
        euler = comfy.samplers.sampler_object("euler")
        plain, nm = sample(b, latent, masks()["one_for_all"], euler)
        guided = AIDN.ApplyAIDGuidance.execute(b.model, g, 1.0).result[0]
        g2 = AIDN.load_guidance_file(path)
        torch.nn.init.normal_(g2.net.out.weight, std=0.5, generator=torch.Generator().manual_seed(0))
        steered = AIDN.ApplyAIDGuidance.execute(b.model, g2, 1.0).result[0]
    from dataclasses import replace
    same, _ = sample(replace(b, model=guided), latent, masks()["one_for_all"], euler)
    changed, _ = sample(replace(b, model=steered), latent, masks()["one_for_all"], euler)
    torch.testing.assert_close(same, plain)
    assert_known_kept(changed, latent, nm)
    assert (changed - plain).abs().max() > 1e-4


def test_dce_check_and_composite_take_video_frames_as_an_image_batch(wan):
    _, clip, _ = wan
    mask = masks()["one_for_all"]
    kl, ce, heat, heat_mask = DCECheck.execute(clip, mask, 32, False).result
    assert heat.shape == clip.shape and heat_mask.shape == (FRAMES, H, W)
    out = Composite.execute(clip, 1 - clip, masks()["per_frame"], 0.0, "none").result[0]
    assert torch.equal(out[:2], clip[:2]) and torch.allclose(out[2:], 1 - clip[2:])


def test_techniques_without_video_say_so(wan):
    b, _, latent = wan
    with pytest.raises(ValueError, match=r"VIPaint \(Advanced\): input 'latent_image': is a video LATENT \(1, 16, 2, 4, 6\)"):
        VIPaint.execute(b.model, b.positive, b.negative, {"samples": latent, "noise_mask": torch.ones(1, 1, 2, 4, 6)},
                        0, 1.0, 0.6, 0.3, 2, 1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 2, 1.0, 1)
    with pytest.raises(ValueError, match=r"Train AID Guidance \(Advanced\): input 'vae'.*video"):
        AIDN.TrainAIDGuidance.execute(b.model, b.vae, torch.rand(2, 32, 32, 3), name="x", mask_kind="mixed",
                                      iterations=1, batch=2, crop=4, steps=2, lr_actor=1e-4, lr_critic=1e-3,
                                      lam=0.1, beta=1.0, seed=0, resume=False, checkpoint_every=10)

