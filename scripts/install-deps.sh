#!/usr/bin/env bash
# Installs every Debian package that building and testing ragline needs.
# Idempotent: safe to run again; it only installs what is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libabsl-dev libcli11-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libzstd-dev jq curl ca-certificates
  libutf8proc-dev libcpp-httplib-dev libboost1.81-dev libstemmer-dev
  libopenblas-dev  # the reference the encoder's GEMM tests and benchmarks compare with (ragline does not link it)
  libgumbo-dev libpoppler-cpp-dev
  zlib1g-dev  # .gz documents (README.gz, changelog.Debian.gz under /usr/share/doc)
  libyaml-cpp-dev  # GET /openapi.json: the compiled-in docs/openapi.yaml as JSON
  python3 python3-venv
  prometheus  # promtool: validates the /metrics exposition (src/obs); ~19 MB; its daemon stays off (below)
  librdkafka-dev  # the Kafka client of distributed mode (DESIGN.md §5)
  openjdk-17-jre-headless maven  # the Kafka broker the tests start (scripts/kafka.sh; jars from Maven Central)
  clang-14 libclang-rt-14-dev  # libFuzzer + sanitizers for the fuzz targets (fuzz/, scripts/fuzz.sh)
  chromium chromium-driver  # the web page's test (tests/ui_test.sh): a real headless browser
  libjemalloc-dev  # the ragline binary's allocator: glibc's kept 4x the live heap in the soak (docs/BENCHMARKS.md)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
# The tests need only promtool from the prometheus package, whose install would
# also start a Prometheus daemon on :9090: start no service while installing
# (policy-rc.d, as Debian's own build chroots do), and keep that one disabled.
policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  policy=/usr/sbin/policy-rc.d
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" > /dev/null
  $SUDO chmod +x "$policy"
  trap '$SUDO rm -f "$policy"' EXIT
fi
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
if [[ " ${missing[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ]; then
  $SUDO systemctl disable --now prometheus > /dev/null 2>&1 || true
fi
