#!/usr/bin/env bash
# Makes sure Debian's Python has onnx and numpy: the GGUF converter test (npm test: training/onnx_to_gguf.py on the
# committed tiny replica) and the replica generator (npm run replica) run under /usr/bin/python3 with them. Installs
# python3-onnx and python3-numpy with apt-get when missing (as root, or through sudo); otherwise says exactly what to
# install and exits 1. Idempotent: with both present it only prints their versions.
set -euo pipefail
PY=/usr/bin/python3
PKGS="python3-onnx python3-numpy"
log() { printf '[ensure-python] %s\n' "$*" >&2; }
check() { [[ -x "$PY" ]] && "$PY" -c 'import onnx, numpy; print("onnx", onnx.__version__, "numpy", numpy.__version__)' 2>/dev/null; }

if v=$(check); then log "present: $v"; exit 0; fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    log "ERROR: $PY cannot import onnx and numpy, and this user cannot install them."
    log "Install them once with:  sudo apt-get update && sudo apt-get install -y --no-install-recommends $PKGS"
    exit 1
  fi
fi
command -v apt-get >/dev/null || { log "ERROR: $PY lacks onnx/numpy and apt-get is not available: install $PKGS"; exit 1; }
log "installing $PKGS with apt-get (once)"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update >&2 || { log "ERROR: apt-get update failed"; exit 1; }
$SUDO apt-get install -y --no-install-recommends $PKGS >&2 || { log "ERROR: apt-get install $PKGS failed"; exit 1; }
v=$(check) || { log "ERROR: installed $PKGS but $PY still cannot import onnx and numpy"; exit 1; }
log "installed: $v"
