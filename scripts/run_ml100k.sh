#!/usr/bin/env bash
# The README's MovieLens-100K table: SASRec; UniSRec and MISSRec, inductive and transductive, from scratch and from
# the shipped checkpoints pre-trained on MovieLens-1M.
# Usage: bash scripts/run_ml100k.sh <gpu id|cpu> [finetune.py options and key=value ...]
#   e.g. bash scripts/run_ml100k.sh cpu --epochs 2       (the README's budget)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
device="cuda:${1:-0}"
[[ "${1:-}" == "cpu" ]] && device=cpu
extra=("${@:2}")
declare -A checkpoint=([MISSRec]=saved/MISSRec-ML1M_genres-2.safetensors [UniSRec]=saved/UniSRec-ML1M_genres-1.safetensors)
python finetune.py --model SASRec -mode transductive --device "$device" --output runs/ML100K-SASRec-transductive "${extra[@]}"
for model in UniSRec MISSRec; do
  for mode in inductive transductive; do
    python finetune.py --model "$model" -mode "$mode" --device "$device" --output "runs/ML100K-$model-$mode-scratch" "${extra[@]}"
    python finetune.py --model "$model" -mode "$mode" -p "${checkpoint[$model]}" --device "$device" \
      --output "runs/ML100K-$model-$mode-pretrained" "${extra[@]}"
  done
done
