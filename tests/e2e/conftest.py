import os

import pytest

import harness

from comfy_client import ComfyServer  # noqa: E402


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """One real ComfyUI server (CPU, pack whitelisted) for the e2e tier; stopped by the PID it started."""
    srv = ComfyServer(str(tmp_path_factory.mktemp("comfyui")),
                      extra_packs={"priorpaint_testpack": os.path.join(harness.ROOT, "tests", "testpack")})
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
