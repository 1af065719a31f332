#!/usr/bin/env python3
"""Writes the demo suite's task folders from the history in ../repo.bundle.

For every fix commit listed in TASKS below it writes <task-id>/task.toml,
gold.patch (the commit's changes outside tests/) and tests.patch (its changes
under tests/). fail_to_pass and pass_to_pass are not typed by hand: they come
from running the tests at the parent commit with the new tests applied, and
at the fix commit.

problem.md is written by hand (it is what the agent is told) and is never
overwritten; a task without one is reported.

Usage: PYTHON=/path/to/python-with-pytest make-tasks.py
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SUITE = HERE.parent
BUNDLE = SUITE / "repo.bundle"
SERIES = HERE / "history" / "series"

# The one test every task keeps in pass_to_pass: it exercises
# shop.common.sku.normalize_sku, which no commit in the history changes.
CORE_TEST = "tests/test_sku.py::test_normalize_sku_strips_and_uppercases"

TEST_COMMAND = ["-m", "pytest", "-rA", "-p", "no:cacheprovider"]
TEST_ENV = {"TZ": "UTC", "PYTHONHASHSEED": "0", "LC_ALL": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}

# history entry -> (task id, title, tags). Entries not listed (the initial
# import, docs, CI and refactoring commits) change no tests and are no tasks.
TASKS = {
    "01-reserve-all-or-nothing": (
        "inventory-001",
        "A failed reservation leaves earlier order lines reserved",
        ["python", "bugfix", "atomicity"],
    ),
    "03-rate-tier-limits": (
        "shipping-001",
        "Parcels at a weight tier's limit are charged the next tier",
        ["python", "bugfix", "off-by-one"],
    ),
    "04-vat-half-up": (
        "billing-001",
        "VAT is a cent too low on some invoices",
        ["python", "bugfix", "money"],
    ),
    "05-csv-quoting": (
        "inventory-002",
        "Scanner exports with quoted fields fail to import",
        ["python", "bugfix", "parsing"],
    ),
    "06-float-money": (
        "common-001",
        "Float prices are sometimes converted a cent too low",
        ["python", "bugfix", "money"],
    ),
    "07-pickup-cutoff-utc": (
        "shipping-002",
        "Dispatch dates are wrong for ready times outside UTC",
        ["python", "bugfix", "timezone"],
    ),
    "09-percent-range": (
        "billing-002",
        "Percentage discounts of 0 or over 100 percent are accepted",
        ["python", "bugfix", "validation"],
    ),
    "10-normalise-received-skus": (
        "inventory-003",
        "Goods received with lower-case SKUs cannot be found",
        ["python", "bugfix"],
    ),
    "11-tracking-weights": (
        "shipping-003",
        "Valid 13-digit tracking numbers are rejected",
        ["python", "bugfix", "checksum"],
    ),
    "12-flat-cents": (
        "billing-003",
        "FLAT discount codes with cents are refused",
        ["python", "bugfix", "parsing"],
    ),
    "14-delivery-holidays": (
        "shipping-004",
        "Delivery estimates should skip public holidays",
        ["python", "feature", "dates"],
    ),
    "15-low-stock-reserved": (
        "inventory-004",
        "The low-stock report ignores reserved units",
        ["python", "bugfix"],
    ),
    "16-free-shipping-threshold": (
        "billing-004",
        "Free shipping is decided on the wrong order value",
        ["python", "bugfix", "cross-service"],
    ),
    "17-remove-available": (
        "inventory-005",
        "Write-offs can take stock below zero or below what is reserved",
        ["python", "bugfix", "validation"],
    ),
}

RESULT_LINE = re.compile(r"^(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS) (\S+)")


def git(repo, *args, **kwargs):
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, **kwargs).stdout


def run_tests(repo, python):
    """{test id: outcome} from pytest's -rA summary in ``repo``."""
    env = {**os.environ, **TEST_ENV}
    proc = subprocess.run([python, *TEST_COMMAND], cwd=repo, env=env, capture_output=True, text=True)
    results = {}
    for line in proc.stdout.splitlines():
        match = RESULT_LINE.match(line)
        if match:
            results[match.group(2)] = match.group(1)
    return results, proc.returncode


