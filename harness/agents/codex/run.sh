#!/bin/sh
# Runs `codex exec` on the problem with approvals and Codex's own sandbox off (the
# container is the sandbox; Codex's sandbox cannot start under no-new-privileges anyway),
# its JSON events kept as the trajectory, then usage.json summed from them.
set -u
out=$MERGEBENCH_OUT
# Not under /tmp: Codex refuses to put its helper binaries in a temporary directory.
export CODEX_HOME="$HOME/.codex"
mkdir -p "$CODEX_HOME"
# Codex ignores OPENAI_BASE_URL for its built-in provider: the endpoint is declared as a
# provider of its own, keyed by OPENAI_API_KEY. No update checks, no analytics, no plugin
# marketplace sync (GitHub, chatgpt.com): the only traffic is to the model. Feature keys a
# version does not know are warned about, not fatal.
{
    [ -n "${CODEX_MODEL:-}" ] && printf 'model = "%s"\n' "$CODEX_MODEL"
    printf 'model_provider = "mergebench"\n'
    printf 'check_for_update_on_startup = false\n\n'
    printf '[model_providers.mergebench]\nname = "endpoint from the agent spec"\n'
    printf 'base_url = "%s"\nenv_key = "OPENAI_API_KEY"\nwire_api = "responses"\n\n' "$OPENAI_BASE_URL"
    printf '[analytics]\nenabled = false\n\n'
    printf '[features]\nplugins = false\nremote_plugin = false\nplugin_sharing = false\n'
} >"$CODEX_HOME/config.toml"
codex exec --json --skip-git-repo-check --dangerously-bypass-approvals-and-sandbox \
    "$(cat "$MERGEBENCH_PROBLEM")" </dev/null >"$out/trajectory.jsonl"
status=$?
python3 /mergebench/agent/usage.py "$out/trajectory.jsonl" "$out/usage.json" "${CODEX_MODEL:-}"
exit $status
