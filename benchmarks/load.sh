#!/usr/bin/env bash
# Whole-function throughput and cold start, protected vs unprotected, in one run.
#
# Starts the real Functions Framework invoker (the jar Cloud Functions runs) twice over: (a) the
# deployable protected function (function/target/deploy/function.jar) with a key endpoint and a
# token from the local Google stand-ins (LocalGoogle, loopback only), and (b) the unprotected
# HelloFunction (benchmarks/target/benchmarks-*-hello.jar). Same invoker, same JVM options.
#
#  1. Cold start: process start to the first 200, each function COLD_STARTS times, alternating,
#     median reported. The protected function's first 200 includes its key fetch.
#  2. Throughput: wrk on 127.0.0.1 with one reused valid token (the common case: a client reuses
#     its token for an hour). FORKS times over, every function is started afresh, warmed up, and
#     measured for ROUNDS rounds, each function once a round in an order that rotates from round
#     to round. The figure is the median over all rounds of the round's protected/unprotected
#     ratio: two runs a few seconds apart share the machine's state of the moment, so a ratio per
#     round cancels most of a shared machine's drift; fresh JVMs per fork keep one JVM's luck (the
#     same invoker and function measured 20 % apart from one start to the next) from deciding.
#     A diagnostic runs alongside: the hello answer protected as a user protects a function
#     (GuardedHelloFunction: verifier, HTTP contract and decision log, no sample API); with
#     --verifier-only, also behind the verifier alone (VerifierOnlyFunction). They split the
#     protected function's cost.
#
# Installs nothing: it says what is missing. Prints one "ratio" line per figure at the end.
#
# Where a function's stdout (the decision log, one line per request) goes, --stdout: "pipe" (the
# default: production conditions, as the platform collects stdout) into a reader (wc -l) that
# each write wakes, on the same cores; "file" a regular file on this machine's disk, which adds
# page-cache growth and disk writeback on the same cores; "null" /dev/null, which prices the write
# call alone. With pipe and file, every fork checks that the protected and the guarded hello
# functions wrote at least one line per answered request.
#
# usage: benchmarks/load.sh [--no-build] [--verifier-only] [--stdout pipe|file|null]
#                           [--duration SECONDS] [--warmup SECONDS] [--forks N] [--rounds N]
#                           [--connections N] [--threads N] [--cold-starts N]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=4
WARMUP=4
FORKS=6
ROUNDS=2
VERIFIER_ONLY_TOO=false
STDOUT_MODE="pipe"
CONNECTIONS=16
THREADS=2
COLD_STARTS=5
BUILD=true
JAVA_OPTS=(-Xmx256m)
CALLER="load-client@client-project.iam.gserviceaccount.com"
AUDIENCE="https://load-test.example/internal-api"
START_DEADLINE_SECONDS=60

die() {
  echo "load.sh: $*" >&2
  exit 2
}

positive() {
  [[ "$2" =~ ^[1-9][0-9]*$ ]] || die "$1 wants a positive integer, got '$2'"
  printf '%s' "$2"
}

while (($# > 0)); do
  case "$1" in
    --no-build) BUILD=false ;;
    --verifier-only) VERIFIER_ONLY_TOO=true ;;
    --stdout)
      STDOUT_MODE=${2:-}
      [[ "$STDOUT_MODE" =~ ^(pipe|file|null)$ ]] || die "--stdout wants pipe, file or null, got '$STDOUT_MODE'"
      shift
      ;;
    --duration) DURATION=$(positive "$1" "${2:-}"); shift ;;
    --warmup) WARMUP=$(positive "$1" "${2:-}"); shift ;;
    --forks) FORKS=$(positive "$1" "${2:-}"); shift ;;
    --rounds) ROUNDS=$(positive "$1" "${2:-}"); shift ;;
    --connections) CONNECTIONS=$(positive "$1" "${2:-}"); shift ;;
    --threads) THREADS=$(positive "$1" "${2:-}"); shift ;;
    --cold-starts) COLD_STARTS=$(positive "$1" "${2:-}"); shift ;;
    -h | --help)
      sed -n '2,34p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
  shift
done

missing=()
for tool in java curl wrk awk sort; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]} > 0)); then
  die "missing: ${missing[*]}. On Debian: apt-get install ${missing[*]/java/default-jdk-headless}. Nothing was installed."
fi

cd "$ROOT"
if [[ "$BUILD" == true ]]; then
  echo "== building the function and the benchmarks (mvn package, tests skipped)"
  ./mvnw -q -pl function,benchmarks -am package -DskipTests
