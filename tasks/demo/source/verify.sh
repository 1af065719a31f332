#!/bin/sh
# Proves every task of the demo suite on this machine, without Docker.
#
# For each tasks/demo/<id>/task.toml, in a fresh checkout of its base commit
# from repo.bundle:
#   - the tests pass at the base as it is (the history was green);
#   - gold.patch touches no test or conftest path, tests.patch only tests/;
#   - gold.patch applies with `git apply`;
#   - with tests.patch applied, every fail_to_pass test fails and every
#     pass_to_pass test passes;
#   - with gold.patch applied as well, all of them pass and so does the rest
#     of the suite;
#   - problem.md names no identifier that only the gold patch introduces, and
#     everything it quotes in `backticks` as an identifier exists at the base.
# It also checks the bundle against history/expected-head and that the core
# helper's file (shop/common/sku.py) is never changed after the first commit,
# since the regressor agent depends on it.
#
# Usage: verify.sh [TASK-ID...]
#   PYTHON  a Python 3.11+ with pytest (default: /tmp/demo-venv/bin/python if
#           it exists, else python3)
# Prints one line per task and exits 1 if anything is wrong.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
suite=$(cd "$here/.." && pwd)
bundle=$suite/repo.bundle
core_test="tests/test_sku.py::test_normalize_sku_strips_and_uppercases"

if [ -z "${PYTHON:-}" ]; then
    if [ -x /tmp/demo-venv/bin/python ]; then PYTHON=/tmp/demo-venv/bin/python; else PYTHON=python3; fi
fi
"$PYTHON" -c 'import sys, tomllib, pytest; assert sys.version_info >= (3, 11)' 2>/dev/null || {
    echo "verify: $PYTHON needs Python 3.11+ with pytest (python3 -m venv /tmp/demo-venv && /tmp/demo-venv/bin/pip install pytest)" >&2
    exit 2
}

export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export TZ=UTC PYTHONHASHSEED=0 LC_ALL=C.UTF-8 PYTHONDONTWRITEBYTECODE=1
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE

