"""Conformance of the pack's meta-samplers with *every* ComfyUI sampler (issue 16).

The base samplers are read from ``comfy.samplers.KSampler.SAMPLERS`` at test time, so a sampler that a
newer ComfyUI adds is covered without touching this file. Each test runs on exact-prior models (the
denoiser is the exact posterior mean, samplers/metrics and support/exact_priors) wrapped as EPS, V and
flow ComfyUI MODELs:

* exactness -- with nothing known (a noise mask of ones) RePaint+ (both variants) and the Harmonized
  Sampler have nothing to harmonise with and must reproduce their base sampler run (same seed) to 1e-4;
  with everything known every mode returns the input latent;
* distribution -- with nothing known the posterior is the prior, so plain RePaint (which walks its own
  path) must produce prior samples: sliced W2 to exact prior samples within a stated multiple of the
  exact-vs-exact floor;
* a real hole on the linear-Gaussian prior -- for every base sampler the known region is kept and the
  hole's spread is within a factor of the exact posterior's (no blow-ups);
* partial schedules -- SplitSigmas halves and denoise < 1: a run returns what its base sampler returns
  at σ_end (a latent at that noise level), and two stages match one stage's noise level;
* seeds -- the top of ComfyUI's seed range runs for every sampling node.
"""
from __future__ import annotations

import pytest
import torch

import comfy.sample
import comfy.samplers

from priorpaint.nodes.isdiff import harmonized_sampler
from priorpaint.nodes.repaint import repaint_sampler
from priorpaint.samplers.metrics import sliced_wasserstein2
from priorpaint.support.comfy_models import empty_conditioning as cond
from priorpaint.support.comfy_models import exact_prior_model
from priorpaint.support.exact_priors import make_linear_gaussian

SHAPE = (2, 4, 4)
PREDICTIONS = ["eps", "v", "flow"]
SEED_MAX = 2**64 - 1
# samplers that cannot be checked against the schedule they are given, with the reason
SCHEDULE_FREE = {"dpm_fast", "dpm_adaptive"}  # they build their own steps between σ_max and σ_min of the schedule

with torch.inference_mode(False):
    PRIOR = make_linear_gaussian(shape=SHAPE, k=24, seed=0)  # 24 of 32 dims: half known leaves a real posterior
MODELS = {p: exact_prior_model(PRIOR, p) for p in PREDICTIONS}


def all_samplers() -> list[str]:
    return list(comfy.samplers.KSampler.SAMPLERS)


def run(model, sampler, latent, mask, steps=8, seed=0, sigmas=None, add_noise=True):
    if sigmas is None:
        sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "karras", steps)
    noise = comfy.sample.prepare_noise(latent, seed) if add_noise else torch.zeros_like(latent)
    return comfy.sample.sample_custom(model, noise, 1.0, sampler, sigmas, cond(), cond(), latent,
                                      noise_mask=mask, disable_pbar=True, seed=seed)


def reference(base):
    """The base sampler as the reference run: its function on a copy of the schedule. uni_pc writes its
    last σ (0 → 1e-3) into the tensor it is given, which ComfyUI then reads back for
    ``inverse_noise_scaling`` (x/(1 − 1e-3) on flow models); the pack's factory passes a copy, so the
    reference does too."""
    def fn(model, x, sigmas, **kw):
        return base.sampler_function(model, x, sigmas.clone(), **kw)

    return comfy.samplers.KSAMPLER(fn, extra_options=base.extra_options, inpaint_options=base.inpaint_options)


def observation(n: int):
    y = PRIOR.sample(1, torch.Generator().manual_seed(1)).float().reshape(1, *SHAPE).expand(n, -1, -1, -1)
    mask = torch.zeros(1, 1, *SHAPE[1:])
    mask[..., :, 2:] = 1
    return y.contiguous(), mask


def modes(base):
    return {
        "repaint_plus_b": repaint_sampler(base=base, mode="repaint_plus_b", resamples=2),
        "repaint_plus_a": repaint_sampler(base=base, mode="repaint_plus_a", resamples=1),
        "harmonized": harmonized_sampler(base=base, checkpoint=0.5, attempts=2, delta=1, threshold=0.0),
        "repaint": repaint_sampler(mode="repaint", jump_length=2, resamples=2),
    }


