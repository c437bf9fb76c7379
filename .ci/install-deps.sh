#!/usr/bin/env bash
# Installs the Debian 12 packages ringlb needs. Idempotent: packages already
# present are skipped, and apt-get runs only when something is missing.
# Usage: .ci/install-deps.sh [--build-only | --bench]
#   (none)        build, test and fuzz: everything .ci/test-suite.sh needs
#   --build-only  just configure and build (the README's demo command), and curl
#                 to try the demo
#   --bench       everything, plus what bench/compare runs (NGINX, HAProxy, Varnish,
#                 Squid, wrk)
set -euo pipefail

# The default configure (RINGLB_TESTS and RINGLB_BENCH on) looks for GoogleTest,
# Google Benchmark and python3 (the integration tests' interpreter), so they are
# build packages even when only the ringlb target is built; python3 also runs
# examples/backends.py.
build_pkgs=(
  build-essential cmake ninja-build pkg-config git
  liburing-dev libssl-dev libtomlplusplus-dev libcli11-dev libfmt-dev
  libre2-dev libc-ares-dev zlib1g-dev libzstd-dev libbrotli-dev libcrypt-dev libnghttp2-dev
  libsystemd-dev
  nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev python3
  curl
)
test_pkgs=(
  clang libclang-rt-14-dev clang-format
  openssl sslscan nghttp2-client nghttp2-server procps iproute2 nftables netcat-openbsd
  python3-prometheus-client python3-grpcio python3-yaml chromium gzip zstd brotli slowhttptest
)
bench_pkgs=(nginx-light libnginx-mod-stream haproxy varnish squid wrk gnuplot-nox util-linux)

case "${1:-}" in
  "") wanted=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
  --build-only) wanted=("${build_pkgs[@]}") ;;
  --bench) wanted=("${build_pkgs[@]}" "${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  *) echo "usage: $0 [--build-only | --bench]" >&2; exit 2 ;;
esac

missing=()
for pkg in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#wanted[@]} packages present"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  SUDO=sudo
else
  SUDO=
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
