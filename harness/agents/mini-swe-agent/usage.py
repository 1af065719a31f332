#!/usr/bin/env python3
"""usage.json from a mini-swe-agent trajectory: tokens summed over the responses it kept,
cost as mini-swe-agent counted it.

Usage: usage.py TRAJECTORY.json USAGE.json MODEL
"""
import json
import sys


def main(traj_path, usage_path, model):
    try:
        with open(traj_path, encoding="utf-8") as f:
            traj = json.load(f)
    except (OSError, ValueError):
        return  # no trajectory: the agent never got going, and there is nothing to count
    tokens_in = tokens_out = 0
    for m in traj.get("messages", []):
        usage = ((m.get("extra") or {}).get("response") or {}).get("usage") or {}
        tokens_in += usage.get("prompt_tokens") or 0
        tokens_out += usage.get("completion_tokens") or 0
    info = traj.get("info") or {}
    stats = info.get("model_stats") or {}
    model = (((info.get("config") or {}).get("model") or {}).get("model_name")) or model
    with open(usage_path, "w", encoding="utf-8") as f:
        json.dump(
            {
                "model": model,
                "input_tokens": tokens_in,
                "output_tokens": tokens_out,
                "cost_usd": stats.get("instance_cost", 0.0),
                "steps": stats.get("api_calls", 0),
                "status": info.get("exit_status", ""),
            },
            f,
            indent=2,
        )


if __name__ == "__main__":
    main(*sys.argv[1:4])
