"""Peer packs run beside PriorPaint in the benches, through their own ComfyUI nodes.

LanPaint 2.1.0 ships as a source archive in ``../shared/vendor/``; it is unpacked under ``out/vendor/`` and
imported as a custom node into this process's ComfyUI (call after ``comfyenv.comfy_setup()``). Absent
archive: ``None`` and a message, so a bench still runs without it.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import tarfile

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LANPAINT_TAR = os.path.join(os.path.dirname(ROOT), "shared", "vendor", "lanpaint-2.1.0.tar.gz")
LANPAINT = "LanPaint 2.1.0"


def load_lanpaint():
    """LanPaint's ``LanPaint_KSampler`` node class, or None (with a message) when its archive is absent."""
    if not os.path.isfile(LANPAINT_TAR):
        print(f"LanPaint peer skipped: {LANPAINT_TAR} not found", flush=True)
        return None
    dst = os.path.join(ROOT, "out", "vendor")
    folder = os.path.join(dst, "LanPaint-2.1.0")
    if not os.path.isdir(folder):
        os.makedirs(dst, exist_ok=True)
        with tarfile.open(LANPAINT_TAR) as t:
            t.extractall(dst, filter="data")
    if "lanpaint_peer" not in sys.modules:
        spec = importlib.util.spec_from_file_location("lanpaint_peer", os.path.join(folder, "__init__.py"),
                                                      submodule_search_locations=[folder])
        mod = importlib.util.module_from_spec(spec)
        sys.modules["lanpaint_peer"] = mod
        spec.loader.exec_module(mod)
    return sys.modules["lanpaint_peer"].NODE_CLASS_MAPPINGS["LanPaint_KSampler"]


def lanpaint_sampler(node_cls, steps: int, num_steps: int, per_sample: bool, sampler: str = "euler",
                     scheduler: str = "karras"):
    """``run(model, positive, negative, latent_dict, seed) -> samples`` through LanPaint's KSampler at cfg 1;
    ``per_sample``: one call per batch item (seeds ``seed + i``), else the whole batch in one call."""
    def run(model, positive, negative, latent, seed):
        node = node_cls()

        def one(lat, s):
            return node.sample(model, s, steps, 1.0, sampler, scheduler, positive, negative,
                               dict(latent, samples=lat), 1.0, LanPaint_NumSteps=num_steps)[0]["samples"]
        x = latent["samples"]
        if not per_sample:
            return one(x, seed)
        return torch.cat([one(x[i:i + 1], seed + i) for i in range(x.shape[0])])
    return run