def toml_list(values):
    if not values:
        return "[]"
    return "[\n" + "".join(f'    "{value}",\n' for value in values) + "]"


def touched_paths(patch: bytes):
    return sorted(set(re.findall(rb"^diff --git a/(\S+) b/", patch, re.M)))


def main():
    python = os.environ.get("PYTHON", sys.executable)
    commits = []
    for line in SERIES.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            date, name = line.split()
            commits.append((date, name))
    problems = 0
    with tempfile.TemporaryDirectory(prefix="shop-tasks.") as tmp:
        repo = Path(tmp) / "repo"
        subprocess.run(["git", "clone", "-q", "--branch", "main", str(BUNDLE), str(repo)], check=True)
        shas = git(repo, "rev-list", "--reverse", "main", text=True).split()
        if len(shas) != len(commits):
            sys.exit(f"make-tasks: {BUNDLE} has {len(shas)} commits, history/series lists {len(commits)}")
        for (date, name), sha in zip(commits, shas):
            if name not in TASKS:
                continue
            task_id, title, tags = TASKS[name]
            parent = git(repo, "rev-parse", f"{sha}^", text=True).strip()
            gold = git(repo, "diff", "--binary", "--full-index", parent, sha, "--", ".", ":(exclude)tests")
            tests = git(repo, "diff", "--binary", "--full-index", parent, sha, "--", "tests")
            test_files = [p.decode() for p in touched_paths(tests)]

            git(repo, "checkout", "-q", "--force", parent)
            git(repo, "clean", "-qfdx")
            subprocess.run(["git", "-C", str(repo), "apply", "-"], input=tests, check=True)
            before, _ = run_tests(repo, python)
            git(repo, "checkout", "-q", "--force", sha)
            git(repo, "clean", "-qfdx")
            after, after_status = run_tests(repo, python)

            in_touched = [t for t in after if t.split("::")[0] in test_files]
            fail_to_pass = sorted(t for t in in_touched if after[t] == "PASSED" and before.get(t) != "PASSED")
            pass_to_pass = sorted(t for t in in_touched if after[t] == "PASSED" and before.get(t) == "PASSED")
            if CORE_TEST not in pass_to_pass:
                if after.get(CORE_TEST) == "PASSED" and before.get(CORE_TEST) == "PASSED":
                    pass_to_pass.append(CORE_TEST)
                else:
                    print(f"{task_id}: {CORE_TEST} does not pass before and after", file=sys.stderr)
                    problems += 1
            not_passing = sorted(t for t, outcome in after.items() if outcome != "PASSED")
            if not_passing or after_status != 0:
                print(f"{task_id}: tests do not all pass at the fix commit: {not_passing}", file=sys.stderr)
                problems += 1
            if not fail_to_pass:
                print(f"{task_id}: no test fails before the fix", file=sys.stderr)
                problems += 1

            folder = SUITE / task_id
            folder.mkdir(exist_ok=True)
            (folder / "gold.patch").write_bytes(gold)
            (folder / "tests.patch").write_bytes(tests)
            (folder / "task.toml").write_text(
                f'id = "{task_id}"\n'
                f'title = "{title}"\n'
                f"created = {date[:10]}\n"
                f"tags = [{', '.join(repr(t).replace(chr(39), chr(34)) for t in tags)}]\n"
                f'problem = "problem.md"\n'
                f"\n"
                f"[repo]\n"
                f"# The parent of the fix commit; repository source, environment and test\n"
                f"# command come from ../suite.toml.\n"
                f'base = "{parent}"\n'
                f"\n"
                f"[tests]\n"
                f'patch = "tests.patch"\n'
                f"fail_to_pass = {toml_list(fail_to_pass)}\n"
                f"pass_to_pass = {toml_list(sorted(pass_to_pass))}\n"
                f"\n"
                f"[gold]\n"
                f'patch = "gold.patch"\n'
            )
            if not (folder / "problem.md").exists():
                print(f"{task_id}: problem.md is missing; write it by hand", file=sys.stderr)
                problems += 1
            print(f"{task_id}: base {parent[:12]}, {len(fail_to_pass)} fail_to_pass, {len(pass_to_pass)} pass_to_pass")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
