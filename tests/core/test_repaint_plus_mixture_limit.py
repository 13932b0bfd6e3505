"""Why variant B's fixed point is exact for a Gaussian and not for a mixture (issue 19; docs/repaint-plus.md,
"What is left").

For any state of the known pixels ``x_k`` (VE coordinates ``x = x0 + σ·ε``)

    E[x0_u | x_u, x0_k = y] = D_u(x_u, x_k) + σ² ∇_{x_u} log p(x0_k = y | x_u, x_k),

because ``p_σ(x_u | x0_k = y)·N(x_k; y, σ²) = p(x0_k = y | x)·p_σ(x)/p(y)`` and the Gaussian factor does not
depend on ``x_u`` (Tweedie's formula on both sides). Every method that returns the plain prediction ``D_u`` at
some ``x_k`` drops the second term. Variant B picks the ``x_k`` where ``E[x0_k | x] = y``; if ``p(x0 | x)`` is
Gaussian with a covariance that does not depend on ``x`` that makes the term vanish, which is the exactness
proof. For a mixture the mean of ``p(x0_k | x)`` at ``y`` does not make the gradient of its log-density at ``y``
vanish, so the fixed point misses exactly this term. These tests check the identity on an exact mixture, that
our transform's converged solve lands on the fixed point, and that its error there is the term (not zero).
"""
import pytest
import torch

from priorpaint.samplers import repaint_plus as rpp
from priorpaint.support.exact_priors import GaussianMixturePrior, make_hole_mixture

F = torch.float64


def _mixture(components=3):
    hole = torch.zeros(1, 2, 4, dtype=torch.bool)
    hole[..., 2:] = True
    prior = make_hole_mixture((1, 2, 4), hole, components=components, rank=2, floor=0.3, comp_scale=0.6,
                              coupling=2.0, seed=4)
    un = hole.reshape(-1)
    y = prior.sample(1, torch.Generator().manual_seed(5))[0] * (~un)
    return prior, y, un


def _missing_term(prior, x, sigma, y, kn):
    """σ² ∇_{x_u} log p(x0_k = y | x), the term a plain prediction at ``x`` leaves out."""
    x = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(prior.known_log_likelihood(x, sigma, y, kn).sum(), x)
    return sigma**2 * g[:, ~kn]


def _exact(prior, y, un, x, sigma):
    post = prior.posterior(y, ~un)
    sub = GaussianMixturePrior(post.weights, post.means[:, un], post.covs[:, un][:, :, un])
    return sub.denoise(x[:, un], torch.full((x.shape[0],), sigma, dtype=F))


@pytest.mark.parametrize("sigma", [0.3, 1.0, 3.0])
def test_exact_conditional_denoiser_is_the_plain_one_plus_the_likelihood_score_at_any_known_state(sigma):
    prior, y, un = _mixture()
    kn = ~un
    g = torch.Generator().manual_seed(1)
    n = 32
    x = y + sigma * torch.randn(n, prior.dim, dtype=F, generator=g)  # hole coordinates: a typical noisy state
    x[:, kn] = y[kn] + 2.5 * sigma * torch.randn(n, int(kn.sum()), dtype=F, generator=g)  # any x_k, typical or not
    plain = prior.denoise(x, torch.full((n,), sigma, dtype=F))[:, un]
    want = _exact(prior, y, un, x, sigma)
    assert torch.allclose(plain + _missing_term(prior, x, sigma, y, kn), want, atol=1e-9)
    assert (plain - want).abs().max() > 1e-2  # ... and the plain prediction alone is not it


def _fixed_point(prior, y, un, x, sigma, calls=12):
    """Variant B's solve, run to convergence: the transform's Krylov solve (as many rounds as known
    coordinates), warm-started from its own last solve at the same level, ``calls`` times."""
    n, kn = x.shape[0], ~un
    m = un.to(F)[None].expand(n, -1)
    g = torch.Generator().manual_seed(2)
    model = rpp.RePaintPlusDenoiser(lambda z, s: prior.denoise(z, torch.full((n,), float(s), dtype=F)), y, m,
                                    lambda s, e: y + float(s) * e,
                                    lambda *_: torch.randn(n, prior.dim, dtype=F, generator=g), [sigma, 0.0], "B", 1,
                                    int(kn.sum()), "capped", 4.0, 1.0, solver="krylov", warm_start=True,
                                    stand_in_above=float("inf"))
    for _ in range(calls):
        out = model(x, sigma)
    xf = x.clone()
    xf[:, kn] = (y + sigma * model._eps)[:, kn]
    return out[:, un], xf


@pytest.mark.parametrize("sigma", [0.5, 1.5])
def test_the_fixed_point_misses_exactly_the_likelihood_score_on_a_mixture(sigma):
    prior, y, un = _mixture()
    kn = ~un
    n = 32
    x = y + sigma * torch.randn(n, prior.dim, dtype=F, generator=torch.Generator().manual_seed(3))
    pred, xf = _fixed_point(prior, y, un, x, sigma)
    # the solve converged: the plain prediction of the known pixels at the fixed point is y ...
    plain = prior.denoise(xf, torch.full((n,), sigma, dtype=F))
    assert (plain[:, kn] - y[kn]).abs().max() < 1e-8
    assert torch.allclose(pred, plain[:, un], atol=1e-8)
    # ... its hole prediction misses the exact conditional denoiser by the likelihood score there, which is not 0
    want = _exact(prior, y, un, x, sigma)
    term = _missing_term(prior, xf, sigma, y, kn)
    assert torch.allclose(pred + term, want, atol=1e-8)
    assert term.abs().max() > 1e-2


def test_with_one_component_the_term_vanishes_at_the_fixed_point():
    """The Gaussian case of the same identity: the exactness proof of variant B's fixed point."""
    prior, y, un = _mixture(components=1)
    kn = ~un
    sigma, n = 1.0, 16
    x = y + sigma * torch.randn(n, prior.dim, dtype=F, generator=torch.Generator().manual_seed(3))
    pred, xf = _fixed_point(prior, y, un, x, sigma)
    assert _missing_term(prior, xf, sigma, y, kn).abs().max() < 1e-8
    assert torch.allclose(pred, _exact(prior, y, un, x, sigma), atol=1e-8)
