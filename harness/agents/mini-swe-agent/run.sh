#!/bin/sh
# Runs mini-swe-agent on the problem without a terminal or prompts, then turns its
# trajectory into the usage.json mergebench reads. Its exit status is the agent's.
set -u
out=$MERGEBENCH_OUT
# No first-run wizard, no banner, no price lookups on the network (the price map ships
# with LiteLLM), and no failure when a local model has no known price.
export MSWEA_CONFIGURED=true MSWEA_SILENT_STARTUP=1 MSWEA_COST_TRACKING=ignore_errors
export LITELLM_LOCAL_MODEL_COST_MAP=True MSWEA_GLOBAL_CONFIG_DIR=/tmp/mini-swe-agent
# The OpenAI client refuses to start without a key; local servers ignore this one.
export OPENAI_API_KEY="${OPENAI_API_KEY:-unused}"
mini --agent-class default \
    --config mini.yaml \
    --config "agent.step_limit=${MSWEA_STEP_LIMIT:-50}" \
    --model "$MSWEA_MODEL_NAME" \
    --cost-limit "${MSWEA_COST_LIMIT:-3}" \
    --exit-immediately --yolo \
    --task "$(cat "$MERGEBENCH_PROBLEM")" \
    --output "$out/trajectory.json" </dev/null
status=$?
python3 /mergebench/agent/usage.py "$out/trajectory.json" "$out/usage.json" "$MSWEA_MODEL_NAME"
exit $status
