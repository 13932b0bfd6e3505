"""A long-running server survives: each long-running PriorPaint node is interrupted through /interrupt
while it runs and the next prompt succeeds; a series of bad inputs fails with messages naming the input
and the server keeps serving after each."""
import json
import time

import pytest

from comfy_client import WorkflowError
from harness import photo_with_hole
from prompts import BASE, POS, RPP, sampler_custom

LONG = {
    "vipaint": {"10": {"class_type": "PriorPaintVIPaint", "inputs": {
        "model": ["2", 0], **POS, "latent_image": ["4", 0], "seed": 0, "cfg": 1.0, "t_e": 550, "t_s": 400,
        "keypoints": 2, "iterations": 1000, "lr_mean": 0.1, "lr_logvar": 0.001, "lr_gamma": 0.01,
        "prior_weight": 100.0, "hier_weight": 100.0, "recon_weight": 100.0, "dps_steps": 1000, "dps_scale": 0.5,
        "samples": 1}}},
    "repaint_plus": {"11": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}},
                     "12": {"class_type": "PriorPaintRePaintPlusSampler",
                            "inputs": dict(RPP, resamples=50, sampler=["11", 0])}},
    "harmonized": {"11": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}},
                   "12": {"class_type": "PriorPaintHarmonizedSampler", "inputs": {
                       "checkpoint": 0.9, "attempts": 20, "delta": 0, "threshold_mode": "fixed", "threshold": 0.0,
                       "components": 3, "max_points": 500, "noise_blend": 0.0, "texture": False,
                       "sampler": ["11", 0]}}},
    "train_aid": {"10": {"class_type": "PriorPaintTrainAIDGuidance", "inputs": {
        "model": ["2", 0], "vae": ["2", 1], "images": ["1", 0], "name": "e2e-interrupt", "mask_kind": "mixed",
        "iterations": 100000, "batch": 4, "crop": 16, "steps": 4, "lr_actor": 0.001, "lr_critic": 0.001,
        "lam": 0.1, "beta": 1.0, "seed": 0, "resume": False, "checkpoint_every": 1000}}},
}


def long_prompt(name: str) -> dict:
    p = {k: dict(n, inputs=dict(n["inputs"])) for k, n in BASE.items()}
    p.update(LONG[name])
    if "12" in LONG[name]:
        p.update(sampler_custom("12", 0))
        p["13"]["inputs"]["steps"] = 200
    if p["10"]["class_type"] != "PriorPaintTrainAIDGuidance":
        p["20"] = {"class_type": "VAEDecode", "inputs": {"samples": ["10", 0], "vae": ["2", 1]}}
        p["21"] = {"class_type": "PreviewImage", "inputs": {"images": ["20", 0]}}
    return p


def quick_prompt() -> dict:
    p = {k: dict(n, inputs=dict(n["inputs"])) for k, n in BASE.items()}
    p["10"] = {"class_type": "PriorPaintDCECheck", "inputs": {"image": ["1", 0], "mask": ["1", 1], "bins": 16,
                                                               "texture": False}}
    p["11"] = {"class_type": "PreviewImage", "inputs": {"images": ["10", 2]}}
    return p


def wait_running(server, prompt_id, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        q = server.get_json("/queue")
        if any(item[1] == prompt_id for item in q.get("queue_running", [])):
            return
        time.sleep(0.2)
    raise TimeoutError("the prompt never started")


@pytest.mark.parametrize("name", list(LONG))
def test_interrupt_each_long_running_node_and_keep_serving(server, name):
    photo_with_hole(server)
    pid = server.queue(long_prompt(name))
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


BAD = [  # (node id, class, inputs, the words the error must contain)
    ("PriorPaintGMMSeed", {"samples": ["3", 0], "mask": ["9", 0], "components": 3, "seed": 0, "max_points": 500,
                           "noise_blend": 0.0}, ["input 'mask'", "aspect ratio"]),
    ("PriorPaintDCECheck", {"image": ["1", 0], "mask": ["9", 0], "bins": 16, "texture": False},
     ["input 'mask'", "aspect ratio"]),
    ("PriorPaintVIPaint", {"model": ["2", 0], **POS, "latent_image": ["4", 0], "seed": 0, "cfg": 1.0, "t_e": 300,
                           "t_s": 400, "keypoints": 2, "iterations": 1, "lr_mean": 0.1, "lr_logvar": 0.001,
                           "lr_gamma": 0.01, "prior_weight": 1.0, "hier_weight": 1.0, "recon_weight": 1.0,
                           "dps_steps": 1, "dps_scale": 0.5, "samples": 1}, ["input 't_s'", "t_s < t_e"]),
    ("PriorPaintLoadAIDGuidance", {"guidance_name": "../../../etc/passwd"}, ["input 'guidance_name'", "not a plain file name"]),
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
        assert all(w in msg for w in words), msg[:800]
    server.run(quick_prompt())
