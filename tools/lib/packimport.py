"""Import this checkout as the package ``priorpaint`` (whatever the folder is called).

ComfyUI imports the pack under its folder name; scripts, tests and the bench import it under one
fixed name so that the pack's relative imports work from a plain checkout.
"""
from __future__ import annotations

import importlib.util
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def import_pack(name: str = "priorpaint"):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "__init__.py"),
                                                  submodule_search_locations=[ROOT])
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod
