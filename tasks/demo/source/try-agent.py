#!/usr/bin/env python3
"""Runs one of the scripted agents in harness/agents/ on a demo task, on this
machine and without Docker, and grades its patch roughly the way the harness
does. For trying an agent script while writing it; the harness's grading is
the reference.

Steps: the workspace is a fresh repository holding the task's base as its one
commit, without the suite's deny files; the agent's command runs there with
MERGEBENCH_* pointing at temporary folders (and the gold patch when the spec
asks for it); its patch is the diff of the workspace against that commit.
Grading applies the patch to a clean checkout, reverts read_only paths
(scope violation), applies the hidden tests and runs the test command.

Usage: PYTHON=/tmp/demo-venv/bin/python try-agent.py AGENT TASK-ID [--keep]
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
SUITE = HERE.parent
AGENTS = SUITE.parent.parent / "harness" / "agents"
RESULT_LINE = re.compile(r"^(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS) (\S+)")
GIT_ENV = {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": "mergebench", "GIT_AUTHOR_EMAIL": "mergebench@localhost",
           "GIT_COMMITTER_NAME": "mergebench", "GIT_COMMITTER_EMAIL": "mergebench@localhost"}


def glob_regex(pattern):
    """A path glob as the suite writes them: ** spans folders, * does not."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def matches(path, globs):
    return any(glob_regex(g).match(path) for g in globs)


def git(cwd, *args, input=None, check=True):
    return subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True,
                          env={**os.environ, **GIT_ENV}, check=check)


def patch_paths(patch: bytes):
    return sorted({p.decode() for pair in re.findall(rb"^diff --git a/(\S+) b/(\S+)$", patch, re.M) for p in pair})


def run_tests(cwd, python):
    env = {**os.environ, "TZ": "UTC", "PYTHONHASHSEED": "0", "LC_ALL": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([python, "-m", "pytest", "-rA", "-p", "no:cacheprovider"], cwd=cwd, env=env,
                          capture_output=True, text=True)
    results = {}
    for line in proc.stdout.splitlines():
        m = RESULT_LINE.match(line)
        if m:
            results[m.group(2)] = m.group(1)
    return results, proc.returncode


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    keep = "--keep" in sys.argv
    if len(args) != 2:
        sys.exit(__doc__)
    agent_name, task_id = args
    python = os.environ.get("PYTHON", sys.executable)
    spec = tomllib.load(open(AGENTS / f"{agent_name}.toml", "rb"))
    suite = tomllib.load(open(SUITE / "suite.toml", "rb"))
    task_dir = SUITE / task_id
    task = tomllib.load(open(task_dir / "task.toml", "rb"))
    scope = suite.get("scope", {})
    read_only = scope.get("read_only", []) + task.get("scope", {}).get("read_only", [])
    deny = scope.get("deny", []) + task.get("scope", {}).get("deny", [])
    base = task["repo"]["base"]
    tests_patch = (task_dir / task["tests"]["patch"]).read_bytes()
    gold_patch = task_dir / task["gold"]["patch"]

    tmp = Path(tempfile.mkdtemp(prefix=f"try-{agent_name}-{task_id}."))
    try:
        source = tmp / "source"
        git(tmp, "clone", "-q", str(SUITE / suite["repo"]["source"]), str(source))
        git(source, "checkout", "-q", "--force", base)

        # The workspace: the base as the only commit, deny files absent.
        workspace = tmp / "workspace"
        workspace.mkdir()
        archive = git(source, "archive", base).stdout
        subprocess.run(["tar", "-x", "-C", str(workspace)], input=archive, check=True)
        for path in sorted(workspace.rglob("*")):
            rel = path.relative_to(workspace).as_posix()
            if path.is_file() and matches(rel, deny):
                path.unlink()
        git(workspace, "init", "-q")
        git(workspace, "add", "-A")
        git(workspace, "commit", "-q", "-m", "base")

        mb = tmp / "mergebench"
        (mb / "agent").mkdir(parents=True)
        (mb / "out").mkdir()
        shutil.copy(task_dir / task["problem"], mb / "problem.md")
        for f in spec.get("files", []):
            shutil.copy(AGENTS / f, mb / "agent" / Path(f).name)
        env = {**os.environ, **spec.get("env", {}), "MERGEBENCH_PROBLEM": str(mb / "problem.md"),
               "MERGEBENCH_WORKSPACE": str(workspace), "MERGEBENCH_OUT": str(mb / "out")}
        if spec.get("gold_patch"):
            shutil.copy(gold_patch, mb / "gold.patch")
            env["MERGEBENCH_GOLD_PATCH"] = str(mb / "gold.patch")
        command = [c.replace("/mergebench/", f"{mb}/") for c in spec["command"]]
        agent = subprocess.run(command, cwd=workspace, env=env, capture_output=True, text=True)

        git(workspace, "add", "-A")
        patch = git(workspace, "diff", "--cached", "--binary", "HEAD").stdout
        touched = patch_paths(patch)
        hidden = patch_paths(tests_patch)
        scope_violation = [p for p in touched if matches(p, read_only)]
        tampered = [p for p in touched if p in hidden]

        # Grading: patch on a clean base, read_only paths back to base,
        # hidden tests applied, test command run.
        grade = tmp / "grade"
        git(tmp, "clone", "-q", "--no-checkout", str(source), str(grade))
        git(grade, "checkout", "-q", base)
        outcome = None
        if not patch:
            outcome = "empty_patch"
        elif git(grade, "apply", "-", input=patch, check=False).returncode != 0:
            outcome = "patch_failed"
        else:
            for p in scope_violation:
                if git(grade, "cat-file", "-e", f"{base}:{p}", check=False).returncode == 0:
                    git(grade, "checkout", base, "--", p)
                elif (grade / p).exists():
                    (grade / p).unlink()
            git(grade, "apply", "-", input=tests_patch)
            results, _ = run_tests(grade, python)
            wanted = task["tests"]["fail_to_pass"] + task["tests"]["pass_to_pass"]
            failing = [t for t in wanted if results.get(t) != "PASSED"]
            outcome = "unresolved" if failing else "resolved"

        owners = suite.get("ownership", {})
        def owner(path):
            found = None
            for glob, who in owners.items():  # later entries win
                if matches(path, [glob]):
                    found = who
            return found or "(nobody)"

        report = {
            "agent": agent_name,
            "task": task_id,
            "outcome": outcome,
            "agent_exit_code": agent.returncode,
            "scope_violation": scope_violation,
            "tests_tampered": tampered,
            "files_changed": {p: owner(p) for p in touched},
            "owners_touched": sorted({owner(p) for p in touched}),
        }
        if outcome == "unresolved":
            report["failing"] = failing
        report["usage"] = json.loads((mb / "out" / "usage.json").read_text()) if (mb / "out" / "usage.json").exists() else None
        report["trajectory_steps"] = len((mb / "out" / "trajectory.jsonl").read_text().splitlines()) \
            if (mb / "out" / "trajectory.jsonl").exists() else 0
        if agent.stderr.strip():
            report["agent_stderr"] = agent.stderr.strip().splitlines()[-5:]
        print(json.dumps(report, indent=2))
        if keep:
            print(f"kept {tmp}", file=sys.stderr)
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
