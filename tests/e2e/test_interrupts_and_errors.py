"""A long-running server survives: each long-running PriorPaint node is interrupted through /interrupt
while it runs and the next prompt succeeds; a series of bad inputs fails with messages naming the input
and the server keeps serving after each."""
import json
import time

import pytest

from comfy_client import WorkflowError
from harness import photo_with_hole
from prompts import BASE, POS, node_prompt

def quick_prompt() -> dict:
    return node_prompt("dce_check", 0, preview=True)


def wait_running(server, prompt_id, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        q = server.get_json("/queue")
        if any(item[1] == prompt_id for item in q.get("queue_running", [])):
            return
        time.sleep(0.2)
    raise TimeoutError("the prompt never started")


@pytest.mark.parametrize("name", ["vipaint", "repaint_plus", "harmonized", "train_aid"])
def test_interrupt_each_long_running_node_and_keep_serving(server, name):
    photo_with_hole(server)
    pid = server.queue(node_prompt(name, 0, long=True, preview=True))
    wait_running(server, pid)
    time.sleep(3.0)  # inside the node's loop (the model is loaded within the first second)
    t0 = time.time()
    server.interrupt()
    entry = server.wait(pid, timeout=120)
    stopped = time.time() - t0
    kinds = [m[0] for m in entry["status"]["messages"]]
    assert "execution_interrupted" in kinds, (name, kinds)
    assert stopped < 30, f"{name} took {stopped:.1f}s to stop"
    server.run(quick_prompt())  # the next prompt succeeds


class ANY:
    """Any one of several lists of words is enough (ComfyUI versions word some rejections differently)."""

    def __init__(self, *alternatives):
        self.alternatives = alternatives


BAD = [  # (node id, class, inputs, the words the error must contain)
    ("PriorPaintGMMSeed", {"samples": ["3", 0], "mask": ["9", 0], "components": 3, "seed": 0, "max_points": 500,
                           "noise_blend": 0.0}, ["input 'mask'", "aspect ratio"]),
    ("PriorPaintDCECheck", {"image": ["1", 0], "mask": ["9", 0], "bins": 16, "texture": False},
     ["input 'mask'", "aspect ratio"]),
    ("PriorPaintVIPaint", {"model": ["2", 0], **POS, "latent_image": ["4", 0], "seed": 0, "cfg": 1.0, "t_e": 300,
                           "t_s": 400, "keypoints": 2, "iterations": 1, "lr_mean": 0.1, "lr_logvar": 0.001,
                           "lr_gamma": 0.01, "prior_weight": 1.0, "hier_weight": 1.0, "recon_weight": 1.0,
                           "dps_steps": 1, "dps_scale": 0.5, "samples": 1}, ["input 't_s'", "t_s < t_e"]),
    # the node's own message, or (ComfyUI >= 0.8 validates V3 COMBO values before running) ComfyUI's, naming the input
    ("PriorPaintLoadAIDGuidance", {"guidance_name": "../../../etc/passwd"},
     ANY(["input 'guidance_name'", "not a plain file name"], ["value_not_in_list", "guidance_name"])),
]


@pytest.mark.parametrize("case", range(len(BAD)))
def test_bad_inputs_fail_clearly_and_the_server_keeps_serving(server, case):
    photo_with_hole(server)
    cls, inputs, words = BAD[case]
    p = {k: dict(n, inputs=dict(n["inputs"])) for k, n in BASE.items()}
    p["9"] = {"class_type": "SolidMask", "inputs": {"value": 1.0, "width": 16, "height": 64}}
    p["10"] = {"class_type": cls, "inputs": inputs}
    p["11"] = {"class_type": "PreviewAny", "inputs": {"source": ["10", 0]}}
    try:
        server.run(p)
        raise AssertionError(f"{cls} accepted a bad input")
    except WorkflowError as e:
        msg = json.dumps(e.details)
        alternatives = words.alternatives if isinstance(words, ANY) else [words]
        assert any(all(w in msg for w in ws) for ws in alternatives), msg[:800]
    server.run(quick_prompt())
