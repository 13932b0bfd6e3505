"""RePaint+ against its theory (docs/derivations.md §3): the paper's linear experiment, Theorem 4's rate,
and the multi-state variants on an exact linear-Gaussian prior."""
import math

import pytest
import torch

from priorpaint.samplers.repaint import sample_repaint
from priorpaint.samplers.repaint_plus import (count_evaluations, harmonising_levels, kappa, sample_repaint_plus,
                                              two_state_experiment)
from priorpaint.support.exact_priors import make_linear_gaussian

A2 = torch.tensor([[1.0], [1.0]], dtype=torch.float64) / math.sqrt(2)


@pytest.mark.parametrize("beta", [0.5, 0.9])
def test_two_state_experiment_reproduces_the_paper(beta):
    r = two_state_experiment(A2, torch.tensor([0.0, 1.0]), beta=beta, n=1000, rounds=100,
                             generator=torch.Generator().manual_seed(0))
    # Table 1: RePaint 22.97 (β, N, R stripped from the text); with N = 1000, R = 100 we measure 18.6 (β=.5) / 22.0 (β=.9)
    assert 15 < r["repaint"] < 30
    assert r["repaint_plus"] < 1e-6  # "ε-close": machine precision here
    if beta == 0.9:  # projecting RePaint's output does not fix it (paper: 27.61 vs 22.97; here 26.2 vs 22.0)
        assert r["repaint_revsde"] > r["repaint"]
    assert r["rho"] == pytest.approx(0.5)
    assert all(abs(q / r["rho"] - 1) < 0.01 for q in r["ratios"][:20])  # Theorem 4: error ratio = ‖AᵀMA‖


def test_rate_follows_rho_for_other_masks_and_subspaces():
    g = torch.Generator().manual_seed(1)
    A, _ = torch.linalg.qr(torch.randn(8, 3, dtype=torch.float64, generator=g))
    missing = torch.tensor([1.0, 1, 0, 0, 1, 0, 0, 0])
    r = two_state_experiment(A, missing, beta=0.7, n=200, rounds=40, generator=g)
    assert r["rho"] < 1
    assert r["repaint_plus"] < 1.5 * r["rho"] ** 40 * r["errors"][0]  # linear rate ρ = 0.885 here
    late = r["ratios"][5:15]  # after transients the error shrinks by the top singular value each round
    assert all(abs(q / r["rho"] - 1) < 0.01 for q in late)


def test_kappa_modes():
    assert kappa(2.0, 1.0, "theory") == pytest.approx(5.0)
    assert kappa(2.0, 1.0, "capped", cap=4.0) == 4.0
    assert kappa(2.0, 1.0, "1") == 1.0
    with pytest.raises(ValueError):
        kappa(1.0, 1.0, "nope")


def test_harmonising_levels_and_cost():
    assert harmonising_levels(10, 1) == list(range(10))
    assert harmonising_levels(10, 3) == [0, 3, 6, 9]
    assert harmonising_levels(10, 1, window=(0.5, 1.0)) == [5, 6, 7, 8, 9]
    assert count_evaluations(10, 1, 2) == 30
    assert count_evaluations(10, 3, 2, window=(0.0, 0.45)) == 10 + 2 * 2


def _multistate(variant_or_plain, levels, rounds, seed=1, kappa_mode="theory"):
    """§2.7 set-up: d=64, k=8, σ_d=1, 50% missing, Karras schedule; final RMS error (posterior = truth)."""
    prior = make_linear_gaussian(shape=(1, 8, 8), k=8, scale=1.0, seed=seed)
    g = torch.Generator().manual_seed(seed)
    n = 64
    y = prior.sample(n, g).float()
    mask = torch.zeros(1, 64)
    mask[:, torch.randperm(64, generator=g)[:32]] = 1
    smin, smax, rho = 0.02, 20.0, 7.0
    t = torch.linspace(0, 1, levels)
    sig = (smax ** (1 / rho) + t * (smin ** (1 / rho) - smax ** (1 / rho))) ** rho
    sigmas = torch.cat([sig, torch.zeros(1)]).tolist()

    def den(x, s):
        return prior.denoise(x, torch.tensor([s])).float()

    x = sigmas[0] * torch.randn(n, 64, generator=g)
    def noise(*_):
        return torch.randn(n, 64, generator=g)
    if variant_or_plain == "plain":
        out = sample_repaint(den, x, sigmas, y, mask, noise, jump_length=1, resamples=rounds + 1)
    else:
        out = sample_repaint_plus(den, x, sigmas, y, mask, noise, variant=variant_or_plain, resamples=rounds,
                                  kappa_mode=kappa_mode, sigma_data=1.0)
    return float((out - y).pow(2).mean().sqrt())


def test_multistate_variants_order_like_the_derivation():
    # Measured (10 levels, r = 3, κ capped at 4): RePaint 1.68e-2, A 1.23e-2, B 1.26e-2, B(κ = 1) 1.63e-2.
    # Both variants now act inside the sampler's model call (docs/repaint-plus.md): variant A replaces
    # the prediction but leaves the sampler's noise estimate to the sampler, so it no longer reaches the
    # loop form's 3.8e-3 here; it still beats plain RePaint at the same rounds, as B does.
    plain = _multistate("plain", 10, 3)
    a = _multistate("A", 10, 3)
    b = _multistate("B", 10, 3)
    b1 = _multistate("B", 10, 3, kappa_mode="1")
    assert a < 0.8 * plain and b < 0.8 * plain and b < 0.8 * b1
