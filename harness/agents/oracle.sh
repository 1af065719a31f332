#!/bin/sh
# The oracle agent: applies the task's gold patch to the workspace and does
# nothing else. If the pipeline (sandbox, patch capture, grading) is sound,
# every valid task comes out resolved.
set -eu

WORKSPACE=${MERGEBENCH_WORKSPACE:-/workspace}
OUT=${MERGEBENCH_OUT:-/mergebench/out}
GOLD=${MERGEBENCH_GOLD_PATCH:-/mergebench/gold.patch}

mkdir -p "$OUT"
: > "$OUT/trajectory.jsonl"
step=0
log() {
    step=$((step + 1))
    printf '{"step": %d, "action": "%s", "detail": "%s"}\n' "$step" "$1" "$2" >> "$OUT/trajectory.jsonl"
}
printf '{"model": "oracle", "input_tokens": 0, "output_tokens": 0, "cost_usd": 0}\n' > "$OUT/usage.json"

if [ ! -f "$GOLD" ]; then
    log error "no gold patch at $GOLD"
    echo "oracle: no gold patch at $GOLD (does the spec say gold_patch = true?)" >&2
    exit 1
fi
cd "$WORKSPACE"
if git apply "$GOLD"; then
    log apply "git apply $GOLD: ok"
else
    log apply "git apply $GOLD: failed"
    echo "oracle: the gold patch does not apply to $WORKSPACE" >&2
    exit 1
fi
log finish "applied the gold patch"
