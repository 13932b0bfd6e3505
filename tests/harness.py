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
WORKFLOWS = sorted(f[:-5] for f in os.listdir(os.path.join(ROOT, "example_workflows")) if f.endswith(".json"))


def photo_with_hole(server, name=None, size=(64, 48)):
    """A held-out photo crop saved into the server's input/ as RGBA (alpha 0 = hole -> MASK = 1)."""
    return demo_inputs.photo_with_hole(server.input_dir, name, size)
