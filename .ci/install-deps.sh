#!/usr/bin/env bash
# Installs every package ringlb needs to build, test and benchmark on Debian 12.
# Idempotent: packages already present are skipped, and apt-get runs only when
# something is missing. Usage: scripts/install-deps.sh [--bench]
set -euo pipefail

build_pkgs=(
  build-essential cmake ninja-build pkg-config git
  liburing-dev libssl-dev libtomlplusplus-dev libcli11-dev libfmt-dev
  libre2-dev libc-ares-dev zlib1g-dev libnghttp2-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev clang-format
)
test_pkgs=(
  curl openssl python3 procps iproute2 nftables netcat-openbsd
  python3-prometheus-client chromium
)
bench_pkgs=(nginx-light libnginx-mod-stream haproxy wrk gnuplot-nox util-linux)

wanted=("${build_pkgs[@]}" "${test_pkgs[@]}")
if [[ "${1:-}" == "--bench" ]]; then
  wanted+=("${bench_pkgs[@]}")
fi

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
