"""Shared test harness: the pytest face of tools/lib (the pack import, in-process ComfyUI, demo inputs).

Tests import tools/lib; tools/ never imports tests/ (tests/core/test_layout.py)."""
from __future__ import annotations

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools", "lib"))
import comfyenv  # noqa: E402  (imports the checkout as ``priorpaint``)
import demo_inputs  # noqa: E402
import templates  # noqa: E402

COMFY_DIR = comfyenv.COMFY_DIR
DEMO_INPUT = demo_inputs.DEMO_INPUT


def comfy_setup() -> str:
    """Make the real ComfyUI importable in-process (CPU); fail the test with the fix when it is missing."""
    try:
        return comfyenv.comfy_setup()
    except comfyenv.ComfyNotFound as e:
        pytest.fail(str(e))


# ---------------------------------------------------------------------------------------------
# e2e helpers shared by the server and browser tests
# ---------------------------------------------------------------------------------------------
WORKFLOWS = sorted(templates.TITLES)  # template keys; the files carry the titles users see (tools/lib/templates.py)


def photo_with_hole(server, name=None, size=(64, 48)):
    """A held-out photo crop saved into the server's input/ as RGBA (alpha 0 = hole -> MASK = 1)."""
    return demo_inputs.photo_with_hole(server.input_dir, name, size)


FAMILIES = ("sd15", "sdxl", "sd35", "flux")  # templates named <family>_inpaint*: real model families


def family_of(template: str) -> str | None:
    return next((f for f in FAMILIES if template.startswith(f + "_")), None)


def for_tiny_models(ui: dict, template: str, models_dir: str) -> dict:
    """A copy of a model-family template made runnable on a CPU test machine: the family's tiny model files
    (support/checkpoints.py: random weights, real layouts, ComfyUI's template file names) are placed in
    ``models_dir``; the T5-XXL text encoders (4.7 B parameters) are swapped for CLIPLoader with CLIP-L (SD3's
    own encoder subset; for Flux, its tiny file takes CLIP-L's width); the crop is 0.02 MP and the sampler
    runs 4 steps; Inpaint Stitch's source check is off (a random VAE's decode does not keep the crop's known
    pixels, which the check looks for). Everything else -- loaders, prompts, cfg, nodes, links -- is the template as shipped."""
    import copy

    family = family_of(template)
    if family is None:
        return ui
    comfy_setup()
    from priorpaint.support import checkpoints as C

    C.install(family, models_dir)
    ui = copy.deepcopy(ui)
    for n in ui["nodes"]:
        if n["type"] in ("DualCLIPLoader", "TripleCLIPLoader"):
            n["type"] = "CLIPLoader"
            n["widgets_values"] = ["clip_l.safetensors", C.CLIP_TYPE[family], "default"]
            n.setdefault("properties", {})["Node name for S&R"] = "CLIPLoader"
        elif n["type"] == "PriorPaintInpaintCrop":
            n["widgets_values"][2] = 0.02
        elif n["type"] == "PriorPaintKSampler":
            n["widgets_values"][2] = 4
        elif n["type"] == "BasicScheduler":
            n["widgets_values"][1] = 4
        elif n["type"] == "PriorPaintInpaintStitch":  # random-weight VAEs do not reproduce the crop's pixels
            n["widgets_values"] = n["widgets_values"][:2] + [False]
    return ui
