#!/usr/bin/env bash
# run19: Office, inductive (without ID), from scratch. Usage: bash scripts/run19.sh <gpu id|cpu> [key=value ...]
# Published numbers (spec missrec.md §5.2) are @K+1: add legacy_topk_offset=true to compare like with like.
source "$(dirname "$0")/common.sh"
run_cell Office inductive scratch "${1:-0}" "${@:2}"
