#!/usr/bin/env bash
# run12: Instruments, inductive (without ID), pre-trained on FHCKM. Usage: bash scripts/run12.sh <gpu id|cpu> [key=value ...]
# Published numbers (spec missrec.md §5.2) are @K+1: add legacy_topk_offset=true to compare like with like.
source "$(dirname "$0")/common.sh"
run_cell Instruments inductive pretrained "${1:-0}" "${@:2}"
