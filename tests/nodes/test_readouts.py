"""Run-time read-outs are ComfyUI's standard UI outputs ({"text": [...]}, preview "images"), so both frontends
show them and cached reruns replay them: DCE Check (scores + heat-map preview), VIPaint (its fit), Load AID
Guidance (module info). The browser test checks they reach the node (tests/e2e/test_browser.py)."""
import os

import torch

from priorpaint.nodes.aid import LoadAIDGuidance
from priorpaint.nodes.image import ExamplePhoto
from priorpaint.nodes.isdiff import DCECheck
from priorpaint.nodes.vipaint import VIPaint
from priorpaint.support.comfy_models import empty_conditioning as cond
from priorpaint.support.comfy_models import exact_prior_model
from priorpaint.support.exact_priors import make_gaussian_mixture


def test_dce_check_reports_its_scores_and_previews_the_heat_map():
    image, mask = ExamplePhoto.execute("cat", 64, "box").result
    out = DCECheck.execute(image.expand(2, -1, -1, -1), mask, 32, False)
    text = out.ui["text"][0]
    assert text.count("KL (harmony)") == 2 and f"{out.result[0]:.4f}"[:4] in text
    files = out.ui["images"]
    assert len(files) == 2 and all(f["type"] == "temp" for f in files)
    import folder_paths

    assert all(os.path.isfile(os.path.join(folder_paths.get_temp_directory(), f["subfolder"], f["filename"]))
               for f in files)


def test_vipaint_reports_its_fit():
    with torch.inference_mode(False):
        prior = make_gaussian_mixture(shape=(3, 4, 4), components=2, rank=2, seed=0)
    y = prior.sample(1, torch.Generator().manual_seed(0)).float().reshape(1, 3, 4, 4)
    mask = torch.zeros(1, 4, 4)
    mask[..., 2:] = 1
    out = VIPaint.execute(exact_prior_model(prior, "eps"), cond(), cond(), {"samples": y, "noise_mask": mask},
                          0, 1.0, 550, 400, 2, 4, 0.1, 1e-3, 0.01, 100.0, 100.0, 100.0, 3, 1.0, 1)
    text = out.ui["text"][0]
    assert text.startswith("fitted in 4 iterations: known latent off by ") and "lower is closer" in text
    assert "refined in 3 DPS steps" in text and "loss " in text and "→" in text


def test_simple_vipaint_is_the_advanced_node_at_its_quality_setting():
    """VIPaint (simple) is VIPaint (Advanced) with the paper's settings and the iterations / DPS steps its
    'quality' names: the same seed gives the same latent."""
    from priorpaint.nodes.vipaint import QUALITY, VIPaintSimple

    with torch.inference_mode(False):
        prior = make_gaussian_mixture(shape=(3, 4, 4), components=2, rank=2, seed=0)
    model = exact_prior_model(prior, "eps")
    y = prior.sample(1, torch.Generator().manual_seed(0)).float().reshape(1, 3, 4, 4)
    mask = torch.zeros(1, 4, 4)
    mask[..., 2:] = 1
    lat = {"samples": y, "noise_mask": mask}
    assert QUALITY["draft"] == (20, 25)
    simple = VIPaintSimple.execute(model, cond(), cond(), lat, 5, 1.0, "draft", 1)
    full = VIPaint.execute(model, cond(), cond(), lat, 5, 1.0, 550, 400, 2, 20, 0.1, 1e-3, 0.01, 100.0, 100.0,
                           100.0, 25, 1.0, 1)
    assert torch.equal(simple.result[0]["samples"], full.result[0]["samples"])
    assert simple.ui == full.ui
    import pytest

    with pytest.raises(ValueError, match="VIPaint: input 'quality'"):
        VIPaintSimple.execute(model, cond(), cond(), lat, 5, 1.0, "best", 1)


def test_aid_loader_reports_the_module():
    out = LoadAIDGuidance.execute("priorpaint-unet-aid.safetensors")
    assert out.ui["text"][0] == out.result[0].summary() and "fingerprint" in out.ui["text"][0]


def test_inpaint_ksampler_without_a_mask_runs_as_ksampler_and_says_so():
    """No silent fallback: without a noise mask the node gives exactly KSampler's result (it is a drop-in) and
    its read-out warns that nothing was inpainted; an all-zero mask is named too; a real mask is described."""
    import nodes as comfy_nodes

    from priorpaint.nodes.ksampler import PriorPaintKSampler, PriorPaintKSamplerAdvanced

    with torch.inference_mode(False):
        prior = make_gaussian_mixture(shape=(3, 4, 4), components=2, rank=2, seed=0)
    model = exact_prior_model(prior, "eps")
    y = prior.sample(1, torch.Generator().manual_seed(0)).float().reshape(1, 3, 4, 4)
    plain = {"samples": y}
    out = PriorPaintKSampler.execute(model, 3, 4, 1.0, "euler", "simple", cond(), cond(), plain, 1.0, "balanced")
    ref = comfy_nodes.common_ksampler(model, 3, 4, 1.0, "euler", "simple", cond(), cond(), plain)[0]
    assert torch.equal(out.result[0]["samples"], ref["samples"])
    text = out.ui["text"][0]
    assert text.startswith("⚠ No noise mask") and "plain KSampler" in text and "Set Latent Noise Mask" in text
    adv = PriorPaintKSamplerAdvanced.execute(model, "enable", 3, 4, 1.0, "euler", "simple", cond(), cond(), plain,
                                             0, 10000, "disable", "fast")
    assert adv.ui["text"][0].startswith("⚠ No noise mask")
    zero = PriorPaintKSampler.execute(model, 3, 4, 1.0, "euler", "simple", cond(), cond(),
                                      {"samples": y, "noise_mask": torch.zeros(1, 4, 4)}, 1.0, "balanced")
    assert "all 0" in zero.ui["text"][0]
    mask = torch.zeros(1, 4, 4)
    mask[..., 2:] = 1
    ok = PriorPaintKSampler.execute(model, 3, 4, 1.0, "euler", "simple", cond(), cond(),
                                    {"samples": y, "noise_mask": mask}, 1.0, "balanced")
    assert ok.ui["text"][0] == "balanced, 4 steps (8 model calls with a first-order sampler such as euler): " \
                               "inpainted 50% of the image"


def test_the_extension_knows_every_node_that_reports():
    """js/priorpaint.js makes the read-out box with the node (Nodes 2.0 only follows widgets that exist when the
    node is added), so its list must name exactly the nodes that return a read-out or send status messages."""
    import inspect
    import re

    from priorpaint.nodes import NODES

    import harness

    listed = harness.templates.readout_nodes()
    reporting = set()
    for node in NODES:
        src = inspect.getsource(node)
        if re.search(r"\breadout\(|_readout\(|io\.Hidden\.unique_id", src):
            reporting.add(node.define_schema().node_id)
    assert listed == reporting
