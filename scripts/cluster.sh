#!/usr/bin/env bash
# A whole local ragline cluster in one command (docs/distributed.md): a Kafka broker,
# chunk and embed workers, index nodes (shards x replicas) and a router.
#
#   scripts/cluster.sh up DIR [--shards 2] [--replicas 1] [--chunkers 2] [--embedders 2]
#                             [--port 8090] [--partitions 4] [--collection docs]
#   (--collection: the collection every index node creates at start; more through the
#   router's POST /v1/collections)
#   scripts/cluster.sh status DIR     every process (up or not), then `ragline cluster status`
#   scripts/cluster.sh down DIR       stop everything (SIGTERM), the broker last
#
# `up` is idempotent: it starts whichever process of the described cluster is not
# running (a killed worker comes back by running `up` again) and waits until the
# router is ready. The description is kept in DIR/cluster.conf; flags given to a later
# `up` change it. DIR holds:
#   router.url                 the router's base URL (the same HTTP API as `ragline serve`)
#   cluster.json               the cluster config file every process reads (--config), rewritten by `up`
#   bootstrap                  the broker's bootstrap servers: `ragline ingest PATH --collection docs --kafka $(cat DIR/bootstrap)`
#   pids/<role>-<n>.pid        one per process: chunk-N, embed-N, index-S-R, router-0
#   logs/<role>-<n>.log        their stderr
#   data/index-S-R/            each index node's data directory
# Ports: the router --port, then each index node, chunk worker and embed worker in that
# order (each serves /healthz and /metrics, with rag_kafka_lag).
#   kafka/                     the broker (scripts/kafka.sh)
# Shard S reads the partitions p of rag.embeddings.upserts with p % shards == S; its
# replicas read the same partitions into their own data directories.
# Environment: RAGLINE (the binary; default build/rel/ragline, else build/dev/ragline),
# RAGLINE_MODEL_DIR (default models/all-MiniLM-L6-v2).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "cluster.sh: $*" >&2; exit 1; }

[ $# -ge 2 ] || die "usage: cluster.sh up|status|down DIR [options]"
CMD=$1
DIR=$2
shift 2
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
CONF=$DIR/cluster.conf

if [ -z "${RAGLINE:-}" ]; then
  for b in "$ROOT/build/rel/ragline" "$ROOT/build/dev/ragline"; do [ -x "$b" ] && { RAGLINE=$b; break; }; done
fi
[ -x "${RAGLINE:-}" ] || die "no ragline binary: build it or set RAGLINE"
MODEL=${RAGLINE_MODEL_DIR:-$ROOT/models/all-MiniLM-L6-v2}

SHARDS=2 REPLICAS=1 CHUNKERS=2 EMBEDDERS=2 PORT=8090 PARTITIONS=4 COLLECTION=docs
# shellcheck disable=SC1090
[ -f "$CONF" ] && . "$CONF"
if [ "$CMD" = up ]; then
  while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || die "$1 needs a value"
    case $1 in
      --shards) SHARDS=$2 ;;
      --replicas) REPLICAS=$2 ;;
      --chunkers) CHUNKERS=$2 ;;
      --embedders) EMBEDDERS=$2 ;;
      --port) PORT=$2 ;;
      --partitions) PARTITIONS=$2 ;;
      --collection) COLLECTION=$2 ;;
      *) die "unknown option $1" ;;
    esac
    shift 2
  done
  for v in SHARDS REPLICAS CHUNKERS EMBEDDERS PORT PARTITIONS; do
    [[ ${!v} =~ ^[0-9]+$ ]] && [ "${!v}" -ge 1 ] || die "$v must be a positive integer, got '${!v}'"
  done
  [ "$PARTITIONS" -ge "$SHARDS" ] || die "--partitions ($PARTITIONS) must be at least --shards ($SHARDS)"
  printf 'SHARDS=%s REPLICAS=%s CHUNKERS=%s EMBEDDERS=%s PORT=%s PARTITIONS=%s COLLECTION=%s\n' \
    "$SHARDS" "$REPLICAS" "$CHUNKERS" "$EMBEDDERS" "$PORT" "$PARTITIONS" "$COLLECTION" >"$CONF"
fi

alive() {  # alive NAME: its process runs (a zombie, killed but not yet reaped, does not)
  local pid state
  [ -f "$DIR/pids/$1.pid" ] || return 1
  pid=$(cat "$DIR/pids/$1.pid")
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}
# Ports: the router PORT, index node S-R PORT + 1 + S * REPLICAS + R, then the chunk
# workers', then the embed workers' (/healthz and /metrics with rag_kafka_lag).
index_port() { echo $((PORT + 1 + $1 * REPLICAS + $2)); }
chunk_port() { echo $((PORT + 1 + SHARDS * REPLICAS + $1)); }
embed_port() { echo $((PORT + 1 + SHARDS * REPLICAS + CHUNKERS + $1)); }
partitions_of() {  # partitions_of S: "S,S+SHARDS,..."
  local p list=""
  for ((p = $1; p < PARTITIONS; p += SHARDS)); do list+="${list:+,}$p"; done
  echo "$list"
}
processes() {  # every process of the described cluster, in start order
  local n s r
  for ((s = 0; s < SHARDS; s++)); do for ((r = 0; r < REPLICAS; r++)); do echo "index-$s-$r"; done; done
  for ((n = 0; n < CHUNKERS; n++)); do echo "chunk-$n"; done
  for ((n = 0; n < EMBEDDERS; n++)); do echo "embed-$n"; done
  echo router-0
}

