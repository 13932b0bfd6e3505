"""RePaint's jump schedule and the VE building blocks against the official numbers and exact priors."""
import pytest
import torch

from priorpaint.samplers.dps import sample_dps
from priorpaint.samplers.repaint import count_evaluations, jump_schedule, sample_repaint
from priorpaint.samplers.ve import ancestral_step, forward_jump
from priorpaint.support.exact_priors import make_linear_gaussian


@pytest.mark.parametrize("levels,j,r,nfe", [(250, 10, 10, 2410), (100, 10, 10, 910), (100, 5, 5, 480), (50, 5, 5, 230)])
def test_jump_schedule_costs_match_the_official_scheduler(levels, j, r, nfe):
    # the jump schedule of RePaint's official code (andreas128/RePaint, get_schedule_jump; docs/derivations.md §2)
    assert count_evaluations(levels, j, r) == nfe == levels + (r - 1) * j * -(-(levels - j) // j)


def test_jump_schedule_shape():
    path = jump_schedule(250, 10, 10)
    assert path[0] == 0 and path[-1] == 250
    assert all(abs(b - a) == 1 for a, b in zip(path, path[1:]))
    # first moves: down 20 levels, then up 10, down 10 (the official list starts 249…230, 231…240, 239…)
    assert path[:21] == list(range(21)) and path[21:31] == list(range(19, 9, -1))
    assert jump_schedule(5, 10, 10) == list(range(6))  # no room to jump: plain descent


def test_forward_and_ancestral_steps_preserve_the_marginal_of_a_gaussian():
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(200000, generator=g)  # data N(0, 1)
    x = forward_jump(x0 + 0.5 * torch.randn(x0.shape, generator=g), 0.5, 2.0, torch.randn(x0.shape, generator=g))
    assert abs(float(x.var()) - (1 + 4.0)) < 0.05
    # exact denoiser of N(0,1) data: D(x, σ) = x / (1 + σ²). One ancestral step 2 → 1 with the posterior
    # *mean* gives σ_up² = 0.75, σ_down = 0.5, x' = 0.4·x: Var = 0.16·5 + 0.75 = 1.55, not the marginal's 2.0 --
    # the under-dispersion of DDPM with an MMSE denoiser that RePaint+ (docs/derivations.md §3, 'Dispersion') corrects.
    y = ancestral_step(x, x / 5.0, 2.0, 1.0, torch.randn(x.shape, generator=g))
    assert abs(float(y.var()) - 1.55) < 0.03
    with pytest.raises(ValueError):
        forward_jump(x, 2.0, 1.0, x)


def test_repaint_on_linear_prior_keeps_known_and_approaches_posterior():
    prior = make_linear_gaussian(shape=(1, 4, 4), k=3, seed=1)
    y = prior.sample(1, torch.Generator().manual_seed(0)).float()
    mask = torch.zeros(1, 16)
    mask[:, 10:] = 1  # 6 unknown of 16; z (3 dims) identifiable from 10 known
    sigmas = torch.cat([torch.exp(torch.linspace(2.5, -4, 30)), torch.zeros(1)]).tolist()
    g = torch.Generator().manual_seed(1)
    ybat, x = y.expand(64, -1), sigmas[0] * torch.randn(64, 16, generator=g)

    def den(x, s):
        return prior.denoise(x, torch.tensor([s])).float()

    out = sample_repaint(den, x, sigmas, ybat, mask, lambda *_: torch.randn(64, 16, generator=g), jump_length=3,
                         resamples=4)
    assert torch.equal(out[:, :10], ybat[:, :10])
    err = (out - ybat).pow(2).mean().sqrt()
    plain = sample_repaint(den, x, sigmas, ybat, mask, lambda *_: torch.randn(64, 16, generator=g), jump_length=3,
                           resamples=1)
    assert err < 0.5 * (plain - ybat).pow(2).mean().sqrt()  # resampling harmonises: much closer to the truth


def test_dps_pulls_towards_the_observation():
    prior = make_linear_gaussian(shape=(1, 4, 4), k=3, seed=2)
    y = prior.sample(1, torch.Generator().manual_seed(0)).float()
    mask = torch.zeros(1, 16)
    mask[:, 10:] = 1
    sigmas = torch.cat([torch.exp(torch.linspace(2.5, -4, 40)), torch.zeros(1)]).tolist()
    g = torch.Generator().manual_seed(1)

    def den_grad(x, s, loss):
        with torch.enable_grad():
            xv = x.detach().requires_grad_(True)
            x0 = prior.denoise(xv, torch.tensor([s])).float()
            (gr,) = torch.autograd.grad(loss(x0), xv)
        return x0.detach(), gr

    x = sigmas[0] * torch.randn(32, 16, generator=g)
    guided = sample_dps(den_grad, x, sigmas, y.expand(32, -1), mask, lambda *_: torch.randn(32, 16, generator=g), scale=0.5)
    free = sample_dps(den_grad, x, sigmas, y.expand(32, -1), mask, lambda *_: torch.randn(32, 16, generator=g), scale=0.0)
    e_g = (guided - y)[:, :10].abs().mean()
    e_f = (free - y)[:, :10].abs().mean()
    assert e_g < 0.2 * e_f
