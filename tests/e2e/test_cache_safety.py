"""Cache safety through ComfyUI's own executor: every PriorPaint node runs twice in a real server (the
second time with one widget changed, so it re-executes while its cached inputs are reused), between
content checksums of everything it receives (MODEL weights/options/patches, VAE weights, CONDITIONING,
LATENT, IMAGE, MASK). A node that mutated an input would change a checksum after its run, or make the
second run see different inputs."""
import pytest

from harness import photo_with_hole
from prompts import node_prompt

SOURCES = {  # checksum id suffix -> source output
    "model": ["2", 0], "vae": ["2", 1], "cond": ["2", 2], "latent": ["4", 0], "image": ["1", 0], "mask": ["1", 1],
}


def prompt(name: str, v: int) -> dict:
    p = node_prompt(name, v)
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
