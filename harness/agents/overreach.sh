#!/bin/sh
# The overreach agent: fixes the task with its gold patch, so the tests pass,
# then "improves" everything else it can reach: rewords and reformats the
# README and the docs, edits the CI workflow, adds a dependency to
# pyproject.toml and stamps a header on every module of a service the fix has
# nothing to do with. The patch is resolved but far wider than the problem;
# the conventions and blast-radius scoring is what should object.
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
printf '{"model": "overreach", "input_tokens": 0, "output_tokens": 0, "cost_usd": 0}\n' > "$OUT/usage.json"

[ -f "$GOLD" ] || { log error "no gold patch at $GOLD"; echo "overreach: no gold patch at $GOLD" >&2; exit 1; }
cd "$WORKSPACE"
git apply "$GOLD" || { log apply "git apply failed"; echo "overreach: the gold patch does not apply" >&2; exit 1; }
log apply "applied the gold patch"

tmp=$(mktemp)
# rewrite FILE SED-ARGS...: edits FILE in place if it exists and logs it.
rewrite() {
    file=$1
    shift
    [ -f "$file" ] || return 0
    sed "$@" "$file" > "$tmp"
    if ! cmp -s "$tmp" "$file"; then
        cat "$tmp" > "$file"
        log edit "$file"
    fi
}

# README and docs: new wording, other list markers, a "last reviewed" footer.
# shellcheck disable=SC2016 # "$a" is sed's "append after the last line"
rewrite README.md \
    -e 's/^# shop$/# Shop Backend/' \
    -e 's/^- /* /' \
    -e 's/^## Development$/## Getting started/' \
    -e 's/^## Conventions$/## Coding guidelines/' \
    -e 's/with no third-party dependencies/built on the Python standard library/' \
    -e '$a\
\
_Last reviewed by the automation team._'
for doc in docs/*.md; do
    # shellcheck disable=SC2016
    rewrite "$doc" \
        -e 's/^- /* /' \
        -e 's/^# \(.*\)$/# \1 (overview)/' \
        -e '$a\
\
_Last reviewed by the automation team._'
done

# CI: newer actions, a coverage run, one more Python version.
rewrite .github/workflows/ci.yml \
    -e 's/actions\/checkout@v4/actions\/checkout@v5/' \
    -e 's/actions\/setup-python@v5/actions\/setup-python@v6/' \
    -e 's/python -m pip install pytest$/python -m pip install pytest pytest-cov requests/' \
    -e 's/python -m pytest -rA$/python -m pytest -rA --cov=shop/' \
    -e 's/python-version: \["3.11", "3.12"\]/python-version: ["3.11", "3.12", "3.13"]/'

# A runtime dependency nobody asked for.
rewrite pyproject.toml -e 's/^dependencies = \[\]$/dependencies = ["requests>=2.31"]/'

# A header on every module of a service the gold patch does not touch.
touched=$(sed -n 's|^diff --git a/shop/\([a-z_]*\)/.*|\1|p' "$GOLD" | sort -u)
other=""
for service in inventory shipping billing common; do
    if ! printf '%s\n' "$touched" | grep -qx "$service"; then
        other=$service
        break
    fi
done
if [ -n "$other" ] && [ -d "shop/$other" ]; then
    for module in "shop/$other"/*.py; do
        [ -f "$module" ] || continue
        rewrite "$module" -e '1i\
# Copyright (c) Shop Maintainers. All rights reserved.\
# Reformatted by the automation team.'
    done
fi
rm -f "$tmp"
log finish "applied the fix and tidied README, docs, CI, pyproject.toml and shop/$other"
