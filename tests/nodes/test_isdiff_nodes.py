"""IS-Diff nodes in-process: GMM Seed, DCE Check, Harmonized Sampler (alone and around RePaint+)."""
import pytest
import torch

import comfy.sample
import comfy.samplers

from priorpaint.nodes.isdiff import DCECheck, GMMSeed, HarmonizedSampler
from priorpaint.nodes.models import LoadDemoModel
from priorpaint.nodes.repaint import repaint_sampler
from priorpaint.support import bench as B
from priorpaint.support.comfy_models import tiny_model

HS = dict(checkpoint=0.5, attempts=3, delta=2, threshold_mode="fixed", threshold=1.5, components=3, max_points=5000,
          noise_blend=0.0, texture=False)


def pixel_problem():
    _, vae, c = LoadDemoModel.execute("stationary-gaussian", "eps").result
    g = torch.Generator().manual_seed(0)
    img = torch.rand(1, 32, 32, 3, generator=g) * 0.2 + torch.tensor([0.7, 0.3, 0.2])
    latent = {"samples": vae.encode(img)}
    mask = torch.zeros(1, 32, 32)
    mask[:, 8:24, 8:24] = 1
    return img, latent, mask


def test_gmm_seed_node_fills_the_hole_from_the_known_colours():
    img, latent, mask = pixel_problem()
    out = GMMSeed.execute(latent, 3, 0, 20000, 0.0, mask).result[0]
    x, y = out["samples"], latent["samples"]
    assert out["noise_mask"].shape == (1, 1, 32, 32)
    keep = mask[:, None].expand_as(x) == 0
    assert torch.equal(x[keep], y[keep])
    hole = x[~keep].view(3, -1)
    assert (hole.mean(1) - y[keep].view(3, -1).mean(1)).abs().max() < 0.05
    assert torch.equal(latent["samples"], y)  # input not mutated
    # the noise mask of a LATENT is used when no MASK is given
    again = GMMSeed.execute({"samples": y, "noise_mask": mask[:, None]}, 3, 0, 20000, 0.0).result[0]
    assert torch.equal(again["samples"], x)


def test_gmm_seed_node_errors_name_the_input():
    _, latent, mask = pixel_problem()
    with pytest.raises(ValueError, match="GMM Seed: input 'mask': is missing"):
        GMMSeed.execute(latent, 3, 0, 20000, 0.0)
    with pytest.raises(ValueError, match="input 'mask': covers the whole image"):
        GMMSeed.execute(latent, 3, 0, 20000, 0.0, torch.ones(1, 32, 32))
    with pytest.raises(ValueError, match="input 'mask': is empty"):
        GMMSeed.execute(latent, 3, 0, 20000, 0.0, torch.zeros(1, 32, 32))
    with pytest.raises(ValueError, match="input 'mask': has batch size 2"):
        GMMSeed.execute({"samples": latent["samples"].repeat(3, 1, 1, 1)}, 3, 0, 20000, 0.0, mask.repeat(2, 1, 1))


def test_dce_check_node():
    img, _, mask = pixel_problem()
    out = DCECheck.execute(img, mask, 64, False)
    kl, ce, heat, heat_mask = out.result
    assert 0 <= kl < 0.5 and ce > kl
    assert heat.shape == img.shape and heat_mask.shape == mask.shape
    bad = img.clone()
    bad[:, 8:24, 8:24] = torch.tensor([0.0, 0.9, 0.0])
    assert DCECheck.execute(bad, mask, 64, False).result[0] > 5 * kl + 1
    with pytest.raises(ValueError, match="DCE Check: input 'mask'"):
        DCECheck.execute(img, torch.zeros(1, 32, 32), 64, False)


def run_sampler(model, sampler, latent, mask, c, steps=10, seed=0):
    sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "karras", steps)
    return comfy.sample.sample_custom(model, comfy.sample.prepare_noise(latent, seed), 1.0, sampler, sigmas, c, c,
                                      latent, noise_mask=mask, disable_pbar=True, seed=seed)


@pytest.mark.parametrize("prediction", ["eps", "flow"])
def test_harmonized_sampler_restarts_and_keeps_known(prediction):
    model, vae, c = LoadDemoModel.execute("stationary-gaussian", prediction).result
    img, latent, mask = pixel_problem()
    counted = B.Counted(model)
    hs = HarmonizedSampler.execute(**dict(HS, threshold=0.0)).result[0]  # τ = 0: every attempt is made
    out = run_sampler(counted.model, hs, latent["samples"], mask[:, None], c)
    keep = mask[:, None].expand_as(out) == 0
    assert (out - latent["samples"])[keep].abs().max() < 1e-5
    # 3 attempts from levels 0, 2, 4 to the checkpoint 5, then 5 more levels: 5 + 3 + 1 + 5 evaluations
    assert counted.nfe(1)[0] == 14
    counted.reset()
    easy = HarmonizedSampler.execute(**dict(HS, threshold=10.0)).result[0]  # accepted at once
    run_sampler(counted.model, easy, latent["samples"], mask[:, None], c)
    assert counted.nfe(1)[0] == 10


def test_harmonized_around_repaint_plus_with_a_vae_on_a_latent_model():
    b = tiny_model("sd15")
    img = torch.rand(1, 64, 64, 3, generator=torch.Generator().manual_seed(0))
    latent = b.vae.encode(img)
    mask = torch.zeros(1, 1, 64, 64)
    mask[..., 16:48, 16:48] = 1
    base = repaint_sampler(mode="repaint_plus_b", jump_length=1, resamples=1)
    hs = HarmonizedSampler.execute(**dict(HS, threshold_mode="auto"), sampler=base, vae=b.vae).result[0]
    sigmas = comfy.samplers.calculate_sigmas(b.model.get_model_object("model_sampling"), "karras", 6)
    out = comfy.sample.sample_custom(b.model, comfy.sample.prepare_noise(latent, 0), 2.0, hs, sigmas, b.positive,
                                     b.negative, latent, noise_mask=mask, disable_pbar=True, seed=0)
    keep = comfy.utils.reshape_mask(mask, out.shape) == 0
    assert torch.isfinite(out).all() and (out - latent)[keep].abs().max() < 1e-4


def test_harmonized_rejects_non_ksampler_base():
    with pytest.raises(ValueError, match="input 'sampler'"):
        HarmonizedSampler.execute(**HS, sampler=object())
