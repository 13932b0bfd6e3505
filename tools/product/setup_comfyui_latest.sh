#!/usr/bin/env bash
# make comfyui-latest: the newest ComfyUI release available here (../shared/vendor/comfyui-0.33.0.tar.gz)
# beside the pinned one, for the second CI run. Skipped with a message when the archive is absent (a
# user's machine). Idempotent.
#   .comfyui-latest/          the unpacked release, the pack linked into its custom_nodes
#   .venv-overlay-latest/     its packages beyond .venv's (tools/product/setup_comfyui_overlay.py)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
ARCHIVE="${COMFYUI_LATEST_ARCHIVE:-$ROOT/../shared/vendor/comfyui-0.33.0.tar.gz}"
DEST="$ROOT/.comfyui-latest"
OVERLAY="$ROOT/.venv-overlay-latest"
if [ ! -f "$ARCHIVE" ]; then
  echo "[comfyui-latest] $ARCHIVE not found: skipping the second ComfyUI (nothing to test against)"
  exit 0
fi
[ -x "$ROOT/.venv/bin/python" ] || bash "$ROOT/tools/product/setup_comfyui.sh"
sum=$(sha256sum "$ARCHIVE" | cut -c1-16)
if [ "$(cat "$DEST/.priorpaint-stamp" 2>/dev/null)" != "$sum" ]; then
  echo "[comfyui-latest] unpacking $(basename "$ARCHIVE") into $DEST"
  rm -rf "$DEST" "$ROOT/.cache/unpack-latest"
  mkdir -p "$ROOT/.cache/unpack-latest"
  tar -xzf "$ARCHIVE" -C "$ROOT/.cache/unpack-latest"
  mv "$ROOT/.cache/unpack-latest"/*/ "$DEST"
  rm -rf "$ROOT/.cache/unpack-latest" "$OVERLAY"
  echo "$sum" > "$DEST/.priorpaint-stamp"
fi
"$ROOT/.venv/bin/python" "$ROOT/tools/product/setup_comfyui_overlay.py" "$DEST" "$OVERLAY"
LINK="$DEST/custom_nodes/PriorPaint"
[ -e "$LINK" ] || ln -s "$ROOT" "$LINK"
ver=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$DEST/comfyui_version.py")
echo "[comfyui-latest] ready: ComfyUI $ver at $DEST (PYTHONPATH=$OVERLAY)"
