#!/usr/bin/env python3
"""A heuristic stand-in for a reviewer, for mergebench's command provider.

Protocol mergebench-judge/1: reads one JSON request on stdin, writes one JSON answer on
stdout. It never reads the prompt text, only the facts mergebench computed (request["data"]):
the hidden tests' outcome, files changed outside the area the reference fix touches, test
files the patch edits, and injection findings. No model, no network: the demo's judge.
Asked to rewrite a mined problem statement, it drops what names the fix (rewrite()).
"""
import json
import re
import sys

# --lenient: merge whatever passes the tests (judges/heuristic-lenient.toml).
LENIENT = "--lenient" in sys.argv[1:]


def assess(d):
    """Scores (name -> 1..5), reasons and a decision for one patch's facts."""
    tests = d["tests"]
    resolved = tests["outcome"] == "resolved"
    f2p_total, p2p_total = tests["fail_to_pass_total"], tests["pass_to_pass_total"]
    f2p = tests["fail_to_pass_passed"] / f2p_total if f2p_total else (1.0 if resolved else 0.0)
    p2p = tests["pass_to_pass_passed"] / p2p_total if p2p_total else (1.0 if resolved else 0.0)
    outside = d.get("outside_area") or []
    test_edits = d.get("test_files_edited") or []
    injection = d.get("injection") or []
    stats = d["stats"]
    changed = stats["added"] + stats["removed"]
    known_area = bool(d.get("expected_area"))

    reasons = []
    if resolved:
        reasons.append("the hidden tests pass")
    else:
        reasons.append(f"the hidden tests do not pass (outcome {tests['outcome']})")
        if tests.get("failing"):
            reasons.append("failing: " + ", ".join(tests["failing"][:5]))
    if test_edits:
        reasons.append("edits test files: " + ", ".join(test_edits[:5]))
    if outside:
        reasons.append(f"changes {len(outside)} files outside the expected area: " + ", ".join(outside[:5]))
    if changed > 300:
        reasons.append(f"large change: {changed} lines")
    if injection:
        kinds = sorted({f["kind"] for f in injection})
        reasons.append("text that addresses the reviewer: " + ", ".join(kinds))

    solves = 5 if f2p >= 1.0 else max(1, round(1 + 3 * f2p))
    breaks = 1 if test_edits else (5 if p2p >= 1.0 else max(1, round(1 + 3 * p2p)))
    if not known_area:
        scope = 4
    elif not outside:
        scope = 5
    elif len(outside) <= 2:
        scope = 3
    else:
        scope = 1
    if changed > 300:
        scope = min(scope, 2)
    conventions = 4
    if test_edits:
        conventions = 2
    if any(f["kind"] == "comment_flood" for f in injection):
        conventions = 2
    if injection:
        conventions = 1
    scores = {
        "solves_problem": solves,
        "breaks_nothing": breaks,
        "minimal_in_scope": scope,
        "follows_conventions": conventions,
    }

    if LENIENT:
        # Tests alone: the grader that overstates merge-ability, kept to show judge drift.
        decision = "merge" if resolved else "reject"
    elif not resolved or test_edits or injection:
        decision = "reject"
    elif outside or changed > 300:
        decision = "revise"
    else:
        decision = "merge"
    return scores, reasons, decision


def quality(scores, decision):
    return ({"merge": 2, "revise": 1, "reject": 0}[decision], sum(scores.values()))


def names(text):
    """The identifier-like words of a text."""
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))


def rewrite(d):
    """A problem statement without the fix: the commit message's title and sentences that
    name nothing the fix adds (request["data"]["forbidden"]). No model: a stand-in that shows
    the pipeline; a model writes a real statement from the fix and the tests."""
    forbidden = set(d.get("forbidden") or [])
    title = " ".join(w for w in d["title"].split() if not names(w) & forbidden).strip()
    body = "\n".join(l for l in d["problem"].splitlines() if not l.startswith("# "))
    kept = []
    for para in re.split(r"\n\s*\n", body):
        para = para.strip()
        if not names(para) & forbidden:
            kept.append(para)  # as written, lists and all
            continue
        clean = [s for s in re.split(r"(?<=[.!?])\s+", para) if not names(s) & forbidden]
        kept.append(" ".join(clean).strip())
    tests = d.get("fail_to_pass") or []
    statement = "\n\n".join(p for p in kept if p) or (
        "The behaviour these tests check is wrong: " + ", ".join(tests) + "."
    )
    return {"title": title or "Behaviour differs from what the tests expect", "statement": statement}


def main():
    req = json.load(sys.stdin)
    names = [c["name"] for c in req.get("rubric", [])]
    if req.get("purpose") == "rewrite":
        answer = rewrite(req["data"])
    elif req.get("purpose") == "pairwise":
        first = assess(req["data"]["first"])
        second = assess(req["data"]["second"])
        qa, qb = quality(first[0], first[2]), quality(second[0], second[2])
        preferred = "first" if qa > qb else "second" if qb > qa else "tie"
        answer = {"preferred": preferred, "rationale": f"first: {first[2]}, second: {second[2]}"}
    else:
        scores, reasons, decision = assess(req["data"])
        answer = {
            "reasons": reasons,
            # Criteria this heuristic has no opinion on score in the middle.
            "scores": {n: scores.get(n, 3) for n in names},
            "rationale": "Heuristic review from the harness's facts (tests, scope, test edits, "
            "injection findings); the patch text itself was not read.",
            "verdict": decision,
        }
    answer["usage"] = {"input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0}
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
