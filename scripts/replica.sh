#!/usr/bin/env bash
# npm run replica -- <family> [--size tiny|real] [--out DIR]: runs training/replica.py with a Python that has onnx and
# numpy (Debian: apt-get install -y python3-onnx python3-numpy). The last line of output is the folder written.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
for py in "${PYTHON:-}" /usr/bin/python3 python3; do
  [ -n "$py" ] || continue
  if "$py" -c 'import onnx, numpy' 2>/dev/null; then exec "$py" "$here/training/replica.py" "$@"; fi
done
echo "replica: no Python with onnx and numpy found (Debian/Ubuntu: apt-get install -y python3-onnx python3-numpy)" >&2
exit 1
