#!/usr/bin/env bash
# run14: Arts, transductive (with ID), pre-trained on FHCKM. Usage: bash scripts/run14.sh <gpu id|cpu> [key=value ...]
# Published numbers (spec missrec.md §5.2) are @K+1: add legacy_topk_offset=true to compare like with like.
source "$(dirname "$0")/common.sh"
run_cell Arts transductive pretrained "${1:-0}" "${@:2}"
