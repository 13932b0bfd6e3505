"""Cache safety through ComfyUI's own executor: every PriorPaint node runs twice in a real server (the
second time with one widget changed, so it re-executes while its cached inputs are reused), between
content checksums of everything it receives (MODEL weights/options/patches, VAE weights, CONDITIONING,
LATENT, IMAGE, MASK). A node that mutated an input would change a checksum after its run, or make the
second run see different inputs."""
import pytest

from harness import photo_with_hole
from prompts import BASE, POS, RPP, sampler_custom

SOURCES = {  # checksum id suffix -> source output
    "model": ["2", 0], "vae": ["2", 1], "cond": ["2", 2], "latent": ["4", 0], "image": ["1", 0], "mask": ["1", 1],
}


def under_test(name: str, v: int) -> dict:
    """The node(s) under test, ending in node "10"; ``v`` changes one widget between the two runs."""
    if name == "gmm_seed":
        return {"10": {"class_type": "PriorPaintGMMSeed", "inputs": {"samples": ["3", 0], "mask": ["1", 1],
                                                                       "components": 3, "seed": v, "max_points": 500,
                                                                       "noise_blend": 0.0}}}
    if name == "dce_check":
        return {"10": {"class_type": "PriorPaintDCECheck", "inputs": {"image": ["1", 0], "mask": ["1", 1],
                                                                        "bins": 32 + v, "texture": False}}}
    if name == "composite":
        return {"10": {"class_type": "PriorPaintComposite", "inputs": {"original": ["1", 0], "inpainted": ["1", 0],
                                                                         "mask": ["1", 1], "feather": float(v),
                                                                         "colour_match": "lab_mean_std"}}}
    if name == "repaint_plus":
        return {"11": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}},
                "12": {"class_type": "PriorPaintRePaintPlusSampler", "inputs": dict(RPP, sampler=["11", 0])},
                **sampler_custom("12", v)}
    if name == "harmonized":
        return {"11": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}},
                "12": {"class_type": "PriorPaintHarmonizedSampler", "inputs": {
                    "checkpoint": 0.5, "attempts": 2, "delta": 1, "threshold_mode": "fixed", "threshold": 0.0,
                    "components": 3, "max_points": 500, "noise_blend": 0.0, "texture": False, "sampler": ["11", 0],
                    "vae": ["2", 1]}},
                **sampler_custom("12", v)}
    if name == "vipaint":
        return {"10": {"class_type": "PriorPaintVIPaint", "inputs": {
            "model": ["2", 0], **POS, "latent_image": ["4", 0], "vae": ["2", 1], "image": ["1", 0], "seed": v,
            "cfg": 1.0, "t_e": 550, "t_s": 400, "keypoints": 2, "iterations": 2, "lr_mean": 0.1, "lr_logvar": 0.001,
            "lr_gamma": 0.01, "prior_weight": 100.0, "hier_weight": 100.0, "recon_weight": 100.0, "dps_steps": 2,
            "dps_scale": 0.5, "samples": 1}}}
    if name == "aid":
        return {"11": {"class_type": "PriorPaintLoadAIDGuidance",
                       "inputs": {"guidance_name": "priorpaint-unet-aid.safetensors"}},
                "12": {"class_type": "PriorPaintApplyAIDGuidance", "inputs": {"model": ["2", 0], "guidance": ["11", 0],
                                                                               "strength": 1.0}},
                "10": {"class_type": "KSampler", "inputs": {"model": ["12", 0], **POS, "latent_image": ["4", 0],
                                                            "seed": v, "steps": 4, "cfg": 1.0, "sampler_name": "euler",
                                                            "scheduler": "karras", "denoise": 1.0}}}
    raise KeyError(name)


def prompt(name: str, v: int) -> dict:
    p = {k: dict(n, inputs=dict(n["inputs"])) for k, n in BASE.items()}
    p.update(under_test(name, v))
    for i, (key, src) in enumerate(SOURCES.items()):
        p[str(100 + i)] = {"class_type": "PriorPaintTestChecksum", "inputs": {"value": src}}
        p[str(200 + i)] = {"class_type": "PriorPaintTestChecksum", "inputs": {"value": src, "after": ["10", 0]}}
    return p


def hashes(entry) -> dict:
    out = {}
    for i, key in enumerate(SOURCES):
        for when, base in (("before", 100), ("after", 200)):
            out[(key, when)] = entry["outputs"][str(base + i)]["text"][0]
    return out


@pytest.mark.parametrize("name", ["gmm_seed", "dce_check", "composite", "repaint_plus", "harmonized", "vipaint",
                                  "aid"])
def test_node_never_mutates_its_inputs(server, name):
    photo_with_hole(server)
    runs = [hashes(server.run(prompt(name, v))) for v in (1, 2)]
    for key in SOURCES:
        seen = {runs[r][(key, w)] for r in range(2) for w in ("before", "after")}
        assert len(seen) == 1, f"{name} changed its input '{key}': {[(r, w, runs[r][(key, w)]) for r in range(2) for w in ('before', 'after')]}"
