#!/usr/bin/env bash
# One prepared GPU check (see bench/gpu_check.py): `bench/gpu_check.sh` on a GPU machine, `--dry` on a CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
exec "${PYTHON:-python}" bench/gpu_check.py "$@"