fi
INVOKER_JAR="benchmarks/target/load/invoker.jar"
FUNCTION_JAR="function/target/deploy/function.jar"
BENCHMARKS_JAR="benchmarks/target/benchmarks.jar"
HELLO_JAR=$(compgen -G "benchmarks/target/benchmarks-*-hello.jar" | head -n 1 || true)
for jar in "$INVOKER_JAR" "$FUNCTION_JAR" "$BENCHMARKS_JAR" "$HELLO_JAR"; do
  [[ -n "$jar" && -f "$jar" ]] || die "missing build output '${jar:-benchmarks-*-hello.jar}': run without --no-build"
done

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

now_ms() {
  local ns
  ns=$(date +%s%N)
  printf '%s' $((ns / 1000000))
}

# A port below the kernel's ephemeral range: a port inside it can be taken, between this check and
# the function's bind, by the local end of an outgoing connection (the cold-start polls leave many
# in TIME_WAIT), which made a run fail with "Address already in use".
free_port() {
  local port low=32768
  [[ -r /proc/sys/net/ipv4/ip_local_port_range ]] && read -r low _ </proc/sys/net/ipv4/ip_local_port_range
  ((low > 11000)) || die "the ephemeral port range starts at $low: no room for listening ports below it"
  for _ in $(seq 1 100); do
    port=$((10000 + RANDOM % (low - 10000)))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      printf '%s' "$port"
      return 0
    fi
  done
  die "no free port found on 127.0.0.1"
}

stop() {
  local pid=$1 p
  local kept=()
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for p in "${PIDS[@]}"; do
    [[ "$p" == "$pid" ]] || kept+=("$p")
  done
  PIDS=("${kept[@]}")
}

# The local Google stand-ins: a key endpoint and a metadata server that issues the caller's tokens.
echo "== starting the local key endpoint and metadata server (loopback)"
java -cp "$BENCHMARKS_JAR" dev.invokerguard.testing.LocalGoogle --account "$CALLER" \
  >"$WORK/google.out" 2>"$WORK/google.err" &
PIDS+=($!)
deadline=$(($(now_ms) + START_DEADLINE_SECONDS * 1000))
until grep -qx ready "$WORK/google.out"; do
  kill -0 "${PIDS[0]}" 2>/dev/null || die "LocalGoogle exited: $(cat "$WORK/google.err")"
  (($(now_ms) < deadline)) || die "LocalGoogle not ready in ${START_DEADLINE_SECONDS}s"
  sleep 0.05
done
JWKS_URI=$(awk '$1 == "jwks-uri" { print $2 }' "$WORK/google.out")
METADATA_HOST=$(awk '$1 == "metadata-host" { print $3 }' "$WORK/google.out")
TOKEN=$(curl -fsS -H "Metadata-Flavor: Google" \
  "http://$METADATA_HOST/computeMetadata/v1/instance/service-accounts/default/identity?audience=$AUDIENCE&format=full")
[[ "$TOKEN" == *.*.* ]] || die "the metadata stand-in returned no token"

# start_function NAME JAR TARGET PORT: starts the invoker; its pid is left in STARTED_PID.
# (Not a command substitution: the child must stay this shell's, for cleanup on any exit.)
start_function() {
  local name=$1 jar=$2 target=$3 port=$4 out=/dev/null
  rm -f "$WORK/$name.lines"
  case "$STDOUT_MODE" in
    file)
      out="$WORK/$name.stdout"
      : >"$out"
      ;;
    pipe)
      # The reader gets EOF, and writes its count, when the function exits.
      out="$WORK/$name.pipe"
      rm -f "$out" && mkfifo "$out"
      wc -l <"$out" >"$WORK/$name.count" &
      ;;
  esac
  env -i PATH="$PATH" HOME="${HOME:-/tmp}" \
    ALLOWED_INVOKERS="$CALLER" EXPECTED_AUDIENCES="$AUDIENCE" JWKS_URL="$JWKS_URI" \
    java "${JAVA_OPTS[@]}" -jar "$INVOKER_JAR" --classpath "$jar" --target "$target" --port "$port" \
    >"$out" 2>>"$WORK/$name.log" &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
}

# stdout_lines NAME: after the function stopped, the number of lines it wrote to stdout, or
# nothing in null mode.
stdout_lines() {
  local name=$1 deadline
  case "$STDOUT_MODE" in
    file) wc -l <"$WORK/$name.stdout" | tr -d ' ' ;;
    pipe)
      deadline=$(($(now_ms) + START_DEADLINE_SECONDS * 1000))
      until [[ -s "$WORK/$name.count" ]]; do
        (($(now_ms) < deadline)) || die "the stdout reader of $name did not finish"
        sleep 0.01
      done
      tr -d ' ' <"$WORK/$name.count"
      ;;
  esac
}

