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
    assert text.startswith("fit 4 iterations: loss ") and "→" in text and "DPS 3 steps" in text


def test_aid_loader_reports_the_module():
    out = LoadAIDGuidance.execute("priorpaint-unet-aid.safetensors")
    assert out.ui["text"][0] == out.result[0].summary() and "fingerprint" in out.ui["text"][0]
