"""The exact priors against independent computations (precision-form conditionals, scipy densities)."""
import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from priorpaint.support.exact_priors import (GaussianMixturePrior, LinearGaussianPrior, make_gaussian_mixture,
                                             make_linear_gaussian)

F64 = torch.float64


def brute_denoise(prior: GaussianMixturePrior, x: np.ndarray, sigma: float) -> np.ndarray:
    """E[x0 | x] by Bayes with scipy densities and dense solves (independent of the eigen path)."""
    d = prior.dim
    logs, means = [], []
    for w, mu, c in zip(prior.weights.numpy(), prior.means.numpy(), prior.covs.numpy()):
        cs = c + sigma**2 * np.eye(d)
        logs.append(np.log(w) + multivariate_normal(mu, cs).logpdf(x))
        means.append(mu + c @ np.linalg.solve(cs, x - mu))
    logs = np.array(logs)
    r = np.exp(logs - logs.max())
    r /= r.sum()
    return (r[:, None] * np.array(means)).sum(0)


@pytest.mark.parametrize("sigma", [0.01, 0.3, 2.0, 14.6])
def test_gmm_denoiser_matches_bayes(sigma):
    prior = make_gaussian_mixture(shape=(2, 3, 3), components=3, rank=2, seed=1)
    g = torch.Generator().manual_seed(0)
    x0 = prior.sample(4, g)
    x = x0 + sigma * torch.randn(x0.shape, dtype=F64, generator=g)
    got = prior.denoise(x, torch.full((4,), sigma))
    for i in range(4):
        np.testing.assert_allclose(got[i].numpy(), brute_denoise(prior, x[i].numpy(), sigma), rtol=1e-6, atol=1e-7)


def test_linear_gaussian_denoiser_is_shrinkage_projection():
    prior = make_linear_gaussian(shape=(2, 4, 4), k=4, scale=1.5, seed=3)
    x = torch.randn(3, prior.dim, dtype=F64, generator=torch.Generator().manual_seed(1))
    s = torch.tensor([0.1, 1.0, 5.0], dtype=F64)
    want = (1.5**2 / (1.5**2 + s[:, None] ** 2)) * (x @ prior.P)
    torch.testing.assert_close(prior.denoise(x, s), want)
    # and the generic mixture path agrees with the closed form
    torch.testing.assert_close(GaussianMixturePrior.denoise(prior, x, s), want, atol=1e-9, rtol=1e-9)


def test_gmm_posterior_matches_precision_form_and_scipy_weights():
    prior = make_gaussian_mixture(shape=(1, 4, 4), components=3, rank=3, seed=2)
    g = torch.Generator().manual_seed(5)
    y = prior.sample(1, g)[0]
    known = torch.zeros(prior.dim, dtype=torch.bool)
    known[::3] = True
    post = prior.posterior(y, known)
    kn, un = known.numpy(), ~known.numpy()
    logw = []
    for j in range(prior.num_components):
        mu, c = prior.means[j].numpy(), prior.covs[j].numpy()
        lam = np.linalg.inv(c)
        luu = lam[np.ix_(un, un)]
        m_u = mu[un] - np.linalg.solve(luu, lam[np.ix_(un, kn)] @ (y.numpy()[kn] - mu[kn]))
        np.testing.assert_allclose(post.means[j].numpy()[un], m_u, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(post.means[j].numpy()[kn], y.numpy()[kn])
        np.testing.assert_allclose(post.covs[j].numpy()[np.ix_(un, un)], np.linalg.inv(luu), rtol=1e-6, atol=1e-9)
        assert np.abs(post.covs[j].numpy()[kn]).max() == 0.0  # known coordinates are a point mass
        logw.append(np.log(prior.weights[j].item()) + multivariate_normal(mu[kn], c[np.ix_(kn, kn)]).logpdf(y.numpy()[kn]))
    w = np.exp(np.array(logw) - max(logw))
    np.testing.assert_allclose(post.weights.numpy(), w / w.sum(), rtol=1e-7)


def test_linear_gaussian_posterior_identifiable_is_exact_recovery():
    prior = make_linear_gaussian(shape=(1, 4, 4), k=3, seed=4)
    x0 = prior.sample(1, torch.Generator().manual_seed(0))[0]
    known = torch.ones(prior.dim, dtype=torch.bool)
    known[5:11] = False
    assert prior.rho(known) < 1.0  # Assumption 2: z identifiable from the known rows
    post = prior.posterior(x0, known)
    torch.testing.assert_close(post.mean(), x0, atol=1e-7, rtol=0)
    assert post.covariance().abs().max() < 1e-9
    s = post.sample(5, torch.Generator().manual_seed(1))
    torch.testing.assert_close(s, x0.expand(5, -1), atol=1e-7, rtol=0)


def test_linear_gaussian_posterior_unidentifiable_keeps_null_space_variance():
    prior = make_linear_gaussian(shape=(1, 2, 4), k=3, seed=6)
    known = torch.zeros(prior.dim, dtype=torch.bool)
    known[:2] = True  # 2 observations of a 3-dim latent
    x0 = prior.sample(1, torch.Generator().manual_seed(2))[0]
    post = prior.posterior(x0, known)
    assert post.covariance().trace() > 1e-3
    samples = post.sample(200, torch.Generator().manual_seed(3))
    assert (samples[:, known] - x0[known]).abs().max() < 1e-7  # consistent with the observation
    # every sample stays on the prior's subspace
    resid = samples - samples @ prior.P
    assert resid.abs().max() < 1e-7


def test_sampling_reproduces_moments_and_is_seeded():
    prior = make_gaussian_mixture(shape=(2, 2, 2), components=2, rank=2, seed=7)
    a = prior.sample(20000, torch.Generator().manual_seed(0))
    b = prior.sample(20000, torch.Generator().manual_seed(0))
    assert torch.equal(a, b)
    mix = prior.as_mixture()
    assert (a.mean(0) - mix.mean()).abs().max() < 0.05
    assert (torch.cov(a.T) - mix.covariance()).abs().max() < 0.08


def test_rho_matches_two_state_paper_setting():
    A = torch.tensor([[1.0], [1.0]], dtype=F64) / math.sqrt(2)
    prior = LinearGaussianPrior(A)
    assert prior.rho(torch.tensor([1.0, 0.0])) == pytest.approx(0.5)


def test_bad_prior_arguments_are_rejected():
    with pytest.raises(ValueError, match="orthonormal"):
        LinearGaussianPrior(torch.ones(3, 2, dtype=F64))
    prior = make_linear_gaussian(shape=(1, 2, 2), k=1)
    with pytest.raises(ValueError, match="known mask has 3 entries"):
        prior.posterior(torch.zeros(4), torch.ones(3))
