#!/bin/sh
# Rebuilds the demo suite's repository (tasks/demo/repo.bundle) from the
# commits kept as plain files in history/: each commit is a patch, a message
# and a date, applied in the order of history/series.
#
# Author, committer and dates are fixed and no user or system git
# configuration is read, so every run produces the same commit ids; the run
# fails if the result differs from history/expected-head.
#
# Usage: build-history.sh [OUTPUT.bundle]    (default: ../repo.bundle)
#
# To change the history, edit the patches (or rebuild them from a working
# repository with `git diff --binary --full-index C^ C`), run this script with
# the expected head removed, write the new head into history/expected-head and
# run make-tasks.py to regenerate the tasks.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
history=$here/history
out=${1:-$(cd "$here/.." && pwd)/repo.bundle}

# Neither ~/.gitconfig nor /etc/gitconfig may change what gets committed
# (signing, hooks, autocrlf, default branch).
GIT_CONFIG_GLOBAL=/dev/null
GIT_CONFIG_NOSYSTEM=1
GIT_AUTHOR_NAME="Shop Maintainers"
GIT_AUTHOR_EMAIL=maintainers@shop.example
GIT_COMMITTER_NAME="Shop Maintainers"
GIT_COMMITTER_EMAIL=maintainers@shop.example
export GIT_CONFIG_GLOBAL GIT_CONFIG_NOSYSTEM GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL \
    GIT_COMMITTER_NAME GIT_COMMITTER_EMAIL
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE

work=$(mktemp -d "${TMPDIR:-/tmp}/shop-history.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
# Older git has no GIT_CONFIG_GLOBAL; an empty home keeps it from ~/.gitconfig.
HOME=$work
XDG_CONFIG_HOME=$work
export HOME XDG_CONFIG_HOME
repo=$work/repo

git -c init.defaultBranch=main init -q "$repo"
git -C "$repo" symbolic-ref HEAD refs/heads/main
git -C "$repo" config core.autocrlf false
git -C "$repo" config core.fileMode true
git -C "$repo" config commit.gpgSign false

count=0
while read -r date name; do
    case $date in '' | '#'*) continue ;; esac
    [ -f "$history/$name.patch" ] || { echo "build-history: missing $history/$name.patch" >&2; exit 1; }
    [ -f "$history/$name.msg" ] || { echo "build-history: missing $history/$name.msg" >&2; exit 1; }
    (cd "$repo" && git apply --index --whitespace=nowarn "$history/$name.patch") \
        || { echo "build-history: $name.patch does not apply" >&2; exit 1; }
    GIT_AUTHOR_DATE=$date GIT_COMMITTER_DATE=$date \
        git -C "$repo" commit -q --no-verify --cleanup=verbatim -F "$history/$name.msg"
    count=$((count + 1))
done < "$history/series"

head=$(git -C "$repo" rev-parse HEAD)
if [ -f "$history/expected-head" ]; then
    expected=$(cat "$history/expected-head")
    if [ "$head" != "$expected" ]; then
        echo "build-history: rebuilt head $head, expected $expected (history/expected-head)" >&2
        exit 1
    fi
fi

git -C "$repo" -c pack.threads=1 bundle create "$work/repo.bundle" HEAD main 2>/dev/null
git -C "$repo" bundle verify "$work/repo.bundle" >/dev/null 2>&1 \
    || { echo "build-history: the new bundle does not verify" >&2; exit 1; }
mv "$work/repo.bundle" "$out"
echo "build-history: $count commits, main at $head -> $out"
