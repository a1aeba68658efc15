#!/usr/bin/env bash
# The embedded MovieLens-100K: MISSRec (both modes) and SASRec, as in the README results table.
# Usage: bash scripts/run_ml100k.sh <gpu id|cpu> [key=value ...]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
device="cuda:${1:-0}"
[[ "${1:-}" == "cpu" ]] && device=cpu
extra=("${@:2}")
for run in "MISSRec transductive" "MISSRec inductive" "SASRec transductive"; do
  read -r model mode <<< "$run"
  python finetune.py --model "$model" -mode "$mode" --device "$device" --output "runs/ML100K-$model-$mode" "${extra[@]}"
done
