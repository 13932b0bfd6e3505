"""AID core (samplers/aid.py): time parameterisation, the D' = D − (σ/σ̇)µ equivalence, module size,
metadata validation, and exact resume of training from a checkpoint."""
import math

import pytest
import torch

from priorpaint.demomodel.unet import DemoUNet
from priorpaint.samplers import aid as A
from priorpaint.support.exact_priors import make_gaussian_mixture

SHAPE = (3, 4, 4)
TP = A.TimeParam(0.002, 80.0)


def test_time_parameterisation_round_trip_and_derivative():
    t = torch.linspace(0, 1, 11, dtype=torch.float64)
    assert torch.allclose(TP.time(TP.sigma(t)), t, atol=1e-12)
    assert abs(float(TP.sigma(0.0)) - 80.0) < 1e-9 and abs(float(TP.sigma(1.0)) - 0.002) < 1e-12
    h = 1e-6
    for tt in (0.1, 0.5, 0.9):
        fd = (TP.sigma(tt + h) - TP.sigma(tt - h)) / (2 * h)
        assert math.isclose(float(TP.sigma_dot(TP.sigma(tt))), float(fd), rel_tol=1e-5)


def test_guided_denoiser_adds_mu_to_the_time_drift():
    """An Euler step of the PF-ODE in t with D' moves x by exactly µ·Δt more than with D (σ̇ exact at the
    step's start): the module's output is the drift u of ẋ = b + u."""
    g = torch.Generator().manual_seed(0)
    x, x0, mu = (torch.randn(2, *SHAPE, generator=g, dtype=torch.float64) for _ in range(3))
    t, dt = 0.4, 1e-4
    s = TP.sigma(t).expand(2)
    sdot = TP.sigma_dot(TP.sigma(t))

    def step(d):  # dx/dt = σ̇ (x − D)/σ
        return x + dt * sdot * (x - d) / s[0]

    moved = step(A.guided_denoised(x0, s, mu, TP)) - step(x0)
    assert torch.allclose(moved, mu * dt, rtol=1e-9, atol=1e-15)


def test_module_is_under_one_percent_of_the_demo_backbone_and_starts_at_zero():
    actor = A.GuidanceNet(3)
    assert A.parameter_count(actor) < 0.01 * sum(p.numel() for p in DemoUNet().parameters())
    x = torch.randn(2, *SHAPE)
    out = actor(torch.rand(2), x, torch.ones(2), torch.ones(2, 1, 4, 4), x)
    assert torch.equal(out, torch.zeros_like(out))


def test_metadata_is_validated():
    actor = A.GuidanceNet(3)
    backbone = {"latent_channels": 3, "sampling": "eps", "shift": None, "sigma_min": 0.03, "sigma_max": 14.6,
                "fingerprint": "abc"}
    meta = A.module_metadata(actor, backbone, TP, {"iterations": 1})
    info = A.parse_metadata(meta)
    assert info["time"] == TP and info["backbone"] == backbone
    with pytest.raises(A.ModuleFormatError, match="not a PriorPaint AID guidance module"):
        A.parse_metadata({"format": "something-else"})
    with pytest.raises(A.ModuleFormatError, match="format version"):
        A.parse_metadata(dict(meta, format_version="99"))
    with pytest.raises(A.ModuleFormatError, match="unreadable metadata"):
        A.parse_metadata(dict(meta, net="{"))
    A.check_backbone(info, backbone)
    with pytest.raises(A.ModuleFormatError, match="latent_channels: module 3 vs model 4"):
        A.check_backbone(info, dict(backbone, latent_channels=4))
    with pytest.raises(A.ModuleFormatError, match="fingerprint"):
        A.check_backbone(info, dict(backbone, fingerprint="other"))
    with pytest.raises(A.ModuleFormatError, match="sampling: module 'eps' vs model 'flow'"):
        A.check_backbone(info, dict(backbone, sampling="flow", shift=3.0))


