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
