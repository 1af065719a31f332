#!/bin/sh
# Runs Aider once on the problem with every prompt answered yes, no commits and nothing
# fetched but the model's answers; then turns its local analytics log into usage.json.
set -u
out=$MERGEBENCH_OUT
# Aider looks up model prices on GitHub unless its cache is fresh: seed the cache with the
# copy LiteLLM ships, so the only traffic is to the model.
mkdir -p "$HOME/.aider/caches"
cp /opt/aider/model-prices.json "$HOME/.aider/caches/model_prices_and_context_window.json"
export LITELLM_LOCAL_MODEL_COST_MAP=True
# The OpenAI client refuses to start without a key; local servers ignore this one.
export OPENAI_API_KEY="${OPENAI_API_KEY:-unused}"
aider --model "$AIDER_MODEL" \
    --openai-api-base "$OPENAI_BASE_URL" \
    --message-file "$MERGEBENCH_PROBLEM" \
    --yes-always \
    --no-auto-commits --no-dirty-commits --no-gitignore \
    --no-check-update --no-show-release-notes --no-show-model-warnings \
    --analytics-disable --analytics-log "$out/analytics.jsonl" \
    --no-pretty --no-fancy-input --no-detect-urls --no-stream \
    --chat-history-file "$out/chat-history.md" \
    --llm-history-file "$out/trajectory.txt" \
    --input-history-file /tmp/aider-input-history </dev/null
status=$?
# Aider's repository-map cache is not part of the change.
rm -rf .aider.tags.cache.v*
python3 /mergebench/agent/usage.py "$out/analytics.jsonl" "$out/usage.json" "$AIDER_MODEL"
exit $status
