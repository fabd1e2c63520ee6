#!/usr/bin/env bash
# Makes sure Debian's chromium is installed: the draft-picker webview test (npm test) and the e2e suite drive it
# through playwright-core. Installs it with apt-get when it is missing (as root, or through sudo); otherwise says
# exactly what to install and exits 1. Idempotent: with chromium present it only prints its version.
# SUPERDRAFT_CHROMIUM overrides the path (default /usr/bin/chromium).
set -euo pipefail
CHROMIUM="${SUPERDRAFT_CHROMIUM:-/usr/bin/chromium}"
log() { printf '[ensure-chromium] %s\n' "$*" >&2; }

if [[ -x "$CHROMIUM" ]]; then
  log "chromium present: $("$CHROMIUM" --version 2>/dev/null | tail -1)"
  exit 0
fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    log "ERROR: $CHROMIUM is missing and this user cannot install it."
    log "Install it once with:  sudo apt-get update && sudo apt-get install -y --no-install-recommends chromium"
    log "(or point SUPERDRAFT_CHROMIUM at a Chromium binary)"
    exit 1
  fi
fi
command -v apt-get >/dev/null || { log "ERROR: $CHROMIUM is missing and apt-get is not available: install Chromium and set SUPERDRAFT_CHROMIUM"; exit 1; }
log "$CHROMIUM is missing: installing Debian chromium with apt-get (once, ~1 min)"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update >&2 || { log "ERROR: apt-get update failed"; exit 1; }
$SUDO apt-get install -y --no-install-recommends chromium >&2 || { log "ERROR: apt-get install chromium failed"; exit 1; }
[[ -x "$CHROMIUM" ]] || { log "ERROR: chromium installed but $CHROMIUM is missing"; exit 1; }
log "chromium installed: $("$CHROMIUM" --version 2>/dev/null | tail -1)"
