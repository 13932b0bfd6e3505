"""PriorPaint KSampler (Advanced): drop-in for KSampler / KSamplerAdvanced. Each preset gives exactly the
result of the SamplerCustom stack a user would otherwise build (KSamplerSelect → RePaint+ Sampler →
SamplerCustom with BasicScheduler), 'core' gives exactly the stock KSampler's, for every sampler name
ComfyUI has, and the output differs from the input only inside the mask."""
import pytest
import torch

import comfy.samplers
import nodes as comfy_nodes
from comfy_extras import nodes_custom_sampler as ncs

from priorpaint.nodes.ksampler import (DEFAULT_SAMPLER, DEFAULT_SCHEDULER, PRESETS, PriorPaintKSampler,
                                      PriorPaintKSamplerAdvanced)
from priorpaint.nodes.repaint import RePaintPlusSampler
from priorpaint.support.comfy_models import empty_conditioning as cond
from priorpaint.support.comfy_models import exact_prior_model
from priorpaint.support.exact_priors import make_gaussian_mixture

SHAPE = (3, 4, 4)
NODE_DEFAULTS = dict(start_percent=0.0, end_percent=1.0, eta=0.0, sigma_data=1.0)


def problem(prediction="eps", n=3):
    with torch.inference_mode(False):
        prior = make_gaussian_mixture(shape=SHAPE, components=3, rank=2, seed=4)
    y = prior.sample(n, torch.Generator().manual_seed(1)).float().reshape(n, *SHAPE)
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., 1:3, 1:4] = 1
    latent = {"samples": y * (1 - mask), "noise_mask": mask}
    return exact_prior_model(prior, prediction), latent, mask


def _v3(result):
    return result.result if hasattr(result, "result") else result


def custom_stack(model, seed, steps, cfg, sampler_name, scheduler, latent, method, denoise=1.0):
    """The SamplerCustom workflow the preset stands for, built from ComfyUI's own nodes."""
    sampler = _v3(ncs.KSamplerSelect.execute(sampler_name))[0]
    opts = PRESETS[method].options
    if opts is not None:
        sampler = _v3(RePaintPlusSampler.execute(**dict(NODE_DEFAULTS, **opts), sampler=sampler))[0]
    if sampler_name in comfy.samplers.KSampler.DISCARD_PENULTIMATE_SIGMA_SAMPLERS:
        # KSampler drops the penultimate σ for these (uni_pc, dpm_2): no stock node builds that schedule, so the
        # stack takes KSampler's own
        sigmas = comfy.samplers.KSampler(model, steps, "cpu", sampler_name, scheduler, denoise).sigmas.cpu()
    else:
        sigmas = _v3(ncs.BasicScheduler.execute(model, scheduler, steps, denoise))[0]
    return _v3(ncs.SamplerCustom.execute(model, True, seed, cfg, cond(), cond(), sampler, sigmas, latent))[0]


@pytest.mark.parametrize("prediction", ["eps", "flow"])
@pytest.mark.parametrize("method", [m for m in PRESETS if PRESETS[m].options is not None])
@pytest.mark.parametrize("denoise", [1.0, 0.6])
@pytest.mark.parametrize("base", [("euler", "karras"), (DEFAULT_SAMPLER, DEFAULT_SCHEDULER), ("uni_pc", "simple")])
def test_each_preset_equals_its_sampler_custom_stack_and_keeps_the_known_region(prediction, method, denoise, base):
    model, latent, mask = problem(prediction)
    got = PriorPaintKSampler.execute(model, 7, 8, 1.0, *base, cond(), cond(), latent, denoise, method).result[0]
    want = custom_stack(model, 7, 8, 1.0, *base, latent, method, denoise)
    assert torch.equal(got["samples"], want["samples"])
    out, y = got["samples"], latent["samples"]
    keep = mask.expand_as(out) == 0
    assert torch.isfinite(out).all()
    assert (out - y)[keep].abs().max() < 1e-5, "the known region changed"
    assert (out - y)[~keep].abs().max() > 1e-2, "the hole was not inpainted"
    assert got is not latent and latent["samples"] is y  # a new LATENT; the input is not touched


