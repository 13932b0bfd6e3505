"""Nothing silent (issue 36): every sampling node refuses a bad input before its first model call, with an
error that names the node the user placed (its display name) and the input by its socket name; a
LATENT's noise mask follows the pack's one mask rule; Inpaint Crop keeps its bound; Inpaint Stitch takes
only what its crop produced; Train AID never saves a diverged module.

The cases that a user meets through a server are also run through a real one in
tests/e2e/test_hostile_inputs.py."""
import math
import os
import random

import pytest
import torch

import comfy.sample
import comfy.samplers
import folder_paths

from priorpaint.nodes import aid as AIDN
from priorpaint.nodes.inpaint import InpaintCrop, InpaintEncode, InpaintStitch
from priorpaint.nodes.isdiff import GMMSeed, HarmonizedSampler
from priorpaint.nodes.ksampler import PriorPaintKSampler, PriorPaintKSamplerAdvanced
from priorpaint.nodes.models import LoadDemoModel
from priorpaint.nodes.repaint import MODES, RePaintPlusSampler
from priorpaint.nodes.sampling import dps_sampler
from priorpaint.nodes.vipaint import VIPaint
from priorpaint.samplers import crop as cc
from priorpaint.samplers.presets import PRESETS
from priorpaint.support.comfy_models import empty_conditioning as cond
from priorpaint.support.comfy_models import exact_prior_model, tiny_model
from priorpaint.support.exact_priors import make_gaussian_mixture

NAN, INF = float("nan"), float("inf")

with torch.inference_mode(False):
    PRIOR = make_gaussian_mixture(shape=(3, 4, 4), components=2, rank=2, seed=0)
EXACT = exact_prior_model(PRIOR, "eps")
Y = PRIOR.sample(1, torch.Generator().manual_seed(0)).float().reshape(1, 3, 4, 4)
VIP = [0, 1.0, 550, 400, 2, 2, 0.1, 1e-3, 0.01, 100.0, 100.0, 100.0, 2, 1.0, 1]  # seed … samples


def counted(model):
    """A clone of ``model`` that counts its diffusion-model calls in ``.calls``."""
    m = model.clone()
    calls = []

    def wrapper(apply, args):
        calls.append(1)
        return apply(args["input"], args["timestep"], **args["c"])

    m.set_model_unet_function_wrapper(wrapper)
    m.calls = calls
    return m


def box_mask(b=1, h=4, w=4, value=1.0):
    m = torch.zeros(b, 1, h, w)
    m[..., h // 4: h // 4 + max(1, h // 2), w // 4: w // 4 + max(1, w // 2)] = value
    return m


def lat(samples=None, mask=None):
    out = {"samples": Y.clone() if samples is None else samples}
    if mask is not None:
        out["noise_mask"] = mask
    return out


def ksampler(model, latent, method="balanced", cfg=1.0, denoise=1.0, scheduler="karras", sampler="euler",
             positive=None, negative=None):
    return PriorPaintKSampler.execute(model, 0, 3, cfg, sampler, scheduler, positive or cond(), negative or cond(),
                                      latent, denoise, method).result[0]


def advanced(model, latent, method="balanced", cfg=1.0):
    return PriorPaintKSamplerAdvanced.execute(model, "enable", 0, 3, cfg, "euler", "karras", cond(), cond(), latent,
                                              0, 10000, "disable", method).result[0]


def custom(model, sampler, latent):
    sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "karras", 3)
    x = latent["samples"]
    return comfy.sample.sample_custom(model, torch.randn(x.shape, generator=torch.Generator().manual_seed(0)), 1.0,
                                      sampler, sigmas, cond(), cond(), x, noise_mask=latent.get("noise_mask"),
                                      disable_pbar=True, seed=0)


def assert_refused(fn, node, socket, expected):
    with pytest.raises(ValueError) as e:
        fn()
    msg = str(e.value)
    assert msg.startswith(f"PriorPaint {node}:"), msg
    assert f"input '{socket}'" in msg and expected in msg, msg
    return msg


