"""Inside an older ComfyUI the pack refuses to load with a clear message (issue 18); the floor matches
pyproject.toml's requires-comfyui."""
import importlib.util
import pathlib
import re
import sys
import types

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def load_entry(version):
    fake = types.ModuleType("comfyui_version")
    fake.__version__ = version
    old = sys.modules.get("comfyui_version")
    sys.modules["comfyui_version"] = fake
    try:
        spec = importlib.util.spec_from_file_location("priorpaint_gate_probe", ROOT / "__init__.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    finally:
        if old is None:
            sys.modules.pop("comfyui_version", None)
        else:
            sys.modules["comfyui_version"] = old


def test_older_comfyui_is_refused_clearly_and_newer_ones_load():
    with pytest.raises(ImportError, match=r"PriorPaint needs ComfyUI >= 0\.3\.75 .*this is ComfyUI 0\.3\.40"):
        load_entry("0.3.40")
    for ok in ("0.3.75", "0.4.0", "0.33.0", "1.2.3"):
        assert load_entry(ok).REQUIRES_COMFYUI == (0, 3, 75)


def test_floor_matches_pyproject():
    spec = re.search(r'requires-comfyui = ">=([0-9.]+)"', (ROOT / "pyproject.toml").read_text()).group(1)
    assert tuple(int(p) for p in spec.split(".")) == load_entry("0.33.0").REQUIRES_COMFYUI
