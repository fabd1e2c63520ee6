#!/usr/bin/env bash
# WebGPU on the CPU: runs a command with onnxruntime's WebGPU execution provider (Dawn -> Vulkan) pointed at
# SwiftShader, the Vulkan implementation on the CPU that Debian's chromium package ships (scripts/ensure-chromium.sh
# installs it). The tests (test/helpers/webgpu.ts), CI (.ci/run, through npm test) and users share this script.
#
#   scripts/swiftshader.sh CMD [ARGS...]   run CMD with the environment below
#   scripts/swiftshader.sh --env           print the environment as KEY=VALUE lines (one per line)
#   source scripts/swiftshader.sh          set it in the current shell (nothing is run)
#
# What it sets: VK_ICD_FILENAMES (the Vulkan loader uses only SwiftShader's driver, never a real GPU's) and
# LD_LIBRARY_PATH (chromium's own libvulkan.so.1, for machines without the system Vulkan loader). Both are read
# when a process starts, which is why this wraps the command instead of being set from inside Node.
# SUPERDRAFT_SWIFTSHADER_DIR overrides the folder (default /usr/lib/chromium).
# SwiftShader is a software adapter: fine for checking the GPU code path, far slower than the CPU provider for real
# work, and never chosen by `device: auto`.
_sd_dir="${SUPERDRAFT_SWIFTSHADER_DIR:-/usr/lib/chromium}"
_sd_icd="$_sd_dir/vk_swiftshader_icd.json"
if [[ ! -f "$_sd_icd" || ! -f "$_sd_dir/libvk_swiftshader.so" ]]; then
  echo "[swiftshader] $_sd_icd (or libvk_swiftshader.so) is missing: install Debian's chromium (bash scripts/ensure-chromium.sh, or apt-get install chromium), or set SUPERDRAFT_SWIFTSHADER_DIR to a folder holding SwiftShader's Vulkan driver" >&2
  if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then return 1; else exit 1; fi
fi
export VK_ICD_FILENAMES="$_sd_icd"
export LD_LIBRARY_PATH="$_sd_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then return 0; fi
if [[ "${1:-}" == "--env" ]]; then
  printf 'VK_ICD_FILENAMES=%s\nLD_LIBRARY_PATH=%s\n' "$VK_ICD_FILENAMES" "$LD_LIBRARY_PATH"
  exit 0
fi
[[ $# -gt 0 ]] || { echo "usage: scripts/swiftshader.sh CMD [ARGS...] | --env   (or: source scripts/swiftshader.sh)" >&2; exit 2; }
exec "$@"