work=$(mktemp -d "${TMPDIR:-/tmp}/demo-verify.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
repo=$work/repo
failures=0

# --- the suite as a whole -------------------------------------------------------
suite_problem() { echo "FAIL suite: $*"; failures=$((failures + 1)); }

git clone -q "$bundle" "$repo" 2>/dev/null || { echo "FAIL suite: cannot clone $bundle"; exit 1; }
# (verifying a bundle needs a repository to run in)
git -C "$repo" bundle verify "$bundle" >/dev/null 2>&1 || suite_problem "$bundle does not verify"
git -C "$repo" config advice.detachedHead false
head=$(git -C "$repo" rev-parse refs/remotes/origin/main)
expected=$(cat "$here/history/expected-head")
[ "$head" = "$expected" ] || suite_problem "bundle's main is $head, history/expected-head says $expected"
core_changes=$(git -C "$repo" rev-list --count "$head" -- shop/common/sku.py)
[ "$core_changes" = 1 ] || suite_problem "shop/common/sku.py changes after the first commit ($core_changes commits touch it)"
"$PYTHON" - "$suite/suite.toml" <<'EOF' || suite_problem "suite.toml is not valid"
import sys, tomllib
suite = tomllib.load(open(sys.argv[1], "rb"))
for table, key in [("repo", "source"), ("environment", "dockerfile"), ("tests", "command"), ("tests", "format")]:
    assert key in suite.get(table, {}), f"suite.toml: [{table}] {key} is missing"
EOF
if [ "$failures" -eq 0 ]; then
    echo "ok   suite: bundle main at ${head%"${head#????????????}"}, $(git -C "$repo" rev-list --count "$head") commits, core helper untouched"
fi

# --- helpers ------------------------------------------------------------------
# The paths a patch touches, one per line (both sides of renames).
patch_paths() {
    awk '/^diff --git a\// { a = $3; b = $4; sub(/^a\//, "", a); sub(/^b\//, "", b); print a; print b }' "$1" | sort -u
}

# Runs the test command in the checkout; writes "OUTCOME id" lines to $1, and
# returns pytest's exit status.
run_tests() {
    status=0
    (cd "$repo" && "$PYTHON" -m pytest -rA -p no:cacheprovider) > "$1.log" 2>&1 || status=$?
    grep -E '^(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS) ' "$1.log" | awk '{ print $1, $2 }' > "$1" || true
    return "$status"
}

checkout() {
    git -C "$repo" checkout -q --force "$1" && git -C "$repo" clean -q -f -d -x
}

# --- one task -----------------------------------------------------------------
verify_task() {
    dir=$1
    id=$(basename "$dir")
    t=$work/$id
    mkdir -p "$t"
    problem() { echo "FAIL $id: $*"; failures=$((failures + 1)); }

    "$PYTHON" - "$dir" "$t" "$core_test" <<'EOF' || { problem "task.toml is not valid (see above)"; return 0; }
import re, sys, tomllib
from pathlib import Path
folder, out, core_test = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
task = tomllib.load(open(folder / "task.toml", "rb"))
errors = []
def need(cond, message):
    if not cond:
        errors.append(message)
need(task.get("id") == folder.name, f"id {task.get('id')!r} is not the folder's name")
need(isinstance(task.get("title"), str) and task["title"], "title is missing")
need(type(task.get("created")).__name__ == "date", "created is not a TOML date")
need(isinstance(task.get("tags"), list) and task["tags"], "tags are missing")
need((folder / task.get("problem", "")).is_file(), "problem file is missing")
base = task.get("repo", {}).get("base", "")
need(re.fullmatch(r"[0-9a-f]{40}", base), "repo.base is not a full commit id")
tests = task.get("tests", {})
f2p, p2p = tests.get("fail_to_pass", []), tests.get("pass_to_pass", [])
need(f2p, "fail_to_pass is empty")
need(core_test in p2p, f"pass_to_pass lacks {core_test}")
need(not set(f2p) & set(p2p), "a test is in both fail_to_pass and pass_to_pass")
need((folder / tests.get("patch", "")).is_file(), "tests.patch is missing")
need((folder / task.get("gold", {}).get("patch", "")).is_file(), "gold.patch is missing")
for e in errors:
    print(f"  {folder.name}: {e}")
(out / "base").write_text(base + "\n")
(out / "f2p").write_text("".join(f"{x}\n" for x in f2p))
(out / "p2p").write_text("".join(f"{x}\n" for x in p2p))
(out / "tests.patch").write_text(str(folder / tests.get("patch", "")) + "\n")
(out / "gold.patch").write_text(str(folder / task.get("gold", {}).get("patch", "")) + "\n")
sys.exit(1 if errors else 0)
EOF
    base=$(cat "$t/base")
    tests_patch=$(cat "$t/tests.patch")
    gold_patch=$(cat "$t/gold.patch")

    git -C "$repo" cat-file -e "$base^{commit}" 2>/dev/null || { problem "base $base is not in the bundle"; return 0; }

    bad=$(patch_paths "$gold_patch" | grep -E '^tests/|(^|/)conftest\.py$' || true)
    [ -z "$bad" ] || { problem "gold.patch touches test paths: $(echo "$bad" | tr "\n" " ")"; return 0; }
    bad=$(patch_paths "$tests_patch" | grep -v '^tests/' || true)
    [ -z "$bad" ] || { problem "tests.patch touches paths outside tests/: $(echo "$bad" | tr "\n" " ")"; return 0; }
    [ -n "$(patch_paths "$gold_patch")" ] || { problem "gold.patch is empty"; return 0; }

    checkout "$base"
    run_tests "$t/at-base" || { problem "the tests fail at the base itself"; return 0; }
    (cd "$repo" && git apply --check "$gold_patch") || { problem "gold.patch does not apply to the base"; return 0; }

    (cd "$repo" && git apply "$tests_patch") || { problem "tests.patch does not apply to the base"; return 0; }
    run_tests "$t/before" || true
    (cd "$repo" && git apply "$gold_patch") || { problem "gold.patch does not apply over tests.patch"; return 0; }
    after_status=0
    run_tests "$t/after" || after_status=$?

    msgs=""
    while read -r test; do
        grep -qxF "PASSED $test" "$t/before" && msgs="$msgs; fail_to_pass $test passes without the fix"
        grep -qxF "PASSED $test" "$t/after" || msgs="$msgs; fail_to_pass $test does not pass with the fix"
    done < "$t/f2p"
    while read -r test; do
        grep -qxF "PASSED $test" "$t/before" || msgs="$msgs; pass_to_pass $test does not pass without the fix"
        grep -qxF "PASSED $test" "$t/after" || msgs="$msgs; pass_to_pass $test does not pass with the fix"
    done < "$t/p2p"
    [ "$after_status" -eq 0 ] || msgs="$msgs; the suite does not pass with the fix (pytest exit $after_status)"

    # Identifiers the problem statement may not name: new in the gold patch's
    # added lines (snake_case, CamelCase or CONSTANT_CASE names) and absent from
    # the base. And everything it quotes as an identifier must exist at base.
    leaks=$(cd "$repo" && git checkout -q --force "$base" && "$PYTHON" - "$dir/problem.md" "$gold_patch" <<'EOF'
import re, subprocess, sys
problem = open(sys.argv[1], encoding="utf-8").read()
added = [l[1:] for l in open(sys.argv[2], encoding="utf-8") if l.startswith("+") and not l.startswith("+++")]
tree = subprocess.run(["git", "grep", "-h", "-I", "-e", "", "HEAD"], capture_output=True, text=True).stdout
known = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", tree))
ident = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
found = []
for line in added:
    code = re.sub(r"#.*", "", re.sub(r"(\"[^\"]*\"|'[^']*')", "", line))
    for name in ident.findall(code):
        distinctive = "_" in name.strip("_") or re.search(r"[a-z][A-Z]", name) or (name.isupper() and len(name) > 3)
        if distinctive and name not in known and re.search(rf"\b{re.escape(name)}\b", problem):
            found.append(f"names {name}, which only the gold patch introduces")
# Quoted code that is a plain name, a dotted name or a call without
# arguments: `holidays`, `Stock.reserve()`. Names with digits are codes and
# SKUs (`SAVE150`, `flat7.5`), not identifiers.
for quoted in re.findall(r"`([A-Za-z_][\w.]*(?:\(\))?)`", problem):
    for name in ident.findall(quoted):
        if re.search(r"[a-z]", name) and not re.search(r"\d", name) and name not in known:
            found.append(f"quotes `{quoted}`, but {name} does not exist at the base")
print("; ".join(dict.fromkeys(found)))
EOF
)
    [ -z "$leaks" ] || msgs="$msgs; problem.md $leaks"

    if [ -n "$msgs" ]; then
        problem "${msgs#; }"
        return 0
    fi
    f2p_n=$(wc -l < "$t/f2p" | tr -d ' ')
    p2p_n=$(wc -l < "$t/p2p" | tr -d ' ')
    files=$(patch_paths "$gold_patch" | wc -l | tr -d ' ')
    printf 'ok   %-14s base %.12s  fail_to_pass %s failed -> passed  pass_to_pass %s passed  gold: %s file(s)\n' \
        "$id" "$base" "$f2p_n" "$p2p_n" "$files"
}

if [ "$#" -gt 0 ]; then
    for id in "$@"; do
        [ -f "$suite/$id/task.toml" ] || { echo "FAIL $id: no $suite/$id/task.toml"; failures=$((failures + 1)); continue; }
        verify_task "$suite/$id"
    done
else
    count=0
    for toml in "$suite"/*/task.toml; do
        [ -f "$toml" ] || continue
        verify_task "$(dirname "$toml")"
        count=$((count + 1))
    done
    [ "$count" -gt 0 ] || { echo "FAIL suite: no tasks under $suite"; failures=$((failures + 1)); }
fi

if [ "$failures" -gt 0 ]; then
    echo "verify: $failures problem(s)"
    exit 1
fi
echo "verify: all tasks proven"
