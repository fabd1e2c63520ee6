#!/usr/bin/env bash
# Makes sure Debian's Python has onnx and numpy: the GGUF converter test (npm test: training/onnx_to_gguf.py on the
# committed tiny replica) and the replica generator (npm run replica) run under /usr/bin/python3 with them. Installs
# python3-onnx and python3-numpy with apt-get when missing (as root, or through sudo); otherwise says exactly what to
# install and exits 1. Idempotent: with both present it only prints their versions.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/apt-install.sh"
PY=/usr/bin/python3
log() { printf '[ensure-python] %s\n' "$*" >&2; }
check() { [[ -x "$PY" ]] && "$PY" -c 'import onnx, numpy; print("onnx", onnx.__version__, "numpy", numpy.__version__)' 2>/dev/null; }

if v=$(check); then log "present: $v"; exit 0; fi
apt_install ensure-python "$PY cannot import onnx and numpy" python3-onnx python3-numpy || exit 1
v=$(check) || { log "ERROR: installed python3-onnx python3-numpy but $PY still cannot import onnx and numpy"; exit 1; }
log "installed: $v"
