"""The shipped templates: their keys (used in code and tests) and the file names users see.

ComfyUI's template browser shows a custom-node template by its file name, as title and as description
(ComfyUI 0.3.75 with frontend 1.32.9 and 0.33.0 with 1.48.7 alike), and lists them in the order the server
finds the files; its "Alphabetical (A-Z)" sort orders them by that name. So the file name is the title: a
two-digit number (start here first when sorted), what it shows, and the model it needs. Every template
also records its key in ``extra.priorpaint_template``.
"""
from __future__ import annotations

import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FOLDER = os.path.join(ROOT, "example_workflows")

TITLES = {  # key: the file name without .json (= the title in the template browser)
    "inpaint_ksampler": "01 Start here - Inpaint KSampler (demo model, no download)",
    "crop_and_stitch": "02 Large photos - Inpaint Crop and Stitch (demo model)",
    "sd15_inpaint": "03 SD1.5 inpainting - Inpaint KSampler",
    "sdxl_inpaint": "04 SDXL inpainting - Inpaint KSampler",
    "sd35_inpaint": "05 SD3.5 Medium inpainting - Inpaint KSampler",
    "flux_inpaint": "06 Flux dev inpainting - Inpaint KSampler",
    "sd15_inpaint_sampler_custom": "07 SD1.5 inpainting - SamplerCustom and RePaint+ Sampler",
    "sdxl_inpaint_sampler_custom": "08 SDXL inpainting - SamplerCustom and RePaint+ Sampler",
    "sd35_inpaint_sampler_custom": "09 SD3.5 Medium inpainting - SamplerCustom and RePaint+ Sampler",
    "flux_inpaint_sampler_custom": "10 Flux dev inpainting - SamplerCustom and RePaint+ Sampler",
    "repaint_plus": "11 RePaint+ Sampler (demo model)",
    "is_diff": "12 IS-Diff - Harmonized Sampler and DCE Check (demo model)",
    "gmm_seed": "13 GMM Seed before a KSampler (demo model)",
    "vipaint": "14 VIPaint (demo model)",
    "aid": "15 AID guidance (demo model)",
    "combined": "16 All techniques combined (demo model)",
    "priorpaint_inpaint_demo": "17 For comparison - plain KSampler inpainting (demo model)",
}
KEYS = {title: key for key, title in TITLES.items()}


def path(key: str, ext: str = ".json") -> str:
    """The file of the template ``key`` (``.json`` or its ``.jpg`` thumbnail)."""
    return os.path.join(FOLDER, TITLES[key] + ext)


def load(key: str) -> dict:
    with open(path(key)) as f:
        return json.load(f)


def key_of(stem: str) -> str:
    """The key of a template file name (without .json); a key is returned as it is."""
    return KEYS.get(stem, stem)


def readout_nodes() -> set[str]:
    """The node types js/priorpaint.js gives a read-out box (its READOUT_NODES list, the one place it is kept):
    the template layout leaves room for the box."""
    import re

    with open(os.path.join(ROOT, "js", "priorpaint.js")) as f:
        js = f.read()
    start = js.index("READOUT_NODES")
    return set(re.findall(r'"(PriorPaint\w+)"', js[start:js.index("];", start)]))
