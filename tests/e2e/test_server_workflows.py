"""End to end through a real ComfyUI server: API-format prompts posted to /prompt, /history polled,
outputs fetched with /view."""
import io
import os
import json

import numpy as np
import pytest
from PIL import Image

from comfy_client import WorkflowError, load_workflow, ui_to_api
from harness import DEMO_INPUT, WORKFLOWS, for_tiny_models, photo_with_hole


def run_template(server, name):
    """Run a shipped template as it is (nothing uploaded: its example photo node supplies the picture and
    the mask) and return (result, photo, mask) as arrays; photo and mask are read back from the server."""
    ui = for_tiny_models(load_workflow(name + ".json"), name, server.models_dir)
    prompt = ui_to_api(ui, server.get_json("/object_info"))
    src = next(k for k, v in prompt.items() if v["class_type"] == "PriorPaintExamplePhoto")
    prompt["901"] = {"class_type": "SaveImage", "inputs": {"images": [src, 0], "filename_prefix": "truth_photo"}}
    prompt["902"] = {"class_type": "MaskToImage", "inputs": {"mask": [src, 1]}}
    prompt["903"] = {"class_type": "SaveImage", "inputs": {"images": ["902", 0], "filename_prefix": "truth_mask"}}
    entry = server.run(prompt)
    save = next(k for k, v in prompt.items() if v["class_type"] == "SaveImage" and k not in ("901", "903"))

    def image(node):
        return np.asarray(Image.open(io.BytesIO(server.output_images(entry, node)[0])).convert("RGB")).astype(int)
    return image(save), image("901"), image("903")[..., 0] > 127


def run_demo(server):
    return run_template(server, "priorpaint_inpaint_demo")[0]


def test_example_workflow_changes_only_inside_the_mask(server):
    out, rgb, mask = run_template(server, "priorpaint_inpaint_demo")
    assert out.shape == rgb.shape
    diff = np.abs(out - rgb)
    assert diff[~mask].max() <= 1  # 8-bit PNG round trip
    assert diff[mask].mean() > 5  # the hole was actually regenerated


@pytest.mark.parametrize("name", WORKFLOWS)
def test_every_example_workflow_runs_from_an_empty_input_folder(server, name):
    for f in os.listdir(server.input_dir):  # templates must not depend on a file the user has not got
        path = os.path.join(server.input_dir, f)
        if os.path.isfile(path):
            os.remove(path)
    ui = load_workflow(name + ".json")
    assert not [n for n in ui["nodes"] if n["type"] == "LoadImage"], f"{name} needs a file in input/"
    out, rgb, mask = run_template(server, name)
    assert out.shape == rgb.shape
    assert np.abs(out - rgb)[mask].mean() > 2  # the hole was regenerated


def test_server_serves_the_pack(server):
    info = server.get_json("/object_info/PriorPaintComposite")["PriorPaintComposite"]
    assert info["category"] == "PriorPaint/image" and info["description"]
    assert all("tooltip" in spec[1] for spec in info["input"]["required"].values())
    templates = server.get_json("/workflow_templates")
    import harness

    assert sorted(templates.get("PriorPaint", [])) == sorted(harness.templates.TITLES.values())
    assert any(e.endswith("/priorpaint.js") for e in server.get_json("/extensions"))


def test_bad_input_fails_clearly_and_the_server_keeps_serving(server):
    photo_with_hole(server)
    bad = {
        "1": {"class_type": "LoadImage", "inputs": {"image": DEMO_INPUT}},
        "2": {"class_type": "ImageScale", "inputs": {"image": ["1", 0], "upscale_method": "nearest-exact",
                                                     "width": 32, "height": 32, "crop": "disabled"}},
        "3": {"class_type": "PriorPaintComposite", "inputs": {"original": ["1", 0], "inpainted": ["2", 0],
                                                               "mask": ["1", 1], "feather": 0.0,
                                                               "colour_match": "none"}},
        "4": {"class_type": "PreviewImage", "inputs": {"images": ["3", 0]}},
    }
    try:
        server.run(bad)
        raise AssertionError("a 32x32 'inpainted' on a 64x48 'original' must fail")
    except WorkflowError as e:
        msg = json.dumps(e.details)
        assert "input 'inpainted'" in msg and "32x32" in msg
    out = run_demo(server)  # the next prompt still succeeds
    assert out.ndim == 3 and out.shape[-1] == 3  # the shipped template still runs
