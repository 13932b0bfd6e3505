"""VIPaint node: EPS, V and flow through ComfyUI's own sampling path, latent models with the VAE decoder
in the loop (tiny SD1.5 and tiny Flux), fit once / draw n, seeded, inputs untouched, clear errors,
interrupt."""
import pytest
import torch

import comfy.model_management
import comfy.utils

from priorpaint.nodes.vipaint import VIPaint, schedule
from priorpaint.support import bench as B
from priorpaint.support.comfy_models import empty_conditioning as cond
from priorpaint.support.comfy_models import exact_prior_model, tiny_model
from priorpaint.support.exact_priors import make_gaussian_mixture

SHAPE = (3, 4, 4)
# seed, cfg, t_e, t_s, keypoints, iterations, lr_mean, lr_logvar, lr_gamma, prior_w, hier_w, recon_w, dps_steps,
# dps_scale, samples
ARGS = [0, 1.0, 550, 400, 2, 10, 0.1, 1e-3, 0.01, 100.0, 100.0, 100.0, 10, 1.0, 3]


def run(model, latent, *, pos=None, neg=None, **kw):
    args = list(ARGS)
    names = ["seed", "cfg", "t_e", "t_s", "keypoints", "iterations", "lr_mean", "lr_logvar", "lr_gamma",
             "prior_weight", "hier_weight", "recon_weight", "dps_steps", "dps_scale", "samples"]
    opt = {k: kw.pop(k) for k in ("vae", "image", "mask") if k in kw}
    for k, v in kw.items():
        args[names.index(k)] = v
    return VIPaint.execute(model, pos or cond(), neg or cond(), latent, *args, **opt).args[0]["samples"]


@pytest.fixture(scope="module")
def prior():
    with torch.inference_mode(False):
        return make_gaussian_mixture(shape=SHAPE, components=3, rank=3, seed=0)


def problem(prior, b=2):
    y = prior.sample(b, torch.Generator().manual_seed(0)).float().reshape(b, *SHAPE)
    mask = torch.zeros(1, 4, 4)
    mask[..., 2:] = 1
    return {"samples": y, "noise_mask": mask}


@pytest.mark.parametrize("prediction", ["eps", "v", "flow"])
def test_exact_prior_every_parameterisation(prior, prediction):
    counted = B.Counted(exact_prior_model(prior, prediction))
    lat = problem(prior)
    before = lat["samples"].clone()
    out = run(counted.model, lat)
    assert out.shape == (3 * 2, *SHAPE) and torch.isfinite(out).all()
    assert torch.equal(lat["samples"], before)  # input untouched
    y = lat["samples"].repeat(3, 1, 1, 1)
    assert torch.equal(out[..., :2], y[..., :2])  # known region kept
    assert (out[..., 2:] - y[..., 2:]).abs().max() > 1e-3
    # fit 10 × (K−1 + recon + prior) + final draw + 10 DPS steps, each over the 6-row batch
    cond_rows, _ = counted.nfe(out.shape[0])
    assert cond_rows == 10 * 3 + 1 + 10
    assert not torch.equal(out[0], out[2])  # two samples of image 0 differ


def test_seeded(prior):
    model = exact_prior_model(prior, "eps")
    a, b = run(model, problem(prior)), run(model, problem(prior))
    c = run(model, problem(prior), seed=1)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_schedule_follows_the_models_own_sigmas(prior):
    for pred in ("eps", "flow"):
        ms = exact_prior_model(prior, pred).get_model_object("model_sampling")
        kp, dps, grid = schedule(ms, 550, 400, 4, 8)
        assert len(kp) == 4 and len(dps) == 8 and dps[-1] == 0.0 and len(grid) == 449
        assert kp == sorted(kp, reverse=True) and kp[0] < grid[0]
        assert abs(kp[0] - float(ms.percent_to_sigma(0.45))) < 1e-6


@pytest.mark.parametrize("family", ["sd15", "flux"])
def test_latent_models_with_the_decoder_in_the_loop(family):
    b = tiny_model(family, seed=0)
    image = torch.rand(1, 64, 64, 3, generator=torch.Generator().manual_seed(0))
    latent = b.vae.encode(image)
    mask = torch.zeros(1, 64, 64)
    mask[:, 16:48, 24:56] = 1
    pos_before = b.positive[0][0].clone()
    out = run(b.model, {"samples": latent, "noise_mask": mask}, pos=b.positive, neg=b.negative, cfg=2.0,
              iterations=2, dps_steps=2, samples=2, vae=b.vae, image=image)
    keep = comfy.utils.reshape_mask(mask[:, None], out[:1].shape) == 0
    assert out.shape == (2, *latent.shape[1:]) and torch.isfinite(out).all()
    assert (out[:1] - latent)[keep].abs().max() < 1e-5
    assert (out[:1] - latent)[~keep].abs().max() > 1e-4
    assert torch.equal(b.positive[0][0], pos_before)


def test_errors_name_the_input(prior):
    model = exact_prior_model(prior, "eps")
    lat = problem(prior)
    with pytest.raises(ValueError, match="'t_s'.*t_s < t_e"):
        run(model, lat, t_s=600)
    with pytest.raises(ValueError, match="'mask': is empty"):
        run(model, {"samples": lat["samples"], "noise_mask": torch.zeros(1, 4, 4)})
    with pytest.raises(ValueError, match="'mask': covers the whole image"):
        run(model, {"samples": lat["samples"], "noise_mask": torch.ones(1, 4, 4)})
    with pytest.raises(ValueError, match="'mask': is missing"):
        run(model, {"samples": lat["samples"]})
    with pytest.raises(ValueError, match="'image': is connected without a 'vae'"):
        run(model, lat, image=torch.rand(1, 4, 4, 3))
    bad = lat["samples"].clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="latent_image"):
        run(model, {"samples": bad, "noise_mask": lat["noise_mask"]})


def test_interrupt_stops_the_fit(prior):
    model = exact_prior_model(prior, "eps")
    comfy.model_management.interrupt_current_processing(True)
    try:
        with pytest.raises(comfy.model_management.InterruptProcessingException):
            run(model, problem(prior))
    finally:
        comfy.model_management.interrupt_current_processing(False)