def _setup():
    prior = make_gaussian_mixture(shape=SHAPE, components=3, rank=3, seed=0)

    def den(z, s):
        return prior.denoise(z.reshape(z.shape[0], -1).double(), s.double()).float().reshape(z.shape)

    def batches(g):
        while True:
            x = prior.sample(8, g).float().reshape(8, *SHAPE)
            hole = torch.zeros(8, 1, 4, 4)
            hole[..., 2:] = 1
            yield x, hole

    return den, batches


def test_resume_from_checkpoint_is_exact(tmp_path):
    den, batches = _setup()
    cfg = A.AIDConfig(steps=4, lr_actor=1e-2)

    def fresh():
        torch.manual_seed(0)
        return A.GuidanceNet(3, sigma_data=1.0), A.CriticNet(3, sigma_data=1.0), torch.Generator().manual_seed(1)

    actor, critic, g = fresh()
    A.train(den, actor, critic, TP, batches(g), 6, cfg, g)

    a2, c2, g2 = fresh()
    path = str(tmp_path / "ck.safetensors")
    state = {}
    A.train(den, a2, c2, TP, batches(g2), 3, cfg, g2,
            on_iteration=lambda it, s, opt: state.update(opt=opt))
    A.save_checkpoint(path, a2, c2, state["opt"], 3, g2, {"log": []})
    a3, c3, g3 = fresh()
    start, opt, extra = A.load_checkpoint(path, a3, c3, g3)
    assert start == 3 and extra == {"log": []}
    A.train(den, a3, c3, TP, batches(g3), 6, cfg, g3, start=start, opt_state=opt)
    for (k, v), (_, w) in zip(actor.state_dict().items(), a3.state_dict().items()):
        assert torch.equal(v, w), k
    assert any(v.abs().max() > 0 for k, v in actor.state_dict().items() if k.startswith("out."))  # it did learn


def test_harmony_term_of_the_terminal_cost():
    """Ψ = ‖X − x*‖² + w·d·KL_harmony: equal squared errors, but a fill whose colours differ from the
    surroundings costs more; w = 0 is the plain squared error; non-RGB data is refused."""
    g = torch.Generator().manual_seed(0)
    x_star = torch.rand(2, 3, 16, 16, generator=g) * 0.4 - 0.2  # a grey-ish image in [−1, 1]
    hole = torch.zeros(2, 1, 16, 16)
    hole[..., 4:12, 4:12] = 1
    shift = torch.zeros_like(x_star)
    shift[..., 4:12, 4:12] = 0.3
    same_colour = x_star + shift * torch.where(torch.rand(x_star.shape, generator=g) > 0.5, 1.0, -1.0)
    new_colour = x_star + shift  # same squared error, all pixels moved the same way
    assert torch.allclose(A.terminal_cost(same_colour, x_star), A.terminal_cost(new_colour, x_star))
    h_same = A.terminal_cost(same_colour, x_star, hole, 0.05)
    h_new = A.terminal_cost(new_colour, x_star, hole, 0.05)
    assert (h_new > h_same).all()
    assert torch.equal(A.terminal_cost(new_colour, x_star, hole, 0.0), A.terminal_cost(new_colour, x_star))
    with pytest.raises(ValueError, match="3-channel"):
        A.terminal_cost(torch.zeros(1, 4, 8, 8), torch.zeros(1, 4, 8, 8), torch.ones(1, 1, 8, 8), 0.1)