# --- one bad-mask set, every pack SAMPLER and every preset, zero model calls ----------------------------
BAD_MASKS = {"NaN": (box_mask(value=NAN), "NaN or Inf"), "Inf": (box_mask(value=INF), "NaN or Inf"),
             "negative": (box_mask(value=-0.5), "[-0.5, 0]"), "above 1": (box_mask(value=2.0), "[0, 2]")}


def _samplers():
    """Every SAMPLER the pack offers SamplerCustom users, by the node that makes it."""
    out = {f"RePaint+ Sampler/{mode}": ("RePaint+ Sampler", lambda mode=mode: RePaintPlusSampler.execute(
        mode, 1, 1, "capped", 4.0, 0.0, 1.0, 0.0, 1.0).result[0]) for mode in MODES}
    out["Harmonized Sampler"] = ("Harmonized Sampler", lambda: HarmonizedSampler.execute(
        0.5, 3, 2, "fixed", 1.5, 5, 2000, 0.0, False).result[0])
    out["DPS"] = ("DPS sampler", lambda: dps_sampler())
    return out


SAMPLERS = _samplers()


@pytest.mark.parametrize("bad", list(BAD_MASKS))
def test_every_preset_and_sampler_refuses_the_same_bad_masks_before_any_model_call(bad):
    mask, expected = BAD_MASKS[bad]
    runs = {f"Inpaint KSampler/{m}": ("Inpaint KSampler", lambda model, m=m: ksampler(model, lat(mask=mask), m))
            for m in PRESETS}
    runs.update({f"Inpaint KSampler (Advanced)/{m}": ("Inpaint KSampler (Advanced)",
                                                      lambda model, m=m: advanced(model, lat(mask=mask), m))
                 for m in PRESETS})
    runs.update({name: (node, lambda model, make=make: custom(model, make(), lat(mask=mask)))
                 for name, (node, make) in SAMPLERS.items()})
    runs["VIPaint"] = ("VIPaint (Advanced)", lambda model: VIPaint.execute(model, cond(), cond(), lat(mask=mask), *VIP))
    for name, (node, run) in runs.items():
        model = counted(EXACT)
        msg = assert_refused(lambda: run(model), node, "latent_image", expected)
        assert "noise_mask" in msg, (name, msg)
        assert not model.calls, f"{name}: {len(model.calls)} model calls before refusing a {bad} mask"
    # GMM Seed (no model) refuses the same masks in its own words
    assert_refused(lambda: GMMSeed.execute(lat(mask=mask), 3, 0, 500, 0.0), "GMM Seed", "samples", expected)


# --- Inpaint KSampler: shapes, batches, widgets --------------------------------------------------------
def test_a_noise_mask_of_another_aspect_is_refused_not_stretched():
    """A 10×10 mask on a 64×48 latent used to become a different hole (stretched to 48×64)."""
    model = counted(tiny_model("sd15").model)
    latent = lat(torch.zeros(1, 4, 48, 64), torch.ones(1, 1, 10, 10))
    for method in PRESETS:
        assert_refused(lambda: PriorPaintKSampler.execute(model, 0, 2, 1.0, "euler", "simple", cond(768), cond(768),
                                                          latent, 1.0, method), "Inpaint KSampler", "latent_image",
                       "its noise_mask is 10x10 (WxH) but the image/latent it masks is 64x48")
    assert not model.calls


def test_a_noise_mask_batch_that_fits_no_item_is_refused():
    latent = lat(Y.repeat(3, 1, 1, 1), box_mask(b=2))
    for method in PRESETS:
        assert_refused(lambda: ksampler(EXACT, latent, method), "Inpaint KSampler", "latent_image",
                       "its noise_mask has batch size 2 but the batch has 3")


