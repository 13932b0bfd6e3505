"""VIPaint core (samplers/vipaint.py): the correct Gaussian KL (and why the reference code's is wrong),
the transitions, the prior (bridge) loss, and posterior fidelity on exact priors."""
import math

import pytest
import torch

from priorpaint.samplers import metrics as M
from priorpaint.samplers import vipaint as V
from priorpaint.samplers.ve import ancestral_step
from priorpaint.support.exact_priors import make_gaussian_mixture, make_linear_gaussian

SHAPE = (3, 4, 4)


def sd_sigma(t: int) -> float:
    """SD1.5's discrete schedule (scaled-linear β) at timestep t, as a VE σ."""
    b = torch.linspace(0.00085**0.5, 0.012**0.5, 1000, dtype=torch.float64) ** 2
    ab = torch.cumprod(1 - b, 0)
    return float(((1 - ab[t]) / ab[t]).sqrt())


def reference_code_kl(mu_q, var_q, mu_p, var_p):
    """The LDM reference's get_kl (docs/derivations.md §6, docs/vipaint.md): the mean term is (1/2*scale2**2)*Δµ² = σ_p²/2·Δµ²."""
    return 0.5 * (torch.log(var_p / var_q) + var_q / var_p - 1) + (1 / 2 * var_p) * (mu_q - mu_p) ** 2


def test_gaussian_kl_is_the_true_kl():
    g = torch.Generator().manual_seed(0)
    mq, mp = torch.randn(100, generator=g), torch.randn(100, generator=g)
    vq, vp = torch.rand(100, generator=g) + 0.1, torch.rand(100, generator=g) + 0.1
    want = torch.distributions.kl_divergence(torch.distributions.Normal(mq, vq.sqrt()),
                                             torch.distributions.Normal(mp, vp.sqrt()))
    assert torch.allclose(V.gaussian_kl(mq, vq, mp, vp), want, atol=1e-6)


def test_reference_code_kl_is_not_a_kl():
    """A KL is invariant when both Gaussians are rescaled by the same factor (VP ↔ VE coordinates differ by
    such a factor per level), and it grows as the variance shrinks at fixed Δµ. The reference's formula
    fails both; ours passes."""
    mq, mp, vq, vp = torch.tensor(0.3), torch.tensor(-0.2), torch.tensor(0.04), torch.tensor(0.09)
    a = 2.5
    ours = V.gaussian_kl(mq, vq, mp, vp)
    assert torch.isclose(ours, V.gaussian_kl(a * mq, a * a * vq, a * mp, a * a * vp), atol=1e-6)
    ref = reference_code_kl(mq, vq, mp, vp)
    assert not torch.isclose(ref, reference_code_kl(a * mq, a * a * vq, a * mp, a * a * vp), rtol=0.05)
    assert not torch.isclose(ref, ours, rtol=0.05)
    # halving both variances must increase the KL at fixed means: the reference's mean term decreases instead
    assert V.gaussian_kl(mq, vq / 2, mp, vp / 2) > ours
    assert reference_code_kl(mq, vq / 2, mp, vp / 2) < ref


@pytest.mark.parametrize("eta", [1.0, 0.0])
def test_prior_transition_is_the_ancestral_step(eta):
    g = torch.Generator().manual_seed(1)
    z, x0 = torch.randn(4, 8, generator=g), torch.randn(4, 8, generator=g)
    s, s2 = 2.0, 0.7
    h = V.prior_step_std(s, s2, eta)
    # the code's η sits inside the square root: η_k-diffusion = sqrt(η)
    want = ancestral_step(z, x0, s, s2, torch.zeros_like(z), eta=math.sqrt(eta))
    assert torch.allclose(V.prior_step_mean(z, x0, s, s2, h), want, atol=1e-6)
    assert math.isclose(h, math.sqrt(eta) * math.sqrt(s2**2 * (s**2 - s2**2) / s**2))


def test_prior_loss_prefers_the_true_marginal():
    """With the exact denoiser, the prior loss (bridge terms + the negative entropy of q(z_0)) is lowest
    when q(z_0) is the true marginal at σ_0: shifted, too clean and too noisy q score higher. Without
    the entropy term a too-clean q would win (the reason the term is there)."""
    prior = make_linear_gaussian(shape=SHAPE, k=6, seed=0)
    s0 = sd_sigma(549)
    grid = [sd_sigma(t) for t in range(550, 1000)]
    g = torch.Generator().manual_seed(2)
    x0 = prior.sample(256, g).float().reshape(256, *SHAPE)
    eps = torch.randn(x0.shape, generator=g)

    def den(z, s):
        return prior.denoise(z.reshape(z.shape[0], -1).double(), torch.full((z.shape[0],), s,
                                                                          dtype=torch.float64)).float().reshape(z.shape)

    def loss(shift, scale, entropy=True):
        z = x0 + scale * s0 * eps + shift
        gen = torch.Generator().manual_seed(3)
        bridge = sum(float(V.prior_loss(den, z, s0, grid, lambda: torch.randn(z.shape, generator=gen), gen))
                     for _ in range(40)) / 40
        return bridge + (float(V.neg_entropy(torch.full((1,), 2 * math.log(scale * s0)))) if entropy else 0.0)

    true = loss(0.0, 1.0)
    for shift, scale in [(1.5, 1.0), (0.0, 0.5), (0.0, 2.0)]:
        assert true < loss(shift, scale) - 0.1, (shift, scale)
    assert loss(0.0, 0.5, entropy=False) < loss(0.0, 1.0, entropy=False)


