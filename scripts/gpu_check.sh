#!/usr/bin/env bash
# What this machine's GPU runs, as one JSON line on stdout (test output goes to stderr):
#   scripts/gpu_check.sh               # pytest -m gpu + a bf16 LoRA and a QLoRA step on a tiny Qwen2
#   scripts/gpu_check.sh --no-pytest   # the two steps only
# No hub access needed. PYTHON picks the interpreter (default: .venv/bin/python, else python3).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" exec "$PY" scripts/gpu_check.py "$@"
