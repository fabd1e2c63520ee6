# Sourced by scripts/ensure-*.sh. apt_install TAG HINT PKG...: installs Debian packages with apt-get (as root, or
# through passwordless sudo); otherwise prints the exact command to run and returns 1. HINT says why they are needed.
apt_install() {
  local tag="$1" hint="$2"; shift 2
  local sudo=""
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo -n"; else
      printf '[%s] ERROR: %s, and this user cannot install packages.\n' "$tag" "$hint" >&2
      printf '[%s] Install them once with:  sudo apt-get update && sudo apt-get install -y --no-install-recommends %s\n' "$tag" "$*" >&2
      return 1
    fi
  fi
  command -v apt-get >/dev/null || { printf '[%s] ERROR: %s, and apt-get is not available: install %s\n' "$tag" "$hint" "$*" >&2; return 1; }
  printf '[%s] %s: installing %s with apt-get (once)\n' "$tag" "$hint" "$*" >&2
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update >&2 || { printf '[%s] ERROR: apt-get update failed\n' "$tag" >&2; return 1; }
  $sudo apt-get install -y --no-install-recommends "$@" >&2 || { printf '[%s] ERROR: apt-get install %s failed\n' "$tag" "$*" >&2; return 1; }
}