def run_vipaint(prior, iterations, dps_steps, n=256, seed=0):
    g = torch.Generator().manual_seed(1)
    y = prior.sample(1, g).float().reshape(1, *SHAPE)
    hole = torch.zeros(1, 1, 4, 4)
    hole[..., 2:] = 1
    gen = torch.Generator().manual_seed(seed)

    def den(z, s):
        return prior.denoise(z.reshape(z.shape[0], -1).double(), torch.full((z.shape[0],), s,
                                                                          dtype=torch.float64)).float().reshape(z.shape)

    keypoints = [sd_sigma(549), sd_sigma(399)]
    grid = [sd_sigma(t) for t in range(550, 1000)]
    dps = [sd_sigma(int(t)) for t in torch.linspace(399, 0, dps_steps + 1)[1:].round().long()][:-1] + [0.0]
    out, rec = V.sample_vipaint(den, lambda x: x, y, hole, y.repeat(n, 1, 1, 1), 1 - hole, keypoints, grid, dps, n,
                                lambda: torch.randn(n, *SHAPE, generator=gen), gen,
                                V.VIPaintSettings(iterations=iterations))
    known = (1 - hole).expand(1, *SHAPE).reshape(-1).double()
    exact = prior.posterior(y.reshape(-1).double(), known).sample(n, torch.Generator().manual_seed(5))
    sw2 = M.sliced_wasserstein2(out.reshape(n, -1).double(), exact, generator=torch.Generator().manual_seed(6))
    return out, rec, y, hole, sw2


def test_fitting_the_posterior_matters_on_a_mixture():
    """One-step Tweedie after the fit (DPS of one step) vs the unfitted initialisation, on a prior with
    several modes: the fit moves the keypoint posterior towards the exact one (measured 0.16 vs 0.57)."""
    prior = make_gaussian_mixture(shape=SHAPE, components=4, rank=3, seed=0, floor=0.3, comp_scale=0.35)
    _, rec, _, _, fitted = run_vipaint(prior, 20, 1)
    _, _, _, _, unfitted = run_vipaint(prior, 0, 1)
    assert fitted < 0.6 * unfitted
    first, last = rec.losses[0], rec.losses[-1]
    assert last["recon"] < first["recon"]


def test_vipaint_matches_the_exact_posterior_and_keeps_the_known_region():
    prior = make_gaussian_mixture(shape=SHAPE, components=4, rank=3, seed=0, floor=0.3, comp_scale=0.35)
    out, _, y, hole, sw2 = run_vipaint(prior, 20, 50)
    assert sw2 < 0.12  # exact-vs-exact floor with 256 samples is ≈ 0.1; measured 0.06 at 512
    keep = (hole == 0).expand_as(out)
    assert torch.equal(out[keep], y.expand_as(out)[keep])
    again, *_ = run_vipaint(prior, 20, 50)
    assert torch.equal(out, again)
    other, *_ = run_vipaint(prior, 20, 50, seed=1)
    assert not torch.equal(out, other)


def test_keypoints_must_decrease():
    with pytest.raises(ValueError, match="strictly decreasing"):
        V.HierarchicalPosterior(torch.zeros(1, 3, 4, 4), [1.0, 2.0], V.VIPaintSettings(), lambda: torch.zeros(1, 3, 4, 4))


def test_evaluation_count():
    assert V.count_evaluations(2, 50, 400) == 50 * 3 + 1 + 400
    assert V.count_evaluations(1, 10, 20, prior=False) == 10 + 20
    assert V.count_evaluations(2, 50, 400, split_decoder=True) == 50 * 5 + 1 + 800


def test_split_decoder_backward_gives_the_same_fit_and_samples():
    """The two-pass backward (decoder gradient first, denoiser forward recomputed; docs/vipaint.md) is an
    exact rearrangement: with a nonlinear 'decoder' the fit, the draws and the DPS result are unchanged
    and the denoiser is called exactly as count_evaluations says."""
    prior = make_gaussian_mixture(shape=SHAPE, components=3, rank=3, seed=0)
    g = torch.Generator().manual_seed(1)
    y = prior.sample(1, g).float().reshape(1, *SHAPE)
    hole = torch.zeros(1, 1, 4, 4)
    hole[..., 2:] = 1
    w = torch.randn(3, 3, generator=g) * 0.5 + torch.eye(3)

    def decode(x):  # a smooth nonlinear map, like a VAE decoder
        return torch.tanh(torch.einsum("bchw,cd->bdhw", x, w))

    keypoints, dps = [sd_sigma(549), sd_sigma(399)], [sd_sigma(200), sd_sigma(50), 0.0]
    grid = [sd_sigma(t) for t in range(550, 1000, 10)]
    outs = {}
    for split in (False, True):
        calls = []

        def den(z, s):
            calls.append(1)
            return prior.denoise(z.reshape(z.shape[0], -1).double(), torch.full((z.shape[0],), s, dtype=torch.float64)
                                 ).float().reshape(z.shape)
        gen = torch.Generator().manual_seed(0)
        out, rec = V.sample_vipaint(den, decode, y, hole, decode(y).repeat(4, 1, 1, 1), 1 - hole, keypoints, grid, dps,
                                    4, lambda: torch.randn(4, *SHAPE, generator=gen), gen,
                                    V.VIPaintSettings(iterations=3, split_decoder=split))
        outs[split] = (out, [r["total"] for r in rec.losses])
        assert len(calls) == V.count_evaluations(2, 3, 3, split_decoder=split)
    torch.testing.assert_close(outs[True][0], outs[False][0], rtol=1e-4, atol=1e-5)
    assert outs[True][1] == pytest.approx(outs[False][1], rel=1e-5)
