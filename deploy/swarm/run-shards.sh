#!/usr/bin/env bash
# One evaluation as N Docker Swarm replicated-jobs, one per shard, then a last job that
# merges the shards' stores. Run it against a swarm manager (DOCKER_HOST, or the local
# daemon).
#
#   deploy/swarm/run-shards.sh N OUT_DIR -- RUN_ARGS...
#   deploy/swarm/run-shards.sh 4 /srv/mergebench/out -- run --suite tasks/demo --agent oracle noop
#
# Each job starts the runner image (deploy/runner/build.sh) with the node's Docker socket
# and OUT_DIR mounted, and runs `mergebench --db OUT_DIR/shard-I.db RUN_ARGS --shard I/N`.
# The merge job then writes OUT_DIR/merged.db. OUT_DIR must be the same folder on every
# node that can run a shard: one node, or a shared file system (NFS and the like).
#
# RUNNER_IMAGE        the runner image (default mergebench-runner:local), on every node
# NODE_DOCKER_SOCKET  the Docker socket on the nodes (default /var/run/docker.sock)
#
# One job per shard, each with its shard in its environment, rather than one job with N
# replicas: a replicated job's task slot is not a dependable shard number on every Docker
# version (on 20.10 the first task's slot renders as the node id).
set -euo pipefail
usage() { echo "usage: $0 N OUT_DIR -- RUN_ARGS..." >&2; exit 2; }
[[ $# -ge 3 && $3 == -- ]] || usage
N=$1 OUT=$2
shift 3
[[ $N =~ ^[1-9][0-9]*$ ]] || usage
[[ -d $OUT ]] || { echo "$0: $OUT is not a folder" >&2; exit 2; }
IMAGE=${RUNNER_IMAGE:-mergebench-runner:local}
SOCKET=${NODE_DOCKER_SOCKET:-/var/run/docker.sock}
RUN=mb-$(date +%s)-$$
services=()
cleanup() { [[ ${#services[@]} -gt 0 ]] && docker service rm "${services[@]}" >/dev/null 2>&1 || true; }
trap cleanup EXIT

job() { # name, then the container's command
    local name=$1
    shift
    docker service create --detach --quiet --name "$name" \
        --mode replicated-job --replicas 1 --restart-condition none --no-resolve-image \
        --network host \
        --mount "type=bind,src=$SOCKET,dst=/var/run/docker.sock" \
        --mount "type=bind,src=$OUT,dst=/out" \
        --label mergebench.run="$RUN" \
        "$IMAGE" "$@" >/dev/null
    services+=("$name")
}

# Waits until every named job has completed; on a failure prints its logs and exits 1.
wait_for() {
    local name state
    while :; do
        local pending=0
        for name in "$@"; do
            state=$(docker service ps "$name" --format '{{.CurrentState}}' | head -n 1)
            case $state in
                Complete*) ;;
                Failed* | Rejected* | Shutdown* | Orphaned*)
                    echo "$0: job $name: $state" >&2
                    docker service logs --raw "$name" 2>&1 | tail -n 40 >&2
                    exit 1 ;;
                *) pending=1 ;;
            esac
        done
        [[ $pending -eq 0 ]] && return 0
        sleep 2
    done
}

shards=()
for ((i = 1; i <= N; i++)); do
    job "$RUN-shard-$i" --db "/out/shard-$i.db" "$@" --shard "$i/$N"
    shards+=("$RUN-shard-$i")
done
echo "started ${#shards[@]} shard jobs (${shards[*]})"
wait_for "${shards[@]}"
stores=()
for ((i = 1; i <= N; i++)); do stores+=("/out/shard-$i.db"); done
job "$RUN-merge" merge "${stores[@]}" --into /out/merged.db
wait_for "$RUN-merge"
docker service logs --raw "$RUN-merge" 2>/dev/null | tail -n 5
echo "merged: $OUT/merged.db"
