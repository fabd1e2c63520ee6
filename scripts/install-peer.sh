#!/usr/bin/env bash
# Installs the benchmark's peer, llama.cpp through node-llama-cpp (pinned), into .cache/peer — never into the
# project's dependencies. Its prebuilt CPU binaries come in its npm platform packages; no install script runs
# (the project's .npmrc sets ignore-scripts), so nothing is compiled or downloaded from anywhere else.
# Usage: bash scripts/install-peer.sh    (then: superdraft bench --peer …)
set -euo pipefail
cd "$(dirname "$0")/.."
PEER_VERSION=3.21.1
mkdir -p .cache/peer
if [ -f .cache/peer/node_modules/node-llama-cpp/package.json ] \
  && grep -q "\"version\": \"$PEER_VERSION\"" .cache/peer/node_modules/node-llama-cpp/package.json; then
  echo "peer: node-llama-cpp@$PEER_VERSION already in .cache/peer"; exit 0
fi
[ -f .cache/peer/package.json ] || echo '{ "name": "superdraft-bench-peer", "private": true }' > .cache/peer/package.json
npm install --prefix .cache/peer --ignore-scripts --no-audit --no-fund --no-save "node-llama-cpp@$PEER_VERSION"
echo "peer: node-llama-cpp@$PEER_VERSION installed in .cache/peer"
