#!/bin/sh
# The regressor agent: fixes the task with its gold patch, then breaks the
# shared SKU helper, shop.common.sku.normalize_sku, so that it no longer strips
# whitespace. The task's own tests pass; the helper's test, which every demo
# task keeps in pass_to_pass, fails. Proves that grading catches regressions
# outside the tests the fix is about.
set -eu

WORKSPACE=${MERGEBENCH_WORKSPACE:-/workspace}
OUT=${MERGEBENCH_OUT:-/mergebench/out}
GOLD=${MERGEBENCH_GOLD_PATCH:-/mergebench/gold.patch}
HELPER=shop/common/sku.py

mkdir -p "$OUT"
: > "$OUT/trajectory.jsonl"
step=0
log() {
    step=$((step + 1))
    printf '{"step": %d, "action": "%s", "detail": "%s"}\n' "$step" "$1" "$2" >> "$OUT/trajectory.jsonl"
}
printf '{"model": "regressor", "input_tokens": 0, "output_tokens": 0, "cost_usd": 0}\n' > "$OUT/usage.json"

[ -f "$GOLD" ] || { log error "no gold patch at $GOLD"; echo "regressor: no gold patch at $GOLD" >&2; exit 1; }
cd "$WORKSPACE"
git apply "$GOLD" || { log apply "git apply failed"; echo "regressor: the gold patch does not apply" >&2; exit 1; }
log apply "applied the gold patch"

[ -f "$HELPER" ] || { log error "no $HELPER"; echo "regressor: no $HELPER in this repository" >&2; exit 1; }
tmp=$(mktemp)
sed 's/return raw\.strip()\.upper()/return raw.upper()/' "$HELPER" > "$tmp"
if cmp -s "$tmp" "$HELPER"; then
    rm -f "$tmp"
    log error "normalize_sku not found in the expected form"
    echo "regressor: $HELPER does not contain 'return raw.strip().upper()'" >&2
    exit 1
fi
# cat rather than mv: keeps the file's mode and owner.
cat "$tmp" > "$HELPER"
rm -f "$tmp"
log edit "$HELPER: normalize_sku no longer strips whitespace"