def test_masks_the_rule_accepts_reach_the_sampler_as_the_rule_fits_them():
    """One mask for the batch, a pixel-size mask (8× the latent), a LoadImage mask before VAEEncode's crop
    and a 2-D mask all run, and equal the run with the mask fitted by hand."""
    model = tiny_model("sd15")
    x = torch.randn(2, 4, 7, 12, generator=torch.Generator().manual_seed(1))
    small = torch.zeros(1, 1, 7, 12)
    small[..., 2:5, 3:8] = 1.0
    pixel = torch.nn.functional.interpolate(small, size=(56, 96), mode="nearest")
    uncropped = torch.nn.functional.pad(pixel, (2, 2, 2, 2))  # a 100×60 photo's mask; VAEEncode cuts 96×56
    ref = PriorPaintKSampler.execute(model.model, 0, 2, 1.0, "euler", "simple", model.positive, model.negative,
                                     {"samples": x, "noise_mask": small.expand(2, -1, -1, -1).clone()}, 1.0,
                                     "core").result[0]["samples"]
    for mask in (small, small[0, 0], uncropped[:, 0]):
        out = PriorPaintKSampler.execute(model.model, 0, 2, 1.0, "euler", "simple", model.positive, model.negative,
                                         {"samples": x, "noise_mask": mask}, 1.0, "core").result[0]["samples"]
        assert torch.equal(out, ref)
    out = PriorPaintKSampler.execute(model.model, 0, 2, 1.0, "euler", "simple", model.positive, model.negative,
                                     {"samples": x, "noise_mask": pixel}, 1.0, "core").result[0]["samples"]
    assert torch.isfinite(out).all() and out.shape == x.shape


@pytest.mark.parametrize("cfg", [NAN, INF, -INF])
def test_a_guidance_scale_that_is_not_a_number_is_refused_before_sampling(cfg):
    model = counted(EXACT)
    for method in PRESETS:
        assert_refused(lambda: ksampler(model, lat(mask=box_mask()), method, cfg=cfg), "Inpaint KSampler", "cfg",
                       "a finite number")
    assert_refused(lambda: VIPaint.execute(model, cond(), cond(), lat(mask=box_mask()), VIP[0], cfg, *VIP[2:]),
                   "VIPaint (Advanced)", "cfg", "a finite number")
    assert not model.calls


def test_denoise_scheduler_and_names_outside_their_lists_are_refused():
    latent = lat(mask=box_mask())
    assert_refused(lambda: ksampler(EXACT, latent, denoise=NAN), "Inpaint KSampler", "denoise", "a number in [0, 1]")
    assert_refused(lambda: ksampler(EXACT, latent, denoise=1.5), "Inpaint KSampler", "denoise", "a number in [0, 1]")
    assert_refused(lambda: ksampler(EXACT, latent, scheduler="sgm_nonexistent"), "Inpaint KSampler", "scheduler",
                   "one of ComfyUI's schedulers")
    assert_refused(lambda: ksampler(EXACT, latent, sampler="euler_nonexistent"), "Inpaint KSampler", "sampler_name",
                   "one of ComfyUI's samplers")
    assert_refused(lambda: ksampler(EXACT, latent, method="precise-ish"), "Inpaint KSampler", "method",
                   "one of ['balanced', 'fast', 'core']")
    assert_refused(lambda: advanced(EXACT, latent, method="nope"), "Inpaint KSampler (Advanced)", "method", "one of")


def test_latents_that_are_not_finite_or_not_latents_are_refused():
    bad = Y.clone()
    bad[0, 0, 0, 0] = NAN
    assert_refused(lambda: ksampler(EXACT, lat(bad, box_mask())), "Inpaint KSampler", "latent_image", "NaN or Inf")
    assert_refused(lambda: ksampler(EXACT, Y.clone()), "Inpaint KSampler", "latent_image", "a LATENT")
    assert_refused(lambda: ksampler(EXACT, lat(mask=[[1.0]])), "Inpaint KSampler", "latent_image",
                   "noise_mask of type list")
    assert_refused(lambda: ksampler(EXACT, lat(mask=torch.ones(2, 3, 5, 4, 4))), "Inpaint KSampler", "latent_image",
                   "noise_mask")


def test_a_video_latent_into_an_image_model_is_refused_by_every_sampling_node():
    """It used to reach the model: "too many values to unpack (expected 4)"."""
    model = counted(tiny_model("sd15").model)
    video = lat(torch.zeros(1, 4, 3, 8, 8), torch.ones(1, 1, 3, 8, 8) * box_mask(h=8, w=8)[:, :, None])
    for method in PRESETS:
        assert_refused(lambda: PriorPaintKSampler.execute(model, 0, 2, 1.0, "euler", "simple", cond(768), cond(768),
                                                          video, 1.0, method), "Inpaint KSampler", "latent_image",
                       "is a 5-D latent [B, C, T, H, W] (video)")
    for name, (node, make) in SAMPLERS.items():
        assert_refused(lambda: custom(model, make(), video), node, "latent_image", "a [B, C, H, W] (image) latent")
    assert not model.calls