def test_moment_term_prices_a_shrunk_fill():
    """The squared error alone prefers the conditional mean (a flat fill) to an equally likely sample
    of the hole; Ψ's moment term (hole mean/std per channel against x*) reverses that at w = 4, is zero
    for the truth, works for any channel count and reads soft holes as weights."""
    g = torch.Generator().manual_seed(0)
    c, n = 4, 32
    base = torch.randn(1, c, 1, 1, generator=g)
    x_star = base + 0.5 * torch.randn(3, c, n, n, generator=g)
    hole = torch.zeros(1, 1, n, n)
    hole[..., :, n // 2:] = 1
    sample = torch.where(hole > 0, base + 0.5 * torch.randn(3, c, n, n, generator=g), x_star)  # same law, new draw
    flat = torch.where(hole > 0, base.expand_as(x_star), x_star)  # the conditional mean of the hole
    assert (A.terminal_cost(flat, x_star) < A.terminal_cost(sample, x_star)).all()
    assert (A.terminal_cost(flat, x_star, hole, moment_weight=4) > A.terminal_cost(sample, x_star, hole,
                                                                                   moment_weight=4)).all()
    assert torch.equal(A.terminal_cost(x_star, x_star, hole, moment_weight=4), torch.zeros(3))
    m, s, w = A.hole_moments(flat, hole)
    assert torch.allclose(m, base[:, :, 0, 0].expand(3, c)) and torch.allclose(s, torch.zeros(3, c), atol=1e-6)
    assert torch.equal(w, torch.full((3, 1), n * n / 2))
    soft = hole * 0.5
    m2, s2, w2 = A.hole_moments(sample, soft)
    m1, s1, _ = A.hole_moments(sample, hole)
    assert torch.allclose(m1, m2) and torch.allclose(s1, s2) and torch.allclose(w2, w / 2)
    with pytest.raises(ValueError, match="hole mask"):
        A.terminal_cost(x_star, x_star, None, moment_weight=1.0)


def test_lowpass_terminal_cost_ignores_texture_inside_its_blocks():
    """lowpass k compares k×k block means (×k²): texture that averages out in each block costs nothing,
    a smooth error costs what the plain squared error charges; k must divide the latent size."""
    x_star = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(1))
    checker = (torch.arange(8)[:, None] + torch.arange(8)[None]) % 2 * 2.0 - 1.0  # ±1, zero mean per 2×2 block
    textured = x_star + 0.3 * checker
    assert (A.terminal_cost(textured, x_star) > 0).all()
    assert torch.allclose(A.terminal_cost(textured, x_star, lowpass=2), torch.zeros(2), atol=1e-9)
    shifted = x_star + 0.3
    assert torch.allclose(A.terminal_cost(shifted, x_star, lowpass=4), A.terminal_cost(shifted, x_star))
    with pytest.raises(ValueError, match="lowpass 3"):
        A.terminal_cost(x_star, x_star, lowpass=3)


def test_context_module_sees_the_known_colours_and_old_files_still_build(tmp_path):
    """known_statistics is the known region's mean/std per channel and its fraction; a context module feeds
    them to every pixel (its output at the centre of a large hole depends on the context path); both kinds
    round-trip through the file format, and a file without the 'context' key builds the plain module."""
    k = torch.zeros(1, 1, 8, 8)
    k[..., :2] = 1
    y = torch.zeros(1, 2, 8, 8)
    y[:, 0, :, 0], y[:, 0, :, 1], y[:, 1] = 1.0, 3.0, -1.0
    st = A.known_statistics(k, y)
    assert torch.allclose(st, torch.tensor([[2.0, -1.0, 1.0, 0.0, 0.25]]))
    torch.manual_seed(0)
    known = torch.zeros(1, 1, 32, 32)
    known[..., :2] = 1
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    args = (torch.tensor([0.5]), x, torch.tensor([1.0]), known, known.expand(1, 3, 32, 32) * 0.2)
    for context in (False, True):
        net = A.GuidanceNet(3, context=context)
        torch.nn.init.normal_(net.out.weight, std=0.1)
        a = net(*args)
        assert (net.trunk.context is not None) == context
        if context:
            with torch.no_grad():
                net.trunk.context.weight.zero_()
                net.trunk.context.bias.fill_(-50.0)  # silu(-50) ≈ 0: the path switched off
            assert (a - net(*args))[..., 12:20, 20:28].abs().max() > 1e-3
            with torch.no_grad():
                net.trunk.context.reset_parameters()
            a = net(*args)
        info = A.parse_metadata(A.module_metadata(net, {}, TP, {}))
        assert ("context" in info["net"]) == context
        assert torch.equal(A.build_from_state(net.state_dict(), info)(*args), a)


