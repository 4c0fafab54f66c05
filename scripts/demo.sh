#!/usr/bin/env bash
# Install everything (scripts/setup.sh), then run the demo: a pool on a real workload with
# its live dashboard and progress. Arguments go to `python -m taskscope.demo`.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

bash scripts/setup.sh
exec .venv/bin/python -m taskscope.demo "$@"
