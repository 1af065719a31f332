#!/bin/sh
# Runs `codex exec` on the problem with approvals and Codex's own sandbox off (the
# container is the sandbox; Codex's sandbox cannot start under no-new-privileges anyway),
# its JSON events kept as the trajectory, then usage.json summed from them.
set -u
out=$MERGEBENCH_OUT
export CODEX_HOME=/tmp/codex-home
mkdir -p "$CODEX_HOME"
# exec reads CODEX_API_KEY; a stored login covers versions that read only that.
export CODEX_API_KEY="${CODEX_API_KEY:-${OPENAI_API_KEY:-}}"
printenv CODEX_API_KEY | codex login --with-api-key >/dev/null 2>&1 || true
set -- exec --json --skip-git-repo-check --dangerously-bypass-approvals-and-sandbox
[ -n "${CODEX_MODEL:-}" ] && set -- "$@" --model "$CODEX_MODEL"
codex "$@" "$(cat "$MERGEBENCH_PROBLEM")" </dev/null >"$out/trajectory.jsonl"
status=$?
python3 /mergebench/agent/usage.py "$out/trajectory.jsonl" "$out/usage.json" "${CODEX_MODEL:-}"
exit $status
