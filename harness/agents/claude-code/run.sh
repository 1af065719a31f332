#!/bin/sh
# Runs Claude Code headless (-p) on the problem with permission prompts off (the container
# is the sandbox), its event stream kept as the trajectory, then usage.json made from the
# stream's final result.
set -u
out=$MERGEBENCH_OUT
# Only the model's API on the network: no updates, telemetry or error reports.
export DISABLE_AUTOUPDATER=1 CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1
export DISABLE_TELEMETRY=1 DISABLE_ERROR_REPORTING=1
[ -n "${ANTHROPIC_MODEL:-}" ] || unset ANTHROPIC_MODEL
claude -p "$(cat "$MERGEBENCH_PROBLEM")" \
    --output-format stream-json --verbose \
    --dangerously-skip-permissions \
    --max-turns "${CLAUDE_MAX_TURNS:-100}" \
    </dev/null >"$out/trajectory.jsonl"
status=$?
python3 /mergebench/agent/usage.py "$out/trajectory.jsonl" "$out/usage.json"
exit $status