@pytest.mark.parametrize("prediction", PREDICTIONS)
@pytest.mark.parametrize("name", all_samplers())
def test_nothing_known_reproduces_the_base_sampler_and_everything_known_returns_the_input(name, prediction):
    model = MODELS[prediction]
    base = comfy.samplers.sampler_object(name)
    y, _ = observation(4)
    ones = torch.ones(1, 1, *SHAPE[1:])
    want = run(model, reference(base), y, ones, seed=5)
    assert torch.isfinite(want).all(), f"{name} itself is not finite here"
    meta = modes(base)
    for mode in ("repaint_plus_b", "repaint_plus_a", "harmonized"):
        got = run(model, meta[mode], y, ones, seed=5)
        err = float((got - want).abs().max())
        assert err <= 1e-4, f"{mode} around {name} ({prediction}), nothing known: differs from {name} by {err:.3g}"
    zeros = torch.zeros(1, 1, *SHAPE[1:])
    for mode, sampler in meta.items():
        got = run(model, sampler, y, zeros, seed=5)
        err = float((got - y).abs().max())
        assert err <= 1e-5, f"{mode} around {name} ({prediction}), everything known: changes the input by {err:.3g}"


@pytest.mark.parametrize("prediction", PREDICTIONS)
def test_plain_repaint_with_nothing_known_draws_from_the_prior(prediction):
    """Plain RePaint changes the sample path (its own ancestral moves and time-travel jumps); with
    nothing known it must still sample the prior."""
    n = 512
    model = MODELS[prediction]
    y = torch.zeros(n, *SHAPE)
    ones = torch.ones(1, 1, *SHAPE[1:])
    out = run(model, repaint_sampler(mode="repaint", jump_length=2, resamples=2), y, ones, steps=20, seed=3)
    g = torch.Generator().manual_seed(7)
    exact_a, exact_b = PRIOR.sample(n, g).float(), PRIOR.sample(n, g).float()
    floor = sliced_wasserstein2(exact_a, exact_b, generator=torch.Generator().manual_seed(0))
    sw2 = sliced_wasserstein2(out.reshape(n, -1), exact_a, generator=torch.Generator().manual_seed(0))
    # measured: 1.0–1.3× the floor on EPS, V and flow; 2× leaves room for sampling error only
    assert sw2 <= 2.0 * floor, (prediction, sw2, floor)


@pytest.mark.parametrize("prediction", PREDICTIONS)
@pytest.mark.parametrize("name", all_samplers())
def test_a_real_hole_keeps_the_known_region_and_a_plausible_spread(name, prediction):
    n = 64
    model = MODELS[prediction]
    y, mask = observation(n)
    hole = mask.expand(n, *SHAPE).bool()
    post = PRIOR.posterior(y[0].reshape(-1).double(), ~hole[0].reshape(-1))
    exact = post.sample(4096, torch.Generator().manual_seed(0)).float()
    exact_std = exact[:, hole[0].reshape(-1)].std(0).mean()
    base = comfy.samplers.sampler_object(name)
    core = run(model, base, y, mask, steps=10, seed=2)  # ComfyUI's own inpainting with the same sampler
    core_ratio = float(core[hole].reshape(n, -1).std(0).mean() / exact_std)
    lo, hi = min(0.25, 0.8 * core_ratio), max(2.5, 1.25 * core_ratio)  # res_multistep_ancestral on flow: 2.8× itself
    for mode, sampler in modes(base).items():
        out = run(model, sampler, y, mask, steps=10, seed=2)
        assert torch.isfinite(out).all(), (name, prediction, mode)
        kept = float((out - y)[~hole].abs().max())
        assert kept <= 1e-5, f"{mode} around {name} ({prediction}) changes the known region by {kept:.3g}"
        std = out[hole].reshape(n, -1).std(0).mean()
        ratio = float(std / exact_std)
        assert lo <= ratio <= hi, (f"{mode} around {name} ({prediction}): hole spread {ratio:.2f}× the posterior's "
                                   f"(core inpainting with {name}: {core_ratio:.2f}×)")


def split(model, steps, at):
    sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "karras", steps)
    return sigmas[:at + 1], sigmas[at:]


@pytest.mark.parametrize("prediction", PREDICTIONS)
@pytest.mark.parametrize("name", [s for s in all_samplers() if s not in SCHEDULE_FREE])
def test_partial_schedules_return_what_the_base_sampler_returns(name, prediction):
    model = MODELS[prediction]
    base = comfy.samplers.sampler_object(name)
    y, _ = observation(4)
    ones = torch.ones(1, 1, *SHAPE[1:])
    high, low = split(model, 10, 5)
    denoise = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "karras", 20)[-11:]
    for label, sig, add in (("high", high, True), ("low", low, True), ("denoise 0.5", denoise, True)):
        want = run(model, reference(base), y, ones, sigmas=sig, seed=4, add_noise=add)
        for mode in ("repaint_plus_b", "harmonized"):
            got = run(model, modes(base)[mode], y, ones, sigmas=sig, seed=4, add_noise=add)
            err = float((got - want).abs().max())
            assert err <= 1e-4, f"{mode} around {name} ({prediction}), {label}: differs from {name} by {err:.3g}"


