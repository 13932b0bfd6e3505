"""RePaint+ variant B's rounds as a solve (issue 19): on a full-rank Gaussian prior the fixed point of the
rounds is the exact conditional denoiser E[x0_hole | x_hole, x0_known = y] (docs/repaint-plus.md,
"Why the rounds reach the exact posterior"), so a converged solve samples the exact posterior, covariance
included. The Krylov solver reaches it in as many rounds as there are known coordinates; the paper's
fixed-κ (Richardson) rounds do not."""
import math

import pytest
import torch

from priorpaint.samplers import repaint_plus as rpp

F = torch.float64


def _problem(seed=3, d=16, holes=8):
    g = torch.Generator().manual_seed(seed)
    u, _ = torch.linalg.qr(torch.randn(d, 4, dtype=F, generator=g))
    cov = (u * torch.tensor([1.5, 1.0, 0.7, 0.5], dtype=F)) @ (u * torch.tensor([1.5, 1.0, 0.7, 0.5], dtype=F)).T
    cov = cov + 0.2**2 * torch.eye(d, dtype=F)
    mu = 0.3 * torch.randn(d, dtype=F, generator=g)
    hole = torch.zeros(d, dtype=torch.bool)
    hole[torch.randperm(d, generator=g)[:holes]] = True
    kn = ~hole
    x0 = mu + torch.linalg.cholesky(cov) @ torch.randn(d, dtype=F, generator=g)
    y = torch.where(kn, x0, torch.zeros_like(x0))
    lam, v = torch.linalg.eigh(cov)

    def denoise(x, s):  # exact E[x0 | x0 + s·ε = x] for N(mu, cov)
        return mu + ((x - mu) @ v) * (lam / (lam + float(s) ** 2)) @ v.T

    ckk_inv = torch.linalg.inv(cov[kn][:, kn])
    post_mean = mu[hole] + cov[hole][:, kn] @ ckk_inv @ (y[kn] - mu[kn])
    post_cov = cov[hole][:, hole] - cov[hole][:, kn] @ ckk_inv @ cov[kn][:, hole]
    sub_lam, sub_v = torch.linalg.eigh(post_cov)

    def oracle(x, s):  # exact E[x0 | x_hole, x0_known = y]: the conditional Gaussian's own denoiser
        out = y.expand(x.shape[0], -1).clone()
        out[:, hole] = post_mean + ((x[:, hole] - post_mean) @ sub_v) * (sub_lam / (sub_lam + float(s) ** 2)) @ sub_v.T
        return out

    return denoise, oracle, y, hole, post_mean, post_cov


def _transform(denoise, y, hole, n, sigmas, solver, resamples, warm, g):
    m = hole.to(F)[None].expand(n, -1)
    return rpp.RePaintPlusDenoiser(denoise, y, m, lambda s, e: y + float(s) * e,
                                   lambda *_: torch.randn(n, y.numel(), dtype=F, generator=g), sigmas, "B", 1,
                                   resamples, "capped", 4.0, 1.0, solver=solver, warm_start=warm)


@pytest.mark.parametrize("sigma", [20.0, 3.0, 0.5, 0.05])
def test_krylov_rounds_reach_the_exact_conditional_denoiser(sigma):
    denoise, oracle, y, hole, *_ = _problem()
    n, g = 64, torch.Generator().manual_seed(0)
    x = y + sigma * torch.randn(n, y.numel(), dtype=F, generator=g)
    want = oracle(x, sigma)[:, hole]
    kry = _transform(denoise, y, hole, n, [sigma, 0.0], "krylov", int((~hole).sum()), False, g)
    assert torch.allclose(kry(x, sigma)[:, hole], want, atol=1e-7 * (1 + sigma))
    # the paper's fixed-κ rounds with the same calls are far from it at high σ (κ ≤ 4 cannot undo the shrinkage)
    ric = _transform(denoise, y, hole, n, [sigma, 0.0], "richardson", int((~hole).sum()), False, g)
    if sigma >= 3.0:
        assert (ric(x, sigma)[:, hole] - want).abs().max() > 1e-2


def _karras(levels, lo=0.02, hi=80.0, rho=7.0):
    t = torch.linspace(0, 1, levels, dtype=F)
    return torch.cat([(hi ** (1 / rho) + t * (lo ** (1 / rho) - hi ** (1 / rho))) ** rho, torch.zeros(1, dtype=F)]).tolist()


