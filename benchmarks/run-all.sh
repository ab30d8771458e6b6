#!/usr/bin/env bash
# The whole performance suite, one command, about 10 minutes on 2 quiet cores:
#   1. build the function and the benchmarks (tests skipped),
#   2. JMH: raw RSA floor, ours (miss, hit), GoogleIdTokenVerifier, google-auth TokenVerifier,
#      same tokens, same keys, one run; then the ratio table of issue 6,
#   3. the token cache's retained heap at its bound (1 000 and the default 10 000 entries),
#   4. load.sh: whole-function throughput (wrk) and cold start, protected vs unprotected, with the
#      functions' stdout through a pipe (the headline: production conditions, the platform reads
#      stdout through a pipe), then, as diagnostics in fewer forks, to a file and to /dev/null
#      (BENCHMARKS.md says why).
# Output goes to the terminal and to benchmarks/target/results/ (jmh-result.json, *.txt).
# Needs java, curl and wrk (Maven comes with ./mvnw); installs nothing (load.sh says what is missing).
#
# usage: benchmarks/run-all.sh [extra JMH options, e.g. -f 2 -i 10]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
RESULTS=benchmarks/target/results
JAR=benchmarks/target/benchmarks.jar

for tool in java curl wrk; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "run-all.sh: missing $tool (on Debian: apt-get install $tool); nothing was installed" >&2
    exit 2
  }
done

started=$(date +%s)
echo "== machine: $(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(java -version 2>&1 | head -n 1)"
echo "== build"
./mvnw -q -pl function,benchmarks -am package -DskipTests
mkdir -p "$RESULTS"

echo "== JMH (VerifierBenchmark)"
java -jar "$JAR" VerifierBenchmark -rf json -rff "$RESULTS/jmh-result.json" "$@" 2>"$RESULTS/jmh.err" \
  | tee "$RESULTS/jmh.txt" | grep -E '^(# Benchmark:|Benchmark |VerifierBenchmark)' || true
java -cp "$JAR" dev.invokerguard.benchmarks.Ratios "$RESULTS/jmh-result.json" \
  | tee "$RESULTS/ratios.md"

echo "== token cache heap at its bound"
java -Xmx1g -cp "$JAR" dev.invokerguard.benchmarks.TokenCacheHeap 2>/dev/null \
  | grep "^token-cache-heap" \
  | tee "$RESULTS/heap.txt"

echo "== whole function (load.sh), stdout through a pipe: the headline"
benchmarks/load.sh --no-build --stdout pipe --cold-starts 15 | tee "$RESULTS/load-pipe.txt"
for mode in file null; do
  echo "== whole function (load.sh), stdout to $mode: diagnostic"
  benchmarks/load.sh --no-build --stdout "$mode" --forks 2 --cold-starts 1 | tee "$RESULTS/load-$mode.txt"
done

echo "== summary"
grep '^ratio' "$RESULTS/load-pipe.txt" | sed 's/$/ [stdout: pipe, the headline]/'
for mode in file null; do
  grep '^ratio throughput' "$RESULTS/load-$mode.txt" | sed "s/^ratio/(diagnostic, stdout: $mode) ratio/"
done

echo "== done in $(($(date +%s) - started)) s; results in $RESULTS/"
