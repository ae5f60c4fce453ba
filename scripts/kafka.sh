#!/usr/bin/env bash
# A real Apache Kafka broker (KRaft, no ZooKeeper, no Docker) for ragline's
# distributed mode and its tests: jars from Maven Central, Java 17, 127.0.0.1 only.
#
#   scripts/kafka.sh fetch                       download the jars once (cached)
#   scripts/kafka.sh start [DIR] [--brokers N]   start N brokers (default 1), wait until ready
#   scripts/kafka.sh status [DIR]                exit 0 if every broker of DIR runs
#   scripts/kafka.sh stop [DIR]                  stop them (SIGTERM, then SIGKILL after 20 s)
#
# DIR (default $RAGLINE_KAFKA_DIR or /tmp/ragline-kafka) holds each broker's config,
# data, log and pid, and DIR/bootstrap: the bootstrap servers ("127.0.0.1:PORT,...").
# Ports are picked free at start. Readiness is the broker's "Kafka Server started" log
# line, polled, never a fixed sleep. Jars: $RAGLINE_KAFKA_JARS or
# ~/.cache/ragline/kafka-$KAFKA_VERSION/jars.
set -euo pipefail

KAFKA_VERSION=4.1.1
SLF4J_VERSION=1.7.36  # a 2.x binding is ignored by Kafka's slf4j-api 1.7, and then nothing is logged
JARS=${RAGLINE_KAFKA_JARS:-$HOME/.cache/ragline/kafka-$KAFKA_VERSION/jars}
READY_TIMEOUT_S=${RAGLINE_KAFKA_READY_TIMEOUT_S:-90}

die() { echo "kafka.sh: $*" >&2; exit 1; }

fetch() {
  if [ -f "$JARS/.complete" ]; then return; fi
  command -v mvn >/dev/null || die "mvn not found (scripts/install-deps.sh installs maven)"
  local tmp
  tmp=$(mktemp -d)
  cat >"$tmp/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.ragline</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-simple</artifactId><version>$SLF4J_VERSION</version></dependency>
  </dependencies>
</project>
POM
  echo "kafka.sh: fetching Kafka $KAFKA_VERSION jars from Maven Central into $JARS" >&2
  rm -rf "$JARS"
  mkdir -p "$JARS"
  (cd "$tmp" && mvn -q -B dependency:copy-dependencies -DoutputDirectory="$JARS" -DincludeScope=runtime) ||
    die "mvn could not fetch org.apache.kafka:kafka_2.13:$KAFKA_VERSION"
  rm -rf "$tmp"
  touch "$JARS/.complete"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# running PIDFILE: its process runs. A SIGKILLed broker lingers for a moment as a
# dying or zombie process (state Z or X), which kill -0 would still find.
running() {
  local state
  [ -f "$1" ] || return 1
  state=$(awk '{print $3}' "/proc/$(cat "$1")/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

start() {
  local dir=$1 brokers=$2
  fetch
  command -v java >/dev/null || die "java not found (scripts/install-deps.sh installs openjdk-17-jre-headless)"
  mkdir -p "$dir"
  if [ -f "$dir/brokers" ] && [ "$(cat "$dir/brokers")" != "$brokers" ]; then
    die "$dir holds a cluster of $(cat "$dir/brokers") brokers; stop it and remove $dir first"
  fi
  if [ ! -f "$dir/brokers" ]; then
    # A new cluster: ports, configs and formatted storage, once.
    local voters="" bootstrap="" id
    for id in $(seq 1 "$brokers"); do
      echo "$(free_port) $(free_port)" >"$dir/ports-$id"
      read -r port cport <"$dir/ports-$id"
      voters+="${voters:+,}$id@127.0.0.1:$cport"
      bootstrap+="${bootstrap:+,}127.0.0.1:$port"
    done
    local rf=$((brokers < 3 ? brokers : 3)) isr=$((brokers < 3 ? 1 : 2))
    local cluster_id
    cluster_id=$(java -cp "$JARS/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)
    for id in $(seq 1 "$brokers"); do
      read -r port cport <"$dir/ports-$id"
      cat >"$dir/server-$id.properties" <<PROPS
process.roles=broker,controller
node.id=$id
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data-$id
num.partitions=4
default.replication.factor=$rf
min.insync.replicas=$isr
offsets.topic.replication.factor=$rf
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
# A broker killed with SIGKILL can register again at once.
broker.session.timeout.ms=3000
broker.heartbeat.interval.ms=500
PROPS
      java -cp "$JARS/*" kafka.tools.StorageTool format -t "$cluster_id" -c "$dir/server-$id.properties" \
        --ignore-formatted >"$dir/format-$id.log" 2>&1 || die "formatting broker $id failed: $(tail -3 "$dir/format-$id.log")"
    done
    echo "$bootstrap" >"$dir/bootstrap"
    echo "$brokers" >"$dir/brokers"
  fi
  local id started=()
  for id in $(seq 1 "$brokers"); do
    if running "$dir/broker-$id.pid"; then continue; fi
    : >"$dir/broker-$id.log"
    nohup java -Xmx512m -Xms128m -cp "$JARS/*" kafka.Kafka "$dir/server-$id.properties" \
      >>"$dir/broker-$id.log" 2>&1 </dev/null &
    echo $! >"$dir/broker-$id.pid"
    started+=("$id")
  done
  local deadline=$((SECONDS + READY_TIMEOUT_S))
  for id in "${started[@]}"; do
    until grep -q "Kafka Server started" "$dir/broker-$id.log"; do
      running "$dir/broker-$id.pid" || die "broker $id exited: $(tail -5 "$dir/broker-$id.log")"
      [ $SECONDS -lt $deadline ] || die "broker $id not ready after ${READY_TIMEOUT_S} s: $(tail -5 "$dir/broker-$id.log")"
      sleep 0.2
    done
  done
  echo "kafka.sh: $brokers broker(s) ready at $(cat "$dir/bootstrap") (data in $dir)" >&2
}

status() {
  local dir=$1 id ok=0
  [ -f "$dir/brokers" ] || die "no cluster in $dir"
  for id in $(seq 1 "$(cat "$dir/brokers")"); do
    if running "$dir/broker-$id.pid"; then
      echo "broker $id: running (pid $(cat "$dir/broker-$id.pid"))"
    else
      echo "broker $id: stopped"
      ok=1
    fi
  done
  echo "bootstrap: $(cat "$dir/bootstrap")"
  return $ok
}

stop() {
  local dir=$1 pidfile pid
  for pidfile in "$dir"/broker-*.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      local deadline=$((SECONDS + 20))
      while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
  done
}

cmd=${1:-}
shift || true
dir=${RAGLINE_KAFKA_DIR:-/tmp/ragline-kafka}
brokers=1
while [ $# -gt 0 ]; do
  case $1 in
    --brokers) brokers=$2; shift 2 ;;
    -*) die "unknown option $1" ;;
    *) dir=$1; shift ;;
  esac
done
[[ "$brokers" =~ ^[1-9][0-9]?$ ]] || die "--brokers must be a number from 1 to 99"
case $cmd in
  fetch) fetch ;;
  start) start "$dir" "$brokers" ;;
  status) status "$dir" ;;
  stop) stop "$dir" ;;
  *) die "usage: scripts/kafka.sh fetch | start [DIR] [--brokers N] | status [DIR] | stop [DIR]" ;;
esac