def _stood_in(oracle, sig, bound=10.0):
    """``oracle`` evaluated as RePaint+ evaluates a signal-poor level: above the VE level ``bound`` (the default
    ``stand_in_above`` × sigma_data 1) at the schedule's first level at or below it."""
    first = max(v for v in sig if v <= bound)
    return lambda x, s: oracle(x, first if float(s) > bound else s)


def test_converged_rounds_follow_the_exact_posterior_path_and_covariance():
    denoise, oracle, y, hole, post_mean, post_cov = _problem()
    n, levels = 4000, 60
    sig = _karras(levels)
    x_init = sig[0] * torch.randn(n, y.numel(), dtype=F, generator=torch.Generator().manual_seed(1))
    kry = _transform(denoise, y, hole, n, sig, "krylov", int((~hole).sum()), False, torch.Generator().manual_seed(2))
    out = rpp.sample_euler(kry, x_init.clone(), sig)
    ref = rpp.sample_euler(_stood_in(oracle, sig), x_init.clone(), sig)
    # the same path as Euler on the exact conditional denoiser, sample by sample
    assert torch.allclose(out[:, hole], ref[:, hole], atol=1e-6)
    # ... and so the exact posterior, covariance included, within sampling error (+ Euler's, measured 0.03 here)
    s = out[:, hole]
    exact = post_mean + torch.randn(n, int(hole.sum()), dtype=F, generator=torch.Generator().manual_seed(3)) @ \
        torch.linalg.cholesky(post_cov).T
    err = float((torch.cov(s.T) - post_cov).norm() / post_cov.norm())
    floor = float((torch.cov(exact.T) - post_cov).norm() / post_cov.norm())
    assert err < 2.5 * floor + 0.04, (err, floor)
    z = (s.mean(0) - post_mean) / post_cov.diagonal().sqrt()
    assert float(z.abs().max()) < 5 / math.sqrt(n) + 0.03


def test_one_round_per_step_is_closer_to_the_exact_path_than_the_papers_rounds():
    """One round per step (the presets' cost), 20 levels: Krylov with a warm start against the paper's fixed-κ
    rounds, each measured against Euler on the exact conditional denoiser from the same noise (so the
    schedule's own discretisation error is not counted): mean and covariance of the hole."""
    denoise, oracle, y, hole, post_mean, post_cov = _problem()
    n, levels = 4000, 20
    sig = _karras(levels, hi=20.0)
    x_init = sig[0] * torch.randn(n, y.numel(), dtype=F, generator=torch.Generator().manual_seed(1))
    ref = rpp.sample_euler(_stood_in(oracle, sig), x_init.clone(), sig)[:, hole]
    std = post_cov.diagonal().sqrt()
    errs = {}
    for solver, warm in (("krylov", True), ("richardson", False)):
        model = _transform(denoise, y, hole, n, sig, solver, 1, warm, torch.Generator().manual_seed(2))
        s = rpp.sample_euler(model, x_init.clone(), sig)[:, hole]
        errs[solver] = (float((torch.cov(s.T) - torch.cov(ref.T)).norm() / post_cov.norm()),
                        float(((s.mean(0) - ref.mean(0)) / std).abs().max()))
    assert errs["krylov"][0] < 0.7 * errs["richardson"][0], errs
    assert errs["krylov"][1] < 0.7 * errs["richardson"][1], errs


def test_solver_and_signal_free_are_validated():
    with pytest.raises(ValueError, match="solver"):
        rpp.RePaintPlusDenoiser(None, None, None, None, None, [1.0, 0.0], solver="newton")
    with pytest.raises(ValueError, match="signal_free"):
        rpp.RePaintPlusDenoiser(None, None, None, None, None, [1.0, 0.0], signal_free="first")


