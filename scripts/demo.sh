#!/usr/bin/env bash
# The README's first command: install everything, then run the demo on the embedded default
# media (two nodes on 127.0.0.1; one finds, fetches and plays a real video while it downloads).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node bin/p2ptube.js demo "$@"
