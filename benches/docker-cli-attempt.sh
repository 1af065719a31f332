#!/usr/bin/env bash
# One attempt done by hand with the docker command line: the baseline `mergebench bench`
# compares its harness against. The same steps as mergebench: a locked-down agent container
# with the workspace copied in, run, workspace and out copied back, removed; the diff taken
# with git; a fresh test container with the patched tree copied in, run, removed.
#   $1 image  $2 workspace archive (workspace/...)  $3 scratch folder
set -euo pipefail
image=$1 archive=$2 scratch=$3
lock=(--network none --cap-drop ALL --security-opt no-new-privileges --user 1000:1000
      --memory 512m --memory-swap 512m --cpus 1 --pids-limit 256 --log-driver none --label mergebench.bench=1)

id=$(docker create "${lock[@]}" -w /workspace "$image" sh -c 'cat /proc/sys/kernel/random/uuid >> README.md')
docker cp - "$id":/ < "$archive"
docker start -a "$id" > /dev/null
rm -rf "$scratch/after" && mkdir -p "$scratch/after"
docker cp "$id":/workspace - | tar -x -C "$scratch/after"
docker rm -f "$id" > /dev/null
export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=safe.directory GIT_CONFIG_VALUE_0="*"
git -C "$scratch/after/workspace" add -A
git -C "$scratch/after/workspace" diff --cached --binary HEAD > "$scratch/patch"

rm -rf "$scratch/tree" && mkdir -p "$scratch/tree"
tar -x -C "$scratch/tree" < "$archive"
git -C "$scratch/tree/workspace" apply "$scratch/patch"
id=$(docker create "${lock[@]}" -w /workspace "$image" sh -c 'echo "ok 1 - t"')
tar -c -C "$scratch/tree" workspace | docker cp - "$id":/
docker start -a "$id" > /dev/null
docker rm -f "$id" > /dev/null