def _flow(denoise, oracle, y):
    """The Gaussian problem in rectified-flow coordinates x = (1 − t)·x0 + t·ε: the plain and the exact
    conditional denoisers, the signal ``(c, σ_VE)`` and the noised known image."""
    def level(t):  # the sampler passes a [B] tensor (one level for the batch) or a float
        return float(t.reshape(-1)[0]) if torch.is_tensor(t) else float(t)

    def flow_den(x, t):
        t = level(t)
        return denoise(x, 1e12) if t >= 1 else denoise(x / (1 - t), t / (1 - t))  # t = 1: the prior mean

    def flow_oracle(x, t):
        t = level(t)
        return oracle(x, 1e12) if t >= 1 else oracle(x / (1 - t), t / (1 - t))

    def signal(t):
        return (1.0 - t, float("inf") if t >= 1 else t / (1 - t))

    return flow_den, flow_oracle, signal, lambda t, e: (1 - level(t)) * y + level(t) * e


def _flow_schedule(levels):
    return _karras(levels, lo=0.003, hi=1.0)  # ComfyUI's karras on a flow model: a large first step


def _flow_transform(den, y, hole, n, sigmas, signal, known_at, free, g):
    m = hole.to(F)[None].expand(n, -1)
    return rpp.RePaintPlusDenoiser(den, y, m, known_at, lambda *_: torch.randn(n, y.numel(), dtype=F, generator=g),
                                   sigmas, "B", 1, int((~hole).sum()), "capped", 4.0, 1.0,
                                   signal=signal, solver="krylov", signal_free=free)


def test_flow_signal_free_level_predicts_where_the_rounds_can_act():
    """At flow σ = 1 no known pixel carries signal, so the plain prediction is the unconditional mean; with
    ``signal_free = "next"`` the call returns the harmonised prediction at the next level on the same x (the
    exact conditional denoiser there, for a converged solve), with 1 + r model calls."""
    denoise, oracle, y, hole, *_ = _problem()
    den, orc, signal, known_at = _flow(denoise, oracle, y)
    n, sig = 64, _flow_schedule(12)
    x = torch.randn(n, y.numel(), dtype=F, generator=torch.Generator().manual_seed(5))
    calls = []

    def counted(x, t):
        calls.append(float(t.reshape(-1)[0]))
        return den(x, t)

    nxt = _flow_transform(counted, y, hole, n, sig, signal, known_at, "next", torch.Generator().manual_seed(6))
    got = nxt(x, torch.tensor([1.0] * n, dtype=F))[:, hole]
    assert len(calls) == 1 + int((~hole).sum()) and set(calls) == {sig[1]}
    assert torch.allclose(got, orc(x, sig[1])[:, hole], atol=1e-7)
    skip = _flow_transform(den, y, hole, n, sig, signal, known_at, "skip", torch.Generator().manual_seed(6))
    assert torch.allclose(skip(x, 1.0)[:, hole], den(x, 1.0)[:, hole])  # the unconditional mean
    assert (got - den(x, 1.0)[:, hole]).abs().max() > 0.1
    # a one-step schedule has no level where rounds act: the plain prediction
    one = _flow_transform(den, y, hole, n, [1.0, 0.0], signal, known_at, "next", torch.Generator().manual_seed(6))
    assert torch.allclose(one(x, 1.0)[:, hole], den(x, 1.0)[:, hole])


def test_flow_first_step_with_the_stand_in_follows_the_exact_path_and_the_unconditional_one_does_not():
    """Euler over a 20-level flow schedule, converged rounds: with ``signal_free = "next"`` the path is the one
    Euler takes on the exact conditional denoiser (evaluated the same way at σ = 1), sample by sample, and
    ends near the exact posterior mean; ``"skip"`` (0.2) takes its first step towards the unconditional
    mean and its hole stays biased. ComfyUI's karras schedule on a flow model, whose first step is large
    (σ 1 → 0.81 at 20 levels)."""
    denoise, oracle, y, hole, post_mean, post_cov = _problem()
    den, orc, signal, known_at = _flow(denoise, oracle, y)
    n, sig = 4000, _flow_schedule(20)
    x_init = torch.randn(n, y.numel(), dtype=F, generator=torch.Generator().manual_seed(1))
    std = post_cov.diagonal().sqrt()
    ref = rpp.sample_euler(lambda x, t: orc(x, sig[1] if float(t) >= 1 else t), x_init.clone(), sig)[:, hole]
    mean_err = {}
    for free in ("next", "skip"):
        model = _flow_transform(den, y, hole, n, sig, signal, known_at, free, torch.Generator().manual_seed(2))
        s = rpp.sample_euler(model, x_init.clone(), sig)[:, hole]  # Euler in t has the same form as in σ
        if free == "next":
            assert torch.allclose(s, ref, atol=1e-6)
        mean_err[free] = float(((s.mean(0) - post_mean) / std).abs().max())
    assert mean_err["next"] < 5 / math.sqrt(n) + 0.03, mean_err  # measured 0.024
    assert mean_err["skip"] > 5 * mean_err["next"], mean_err  # measured 0.27