def test_td_lambda_advantage_runs_from_the_td_residual_to_the_monte_carlo_return():
    """The actor's weight on log π(A_k) is Σ_{j≥k} λ_TD^(j−k) δ_j: λ_TD = 0 is the TD residual of §5.2, 1 is
    the whole remaining cost Ψ + Σ_{j≥k} (β/2)‖A_j‖²Δt_j minus the baseline V̂_k. Checked by hand with a
    zero actor (log π = −‖A‖²/(2 var)) and a zero critic (V̂ = 0), where δ_k is the running cost plus Ψ at
    the last step."""
    den, batches = _setup()
    g = torch.Generator().manual_seed(3)
    x_star, hole = next(batches(g))
    torch.manual_seed(0)
    actor, critic = A.GuidanceNet(3, sigma_data=1.0), A.CriticNet(3, sigma_data=1.0)
    with torch.no_grad():
        critic.head.weight.zero_()
        critic.head.bias.zero_()
    steps, d = 4, x_star[0].numel()
    cfg = A.AIDConfig(steps=steps, lam=0.5)
    var = 2 * cfg.lam / (cfg.beta * d)
    ro = A.inpaint_rollout(den, actor, TP, x_star, hole, torch.randn(x_star.shape, generator=g), steps,
                           math.sqrt(var), torch.randn((steps, *x_star.shape), generator=g))
    ts = [float(TP.time(s)) for s in ro.sigmas] + [1.0]
    sq = torch.stack([(a**2).flatten(1).sum(1) for a in ro.actions])  # [K, B]
    logp = -sq / (2 * var)
    delta = 0.5 * cfg.beta * sq * torch.tensor([ts[k + 1] - ts[k] for k in range(steps)])[:, None]
    delta[-1] += A.terminal_cost(ro.x_final, x_star)
    for lam_td in (0.0, 0.5, 1.0):
        adv = torch.stack([sum(lam_td ** (j - k) * delta[j] for j in range(k, steps)) for k in range(steps)])
        la, lc, _ = A.actor_critic_losses(ro, actor, critic, TP, x_star, hole, A.AIDConfig(steps=steps, lam=0.5,
                                                                                          td_lambda=lam_td))
        assert torch.allclose(la, (logp * adv).mean(), rtol=1e-5), lam_td
        assert torch.allclose(lc, torch.zeros(()))  # V̂ = 0: the critic's surrogate is 0 whatever the advantage
    assert not torch.allclose(adv[0], delta[0])  # λ_TD = 1 really adds the later costs


