#!/usr/bin/env bash
# Builds the runner image on the daemon DOCKER_HOST names (the one that will run it).
#
#   deploy/runner/build.sh [TAG]
#
# MERGEBENCH_BIN  the binary to ship (default: target/release/mergebench, else target/debug)
# BASE            the image to start from (default: mergebench-base:bookworm; it must
#                 already be on that daemon, see docs/scale.md)
# The suites in tasks/, the agent specs in harness/ and the judges in judges/ go in as they
# are in this checkout.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TAG=${1:-mergebench-runner:local}
BASE=${BASE:-mergebench-base:bookworm}
BIN=${MERGEBENCH_BIN:-}
if [[ -z $BIN ]]; then
    for b in "$ROOT/target/release/mergebench" "$ROOT/target/debug/mergebench"; do
        [[ -x $b ]] && BIN=$b && break
    done
fi
[[ -n $BIN && -x $BIN ]] || { echo "build.sh: no mergebench binary; run cargo build --release or set MERGEBENCH_BIN" >&2; exit 2; }
docker image inspect "$BASE" >/dev/null 2>&1 || {
    echo "build.sh: $BASE is not on this daemon (${DOCKER_HOST:-local}); load it: docker save $BASE | docker -H <this daemon> load" >&2
    exit 3
}
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp "$BIN" "$ctx/mergebench"
cp -r "$ROOT/tasks" "$ROOT/harness" "$ROOT/judges" "$ctx/"
cp "$ROOT/deploy/runner/Dockerfile" "$ctx/Dockerfile"
docker build -q --build-arg "BASE=$BASE" -t "$TAG" "$ctx" >/dev/null
echo "$TAG"
