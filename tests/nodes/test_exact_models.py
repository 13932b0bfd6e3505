"""Exact priors wrapped as real ComfyUI MODELs: ComfyUI's calculate_denoised reproduces the exact
denoiser (to 1e-5) for EPS, V-prediction and flow (CONST, shifted), both called directly and
through ComfyUI's own sampler path (CFGGuider -> calc_cond_batch -> KSamplerX0Inpaint)."""
import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

import comfy.model_sampling
import comfy.sample
import comfy.samplers
import comfy.utils

from priorpaint.samplers.ve import FLOW_SIGMA_CAP
from priorpaint.support.comfy_models import FLOW_SHIFT, exact_prior_model
from priorpaint.support.comfy_models import empty_conditioning as cond
from priorpaint.support.exact_priors import make_gaussian_mixture, make_linear_gaussian

SHAPE = (3, 4, 4)
PRIORS = {
    "linear": lambda: make_linear_gaussian(shape=SHAPE, k=5, scale=1.0, seed=0),
    "gmm": lambda: make_gaussian_mixture(shape=SHAPE, components=3, rank=3, seed=0),
}


def brute_posterior_mean(prior, x: np.ndarray, a: float, s: float) -> np.ndarray:
    """E[x0 | x = a·x0 + s·ε] by Bayes in the model's own coordinates (no VE conversion)."""
    d = prior.dim
    logs, means = [], []
    for w, mu, c in zip(prior.weights.numpy(), prior.means.numpy(), prior.covs.numpy()):
        cx = a * a * c + s * s * np.eye(d)
        logs.append(np.log(w) + multivariate_normal(a * mu, cx, allow_singular=True).logpdf(x))
        means.append(mu + a * c @ np.linalg.solve(cx, x - a * mu))
    logs = np.array(logs)
    r = np.exp(logs - logs.max())
    return (r[:, None] / r.sum() * np.array(means)).sum(0)


def coords(ms, sigma: float):
    """(a, s) with x = a·x0 + s·ε in sampler space. Flow σ = 1 (pure noise) is evaluated at the
    package's one cap (samplers/ve.py FLOW_SIGMA_CAP), as the wrapper documents."""
    if isinstance(ms, comfy.model_sampling.CONST):
        sigma = min(sigma, FLOW_SIGMA_CAP)
        return 1.0 - sigma, sigma
    return 1.0, sigma


@pytest.mark.parametrize("prediction", ["eps", "v", "flow"])
@pytest.mark.parametrize("prior_name", list(PRIORS))
def test_apply_model_reproduces_exact_denoiser(prior_name, prediction):
    prior = PRIORS[prior_name]()
    mp = exact_prior_model(prior, prediction)
    ms = mp.get_model_object("model_sampling")
    if prediction == "flow":
        assert isinstance(ms, comfy.model_sampling.CONST) and ms.shift == FLOW_SHIFT
    sig_hi = float(ms.sigma_max) if prediction != "flow" else 0.995
    g = torch.Generator().manual_seed(1)
    for sigma in [float(ms.sigma_min) * 1.5, 0.2, 0.7, sig_hi]:
        a, s = coords(ms, sigma)
        x0 = prior.sample(2, g).float().reshape(2, *SHAPE)
        x = a * x0 + s * torch.randn(x0.shape, generator=g)
        sig = torch.full((2,), sigma)
        got = mp.model.apply_model(x, sig, c_crossattn=torch.zeros(2, 1, 8), transformer_options={"sigmas": sig})
        for i in range(2):
            want = brute_posterior_mean(prior, x[i].reshape(-1).double().numpy(), a, s)
            np.testing.assert_allclose(got[i].reshape(-1).numpy(), want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("prediction", ["eps", "v", "flow"])
def test_sampler_path_reproduces_exact_denoiser(prediction):
    prior = PRIORS["gmm"]()
    mp = exact_prior_model(prior, prediction)
    seen = []

    x0 = prior.sample(1, torch.Generator().manual_seed(2)).float().reshape(1, *SHAPE)

    @torch.no_grad()
    def probe(model, x, sigmas, extra_args=None, callback=None, disable=None):
        ms = model.inner_model.inner_model.model_sampling
        for sigma in sigmas[:-1:3]:
            xt = ms.noise_scaling(sigma, torch.randn_like(x), x0)  # a point where the posterior is typical
            den = model(xt, sigma * x.new_ones([x.shape[0]]), **extra_args)
            seen.append((float(sigma), xt.clone(), den.clone()))
        return x

    latent = torch.zeros(1, *SHAPE)
    sigmas = comfy.samplers.calculate_sigmas(mp.get_model_object("model_sampling"), "karras", 10)
    noise = comfy.sample.prepare_noise(latent, 0)
    comfy.sample.sample_custom(mp, noise, 1.0, comfy.samplers.KSAMPLER(probe), sigmas, cond(), cond(), latent,
                               disable_pbar=True, seed=0)
    assert len(seen) == 4
    ms = mp.get_model_object("model_sampling")
    for sigma, x, den in seen:
        a, s = coords(ms, sigma)
        want = brute_posterior_mean(prior, x[0].reshape(-1).double().numpy(), a, s)
        np.testing.assert_allclose(den[0].reshape(-1).numpy(), want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("prediction", ["eps", "v", "flow"])
def test_core_replace_inpainting_keeps_known_coordinates(prediction):
    prior = PRIORS["linear"]()
    mp = exact_prior_model(prior, prediction)
    y = prior.sample(1, torch.Generator().manual_seed(3)).float().reshape(1, *SHAPE)
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., 1:3, 1:4] = 1.0
    out = comfy.sample.sample(mp, comfy.sample.prepare_noise(y, 1), 30, 1.0, "euler", "karras", cond(), cond(), y,
                              noise_mask=mask, disable_pbar=True, seed=1)
    keep = mask.expand_as(out) == 0
    assert (out - y)[keep].abs().max() < 1e-5
    assert torch.isfinite(out).all() and (out - y)[~keep].abs().max() > 1e-3
