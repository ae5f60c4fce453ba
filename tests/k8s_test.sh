#!/usr/bin/env bash
# deploy/k8s: every manifest passes the Kubernetes JSON schemas offline
# (kubernetes-validate --strict, PyPI, in its own venv .venv-k8s; the KEDA
# ScaledObject is a CRD it has no schema for, so check_manifests.py checks it against
# the HPA), the cross-checks of deploy/k8s/check_manifests.py pass (probes name
# declared ports, containerPort is the --port of the args, both autoscalers target the
# embed workers with the seed's bounds), and every container's command line, run as
# the pod would run it (HOSTNAME=<name>-1, the ConfigMap's cluster.json), starts with
# the real binary and answers its probes' paths. Only what differs here is replaced:
# the mounted config and data paths, the model directory, and the fixed ports
# (port 0, on 127.0.0.1). Kafka is absent: the workers start and retry, as in a pod
# started before its broker.
RAGLINE=${1:-$RAGLINE}
source "$(dirname "$0")/lib.sh"
require_model
K8S="$ROOT/deploy/k8s"
VENV="$ROOT/.venv-k8s"
if [ ! -x "$VENV/bin/kubernetes-validate" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==1.37.0"
fi

manifests=$(ls "$K8S"/*.yaml | grep -v keda-scaledobject)
out=$("$VENV/bin/kubernetes-validate" --strict --quiet $manifests 2>&1) && rc=0 || rc=$?
check "kubernetes-validate --strict (output: $out)" "$rc" "0"
"$VENV/bin/python" "$K8S/check_manifests.py" "$K8S" > "$WORK/containers.jsonl" 2> "$WORK/check.err" && rc=0 || rc=$?
check "check_manifests.py ($(cat "$WORK/check.err"))" "$rc" "0"
check "four workloads" "$(jq -r .workload "$WORK/containers.jsonl" | sort | paste -sd,)" \
  "rag-chunker,rag-embedder,rag-index,rag-router"

# The ConfigMap's cluster.json, with this machine's model directory.
"$VENV/bin/python" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["data"]["cluster.json"])' \
  "$K8S/cluster-config.yaml" | jq --arg m "$MODEL" '.model = $m' > "$WORK/cluster.json"
mkdir -p "$WORK/bin"
ln -s "$RAGLINE" "$WORK/bin/ragline"

PIDS=()
trap 'stop_pids "${PIDS[@]}"; rm -rf "$WORK"' EXIT
while IFS= read -r line; do
  name=$(jq -r .workload <<<"$line")
  script=$(jq -r .script <<<"$line" | sed -e "s|/etc/ragline/cluster.json|$WORK/cluster.json|g" \
    -e "s|/var/lib/ragline|$WORK/data-$name|g" -e 's|--host 0.0.0.0|--host 127.0.0.1|' -e 's|--port [0-9]*|--port 0|')
  HOSTNAME="$name-1" PATH="$WORK/bin:$PATH" bash -c "$script" > "$WORK/$name.out" 2> "$WORK/$name.err" &
  PIDS+=($!)
  url=""
  for _ in $(seq 1 200); do
    url=$(grep -ho 'serving[a-z/ ]* on http://[0-9.]*:[0-9]*' "$WORK/$name.out" "$WORK/$name.err" 2>/dev/null \
          | grep -o 'http://.*' | head -1 || true)
    [ -n "$url" ] || ! kill -0 "${PIDS[-1]}" 2>/dev/null || { sleep 0.1; continue; }
    break
  done
  if [ -z "$url" ]; then
    fail "$name: its command did not start ($(head -c 600 "$WORK/$name.err"))"
    continue
  fi
  pass
  for path in $(jq -r '.probes[]' <<<"$line" | sort -u); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$url$path")
    check "$name answers its probe $path (200, or 503 while not ready)" "$([[ $code == 200 || $code == 503 ]] && echo yes || echo "$code")" "yes"
  done
done < "$WORK/containers.jsonl"
finish
