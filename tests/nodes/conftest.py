import pytest

import harness

harness.comfy_setup()  # node-tier test modules import comfy at module level


@pytest.fixture(autouse=True)
def _inference_mode():
    """ComfyUI runs every prompt under torch.inference_mode(); node tests do too."""
    import torch

    with torch.inference_mode():
        yield
