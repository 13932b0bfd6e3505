"""Shared test harness: the pack import, the in-process ComfyUI setup, the e2e server client."""
from __future__ import annotations

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from packimport import import_pack  # noqa: E402

import_pack("priorpaint")

COMFY_DIR = os.path.abspath(os.environ.get("COMFYUI_PATH") or os.path.join(ROOT, ".comfyui"))


def comfy_setup() -> str:
    """Make the real ComfyUI importable in-process (CPU), following its own main.py order."""
    if not os.path.isfile(os.path.join(COMFY_DIR, "comfy", "model_management.py")):
        pytest.fail(f"ComfyUI not found at {COMFY_DIR}: run 'make comfyui' or set COMFYUI_PATH")
    if COMFY_DIR not in sys.path:
        sys.path.insert(0, COMFY_DIR)
    from comfy.cli_args import args

    args.cpu = True  # before comfy.model_management is imported
    import utils.install_util  # noqa: F401  (comfy/utils.py shadows utils/ once nodes.py runs)
    import utils.json_util  # noqa: F401
    import comfy.model_management  # noqa: F401
    return COMFY_DIR




# ---------------------------------------------------------------------------------------------
# e2e helpers shared by the server and browser tests
# ---------------------------------------------------------------------------------------------
WORKFLOWS = sorted(f[:-5] for f in os.listdir(os.path.join(ROOT, "example_workflows")) if f.endswith(".json"))


def photo_with_hole(server, name=None, size=(64, 48)):
    """A held-out photo crop saved as RGBA (alpha 0 = hole, which LoadImage turns into MASK = 1)."""
    import numpy as np
    from make_workflows import DEMO_INPUT
    from PIL import Image

    from priorpaint.support.photos import photo_path

    name = name or DEMO_INPUT

    rgb = np.asarray(Image.open(photo_path("skimage:coffee.png")).convert("RGB").resize(size, Image.LANCZOS))
    mask = np.zeros(rgb.shape[:2], bool)
    mask[12:36, 20:44] = True
    Image.fromarray(np.dstack([rgb, np.where(mask, 0, 255).astype(np.uint8)])).save(f"{server.input_dir}/{name}")
    return rgb, mask
