import pytest

import harness

harness.comfy_setup()  # node-tier test modules import comfy at module level


@pytest.fixture(autouse=True)
def _inference_mode():
    """ComfyUI runs every prompt under torch.inference_mode(); node tests do too."""
    import torch

    with torch.inference_mode():
        yield


@pytest.fixture()
def guidance_dir(tmp_path, monkeypatch):
    """An empty folder registered first under ComfyUI's ``inpaint_guidance`` models folder."""
    import folder_paths

    from priorpaint.nodes import aid

    d = tmp_path / "inpaint_guidance"
    d.mkdir()
    paths, exts = folder_paths.folder_names_and_paths[aid.FOLDER]
    monkeypatch.setitem(folder_paths.folder_names_and_paths, aid.FOLDER, ([str(d)] + list(paths), exts))
    return d