def test_a_latent_from_another_model_family_is_refused_but_an_empty_one_is_adapted():
    model = tiny_model("sd15")
    flux_latent = lat(torch.randn(1, 16, 8, 8, generator=torch.Generator().manual_seed(0)), box_mask(h=8, w=8))
    assert_refused(lambda: PriorPaintKSampler.execute(model.model, 0, 2, 1.0, "euler", "simple", model.positive,
                                                      model.negative, flux_latent, 1.0, "balanced"),
                   "Inpaint KSampler", "latent_image", "has 16 channels but this MODEL's latents have 4")
    empty = lat(torch.zeros(1, 16, 8, 8), box_mask(h=8, w=8))  # ComfyUI adapts an empty latent's channels
    out = PriorPaintKSampler.execute(model.model, 0, 2, 1.0, "euler", "simple", model.positive, model.negative,
                                     empty, 1.0, "balanced").result[0]["samples"]
    assert out.shape == (1, 4, 8, 8)


@pytest.mark.parametrize("side", [1, 2])
def test_a_latent_too_small_for_the_unet_is_refused_before_sampling(side):
    """8×8 and 16×16 images through an SD VAE: 1×1 and 2×2 latents used to fail inside the UNet."""
    bundle = tiny_model("sd15")
    model = counted(bundle.model)
    latent = lat(torch.zeros(1, 4, side, side), torch.ones(1, 1, side, side))
    assert_refused(lambda: PriorPaintKSampler.execute(model, 0, 2, 1.0, "euler", "simple", bundle.positive,
                                                      bundle.negative, latent, 1.0, "core"),
                   "Inpaint KSampler", "latent_image", "too small for this model; expected at least 3x3")
    assert not model.calls
    ok = lat(torch.zeros(1, 4, 3, 3), torch.ones(1, 1, 3, 3))  # the smallest this tiny UNet takes
    PriorPaintKSampler.execute(bundle.model, 0, 2, 1.0, "euler", "simple", bundle.positive, bundle.negative, ok, 1.0,
                               "core")


def test_a_dit_takes_any_latent_size():
    """Flux pads to its patch size: a 1×1 latent runs (no minimum is invented for it)."""
    bundle = tiny_model("flux")
    out = PriorPaintKSampler.execute(bundle.model, 0, 2, 1.0, "euler", "simple", bundle.positive, bundle.negative,
                                     lat(torch.zeros(1, 16, 1, 1), torch.ones(1, 1, 1, 1)), 1.0, "balanced")
    assert out.result[0]["samples"].shape == (1, 16, 1, 1)


def test_vipaint_refuses_a_latent_of_another_family():
    assert_refused(lambda: VIPaint.execute(EXACT, cond(), cond(), lat(torch.randn(1, 4, 4, 4), box_mask()), *VIP),
                   "VIPaint (Advanced)", "latent_image", "has 4 channels but this MODEL's latents have 3")


# --- Inpaint Encode names its sockets --------------------------------------------------------------------
def test_inpaint_encode_names_its_pixels_socket():
    vae = LoadDemoModel.execute("priorpaint-unet", "eps").result[1]
    bad = torch.rand(1, 16, 16, 3)
    bad[0, 0, 0, 0] = NAN
    mask = torch.ones(1, 16, 16)
    assert_refused(lambda: InpaintEncode.execute(bad, mask, vae), "Inpaint Encode", "pixels", "NaN or Inf")
    assert_refused(lambda: InpaintEncode.execute(torch.rand(1, 16, 16, 4), mask, vae), "Inpaint Encode", "pixels",
                   "4 channels")