def _counted(den, calls):
    def model(x, t):
        calls.append(float(t.reshape(-1)[0]) if torch.is_tensor(t) else float(t))
        return den(x, t)
    return model


def test_signal_poor_levels_harmonise_at_the_first_level_below_the_bound():
    """Above σ_VE = stand_in_above · sigma_data (default 10: the known pixels' signal-to-noise below 1 %) a call
    returns the harmonised prediction at the schedule's first level at or below the bound, on the same x, with
    1 + r calls there: for a converged solve the exact conditional denoiser at that level. Below the bound, and
    with the bound at infinity, each level harmonises at itself."""
    denoise, oracle, y, hole, *_ = _problem()
    n, g = 64, torch.Generator().manual_seed(0)
    sig = _karras(12, hi=40.0)
    first = max(v for v in sig if v <= 10.0)
    poor = [v for v in sig if v > 10.0]
    assert len(poor) >= 2
    x = y + sig[0] * torch.randn(n, y.numel(), dtype=F, generator=g)
    r = int((~hole).sum())
    for level in poor:
        calls = []
        got = _transform(_counted(denoise, calls), y, hole, n, sig, "krylov", r, False, g)(x, level)[:, hole]
        assert calls == [first] * (1 + r)
        assert torch.allclose(got, oracle(x, first)[:, hole], atol=1e-7)
    calls = []
    _transform(_counted(denoise, calls), y, hole, n, sig, "krylov", r, False, g)(x, first)
    assert set(calls) == {first}
    m = hole.to(F)[None].expand(n, -1)
    calls = []
    own = rpp.RePaintPlusDenoiser(_counted(denoise, calls), y, m, lambda s, e: y + float(s) * e,
                                  lambda *_: torch.randn(n, y.numel(), dtype=F, generator=g), sig, "B", 1, r,
                                  solver="krylov", stand_in_above=float("inf"))
    assert torch.allclose(own(x, sig[0])[:, hole], oracle(x, sig[0])[:, hole], atol=1e-6)
    assert set(calls) == {sig[0]}


def test_flow_signal_free_level_stands_in_below_the_bound_on_a_shifted_schedule():
    """ComfyUI's "simple" schedule on a shift-3 flow model starts 1 → 0.983 (σ_VE 58): the σ = 1 call and every
    level above σ_VE = 10 harmonise at the first level at or below 10 (σ 0.9 here), each with 1 + r calls."""
    denoise, oracle, y, hole, *_ = _problem()
    den, orc, signal, known_at = _flow(denoise, oracle, y)
    t = torch.linspace(1, 0, 21, dtype=F)
    sig = (3 * t / (1 + 2 * t)).tolist()
    first = max(v for v in sig if 0 < v < 1 and v / (1 - v) <= 10.0)
    n = 32
    x = torch.randn(n, y.numel(), dtype=F, generator=torch.Generator().manual_seed(5))
    for level in (sig[0], sig[1]):
        calls = []
        model = _flow_transform(_counted(den, calls), y, hole, n, sig, signal, known_at, "next",
                                torch.Generator().manual_seed(6))
        got = model(x, torch.full((n,), level, dtype=F))[:, hole]
        assert calls == [first] * (1 + int((~hole).sum()))
        assert torch.allclose(got, orc(x, first)[:, hole], atol=1e-7)
    # "skip" keeps every level's own behaviour: the plain prediction at σ = 1, its own rounds at 0.983
    calls = []
    skip = _flow_transform(_counted(den, calls), y, hole, n, sig, signal, known_at, "skip",
                           torch.Generator().manual_seed(6))
    skip(x, sig[1])
    assert set(calls) == {sig[1]}


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), "10"])
def test_stand_in_above_is_validated(bad):
    with pytest.raises(ValueError, match="stand_in_above"):
        rpp.RePaintPlusDenoiser(None, None, None, None, None, [1.0, 0.0], stand_in_above=bad)
