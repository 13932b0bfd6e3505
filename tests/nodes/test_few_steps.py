"""Few-step models (Turbo, Lightning, LCM, Hyper, schnell run 1–4 steps): every preset keeps the hole in the
latent's range with every scheduler ComfyUI lists, on EPS, V and flow models. A 2-step karras schedule on
the demo model used to take the balanced preset's hole to 47 (latents live in [−1, 1]): the signal-poor first
level stood in for a level where the model reads noise as an image (docs/repaint-plus.md, "Few steps")."""
import pytest
import torch

import comfy.samplers

from priorpaint.nodes.image import ExamplePhoto
from priorpaint.nodes.inpaint import InpaintEncode
from priorpaint.nodes.ksampler import PriorPaintKSampler
from priorpaint.nodes.models import LoadDemoModel
from priorpaint.samplers import repaint_plus as rpp
from priorpaint.samplers.presets import PRESETS
from priorpaint.samplers.ve import flow_to_ve_sigma


@pytest.mark.parametrize("prediction", ["eps", "v", "flow"])
def test_every_preset_keeps_the_hole_in_range_at_1_to_4_steps_with_every_scheduler(prediction):
    model, vae, cond = LoadDemoModel.execute("priorpaint-unet", prediction).result[:3]
    img, mask = ExamplePhoto.execute("cat", 64, "box").result[:2]
    latent = InpaintEncode.execute(img, mask, vae).result[0]
    hole = torch.nn.functional.interpolate(latent["noise_mask"], size=latent["samples"].shape[-2:]) > 0.5
    worst = {}
    for scheduler in comfy.samplers.KSampler.SCHEDULERS:
        for steps in (1, 2, 3, 4):
            for method in PRESETS:
                try:
                    out = PriorPaintKSampler.execute(model, 0, steps, 1.0, "euler", scheduler, cond, cond, latent,
                                                     1.0, method).result[0]["samples"]
                except ValueError as e:  # ComfyUI's kl_optimal has no 1-step schedule: a clear error, not NaN
                    assert (scheduler, steps) == ("kl_optimal", 1) and "input 'scheduler'" in str(e), str(e)
                    continue
                assert torch.isfinite(out).all()
                worst[(scheduler, steps, method)] = float(out[hole.expand_as(out)].abs().max())
    bad = {k: round(v, 2) for k, v in worst.items() if v > 1.5}
    assert not bad, f"saturated holes (latents live in [-1, 1]; max |x| > 1.5): {bad}"


def _denoiser(sigmas, flow, jump_length=1):
    sig = (lambda s: (1 - s, flow_to_ve_sigma(s) if s < 1 else float("inf"))) if flow else (lambda s: (1.0, s))
    return rpp.RePaintPlusDenoiser(None, None, None, None, None, sigmas, jump_length=jump_length, signal=sig)


def test_the_stand_in_answers_only_at_levels_where_noise_dominates():
    # EPS (σ_d = 1): level 14.6 may stand in at t only where t ≥ 1 (signal-to-noise 1/t at most 1)
    d = _denoiser([14.6, 9.0, 0.0], flow=False)
    assert d.stand_in(14.6) == 9.0
    d = _denoiser([14.6, 1.5, 0.0], flow=False)  # 3 karras steps: still mostly noise at 1.5
    assert d.stand_in(14.6) == 1.5
    for t in (0.447, 0.029):  # 4 karras steps taken every second level; 2 karras steps
        assert _denoiser([14.6, t, 0.0], flow=False).stand_in(14.6) is None
    # flow (σ = 1 is pure noise): the next level may stand in only where (1 − t) ≤ t, i.e. t ≥ 0.5
    for t, ok in ((0.9, True), (0.6, True), (0.45, False), (0.003, False)):
        assert (_denoiser([1.0, t, 0.0], flow=True).stand_in(1.0) == t) is ok, t
    # at the step counts the presets are measured at (20 and 40, every scheduler, EPS and flow) every stand-in
    # is kept: the rule changes only few-step schedules
    for prediction in ("eps", "flow"):
        ms = LoadDemoModel.execute("priorpaint-unet", prediction).result[0].get_model_object("model_sampling")
        for scheduler in comfy.samplers.KSampler.SCHEDULERS:
            for steps, jump_length in ((20, 1), (20, 2), (40, 1)):
                sigmas = [float(v) for v in comfy.samplers.calculate_sigmas(ms, scheduler, steps)]
                d = _denoiser(sigmas, prediction == "flow", jump_length)
                assert all(d.stand_in(s) == d._candidate(s) for s in sigmas), (prediction, scheduler, steps)


def test_a_preset_harmonises_at_least_once_where_any_level_allows_it():
    """fast harmonises every second level; at flow σ = 1 the rounds act only through a stand-in, which a
    2-step schedule cannot have (its next level is far from noise-dominated). A 2-step fast run would then be
    ComfyUI's plain inpainting; instead the first level that can act harmonises."""
    d = _denoiser([1.0, 0.003, 0.0], flow=True, jump_length=2)
    assert d.stand_in(1.0) is None and d.harmonises(0.003)
    d = _denoiser([1.0, 0.6, 0.3, 0.0], flow=True, jump_length=2)  # 0.3 harmonises: nothing added
    assert not d.harmonises(0.6) and d.harmonises(0.3)
    d = _denoiser([14.6, 0.029, 0.0], flow=False, jump_length=2)  # EPS carries signal at every level
    assert d.harmonises(14.6) and not d.harmonises(0.029)
    # every schedule of 3 steps or more keeps its harmonising levels, EPS and flow, every scheduler
    for prediction in ("eps", "flow"):
        ms = LoadDemoModel.execute("priorpaint-unet", prediction).result[0].get_model_object("model_sampling")
        for scheduler in comfy.samplers.KSampler.SCHEDULERS:
            for steps, jump_length in ((3, 2), (4, 2), (8, 2), (10, 2), (20, 1), (20, 2), (40, 1)):
                sigmas = [float(v) for v in comfy.samplers.calculate_sigmas(ms, scheduler, steps)]
                d = _denoiser(sigmas, prediction == "flow", jump_length)
                planned = {sigmas[i] for i in rpp.harmonising_levels(len(sigmas) - 1, jump_length)}
                assert d.harmonise == planned, (prediction, scheduler, steps, jump_length)
