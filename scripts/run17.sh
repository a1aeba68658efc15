#!/usr/bin/env bash
# run17: Office, transductive (with ID), from scratch. Usage: bash scripts/run17.sh <gpu id|cpu> [key=value ...]
# Published numbers (spec missrec.md §5.2) are @K+1: add legacy_topk_offset=true to compare like with like.
source "$(dirname "$0")/common.sh"
run_cell Office transductive scratch "${1:-0}" "${@:2}"