status_of() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
    -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$1/" || true
}

# await_200 PID PORT NAME: polls until the function answers 200, with a deadline.
await_200() {
  local pid=$1 port=$2 name=$3 deadline
  deadline=$(($(now_ms) + START_DEADLINE_SECONDS * 1000))
  until [[ "$(status_of "$port")" == 200 ]]; do
    kill -0 "$pid" 2>/dev/null || die "$name exited before answering 200: $(tail -n 5 "$WORK/$name.log")"
    (($(now_ms) < deadline)) || die "$name did not answer 200 within ${START_DEADLINE_SECONDS}s"
    sleep 0.01
  done
}

# cold_start NAME JAR TARGET: milliseconds from process start to the first 200, in COLD_MS.
cold_start() {
  local name=$1 jar=$2 target=$3 port started
  port=$(free_port)
  started=$(now_ms)
  start_function "$name" "$jar" "$target" "$port"
  await_200 "$STARTED_PID" "$port" "$name"
  COLD_MS=$(($(now_ms) - started))
  stop "$STARTED_PID"
}

median() {
  sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

PROTECTED=(protected "$FUNCTION_JAR" dev.invokerguard.function.ProtectedFunction)
HELLO=(hello "$HELLO_JAR" dev.invokerguard.benchmarks.HelloFunction)
# The invoker takes a classpath: the hello jar for the class, the function's jar for the verifier.
VERIFIER_ONLY=(verifier-only "$HELLO_JAR:$FUNCTION_JAR" dev.invokerguard.benchmarks.VerifierOnlyFunction)
GUARDED_HELLO=(guarded-hello "$HELLO_JAR:$FUNCTION_JAR" dev.invokerguard.benchmarks.GuardedHelloFunction)

echo "== cold start: process start to first 200, $COLD_STARTS times each, alternating"
: >"$WORK/cold-protected" && : >"$WORK/cold-hello"
for i in $(seq 1 "$COLD_STARTS"); do
  cold_start "${PROTECTED[@]}"
  p=$COLD_MS
  cold_start "${HELLO[@]}"
  h=$COLD_MS
  echo "   round $i: protected ${p} ms, hello ${h} ms"
  echo "$p" >>"$WORK/cold-protected"
  echo "$h" >>"$WORK/cold-hello"
done
COLD_PROTECTED=$(median <"$WORK/cold-protected")
COLD_HELLO=$(median <"$WORK/cold-hello")

# requests_per_second NAME SECONDS: one wrk run against NAME; fails if any answer was not 2xx.
# Adds the answered requests to $WORK/answered-NAME.
requests_per_second() {
  local name=$1 seconds=$2 out
  out=$(wrk -t "$THREADS" -c "$CONNECTIONS" -d "${seconds}s" \
    -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:${PORT_OF[$name]}/")
  if grep -q "Non-2xx" <<<"$out"; then
    die "wrk saw non-2xx answers from $name:"$'\n'"$out"
  fi
  awk '$2 == "requests" && $3 == "in" { print $1 }' <<<"$out" >>"$WORK/answered-$name"
  awk '$1 == "Requests/sec:" { print $2 }' <<<"$out"
}

NAMES=(protected hello guarded-hello)
if [[ "$VERIFIER_ONLY_TOO" == true ]]; then
  NAMES+=(verifier-only)
fi
declare -A SPEC_OF=(
  [protected]="${PROTECTED[*]}" [hello]="${HELLO[*]}"
  [guarded-hello]="${GUARDED_HELLO[*]}" [verifier-only]="${VERIFIER_ONLY[*]}"
)
echo "== throughput: wrk -t$THREADS -c$CONNECTIONS; $FORKS forks (fresh JVMs), each ${WARMUP}s warm-up then $ROUNDS rounds of ${DURATION}s; ${NAMES[*]}"
declare -A PORT_OF
declare -A PID_OF
# serve NAME JAR TARGET: starts the function for a fork's rounds and waits for its first 200.
serve() {
  PORT_OF[$1]=$(free_port)
  start_function "$1" "$2" "$3" "${PORT_OF[$1]}"
  PID_OF[$1]=$STARTED_PID
  await_200 "$STARTED_PID" "${PORT_OF[$1]}" "$1"
}
for name in "${NAMES[@]}"; do
  : >"$WORK/rps-$name"
  : >"$WORK/ratio-$name"
done
declare -A RPS
round=0
for fork in $(seq 1 "$FORKS"); do
  for name in "${NAMES[@]}"; do
    # The spec is three words without spaces: name, classpath, class.
    # shellcheck disable=SC2086
    serve ${SPEC_OF[$name]}
  done
  for name in "${NAMES[@]}"; do
    : >"$WORK/answered-$name"
    requests_per_second "$name" "$WARMUP" >/dev/null
  done
  for _ in $(seq 1 "$ROUNDS"); do
    round=$((round + 1))
    line="   fork $fork round $round:"
    for i in $(seq 0 $((${#NAMES[@]} - 1))); do
      name=${NAMES[$(((i + round - 1) % ${#NAMES[@]}))]}
      RPS[$name]=$(requests_per_second "$name" "$DURATION")
      echo "${RPS[$name]}" >>"$WORK/rps-$name"
      line="$line $name ${RPS[$name]%.*}"
    done
    for name in "${NAMES[@]}"; do
      [[ "$name" == hello ]] && continue # its ratio to itself is 1
      awk -v a="${RPS[$name]}" -v b="${RPS[hello]}" 'BEGIN { printf "%.4f\n", a / b }' >>"$WORK/ratio-$name"
    done
    echo "$line req/s"
  done
  # The process's write(2) calls of every kind so far (Linux /proc/PID/io "syscw": the response
  # writes on the sockets too), to show how many the decision log needs per request.
  declare -A SYSCW
  for name in "${NAMES[@]}"; do
    SYSCW[$name]=$(awk '$1 == "syscw:" { print $2 }' "/proc/${PID_OF[$name]}/io" 2>/dev/null || true)
    stop "${PID_OF[$name]}"
  done
  # The decision log must have kept up: one line per answered request, at least (start-up
  # probes add a few). A function that stopped logging would otherwise look fast.
  for name in protected guarded-hello; do
    lines=$(stdout_lines "$name")
    answered=$(awk '{ s += $1 } END { print s + 0 }' "$WORK/answered-$name")
    if [[ -n "$lines" ]]; then
      ((lines >= answered)) || die "$name wrote $lines stdout lines for $answered answered requests"
      echo "   fork $fork: $name answered $answered requests and wrote $lines decision lines"
    fi
  done
  for name in "${NAMES[@]}"; do
    answered=$(awk '{ s += $1 } END { print s + 0 }' "$WORK/answered-$name")
    if [[ -n "${SYSCW[$name]}" ]] && ((answered > 0)); then
      awk -v w="${SYSCW[$name]}" -v a="$answered" -v n="$name" -v f="$fork" \
        'BEGIN { printf "   fork %s: %s made %d write calls in all, %.2f per answered request\n", f, n, w, w / a }'
    fi
  done
done
mean() {
  awk '{ s += $1 } END { printf "%.0f", s / NR }' "$1"
}

echo "== results (ratios are protected / unprotected, same invoker, same run)"
echo "functions' stdout: $STDOUT_MODE"
line="throughput-mean-of-rounds"
for name in "${NAMES[@]}"; do
  line="$line $name=$(mean "$WORK/rps-$name") req/s"
done
echo "$line"
echo "throughput-ratios-by-round protected/hello: $(paste -sd' ' "$WORK/ratio-protected")"
echo "cold-start-median protected=${COLD_PROTECTED} ms hello=${COLD_HELLO} ms"
# The spread: each function's range, and the ratio of each alternating pair of starts.
paste -d' ' "$WORK/cold-protected" "$WORK/cold-hello" \
  | awk '{ printf "%.3f\n", $1 / $2 }' >"$WORK/cold-ratio"
echo "cold-start-spread protected=$(sort -n "$WORK/cold-protected" | sed -n '1p;$p' | paste -sd-) ms" \
  "hello=$(sort -n "$WORK/cold-hello" | sed -n '1p;$p' | paste -sd-) ms" \
  "pair-ratios=$(sort -n "$WORK/cold-ratio" | sed -n '1p;$p' | paste -sd-)" \
  "(median of the pair ratios $(median <"$WORK/cold-ratio"))"
awk -v r="$(median <"$WORK/ratio-protected")" \
  'BEGIN { printf "ratio throughput protected/unprotected = %.2f (median of rounds; target >= 0.90)\n", r }'
for name in "${NAMES[@]}"; do
  case "$name" in
    protected | hello) ;;
    *)
      awk -v r="$(median <"$WORK/ratio-$name")" -v n="$name" \
        'BEGIN { printf "(diagnostic) throughput %s/unprotected = %.2f\n", n, r }'
      ;;
  esac
done
awk -v p="$COLD_PROTECTED" -v h="$COLD_HELLO" \
  'BEGIN { printf "ratio cold-start protected/unprotected = %.2f (target <= 1.15)\n", p / h }'
