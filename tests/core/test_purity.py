"""The algorithm core and the shipped demo model import no ComfyUI (house rule)."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_core_packages_do_not_import_comfy():
    code = f"""
import sys, pkgutil, importlib
sys.path.insert(0, {os.path.join(ROOT, 'tools', 'lib')!r})
from packimport import import_pack
pack = import_pack()
for sub in ("samplers", "demomodel"):
    pkg = importlib.import_module("priorpaint." + sub)
    for m in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"priorpaint.{{sub}}.{{m.name}}")
importlib.import_module("priorpaint.support.exact_priors")
importlib.import_module("priorpaint.support.photos")
bad = sorted(k for k in sys.modules if k == "comfy" or k.startswith(("comfy.", "comfy_api", "folder_paths", "server")))
print(bad)
assert not bad, bad
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_no_absolute_imports_of_pack_modules():
    """Inside the pack only relative imports: ComfyUI has its own top-level `nodes` module."""
    offenders = []
    for folder in ("nodes", "samplers", "demomodel", "support"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, folder)):
            for f in files:
                if f.endswith(".py"):
                    path = os.path.join(dirpath, f)
                    for i, line in enumerate(open(path), 1):
                        s = line.strip()
                        if s.startswith(("import nodes", "from nodes ", "from nodes.", "import samplers",
                                         "from samplers", "from demomodel", "from support", "import support")):
                            offenders.append(f"{path}:{i}: {s}")
    assert not offenders, offenders
