"""The bench's own instruments: NFE counted from the MODEL (never from the method), quality numbers
reproducible for a seed, masks seeded."""
import torch

from priorpaint.support import bench as B
from priorpaint.support.bench_data import MASK_KINDS, make_mask
from priorpaint.support.comfy_models import exact_prior_model, tiny_model
from priorpaint.support.comfy_models import empty_conditioning as cond
from priorpaint.support.exact_priors import make_gaussian_mixture


def test_nfe_counts_cond_and_uncond_rows_per_image():
    b = tiny_model("sd15")
    counted = B.Counted(b.model)
    latent = torch.zeros(2, 4, 8, 8)
    task = B.Task(latent, torch.ones(1, 1, 64, 64), b.positive, b.negative, 0)
    import comfy.sample

    noise = comfy.sample.prepare_noise(latent, 0)
    comfy.sample.sample(counted.model, noise, 5, 3.0, "euler", "simple", b.positive, b.negative, latent,
                        disable_pbar=True, seed=0)
    assert counted.nfe(2) == (5.0, 5.0)  # cfg > 1: one cond and one uncond evaluation per step and image
    counted.reset()
    comfy.sample.sample(counted.model, noise, 5, 1.0, "heun", "simple", b.positive, b.negative, latent,
                        disable_pbar=True, seed=0)
    assert counted.nfe(2) == (9.0, 0.0)  # heun: 2 per step but the last; cfg = 1 skips uncond
    _, rec = B.run_method(B.core_replace("euler", 4), counted, task)
    assert (rec["nfe_cond"], rec["nfe_uncond"]) == (4.0, 0.0) and rec["wall_s"] > 0


def test_original_model_is_not_patched():
    mp = exact_prior_model(make_gaussian_mixture(shape=(3, 2, 2), components=2, rank=1), "eps")
    before = dict(mp.model_options)
    B.Counted(mp)
    assert mp.model_options == before


def test_quality_numbers_reproduce_for_a_seed():
    with torch.inference_mode(False):
        prior = make_gaussian_mixture(shape=(3, 4, 4), components=3, rank=2, seed=0)
    counted = B.Counted(exact_prior_model(prior, "flow"))
    y = prior.sample(1, torch.Generator().manual_seed(0)).float().reshape(1, 3, 4, 4).expand(16, -1, -1, -1).contiguous()
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., 2:] = 1
    for method in (B.core_replace("dpmpp_2m", 6), B.repaint(6, 2, 2), B.dps(6, 1.0)):
        a, _ = B.run_method(method, counted, B.Task(y, mask, cond(), cond(), 5))
        b, _ = B.run_method(method, counted, B.Task(y, mask, cond(), cond(), 5))
        assert torch.equal(a, b), method.name


def test_masks_are_seeded_and_sane():
    for kind in MASK_KINDS:
        a, b = make_mask(kind, 64, 48, seed=3), make_mask(kind, 64, 48, seed=3)
        assert torch.equal(a, b) and a.shape == (1, 1, 64, 48)
        frac = float(a.mean())
        assert 0.05 < frac < 0.9, (kind, frac)
    assert float(make_mask("expand", 64, 64).mean()) == 0.75