@pytest.mark.parametrize("prediction", PREDICTIONS)
@pytest.mark.parametrize("mode", ["repaint_plus_b", "repaint_plus_a", "harmonized", "repaint"])
def test_every_mode_stops_at_sigma_end_and_two_stages_match_one(prediction, mode):
    """The high half of a SplitSigmas schedule returns a latent at σ_mid's noise level, the known region
    included, as core inpainting leaves it (ComfyUI returns latents unscaled: ``y + σ_VE·ε``); the low
    half continues from it with add_noise off, and the two-stage hole has the spread that core
    inpainting's own two-stage chain has (its stage-2 known region is the stage-1 latent, so it is wider
    than one stage at large σ_mid: measured 0.79 vs 0.60 on EPS)."""
    n = 256
    model = MODELS[prediction]
    y, mask = observation(n)
    sampler = modes(comfy.samplers.sampler_object("euler"))[mode]
    core = comfy.samplers.sampler_object("euler")
    high, low = split(model, 10, 5)
    s_mid = float(high[-1])
    s_ve = s_mid / (1.0 - s_mid) if prediction == "flow" else s_mid
    known = ~mask.expand(n, *SHAPE).bool()

    def spread(t):
        return float(t[~known].reshape(n, -1).std(0).mean())

    mid = run(model, sampler, y, mask, sigmas=high, seed=6)
    resid = (mid - y)[known]
    assert abs(float(resid.std()) / s_ve - 1.0) < 0.1, (mode, float(resid.std()), s_ve)
    assert spread(mid) > 0.5 * s_ve, f"{mode}: the hole at σ_mid has spread {spread(mid):.3g}, not a noisy latent"
    two = run(model, sampler, mid, mask, sigmas=low, seed=7, add_noise=False)
    assert torch.equal(two[known], mid[known])  # core: stage 2's known image is the latent it is given
    core_mid = run(model, core, y, mask, sigmas=high, seed=6)
    core_two = run(model, core, core_mid, mask, sigmas=low, seed=7, add_noise=False)
    assert 0.75 < spread(two) / spread(core_two) < 1.4, (mode, spread(two), spread(core_two))


def test_the_top_seed_runs_for_every_sampling_node():
    from priorpaint.nodes.isdiff import GMMSeed
    from priorpaint.nodes.vipaint import VIPaint

    model = MODELS["eps"]
    y, mask = observation(2)
    for mode, sampler in modes(comfy.samplers.sampler_object("dpmpp_2m_sde")).items():
        out = run(model, sampler, y, mask, seed=SEED_MAX)
        assert torch.isfinite(out).all(), mode
        assert not torch.equal(out, run(model, sampler, y, mask, seed=SEED_MAX - 1)), f"{mode}: seed has no effect"
    gmm = GMMSeed.execute({"samples": y}, 3, SEED_MAX, 500, 0.0, mask=mask[:, 0]).args[0]["samples"]
    assert torch.isfinite(gmm).all()
    vi = VIPaint.execute(model, cond(), cond(), {"samples": y, "noise_mask": mask[:, 0]}, SEED_MAX, 1.0, 550, 400,
                         2, 3, 0.1, 1e-3, 0.01, 100.0, 100.0, 100.0, 3, 1.0, 2).args[0]["samples"]
    assert torch.isfinite(vi).all()


def test_every_sampler_the_pack_builds_comes_from_the_one_factory():
    """``nodes/sampling.make_ksampler`` is the only place a KSAMPLER is built (a scan of the pack's
    source: nodes, core, bench support and tools), and every SAMPLER the nodes hand to ComfyUI is one
    of its products."""
    import pathlib

    from priorpaint.nodes import sampling
    from priorpaint.nodes.isdiff import HarmonizedSampler
    from priorpaint.nodes.repaint import MODES, RePaintPlusSampler
    from priorpaint.nodes.vipaint import vipaint_sampler

    root = pathlib.Path(sampling.__file__).resolve().parents[1]
    builders = sorted(str(p.relative_to(root)) for sub in ("nodes", "samplers", "support", "tools")
                      for p in (root / sub).rglob("*.py") if "KSAMPLER(" in p.read_text())
    assert builders == ["nodes/sampling.py"], builders
    built = [RePaintPlusSampler.execute(mode=m, jump_length=1, resamples=1, kappa_mode="capped", kappa_cap=4.0,
                                        start_percent=0.0, end_percent=1.0, eta=0.0, sigma_data=1.0).result[0]
             for m in MODES]
    built.append(HarmonizedSampler.execute(checkpoint=0.5, attempts=2, delta=1, threshold_mode="fixed", threshold=1.5,
                                           components=5, max_points=2000, noise_blend=0.0, texture=False).result[0])
    built += [vipaint_sampler(), sampling.dps_sampler()]
    for sampler in built:
        assert sampler.sampler_function.__name__.startswith("sample_priorpaint_"), sampler.sampler_function
    assert {"repaint_plus", "repaint", "harmonized", "vipaint", "dps"} <= set(sampling.SAMPLER_FUNCTIONS)
