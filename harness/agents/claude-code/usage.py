#!/usr/bin/env python3
"""usage.json from Claude Code's stream-json output: the model from the `system` init
event, tokens and cost from the final `result` event (cache reads and writes count as
input). Prints the result's text so the agent's log shows how it ended.

Usage: usage.py TRAJECTORY.jsonl USAGE.json
"""
import json
import sys


def main(stream_path, usage_path):
    model, result = None, None
    try:
        with open(stream_path, encoding="utf-8") as f:
            lines = f.readlines()
    except OSError:
        return
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("type") == "system" and event.get("model"):
            model = event["model"]
        elif event.get("type") == "result":
            result = event
    if result is None:
        return  # killed before it finished: nothing reliable to count
    u = result.get("usage") or {}
    tokens_in = sum(
        int(u.get(k) or 0)
        for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    )
    with open(usage_path, "w", encoding="utf-8") as f:
        json.dump(
            {
                "model": model,
                "input_tokens": tokens_in,
                "output_tokens": int(u.get("output_tokens") or 0),
                "cost_usd": result.get("total_cost_usd"),
                "steps": result.get("num_turns"),
                "status": result.get("subtype"),
            },
            f,
            indent=2,
        )
    print(result.get("result") or "")


if __name__ == "__main__":
    main(*sys.argv[1:3])
