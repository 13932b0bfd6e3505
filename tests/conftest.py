"""Test tiers: tests/core (pure torch, no ComfyUI), tests/nodes (in-process with the real ComfyUI),
tests/e2e (a real ComfyUI server started by a fixture).

The checkout is imported as the package ``priorpaint`` (tools/lib/packimport.py). ComfyUI is found at
``$COMFYUI_PATH`` or ``.comfyui/`` (``make comfyui``); it is put on ``sys.path`` only when a
node or e2e test asks for it, so the core tier proves it needs no ComfyUI.
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


@pytest.fixture(scope="session")
def comfy_dir():
    return harness.comfy_setup()


def pytest_collection_modifyitems(config, items):
    for item in items:
        parts = item.nodeid.split("/")
        if len(parts) > 1 and parts[1] in ("core", "nodes", "e2e"):
            item.add_marker(getattr(pytest.mark, parts[1]))
