#!/usr/bin/env bash
# The whole flow on a CUDA GPU with the tiny model, through the CLI (not run by pytest):
# QLoRA SFT demo (bf16 compute, paged AdamW), DPO on top of it, evaluation (bf16
# inference), GGUF Q8_0 and bf16 merged exports with their parity checks, runs list.
#
#     OUT=/tmp/out bash tests/bench/gpu_flow.sh
#
# Each step prints its tail; the summary line at the end lists the exit codes.
set -u
OUT=${OUT:-/tmp/gpu-flow-out}
WORK=$(mktemp -d /tmp/ftstudio-gpu-flow-XXXX)
export FTSTUDIO_DATA_DIR=$WORK/data FTSTUDIO_CONFIG_DIR=$WORK/config HF_HUB_OFFLINE=1
PROJECT=$WORK/project
codes=()
step() {
  local name=$1; shift
  echo "=== $name: $*"
  local started=$SECONDS
  "$@" >"$OUT/$name.log" 2>&1
  local code=$?
  tail -n 12 "$OUT/$name.log"
  echo "=== $name: exit $code in $((SECONDS - started)) s"
  codes+=("$name=$code")
}
mkdir -p "$OUT"
step sft python3 -m ftstudio train --demo --max-steps 20 --out "$PROJECT"
RUN=$(python3 -c "import sys,pathlib; r=sorted(p for p in pathlib.Path(sys.argv[1]).glob('runs/*/run.json')); print(r[0].parent if r else '')" "$PROJECT")
step dpo python3 -m ftstudio train --demo --objective dpo --max-steps 10 --out "$PROJECT"
step eval python3 -m ftstudio eval "$RUN" --limit 4 --max-new-tokens 24 --json
step gguf python3 -m ftstudio export "$RUN" --format gguf --quant q8_0 --out "$WORK/exports/gguf" --json
step merged python3 -m ftstudio export "$RUN" --format merged --dtype bf16 --out "$WORK/exports/merged" --json
step runs python3 -m ftstudio runs list --project "$PROJECT"
grep -h '"rewards/margins"' "$PROJECT"/runs/*/metrics.jsonl | tail -n 3 >"$OUT/dpo_margins.txt" || true
echo "SUMMARY ${codes[*]}"
