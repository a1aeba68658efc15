#!/usr/bin/env bash
# run04: Scientific, inductive (without ID), pre-trained on FHCKM. Usage: bash scripts/run04.sh <gpu id|cpu> [key=value ...]
# Published numbers (spec missrec.md §5.2) are @K+1: add legacy_topk_offset=true to compare like with like.
source "$(dirname "$0")/common.sh"
run_cell Scientific inductive pretrained "${1:-0}" "${@:2}"