# start NAME CMD...: in the background (setsid: a signal to this script does not reach it).
start() {
  local name=$1
  shift
  setsid "$@" >>"$DIR/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$DIR/pids/$name.pid"
  echo "started $name (pid $!)"
}

wait_http() {  # wait_http URL PATH NAME: until URL/PATH answers 200 (120 s)
  local deadline=$((SECONDS + 120))
  until curl -fsS -o /dev/null "$1$2" 2>/dev/null; do
    alive "$3" || die "$3 exited; see $DIR/logs/$3.log"
    [ $SECONDS -lt $deadline ] || die "$3 not ready at $1$2 after 120 s; see $DIR/logs/$3.log"
    sleep 0.2
  done
}

up() {
  mkdir -p "$DIR/pids" "$DIR/logs" "$DIR/data"
  [ -f "$MODEL/model.safetensors" ] || die "no model at $MODEL (scripts/fetch_model.sh)"
  "$ROOT/scripts/kafka.sh" status "$DIR/kafka" >/dev/null 2>&1 || "$ROOT/scripts/kafka.sh" start "$DIR/kafka"
  cp "$DIR/kafka/bootstrap" "$DIR/bootstrap"
  local b common name s r n shard_args=()
  b=$(cat "$DIR/bootstrap")
  # The cluster config file every process reads (docs/distributed.md); flags add what
  # differs per process.
  printf '{"kafka": "%s", "model": "%s",\n "workers": {"topic_partitions": %s, "collection": "%s", "create": true}}\n' \
    "$b" "$MODEL" "$PARTITIONS" "$COLLECTION" >"$DIR/cluster.json"
  common=(--config "$DIR/cluster.json")
  for name in $(processes); do
    case $name in
      index-*)
        s=${name#index-}; r=${s#*-}; s=${s%-*}
        local url="http://127.0.0.1:$(index_port "$s" "$r")"
        if ! alive "$name"; then
          start "$name" "$RAGLINE" worker index "${common[@]}" --data "$DIR/data/$name" \
            --partitions-of-shard "$(partitions_of "$s")" --port "$(index_port "$s" "$r")"
        fi
        wait_http "$url" /healthz "$name"
        ;;
      chunk-*)
        n=${name#chunk-}
        alive "$name" || start "$name" "$RAGLINE" worker chunk "${common[@]}" --instance "$n" --port "$(chunk_port "$n")"
        ;;
      embed-*)
        n=${name#embed-}
        alive "$name" || start "$name" "$RAGLINE" worker embed "${common[@]}" --instance "$n" --port "$(embed_port "$n")"
        ;;
      router-0)
        shard_args=()
        for ((s = 0; s < SHARDS; s++)); do
          local replicas=""
          for ((r = 0; r < REPLICAS; r++)); do replicas+="${replicas:+,}http://127.0.0.1:$(index_port "$s" "$r")"; done
          shard_args+=(--shard "$replicas")
        done
        alive "$name" || start "$name" "$RAGLINE" serve "${common[@]}" --role router "${shard_args[@]}" --port "$PORT"
        echo "http://127.0.0.1:$PORT" >"$DIR/router.url"
        wait_http "http://127.0.0.1:$PORT" /readyz "$name"
        ;;
    esac
  done
  echo "cluster up: router $(cat "$DIR/router.url"), bootstrap $b"
}

status() {
  local name down=0
  for name in $(processes); do
    if alive "$name"; then echo "$name up (pid $(cat "$DIR/pids/$name.pid"))"; else echo "$name DOWN"; down=1; fi
  done
  "$ROOT/scripts/kafka.sh" status "$DIR/kafka" >/dev/null 2>&1 && echo "kafka up" || { echo "kafka DOWN"; down=1; }
  if [ -f "$DIR/router.url" ] && alive router-0; then
    "$RAGLINE" cluster status --router "$(cat "$DIR/router.url")" || down=1
  fi
  return $down
}

down() {
  local f pid deadline
  for f in "$DIR"/pids/router-*.pid "$DIR"/pids/chunk-*.pid "$DIR"/pids/embed-*.pid "$DIR"/pids/index-*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 20))
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$f"
  done
  "$ROOT/scripts/kafka.sh" stop "$DIR/kafka" >/dev/null 2>&1 || true
  echo "cluster down"
}

case $CMD in
  up) up ;;
  status) status ;;
  down) down ;;
  *) die "unknown command $CMD (up, status or down)" ;;
esac