@pytest.mark.parametrize("sampler_name", list(comfy.samplers.KSampler.SAMPLERS))
def test_core_is_the_stock_ksampler_for_every_sampler(sampler_name):
    """Same schedule rules as KSampler (denoise, the dropped penultimate σ of dpm_2 / uni_pc), read at test time."""
    model, latent, _ = problem("eps", n=2)
    got = PriorPaintKSampler.execute(model, 3, 5, 1.0, sampler_name, "normal", cond(), cond(), latent, 0.8,
                                     "core").result[0]["samples"]
    want = comfy_nodes.KSampler().sample(model, 3, 5, 1.0, sampler_name, "normal", cond(), cond(), latent, 0.8)[0]
    assert torch.allclose(got, want["samples"], atol=1e-6, rtol=0), sampler_name


@pytest.mark.parametrize("method", ["core", "balanced"])
def test_advanced_two_stage_chain(method):
    """A base + continuation chain (leftover noise, add_noise disabled) as KSamplerAdvanced does it."""
    model, latent, mask = problem("eps")
    adv = PriorPaintKSamplerAdvanced.execute
    first = adv(model, "enable", 11, 10, 1.0, "euler", "karras", cond(), cond(), latent, 0, 6, "enable", method).result[0]
    second = adv(model, "disable", 11, 10, 1.0, "euler", "karras", cond(), cond(), first, 6, 10000, "disable",
                 method).result[0]
    out = second["samples"]
    keep = mask.expand_as(out) == 0
    # as in ComfyUI's own chains, the second stage's known image is the first stage's output (still noisy
    # at the split), and that is what its known region ends as
    assert torch.isfinite(out).all() and (out - first["samples"])[keep].abs().max() < 1e-5
    if method == "core":
        k = comfy_nodes.KSamplerAdvanced().sample
        a = k(model, "enable", 11, 10, 1.0, "euler", "karras", cond(), cond(), latent, 0, 6, "enable")[0]
        b = k(model, "disable", 11, 10, 1.0, "euler", "karras", cond(), cond(), a, 6, 10000, "disable")[0]
        assert torch.allclose(first["samples"], a["samples"], atol=1e-6, rtol=0)
        assert torch.allclose(out, b["samples"], atol=1e-6, rtol=0)
    # starting at or after the end returns the input unchanged, as KSamplerAdvanced does
    same = adv(model, "enable", 11, 10, 1.0, "euler", "karras", cond(), cond(), latent, 10, 10000, "disable",
               method).result[0]
    assert torch.equal(same["samples"], latent["samples"])


def test_bad_method_names_the_node_and_the_input():
    model, latent, _ = problem("eps")
    with pytest.raises(ValueError, match=r"PriorPaint Inpaint KSampler: input 'method'"):
        PriorPaintKSampler.execute(model, 0, 4, 1.0, "euler", "karras", cond(), cond(), latent, 1.0, "wild")


@pytest.mark.parametrize("node", [PriorPaintKSampler, PriorPaintKSamplerAdvanced])
def test_default_sampler_and_scheduler_are_comfyuis_names(node):
    """The widgets' defaults are the pair the bench measures (nodes/ksampler.py, docs/repaint-plus.md) and names
    the running ComfyUI offers: a default missing from a combo's options breaks a freshly added node."""
    inputs = {i.id: i for i in node.define_schema().inputs}
    assert inputs["sampler_name"].default == DEFAULT_SAMPLER in comfy.samplers.KSampler.SAMPLERS
    assert inputs["scheduler"].default == DEFAULT_SCHEDULER in comfy.samplers.KSampler.SCHEDULERS
    assert inputs["method"].default == "balanced"