# --- Inpaint Crop: its bound and the aspect on any input ---------------------------------------------------
def test_target_size_keeps_the_bound_and_the_aspect_on_any_region():
    rng = random.Random(0)
    refused = 0
    for _ in range(5000):
        h, w = rng.randint(1, 6000), rng.randint(1, 6000)
        if rng.random() < 0.3:  # strips
            h = rng.randint(1, 4)
        mp, q = rng.choice([0.01, 0.02, 0.26, 1.0, 4.0, 16.0]), rng.choice([1, 8, 16, 64, 256])
        try:
            th, tw = cc.target_size(h, w, mp, q)
        except ValueError as e:
            assert "megapixels" in str(e) and q * q * 1.0 > 0
            refused += 1
            continue
        assert th % q == 0 and tw % q == 0 and th * tw <= mp * 1e6, (h, w, mp, q, th, tw)
        short, long, aspect = min(th, tw), max(th, tw), max(h, w) / min(h, w)
        assert abs(long - short * aspect) < q, (h, w, mp, q, th, tw)
    assert 0 < refused < 2500


def test_inpaint_crop_bounds_a_strip_and_refuses_what_cannot_fit():
    """A 1×96 strip at multiple 256 used to give a 512×39168 crop (20 MP for 16 asked, aspect 1:76)."""
    strip, mask = torch.rand(1, 1, 96, 3), torch.ones(1, 1, 96)
    crop = InpaintCrop.execute(strip, mask, 0.5, 32, 16.0, 256).result[0]
    h, w = crop.shape[1:3]
    assert h * w <= 16e6 and (h, w) == (256, 256 * 96)
    assert_refused(lambda: InpaintCrop.execute(strip, mask, 0.5, 32, 1.0, 256), "Inpaint Crop", "megapixels",
                   "needs at least 6.29 megapixels")
    assert_refused(lambda: InpaintCrop.execute(torch.rand(1, 64, 64, 3), torch.ones(1, 64, 64), 0.5, 32, 0.01, 256),
                   "Inpaint Crop", "megapixels", "lower 'multiple' or raise 'megapixels'")


# --- Inpaint Stitch takes only what its crop produced ----------------------------------------------------
def _photo(seed, h=192, w=256):
    g = torch.Generator().manual_seed(seed)
    base = torch.nn.functional.interpolate(torch.rand(1, 3, 6, 8, generator=g), size=(h, w), mode="bicubic")
    return (base + 0.05 * torch.rand(1, 3, h, w, generator=g)).clamp(0, 1).movedim(1, -1)


def _cropped(seed=0):
    img, mask = _photo(seed), torch.zeros(1, 192, 256)
    mask[:, 80:110, 100:140] = 1
    crop, cmask, info = InpaintCrop.execute(img, mask, 0.5, 16, 0.05, 16).result
    return img, crop, cmask, info


def _inpaint(crop, cmask, fill=0.5):
    m = cmask[..., None]
    return m * fill + (1 - m) * crop


def test_stitch_refuses_the_full_image_and_another_images_crop():
    img, crop, cmask, info = _cropped()
    h, w = crop.shape[1:3]
    assert_refused(lambda: InpaintStitch.execute(info, img, 4.0, "none"), "Inpaint Stitch", "inpainted",
                   f"but Inpaint Crop cut a {w}x{h} crop")
    other = _cropped(seed=7)[1]
    assert other.shape == crop.shape
    assert_refused(lambda: InpaintStitch.execute(info, _inpaint(other, cmask), 4.0, "none"), "Inpaint Stitch",
                   "inpainted", "does not show the region Inpaint Crop cut out")
    flipped = _inpaint(crop.flip(1), cmask)  # the same photo's pixels, but not this crop's layout
    assert_refused(lambda: InpaintStitch.execute(info, flipped, 4.0, "none"), "Inpaint Stitch", "inpainted",
                   "turn off 'check_source'")
    # a crop regenerated as a whole on purpose: the user turns the pixel check off; the size is still checked
    out = InpaintStitch.execute(info, _inpaint(other, cmask), 4.0, "none", check_source=False).result[0]
    assert out.shape == img.shape
    assert_refused(lambda: InpaintStitch.execute(info, img, 4.0, "none", check_source=False), "Inpaint Stitch",
                   "inpainted", "but Inpaint Crop cut a")


