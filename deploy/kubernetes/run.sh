#!/usr/bin/env bash
# Runs shards.yaml to completion, then merge.yaml, in the current kubectl context.
set -euo pipefail
cd "$(dirname "$0")"
kubectl delete job mergebench-shards mergebench-merge --ignore-not-found
kubectl apply -f shards.yaml
kubectl wait --for=condition=complete --timeout=24h job/mergebench-shards
kubectl apply -f merge.yaml
kubectl wait --for=condition=complete --timeout=1h job/mergebench-merge
kubectl logs job/mergebench-merge