def test_coarse_only_module_acts_only_above_its_sigma_floor():
    """sigma_floor: µ = 0 below the floor (VE σ), the floor survives the file format (files without the key
    act everywhere), the training rollout neither explores nor acts below it, and the actor's loss averages
    log π·δ over the steps where the module acts only."""
    torch.manual_seed(0)
    net = A.GuidanceNet(3, sigma_data=1.0, sigma_floor=1.0)
    torch.nn.init.normal_(net.out.weight, std=0.1)
    x = torch.randn(2, *SHAPE)
    out = net(torch.rand(2), x, torch.tensor([0.5, 2.0]), torch.ones(2, 1, 4, 4), x)
    assert torch.equal(out[0], torch.zeros_like(out[0])) and out[1].abs().max() > 1e-3
    info = A.parse_metadata(A.module_metadata(net, {}, TP, {}))
    assert info["net"]["sigma_floor"] == 1.0 and A.build_from_state(net.state_dict(), info).sigma_floor == 1.0
    assert "sigma_floor" not in A.GuidanceNet(3).config and A.GuidanceNet(3).active(1e-9)
    with pytest.raises(ValueError, match="sigma_floor"):
        A.GuidanceNet(3, sigma_floor=-1.0)

    den, batches = _setup()
    g = torch.Generator().manual_seed(3)
    x_star, hole = next(batches(g))
    steps, d = 6, x_star[0].numel()
    cfg = A.AIDConfig(steps=steps, lam=0.5)
    var = 2 * cfg.lam / (cfg.beta * d)
    actor = A.GuidanceNet(3, sigma_data=1.0, sigma_floor=1.0)  # zero output: log π = −‖A‖²/(2 var)
    critic = A.CriticNet(3, sigma_data=1.0)
    with torch.no_grad():
        critic.head.weight.zero_()
        critic.head.bias.zero_()
    ro = A.inpaint_rollout(den, actor, TP, x_star, hole, torch.randn(x_star.shape, generator=g), steps,
                           math.sqrt(var), torch.randn((steps, *x_star.shape), generator=g))
    assert ro.active == [s >= 1.0 for s in ro.sigmas] and 0 < sum(ro.active) < steps
    for a, on in zip(ro.actions, ro.active):
        assert (a.abs().max() > 0) == on  # explored where it acts, exactly 0 elsewhere
    ts = [float(TP.time(s)) for s in ro.sigmas] + [1.0]
    sq = torch.stack([(a**2).flatten(1).sum(1) for a in ro.actions])
    delta = 0.5 * cfg.beta * sq * torch.tensor([ts[k + 1] - ts[k] for k in range(steps)])[:, None]
    delta[-1] += A.terminal_cost(ro.x_final, x_star)
    la, _, _ = A.actor_critic_losses(ro, actor, critic, TP, x_star, hole, cfg)
    on = torch.tensor(ro.active)
    assert torch.allclose(la, (-sq / (2 * var) * delta)[on].mean(), rtol=1e-5)


def test_squared_error_prefers_the_shrunk_fill_that_harmony_and_seam_penalise():
    """Why the specified Ψ = ‖X − x*‖² cannot promise lower harmony KL and seam scores (docs/aid.md).

    A hole in a stationary texture, filled with an independent draw of the same texture (what a posterior
    sample is, away from the boundary), shrunk towards its own mean by f. The expected squared error to the
    truth, f²·var + var, falls as f → 0; the fill also gets flatter than its surroundings, so the colour
    histograms drift apart and the boundary becomes the strongest edge. The cost AID's actor–critic descends
    and the scores the bench reports move in opposite directions along the whole path."""
    import torch.nn.functional as F

    from priorpaint.samplers import metrics as M

    def texture(n, g):
        z = torch.randn(n, 3, 68, 68, generator=g, dtype=torch.float64)
        return (0.5 + 0.6 * F.conv2d(z, torch.full((3, 1, 5, 5), 1 / 25, dtype=torch.float64), groups=3)).clamp(0, 1)

    g = torch.Generator().manual_seed(0)
    truth, other = texture(8, g), texture(8, g)
    mask = torch.zeros(1, 1, 64, 64, dtype=torch.float64)
    mask[..., 16:48, 16:48] = 1
    h = mask[0, 0] > 0.5
    own = other[:, :, h].mean(-1)[..., None, None]
    rows = []
    for f in (1.0, 0.7, 0.4, 0.1):
        fill = truth * (1 - mask) + mask * (own + f * (other - own))
        rows.append((float(A.terminal_cost(fill * 2 - 1, truth * 2 - 1).mean()),
                     float(M.harmony_kl(fill.float(), mask.float()).mean()), float(M.seam_score(fill, mask).mean())))
    psi, kl, seam = zip(*rows)
    assert all(a > b for a, b in zip(psi, psi[1:]))  # Ψ rewards every further shrink …
    assert all(a < b for a, b in zip(kl, kl[1:]))  # … which harmony …
    assert all(a < b for a, b in zip(seam, seam[1:]))  # … and seam penalise
    assert psi[-1] < 0.6 * psi[0] and kl[-1] > 10 * kl[0]
