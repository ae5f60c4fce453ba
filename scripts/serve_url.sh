# Sourced by scripts, tests and benchmarks that start `ragline serve --port 0`
# in the background: the server prints "ragline serving on http://HOST:PORT"
# on its stdout once its port is bound.
#
# wait_for_url OUT PID: prints the URL from OUT (the server's stdout file) as
# soon as it appears; returns 1 if process PID exits first or 60 s pass.
wait_for_url() {
  local out=$1 pid=$2 url
  for _ in $(seq 1 600); do
    url=$(grep -o 'http://[0-9.]*:[0-9]*' "$out" 2>/dev/null || true)
    if [ -n "$url" ]; then
      echo "$url"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
