"""The in-process ComfyUI every script and test tier shares: where it is and how to import it on CPU.
Importing this module also imports the checkout as the package ``priorpaint``.

ComfyUI is found at ``$COMFYUI_PATH`` or ``.comfyui/`` (``make comfyui``) and put on ``sys.path`` only
when :func:`comfy_setup` is called, so code that never calls it proves it needs no ComfyUI.
"""
from __future__ import annotations

import os
import sys

from packimport import ROOT, import_pack

import_pack("priorpaint")  # the checkout as package ``priorpaint``, as ComfyUI would import it

COMFY_DIR = os.path.abspath(os.environ.get("COMFYUI_PATH") or os.path.join(ROOT, ".comfyui"))


class ComfyNotFound(RuntimeError):
    pass


def comfy_setup(cpu: bool = True) -> str:
    """Make the real ComfyUI importable in-process (on the CPU unless ``cpu`` is False), following its
    own main.py order."""
    if not os.path.isfile(os.path.join(COMFY_DIR, "comfy", "model_management.py")):
        raise ComfyNotFound(f"ComfyUI not found at {COMFY_DIR}: run 'make comfyui' or set COMFYUI_PATH")
    if COMFY_DIR not in sys.path:
        sys.path.insert(0, COMFY_DIR)
    from comfy.cli_args import args

    args.cpu = cpu  # before comfy.model_management is imported
    import utils.install_util  # noqa: F401  (comfy/utils.py shadows utils/ once nodes.py runs)
    import utils.json_util  # noqa: F401
    import comfy.model_management  # noqa: F401
    return COMFY_DIR
