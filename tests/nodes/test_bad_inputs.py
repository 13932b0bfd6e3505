"""Bad-input matrix: every case fails with a ValueError that names the node, the input and what was
expected; nothing is silently clamped, stretched or dropped. (The server side -- the next prompt still
runs -- is tests/e2e/test_server_workflows.py::test_bad_input_matrix_keeps_the_server_serving.)"""
import os

import pytest
import torch

import folder_paths

from priorpaint.nodes import aid as AIDN
from priorpaint.nodes.image import Composite
from priorpaint.nodes.isdiff import DCECheck, GMMSeed, HarmonizedSampler
from priorpaint.nodes.models import LoadDemoModel
from priorpaint.nodes.repaint import RePaintPlusSampler
from priorpaint.nodes.vipaint import VIPaint
from priorpaint.samplers import aid as A
from priorpaint.support.comfy_models import empty_conditioning as cond
from priorpaint.support.comfy_models import exact_prior_model
from priorpaint.support.exact_priors import make_gaussian_mixture

NAN = float("nan")


def img(b=1, h=16, w=16, c=3, fill=None):
    x = torch.rand(b, h, w, c, generator=torch.Generator().manual_seed(0))
    if fill is not None:
        x[0, 0, 0, 0] = fill
    return x


def hole(b=1, h=16, w=16, value=1.0):
    m = torch.zeros(b, h, w)
    m[:, h // 4: 3 * h // 4, w // 4: 3 * w // 4] = value
    return m


def lat(b=1, c=4, h=8, w=8, fill=None):
    x = torch.randn(b, c, h, w, generator=torch.Generator().manual_seed(0))
    if fill is not None:
        x[0, 0, 0, 0] = fill
    return {"samples": x}


with torch.inference_mode(False):
    PRIOR = make_gaussian_mixture(shape=(3, 4, 4), components=2, rank=2, seed=0)
MODEL = exact_prior_model(PRIOR, "eps")
FLOW = exact_prior_model(PRIOR, "flow")
VIP = [0, 1.0, 550, 400, 2, 2, 0.1, 1e-3, 0.01, 100.0, 100.0, 100.0, 2, 1.0, 1]  # seed … samples
EXACT_LAT = {"samples": PRIOR.sample(1, torch.Generator().manual_seed(0)).float().reshape(1, 3, 4, 4)}


_demo = LoadDemoModel.execute("stationary-gaussian", "eps").args
DEMO, DEMO_VAE = (_demo[0], _demo[2], _demo[2]), _demo[1]


def vip(latent, mask=None, **kw):
    args = list(VIP)
    for k, v in kw.pop("pos", {}).items():
        args[k] = v
    return VIPaint.execute(MODEL, cond(), cond(), dict(latent, **({"noise_mask": mask} if mask is not None else {})),
                           *args, **kw)


def run_sampler(sampler, mask):
    import comfy.sample
    import comfy.samplers

    y = EXACT_LAT["samples"]
    sigmas = comfy.samplers.calculate_sigmas(MODEL.get_model_object("model_sampling"), "karras", 4)
    return comfy.sample.sample_custom(MODEL, torch.randn(y.shape, generator=torch.Generator().manual_seed(0)), 1.0,
                                      sampler, sigmas, cond(), cond(), y, noise_mask=mask[:, None], disable_pbar=True,
                                      seed=0)


def gmm(latent, mask=None, **kw):
    return GMMSeed.execute(latent, 3, 0, 500, 0.0, mask=mask)


CASES = {
    # GMM Seed
    "gmm: empty mask": (lambda: gmm(lat(), hole(value=0.0)), "GMM Seed", "'mask'", "is empty"),
    "gmm: full mask": (lambda: gmm(lat(), torch.ones(1, 16, 16)), "GMM Seed", "'mask'", "covers the whole image"),
    "gmm: NaN latent": (lambda: gmm(lat(fill=NAN), hole()), "GMM Seed", "'samples'", "NaN or Inf"),
    "gmm: Inf latent": (lambda: gmm(lat(fill=float("inf")), hole()), "GMM Seed", "'samples'", "NaN or Inf"),
    "gmm: not a 4-D latent": (lambda: gmm({"samples": torch.zeros(4, 8, 8)}, hole()), "GMM Seed", "'samples'",
                              "[B, C, H, W]"),
    "gmm: no mask at all": (lambda: gmm(lat()), "GMM Seed", "'mask'", "is missing"),
    "gmm: mask aspect ratio": (lambda: gmm(lat(), hole(h=16, w=32)), "GMM Seed", "'mask'", "aspect ratio"),
    "gmm: mask batch mismatch": (lambda: gmm(lat(b=2), hole(b=3)), "GMM Seed", "'mask'", "batch size 3"),
    "gmm: mask values > 1": (lambda: gmm(lat(), hole(value=2.0)), "GMM Seed", "'mask'", "values in [0, 1]"),
    "gmm: negative mask": (lambda: gmm(lat(), hole(value=-0.5)), "GMM Seed", "'mask'", "values in [0, 1]"),
    "gmm: NaN mask": (lambda: gmm(lat(), hole(value=NAN)), "GMM Seed", "'mask'", "NaN or Inf"),
    # DCE Check
    "dce: NaN image": (lambda: DCECheck.execute(img(fill=NAN), hole()), "DCE Check", "'image'", "NaN or Inf"),
    "dce: empty mask": (lambda: DCECheck.execute(img(), hole(value=0.0)), "DCE Check", "'mask'", "is empty"),
    "dce: full mask": (lambda: DCECheck.execute(img(), torch.ones(1, 16, 16)), "DCE Check", "'mask'", "covers"),
    "dce: mask aspect ratio": (lambda: DCECheck.execute(img(), hole(h=8, w=32)), "DCE Check", "'mask'", "aspect"),
    "dce: RGBA image": (lambda: DCECheck.execute(img(c=4), hole()), "DCE Check", "'image'",
                        "4 channels (RGBA: split off the alpha with ComfyUI's 'Split Image with Alpha')"),
    "dce: mask of another shape than the image": (lambda: DCECheck.execute(img(h=56, w=96), hole(h=60, w=60)),
                                                  "DCE Check", "'mask'", "before VAEEncode's crop"),
    # Composite
    "composite: size mismatch": (lambda: Composite.execute(img(), img(h=32), hole()), "Composite", "'inpainted'",
                                 "the same size"),
    "composite: channel mismatch": (lambda: Composite.execute(img(), img(c=4), hole()), "Composite", "'inpainted'",
                                    "channel"),
    "composite: NaN inpainted": (lambda: Composite.execute(img(), img(fill=NAN), hole()), "Composite",
                                 "'inpainted'", "NaN or Inf"),
    "composite: batch mismatch": (lambda: Composite.execute(img(b=2), img(b=3), hole()), "Composite", "'original'",
                                  "has batch size 2 but the batch has 3"),
    # RePaint+ Sampler
    "repaint+: window reversed": (lambda: RePaintPlusSampler.execute(
        "repaint_plus_b", 1, 1, "capped", 4.0, 0.8, 0.2, 0.0, 1.0), "RePaint+", "start_percent", ""),
    "repaint+: NaN noise mask": (lambda: run_sampler(RePaintPlusSampler.execute(
        "repaint_plus_b", 1, 1, "capped", 4.0, 0.0, 1.0, 0.0, 1.0).result[0], hole(h=4, w=4, value=NAN)),
        "RePaint+ Sampler", "'latent_image'", "its noise_mask has NaN or Inf values"),
    "repaint+: noise mask > 1": (lambda: run_sampler(RePaintPlusSampler.execute(
        "repaint_plus_b", 1, 1, "capped", 4.0, 0.0, 1.0, 0.0, 1.0).result[0], hole(h=4, w=4, value=3.0)),
        "RePaint+ Sampler", "'latent_image'", "values in [0, 3]"),
    "harmonized: NaN noise mask": (lambda: run_sampler(HarmonizedSampler.execute(
        0.5, 3, 2, "fixed", 1.5, 5, 2000, 0.0, False).result[0], hole(h=4, w=4, value=NAN)),
        "Harmonized Sampler", "'latent_image'", "NaN or Inf"),
    # Harmonized Sampler
    "harmonized: not a k-diffusion SAMPLER": (lambda: HarmonizedSampler.execute(
        0.5, 3, 2, "fixed", 1.5, 5, 2000, 0.0, False, sampler=object()), "Harmonized Sampler", "'sampler'",
        "k-diffusion SAMPLER"),
    # VIPaint
    "vipaint: t_s ≥ t_e": (lambda: vip(EXACT_LAT, hole(h=4, w=4), pos={3: 600}), "VIPaint (Advanced)", "'t_s'", "t_s < t_e"),
    "vipaint: empty mask": (lambda: vip(EXACT_LAT, torch.zeros(1, 4, 4)), "VIPaint (Advanced)", "'mask'", "is empty"),
    "vipaint: full mask": (lambda: vip(EXACT_LAT, torch.ones(1, 4, 4)), "VIPaint (Advanced)", "'mask'", "covers"),
    "vipaint: NaN latent": (lambda: vip({"samples": EXACT_LAT["samples"] * NAN}, hole(h=4, w=4)), "VIPaint (Advanced)",
                            "'latent_image'", "NaN or Inf"),
    "vipaint: image without vae": (lambda: vip(EXACT_LAT, hole(h=4, w=4), image=img(h=4, w=4)), "VIPaint (Advanced)",
                                   "'image'", "a VAE too"),
    "vipaint: NaN image": (lambda: vip(EXACT_LAT, hole(h=4, w=4), image=img(h=4, w=4, fill=NAN)), "VIPaint (Advanced)",
                           "'image'", "NaN or Inf"),
    "vipaint: image not the decoded size": (lambda: VIPaint.execute(
        *DEMO, {"samples": torch.zeros(1, 3, 16, 16), "noise_mask": hole()}, *VIP, vae=DEMO_VAE, image=img(h=8, w=8)),
        "VIPaint (Advanced)", "'image'", "the decoded size of 'latent_image', 16x16"),
    # Load Demo Model
    "demo model: unknown name": (lambda: LoadDemoModel.execute("sd-xl-please", "eps"), "Load Demo Model",
                                 "'model_name'", "expected one of"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_a_clear_error(case):
    fn, node, name, expected = CASES[case]
    with pytest.raises(ValueError) as e:
        fn()
    msg = str(e.value)
    assert msg.startswith("PriorPaint") and node in msg and name in msg and expected in msg, msg


# --- AID: loading, applying, training ------------------------------------------------------------
@pytest.fixture()
def gdir(guidance_dir):
    d = guidance_dir
    with torch.inference_mode(False):
        net = A.GuidanceNet(3, sigma_data=1.0)
        info = AIDN.backbone_info(MODEL)
        A.save_module(str(d / "ok.safetensors"), net, A.module_metadata(net, info, A.TimeParam(0.03, 14.6), {}))
        A.save_module(str(d / "four.safetensors"), A.GuidanceNet(4),
                      A.module_metadata(A.GuidanceNet(4), dict(info, latent_channels=4), A.TimeParam(0.03, 14.6), {}))
    data = (d / "ok.safetensors").read_bytes()
    (d / "cut.safetensors").write_bytes(data[:100])
    (d / "junk.safetensors").write_bytes(os.urandom(64))
    return d


AID_CASES = {
    "load: path traversal": (lambda: AIDN.LoadAIDGuidance.execute("../../secrets.safetensors"), "'guidance_name'",
                             "not a plain file name"),
    "load: absolute path": (lambda: AIDN.LoadAIDGuidance.execute("/etc/hosts"), "'guidance_name'", "plain file name"),
    "load: unknown name": (lambda: AIDN.LoadAIDGuidance.execute("nope.safetensors"), "'guidance_name'",
                           "is not in models/inpaint_guidance"),
    "load: truncated file": (lambda: AIDN.LoadAIDGuidance.execute("cut.safetensors"), "'guidance_name'",
                             "cannot be read as safetensors"),
    "load: corrupt file": (lambda: AIDN.LoadAIDGuidance.execute("junk.safetensors"), "'guidance_name'",
                           "cannot be read"),
    "apply: module for 4 channels": (lambda: AIDN.ApplyAIDGuidance.execute(
        MODEL, AIDN.LoadAIDGuidance.execute("four.safetensors").args[0], 1.0), "'guidance'", "latent_channels"),
    "apply: module for an EPS model on a flow model": (lambda: AIDN.ApplyAIDGuidance.execute(
        FLOW, AIDN.LoadAIDGuidance.execute("ok.safetensors").args[0], 1.0), "'guidance'", "sampling"),
}


@pytest.mark.parametrize("case", list(AID_CASES))
def test_bad_aid_input_is_a_clear_error(gdir, case):
    fn, name, expected = AID_CASES[case]
    with pytest.raises(ValueError) as e:
        fn()
    msg = str(e.value)
    assert msg.startswith("PriorPaint") and name in msg and expected in msg, msg


def test_train_node_rejects_bad_settings(tmp_path, monkeypatch):
    monkeypatch.setattr(folder_paths, "models_dir", str(tmp_path / "models"))
    monkeypatch.setattr(folder_paths, "get_output_directory", lambda: str(tmp_path / "out"))
    model, vae, _ = LoadDemoModel.execute("stationary-gaussian", "eps").args
    base = dict(model=model, vae=vae, images=img(h=16, w=16), name="x", mask_kind="mixed", iterations=1, batch=2,
                crop=8, steps=2, lr_actor=1e-3, lr_critic=1e-3, lam=0.1, beta=1.0, seed=0, resume=False,
                checkpoint_every=10)
    for change, name, expected in ((dict(name="../x"), "'name'", "plain file name"),
                                   (dict(batch=3), "'batch'", "even"),
                                   (dict(crop=64), "'crop'", "crop ≤ the latent size"),
                                   (dict(lowpass=3), "'lowpass'", "a divisor of 'crop'")):
        with pytest.raises(ValueError) as e:
            AIDN.TrainAIDGuidance.execute(**dict(base, **change))
        assert name in str(e.value) and expected in str(e.value), str(e.value)


def test_case_count():
    assert len(CASES) + len(AID_CASES) + 3 >= 30
