#!/usr/bin/env bash
# Makes sure Debian's chromium is installed: the draft-picker webview test (npm test) and the e2e suite drive it
# through playwright-core. Installs it with apt-get when it is missing (as root, or through sudo); otherwise says
# exactly what to install and exits 1. Idempotent: with chromium present it only prints its version.
# SUPERDRAFT_CHROMIUM overrides the path (default /usr/bin/chromium).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/apt-install.sh"
CHROMIUM="${SUPERDRAFT_CHROMIUM:-/usr/bin/chromium}"
log() { printf '[ensure-chromium] %s\n' "$*" >&2; }

if [[ -x "$CHROMIUM" ]]; then
  log "chromium present: $("$CHROMIUM" --version 2>/dev/null | tail -1)"
  exit 0
fi
apt_install ensure-chromium "$CHROMIUM is missing (or point SUPERDRAFT_CHROMIUM at a Chromium binary)" chromium || exit 1
[[ -x "$CHROMIUM" ]] || { log "ERROR: chromium installed but $CHROMIUM is missing"; exit 1; }
log "chromium installed: $("$CHROMIUM" --version 2>/dev/null | tail -1)"
