"""Determinism on CPU: every node that draws random numbers gives bit-identical outputs for the same seed
and different outputs for another; GMM Seed's batch items are reproducible one at a time (item b of a
batch seeded s equals that item alone with the same seed and its ``batch_index``, ComfyUI's
LatentFromBatch convention; seeds are named streams, samplers/noise.py)."""
import torch

import comfy.sample
import comfy.samplers

from priorpaint.nodes.isdiff import GMMSeed, harmonized_sampler
from priorpaint.nodes.repaint import repaint_sampler
from priorpaint.nodes.vipaint import VIPaint
from priorpaint.support.comfy_models import empty_conditioning as cond
from priorpaint.support.comfy_models import exact_prior_model
from priorpaint.support.exact_priors import make_gaussian_mixture

SHAPE = (3, 8, 8)
with torch.inference_mode(False):
    PRIOR = make_gaussian_mixture(shape=SHAPE, components=3, rank=3, seed=0)
MODEL = exact_prior_model(PRIOR, "eps")
Y = PRIOR.sample(3, torch.Generator().manual_seed(0)).float().reshape(3, *SHAPE)
MASK = torch.zeros(1, 1, 8, 8)
MASK[..., 2:6, 3:8] = 1


def custom(sampler, seed):
    sigmas = comfy.samplers.calculate_sigmas(MODEL.get_model_object("model_sampling"), "karras", 6)
    return comfy.sample.sample_custom(MODEL, comfy.sample.prepare_noise(Y, seed), 1.0, sampler, sigmas, cond(), cond(),
                                      Y, noise_mask=MASK, disable_pbar=True, seed=seed)


def vipaint(seed):
    return VIPaint.execute(MODEL, cond(), cond(), {"samples": Y, "noise_mask": MASK[:, 0]}, seed, 1.0, 550, 400, 2, 3,
                           0.1, 1e-3, 0.01, 100.0, 100.0, 100.0, 3, 1.0, 2).args[0]["samples"]


def gmm(x, seed, batch_index=None):
    latent = {"samples": x} if batch_index is None else {"samples": x, "batch_index": batch_index}
    return GMMSeed.execute(latent, 3, seed, 500, 0.0, mask=MASK[:, 0]).args[0]["samples"]


RUNS = {
    "gmm seed": lambda s: gmm(Y, s),
    "repaint+": lambda s: custom(repaint_sampler(mode="repaint_plus_b", jump_length=1, resamples=2, eta=1.0), s),
    "repaint": lambda s: custom(repaint_sampler(mode="repaint", jump_length=2, resamples=2), s),
    "harmonized": lambda s: custom(harmonized_sampler(checkpoint=0.5, attempts=2, delta=1, threshold=0.0), s),
    "vipaint": vipaint,
}


def test_same_seed_is_bit_identical_and_another_seed_differs():
    for name, run in RUNS.items():
        a, b, c = run(3), run(3), run(4)
        assert torch.equal(a, b), f"{name}: same seed, different output"
        assert not torch.equal(a, c), f"{name}: the seed has no effect"


def test_gmm_seed_items_are_reproducible_one_at_a_time():
    batch = gmm(Y, 10)
    for b in range(Y.shape[0]):
        assert torch.equal(batch[b:b + 1], gmm(Y[b:b + 1], 10, batch_index=[b])), b
        assert not torch.equal(batch[b:b + 1], gmm(Y[b:b + 1], 11, batch_index=[b])), b
