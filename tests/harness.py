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