def test_stitch_takes_a_decoded_graded_or_upscaled_result_of_its_crop():
    img, crop, cmask, info = _cropped()
    noisy = (_inpaint(crop, cmask) + 0.03 * torch.randn(crop.shape, generator=torch.Generator().manual_seed(2)))
    graded = 0.7 * _inpaint(crop, cmask) + 0.25  # a strong colour grade keeps the layout
    up = torch.nn.functional.interpolate(_inpaint(crop, cmask).movedim(-1, 1), scale_factor=2, mode="bicubic")
    for inp in (noisy.clamp(0, 1), graded, up.movedim(1, -1).clamp(0, 1)):
        out = InpaintStitch.execute(info, inp, 4.0, "lab_mean_std").result[0]
        assert out.shape == img.shape and torch.isfinite(out).all()
    assert_refused(lambda: InpaintStitch.execute(info, crop[:, :, :-3], 4.0, "none"), "Inpaint Stitch", "inpainted",
                   "or a whole-number scale of it")


# --- Train AID never saves a diverged module -------------------------------------------------------------
def _train(tmp_path, monkeypatch, **change):
    monkeypatch.setattr(folder_paths, "models_dir", str(tmp_path / "models"))
    monkeypatch.setattr(folder_paths, "get_output_directory", lambda: str(tmp_path / "out"))
    model, vae, _ = LoadDemoModel.execute("priorpaint-unet", "eps").args
    args = dict(model=model, vae=vae, images=torch.rand(2, 64, 64, 3, generator=torch.Generator().manual_seed(0)),
                name="div", mask_kind="mixed", iterations=30, batch=8, crop=16, steps=4, lr_actor=1e-3,
                lr_critic=1e-3, lam=0.1, beta=1.0, seed=0, resume=False, checkpoint_every=5)
    return AIDN.TrainAIDGuidance.execute(**dict(args, **change))


def test_train_aid_stops_on_divergence_keeps_the_last_good_state_and_saves_no_module(tmp_path, monkeypatch):
    """lr_actor 0.5 used to take the terminal cost from ~100 to 1e9 and save that module."""
    msg = assert_refused(lambda: _train(tmp_path, monkeypatch, lr_actor=0.5), "Train AID Guidance (Advanced)", "lr_actor",
                         "training diverged at iteration")
    assert "the module was not saved" in msg and "last good state" in msg, msg
    assert not os.path.exists(tmp_path / "models" / "inpaint_guidance" / "div.safetensors")
    ckpt = tmp_path / "out" / "priorpaint_aid" / "div.ckpt.safetensors"
    from safetensors.torch import load_file

    weights = load_file(str(ckpt))
    assert all(torch.isfinite(v.float()).all() for v in weights.values())
    # resuming from the kept state at the default learning rate trains on and saves the module
    _train(tmp_path, monkeypatch, resume=True, iterations=8)
    assert os.path.exists(tmp_path / "models" / "inpaint_guidance" / "div.safetensors")


def test_divergence_watch():
    from priorpaint.samplers.aid import DivergenceWatch

    w = DivergenceWatch()
    assert w.check({"psi": 90.0, "running": 1.0}) is None
    assert w.check({"psi": 60.0, "running": 1.0}) is None
    assert w.check({"psi": 8000.0, "running": 1.0}) is None  # below 100× its start: noisy, not diverged
    assert "over 100×" in w.check({"psi": 9500.0, "running": 1.0})
    assert "not finite" in w.check({"psi": NAN, "running": 1.0})
    assert "not finite" in DivergenceWatch().check({"psi": 1.0, "running": INF})
    net = torch.nn.Linear(2, 2)
    with torch.no_grad():
        net.weight[0, 0] = NAN
    assert "weights are not finite" in DivergenceWatch().check({"psi": 1.0, "running": 1.0}, net)


def test_train_aid_refuses_images_that_are_not_finite(tmp_path, monkeypatch):
    bad = torch.rand(2, 64, 64, 3)
    bad[1, 3, 3, 0] = NAN
    assert_refused(lambda: _train(tmp_path, monkeypatch, images=bad), "Train AID Guidance (Advanced)", "images", "NaN or Inf")
