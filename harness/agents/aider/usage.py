#!/usr/bin/env python3
"""usage.json from Aider's local analytics log: one `message_send` event per model call,
each with its tokens and cost.

Usage: usage.py ANALYTICS.jsonl USAGE.json MODEL
"""
import json
import sys


def main(log_path, usage_path, model):
    tokens_in = tokens_out = calls = 0
    cost = 0.0
    try:
        with open(log_path, encoding="utf-8") as f:
            lines = f.readlines()
    except OSError:
        return  # no log: Aider never reached the model
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") != "message_send":
            continue
        p = event.get("properties") or {}
        calls += 1
        tokens_in += int(p.get("prompt_tokens") or 0)
        tokens_out += int(p.get("completion_tokens") or 0)
        cost += float(p.get("cost") or 0.0)
    with open(usage_path, "w", encoding="utf-8") as f:
        json.dump(
            {"model": model, "input_tokens": tokens_in, "output_tokens": tokens_out,
             "cost_usd": round(cost, 6), "steps": calls},
            f,
            indent=2,
        )


if __name__ == "__main__":
    main(*sys.argv[1:4])
