"""The VE glue between ComfyUI's KSAMPLER API and the pure samplers (nodes/sampling.py), exercised with
the RePaint and DPS baselines on exact priors for EPS, V and flow models."""
import pytest
import torch

import comfy.model_management
import comfy.sample
import comfy.samplers

from priorpaint.nodes.models import LoadDemoModel
from priorpaint.support import bench as B
from priorpaint.support.comfy_models import empty_conditioning as cond
from priorpaint.support.comfy_models import exact_prior_model
from priorpaint.support.exact_priors import make_linear_gaussian

SHAPE = (3, 4, 4)


def setup(prediction):
    with torch.inference_mode(False):
        prior = make_linear_gaussian(shape=SHAPE, k=5, seed=0)
    y = prior.sample(1, torch.Generator().manual_seed(0)).float().reshape(1, *SHAPE).expand(8, -1, -1, -1).contiguous()
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., :, 2:] = 1
    return prior, exact_prior_model(prior, prediction), y, mask


def run(model, y, mask, sampler, steps, seed=0):
    sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "karras", steps)
    noise = comfy.sample.prepare_noise(y, seed)
    return comfy.sample.sample_custom(model, noise, 1.0, sampler, sigmas, cond(), cond(), y, noise_mask=mask,
                                      disable_pbar=True, seed=seed)


@pytest.mark.parametrize("prediction", ["eps", "v", "flow"])
def test_repaint_keeps_known_region_is_seeded_and_beats_replace(prediction):
    prior, mp, y, mask = setup(prediction)
    sampler = B.repaint(12, 3, 4).run
    out = sampler(mp, B.Task(y, mask, cond(), cond(), 3))
    again = sampler(mp, B.Task(y, mask, cond(), cond(), 3))
    other = sampler(mp, B.Task(y, mask, cond(), cond(), 4))
    keep = mask.expand_as(out) == 0
    assert (out - y)[keep].abs().max() < 1e-5
    assert torch.equal(out, again) and not torch.equal(out, other)
    # the linear prior's posterior is the point y (identifiable): RePaint gets much closer than replace
    replace = B.core_replace("euler", 12).run(mp, B.Task(y, mask, cond(), cond(), 3))
    assert (out - y).pow(2).mean() < 0.5 * (replace - y).pow(2).mean()


def test_denoise_mask_function_is_honoured():
    _, mp, y, mask = setup("eps")
    calls = []

    def dd(sigma, denoise_mask, extra_options):
        calls.append(float(sigma[0]))
        return denoise_mask * 0  # keep everything: the output must equal the input
    m = mp.clone()
    m.set_model_denoise_mask_function(dd)
    out = B.repaint(6, 2, 2).run(m, B.Task(y, mask, cond(), cond(), 0))
    assert calls and torch.allclose(out, y, atol=1e-6)


def test_interrupt_stops_the_sampler():
    _, mp, y, mask = setup("eps")
    comfy.model_management.interrupt_current_processing(True)
    try:
        with pytest.raises(comfy.model_management.InterruptProcessingException):
            B.repaint(6, 2, 2).run(mp, B.Task(y, mask, cond(), cond(), 0))
    finally:
        comfy.model_management.interrupt_current_processing(False)


def test_dps_gradients_work_with_inference_mode_weights():
    model, _, c = LoadDemoModel.execute("stationary-gaussian", "eps").result  # loaded under inference_mode
    assert any(b.is_inference() for b in model.model.buffers())
    y = torch.rand(1, 3, 16, 16) * 2 - 1
    mask = torch.zeros(1, 1, 16, 16)
    mask[..., 4:12, 4:12] = 1
    out = B.dps(8, 0.5).run(model, B.Task(y, mask, c, c, 0))
    assert out.shape == y.shape and torch.isfinite(out).all()
