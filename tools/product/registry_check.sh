#!/usr/bin/env bash
# make registry-check: the Comfy registry's own checks, offline, with a pinned comfy-cli in its own venv:
# `comfy node validate` on the checkout and `comfy node pack` on a clean clone (what the registry would ship,
# minus .comfyignore). Prints the packed file list size.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CLI="$ROOT/.cache/comfy-cli"
if [ ! -x "$CLI/bin/comfy" ]; then
  python3 -m venv "$CLI"
  "$CLI/bin/pip" install --disable-pip-version-check -q "comfy-cli==1.23.0" 2> >(grep -v '^WARNING: Location' >&2)
fi
COMFY=("$CLI/bin/comfy" --skip-prompt --no-enable-telemetry)
cd "$ROOT"
"${COMFY[@]}" node validate
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
git clone -q "$ROOT" "$TMP/pack"
(cd "$TMP/pack" && "${COMFY[@]}" node pack)
python3 - "$TMP/pack/node.zip" <<'PYEOF'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
bad = [n for n in names if n.startswith(("tests/", "tools/", "support/", ".ci/"))]
assert "__init__.py" in names and "nodes/__init__.py" in names, "the pack archive lacks the entry point"
assert not bad, f"dev-only files in the archive: {bad[:5]}"
print(f"node.zip: {len(names)} files, no dev-only folders")
PYEOF
