#!/usr/bin/env bash
# The whole test suite, from a fresh clone on Debian 12:
#   1. installs what is missing (.ci/install-deps.sh, idempotent),
#   2. builds the optimised tree in build/ and runs every unit and
#      integration test with ctest,
#   3. builds the fuzz targets with clang (build-fuzz/) and runs each one
#      briefly over its seed corpus.
# With --sanitize, steps 2-3 are replaced by an ASan+UBSan build in
# build-asan/ running the same unit and integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

./.ci/install-deps.sh

if [[ "${1:-}" == "--sanitize" ]]; then
  # -g1: line tables are all the sanitizers' reports need, and full debug
  # information costs a seventh of this build's time.
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 \
    -DRINGLB_SANITIZE=ON -DRINGLB_BENCH=OFF
  cmake --build build-asan -j "$jobs"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  ctest --test-dir build-asan --output-on-failure -j 2 --timeout 600
  exit 0
fi

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j 2 --timeout 600

# -O1 with line tables, as libFuzzer's documentation suggests; without
# NDEBUG, so the fuzzers also trip the code's asserts.
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
  -DCMAKE_CXX_COMPILER=clang++ -DRINGLB_FUZZ=ON -DRINGLB_BENCH=OFF
fuzzers=$(cd tests/fuzz && ls *_fuzz.cc | sed 's/\.cc$//')
cmake --build build-fuzz -j "$jobs" --target $fuzzers
# Each fuzzer is one single-threaded process: two at a time on two cores.
ctest --test-dir build-fuzz --output-on-failure -L fuzz -j "$jobs"
