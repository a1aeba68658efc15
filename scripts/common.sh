#!/usr/bin/env bash
# Shared by run01.sh ... run20.sh: one cell of MISSRec's results table (spec missrec.md §5.2).
# Usage: bash scripts/runNN.sh <gpu id or "cpu"> [key=value overrides ...]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PRETRAINED="${MISSREC_PRETRAINED:-$ROOT/saved/MISSRec-FHCKM_mm_full-100.pth}"

run_cell() {  # run_cell <dataset> <transductive|inductive> <scratch|pretrained> <gpu> [overrides...]
  local ds="$1_mm_full" mode="$2" init="$3" gpu="${4:-0}"
  shift 4 || true
  local data="$ROOT/datasets/downstream/$ds/$ds.train.inter"
  if [[ ! -f "$data" ]]; then
    echo "missing dataset: $data" >&2
    echo "Put the authors' processed $ds/ folder under datasets/downstream/ or build it: see datasets/README.md" >&2
    exit 1
  fi
  local device="cuda:$gpu"
  [[ "$gpu" == "cpu" ]] && device="cpu"
  local args=(-d "$ds" -mode "$mode" --device "$device" --output "$ROOT/runs/${ds}-${mode}-${init}")
  if [[ "$init" == "pretrained" ]]; then
    if [[ ! -f "$PRETRAINED" ]]; then
      echo "missing checkpoint: $PRETRAINED" >&2
      echo "Download the authors' MISSRec-FHCKM_mm_full-100.pth into saved/ (see datasets/README.md), or set MISSREC_PRETRAINED" >&2
      exit 1
    fi
    args+=(-p "$PRETRAINED")
  fi
  cd "$ROOT"
  python finetune.py "${args[@]}" "$@"
}
