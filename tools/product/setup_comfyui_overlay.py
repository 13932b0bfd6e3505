"""Make a second ComfyUI release runnable with the pack's ``.venv`` (``make comfyui-latest``).

    python tools/product/setup_comfyui_overlay.py COMFY_DIR OVERLAY_DIR

The pinned ComfyUI's packages stay in ``.venv``; what the other release needs beyond them (its own
frontend, templates and docs packages, new dependencies such as comfy-kitchen) is installed with
``pip install --target OVERLAY --no-deps``, one level of requirements at a time, so nothing in ``.venv``
is touched or re-downloaded. Running that release then puts OVERLAY first on ``PYTHONPATH``.
"""
from __future__ import annotations

import subprocess
import sys
from importlib.metadata import PathDistribution, PackageNotFoundError, version
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement


def satisfied(req: Requirement, overlay: Path) -> bool:
    for dist in overlay.glob("*.dist-info"):
        d = PathDistribution(dist)
        if d.metadata["Name"].lower().replace("_", "-") == req.name.lower().replace("_", "-"):
            return req.specifier.contains(d.version, prereleases=True)
    try:
        return req.specifier.contains(version(req.name), prereleases=True)
    except PackageNotFoundError:
        return False


def wanted(lines: list[str]) -> list[Requirement]:
    env = default_environment()
    out = []
    for line in lines:
        line = line.split("#")[0].strip()
        if not line or line.startswith("-"):
            continue
        r = Requirement(line)
        if r.marker is not None and not r.marker.evaluate(dict(env, extra="")):
            continue
        out.append(r)
    return out


def main(comfy: str, overlay: str) -> int:
    ov = Path(overlay)
    ov.mkdir(parents=True, exist_ok=True)
    todo = wanted(Path(comfy, "requirements.txt").read_text().splitlines())
    seen: set[str] = set()
    while True:
        missing = [r for r in todo if not satisfied(r, ov) and str(r) not in seen]
        if not missing:
            return 0
        seen.update(str(r) for r in missing)
        print("[comfyui-overlay] installing", " ".join(str(r) for r in missing), flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "-q", "--no-deps", "--no-warn-conflicts",
                        "--upgrade", "--target", str(ov), *map(str, missing)], check=True)
        todo = []
        for dist in ov.glob("*.dist-info"):
            todo += wanted(PathDistribution(dist).requires or [])


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
