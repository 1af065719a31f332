#!/usr/bin/env python3
"""usage.json from `codex exec --json` events: tokens summed over `turn.completed` events.
Codex does not report cost; with CODEX_INPUT_PRICE and CODEX_OUTPUT_PRICE (USD per
million tokens) set, cost is computed from the tokens.

Usage: usage.py TRAJECTORY.jsonl USAGE.json MODEL
"""
import json
import os
import sys


def price(name):
    try:
        return float(os.environ.get(name) or "nan")
    except ValueError:
        return float("nan")


def main(stream_path, usage_path, model):
    tokens_in = tokens_out = turns = 0
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
        if event.get("type") == "turn.completed":
            u = event.get("usage") or {}
            turns += 1
            tokens_in += int(u.get("input_tokens") or 0)
            tokens_out += int(u.get("output_tokens") or 0)
    usage = {"model": model or None, "input_tokens": tokens_in, "output_tokens": tokens_out, "steps": turns}
    p_in, p_out = price("CODEX_INPUT_PRICE"), price("CODEX_OUTPUT_PRICE")
    if p_in == p_in and p_out == p_out:  # both set (NaN is not equal to itself)
        usage["cost_usd"] = round((tokens_in * p_in + tokens_out * p_out) / 1e6, 6)
    with open(usage_path, "w", encoding="utf-8") as f:
        json.dump(usage, f, indent=2)


if __name__ == "__main__":
    main(*sys.argv[1:4])
