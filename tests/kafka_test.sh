#!/usr/bin/env bash
# scripts/kafka.sh: a real KRaft broker starts, reports ready from its log, comes
# back at once after SIGKILL (broker.session.timeout.ms), and stops; and the Kafka
# clients of distributed mode (src/pipeline/kafka.h, their KafkaTest cases) run
# against it. The unit runs skip those cases: they start no broker.
#   tests/kafka_test.sh RAGLINE
RAGLINE=${1:?usage: kafka_test.sh RAGLINE}
. "$(dirname "$0")/lib.sh"
KAFKA=$ROOT/scripts/kafka.sh
K=$WORK/kafka
trap '"$KAFKA" stop "$K" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT

"$KAFKA" start "$K" 2>"$WORK/start.log" || { cat "$WORK/start.log" >&2; exit 1; }
check "bootstrap is one 127.0.0.1 address" "$(grep -cE '^127\.0\.0\.1:[0-9]+$' "$K/bootstrap")" "1"
port=$(cut -d: -f2 "$K/bootstrap")
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then pass; else fail "nothing listens on $port"; fi
"$KAFKA" status "$K" >/dev/null && pass || fail "status of a running broker is not 0"
"$KAFKA" start "$K" 2>/dev/null && pass || fail "start of a running cluster is not idempotent"
expect_fail "a second start with another size is refused" "stop it" "$KAFKA" start "$K" --brokers 3

# The Kafka clients (src/pipeline/kafka.h) against this broker: produce and read back
# from assigned offsets; an index node that resumes from the offsets stored with its data.
UNIT=$(dirname "$RAGLINE")/ragline_pipeline_test
if [ -x "$UNIT" ]; then
  out=$(RAGLINE_KAFKA_BOOTSTRAP=$(cat "$K/bootstrap") "$UNIT" --gtest_filter='KafkaTest.*' 2>&1) || true
  check_contains "the Kafka client tests pass" "$out" "[  PASSED  ] 5 tests."
  if [[ "$out" == *SKIPPED* ]]; then fail "a Kafka client test was skipped with a broker running"; fi
  [[ "$out" == *"[  PASSED  ] 5 tests."* ]] || echo "$out" | tail -30 >&2
else
  fail "no $UNIT (build the unit tests)"
fi

# SIGKILL, then start again: ready without waiting out the old registration.
pid=$(cat "$K/broker-1.pid")
kill -KILL "$pid"
while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
if "$KAFKA" status "$K" >/dev/null; then fail "status says running after SIGKILL"; else pass; fi
t0=$SECONDS
"$KAFKA" start "$K" 2>"$WORK/restart.log" && pass || { fail "restart after SIGKILL"; cat "$WORK/restart.log" >&2; }
echo "restart after SIGKILL: ready in $((SECONDS - t0)) s"
check "the same address after a restart" "$(cut -d: -f2 "$K/bootstrap")" "$port"

"$KAFKA" stop "$K"
if "$KAFKA" status "$K" >/dev/null; then fail "status says running after stop"; else pass; fi
expect_fail "an unknown command is refused" "usage" "$KAFKA" frobnicate
finish
