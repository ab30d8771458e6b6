#!/usr/bin/env bash
# Deploys the invoker-guard protected Cloud Function with authentication required, and keeps the
# function's invoker IAM binding equal to the allowlist (grant missing, revoke extra, drop public).
# Run ./deploy.sh --help for usage. See docs/DEPLOY.md.
#
# Java decides, gcloud acts: the planner (deploy-plan/, run as java -jar) reads the arguments, the
# environment and the env file, checks every setting with the guard's own rules and says what to
# read and what to do; this script runs the gcloud reads it lists, hands what they printed to the
# planner as JSON, and runs the gcloud calls the plan lists. Layout, top to bottom: constants,
# helpers, the planner, reads and actions, checks, the smoke test, and main, which reads as the plan.
set -euo pipefail

# --- constants ----------------------------------------------------------------------------------

readonly PROG="deploy.sh"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly REPO_ROOT
readonly BUILD_CMD=("${REPO_ROOT}/mvnw" -q -pl function -am package -DskipTests)
readonly PLANNER_JAR="${REPO_ROOT}/deploy-plan/target/deploy-plan.jar"
readonly PLANNER_BUILD_CMD=("${REPO_ROOT}/mvnw" -q -pl deploy-plan -am package -DskipTests)
# What the planner is built from: a jar older than any of these is rebuilt.
readonly PLANNER_SOURCES=(deploy-plan verifier/src/main verifier-functions/src/main pom.xml
  verifier/pom.xml verifier-functions/pom.xml)

# --- helpers ------------------------------------------------------------------------------------

# die MESSAGE [CODE]: one line on stderr, exit CODE (default 1; 2: bad input, nothing changed).
die() {
  printf '%s: error: %s\n' "${PROG}" "$1" >&2
  exit "${2:-1}"
}

# Progress and plan lines go to fd 3 (the original stdout, opened by main), so that functions whose
# stdout is captured with $(...) can still print them in order.
info() {
  printf '%s\n' "$*" >&3
}

warn() {
  printf '%s: WARNING: %s\n' "${PROG}" "$*" >&2
}

# Shell-quoted rendering of a command, so a printed command can be pasted back.
render() {
  local out
  printf -v out '%q ' "$@"
  printf '%s' "${out% }"
}

# Changes that failed; main lists them at the end and exits 1.
FAILURES=()
record_failure() {
  FAILURES+=("$1")
  printf '%s: FAILED: %s\n' "${PROG}" "$1" >&2
}

# --- the planner: deploy-plan/target/deploy-plan.jar ---------------------------------------------

# deploy.sh's arguments, passed to every planner step as given; FACTS: what gcloud read so far, one
# JSON object (docs/DEPLOY.md, "The plan").
ARGS=()
FACTS='{}'

java_cmd() {
  if [[ -n "${JAVA_HOME:-}" && -x "${JAVA_HOME}/bin/java" ]]; then
    printf '%s' "${JAVA_HOME}/bin/java"
  else
    command -v java 2>/dev/null || die "java not found on PATH: install a JDK 17 or newer (or set JAVA_HOME)" 2
  fi
}

# Builds the planner when its jar is missing or older than its sources (a pull changed them).
ensure_planner() {
  local stale=""
  if [[ -f "${PLANNER_JAR}" ]]; then
    # No find (a narrowed PATH): the jar is taken as it is.
    stale="$(cd "${REPO_ROOT}" && { find "${PLANNER_SOURCES[@]}" -newer "${PLANNER_JAR}" -type f \
      -not -path '*/target/*' -print -quit 2>/dev/null || true; })"
    [[ -n "${stale}" ]] || return 0
  fi
  info "Building the deploy planner: (cd $(render "${REPO_ROOT}") && $(render "${PLANNER_BUILD_CMD[@]}"))"
  (cd "${REPO_ROOT}" && "${PLANNER_BUILD_CMD[@]}") ||
    die "building the deploy planner failed: $(render "${PLANNER_BUILD_CMD[@]}")" 2
  [[ -f "${PLANNER_JAR}" ]] || die "the build left no ${PLANNER_JAR}" 2
}

# One planner step with FACTS on stdin; prints its plan lines. A refusal was printed by the planner
# and ends the script with its exit code (2: nothing was changed).
plan() {
  local out status=0
  out="$("${JAVA}" -jar "${PLANNER_JAR}" "$1" "${ARGS[@]}" <<<"${FACTS}")" || status=$?
  [[ ${status} -eq 0 ]] || exit "${status}"
  printf '%s' "${out}"
}

# Applies plan lines (one planner step's output): NAME=VALUE sets a variable, NAME+=VALUE appends to
# an array, @info, @warn and @fail print (@fail records a failure), @action runs a gcloud call.
apply() {
  local line
  while IFS= read -r line; do
    case "${line}" in
      "") ;;
      "@info "*) info "${line#@info }" ;;
      "@warn "*) warn "${line#@warn }" ;;
      "@fail "*) record_failure "${line#@fail }" ;;
      "@action "*) act "${line#@action }" || true ;;
      *)
        [[ "${line}" =~ ^([A-Z_]+)(\+?)=(.*)$ ]] || die "bad plan line: ${line}"
        if [[ -n "${BASH_REMATCH[2]}" ]]; then
          eval "${BASH_REMATCH[1]}+=(\"\${BASH_REMATCH[3]}\")"
        else
          printf -v "${BASH_REMATCH[1]}" '%s' "${BASH_REMATCH[3]}"
        fi
        ;;
    esac
  done <<<"$1"
}

# Runs one planner step and applies its plan.
step() {
  local out
  out="$(plan "$1")"
  apply "${out}"
}

# Adds a fact: fact NAME JSON.
fact() {
  FACTS="$(jq -c --arg name "$1" --argjson value "$2" '.[$name] = $value' <<<"${FACTS}")"
}

# --- reads and actions, as the plan lists them ---------------------------------------------------

# Runs planned reads ({"fact", "key", "gcloud": [...], "absent"}; docs/DEPLOY.md, "The plan") into
# FACTS: what gcloud printed, or on failure the read with gcloud's error output added, which the
# next planner step settles (absent, a refusal, or a stop) before any change.
read_facts() {
  local read args=() out err ok
  err="$(mktemp)"
  for read in "$@"; do
    mapfile -t args < <(jq -r '.gcloud[]' <<<"${read}")
    [[ "${DRY_RUN}" != "true" ]] || info "[read] $(render gcloud "${args[@]}")"
    ok=true
    out="$(gcloud "${args[@]}" 2>"${err}")" || ok=false
    FACTS="$(jq -c --argjson read "${read}" --arg out "${out}" --rawfile err "${err}" \
      --argjson ok "${ok}" '(if $ok then $out else $read + {error: $err} end) as $value
      | if $read.key then .[$read.fact][$read.key] = $value else .[$read.fact] = $value end' \
      <<<"${FACTS}")"
  done
  rm -f "${err}"
}

# Runs one planned action: {"say", "gcloud": [...], "failure", "refusal": {"match", "failure"},
# "config"} (docs/DEPLOY.md, "The plan"). A dry run prints its JSON line instead. A config goes to
# a file in CONFIG_DIR (removed at exit) named by @CONFIG in the arguments. A failure is recorded
# and returns 1; the caller goes on.
CONFIG_DIR=""
act() {
  local fields=() args file err status=0
  mapfile -t fields < <(jq -r '.say, .failure, .refusal.match // "", .refusal.failure // "",
    (.config | if . == null then "" else tojson end), .gcloud[]' <<<"$1")
  info "${fields[0]}"
  if [[ "${DRY_RUN}" == "true" ]]; then
    info "$1"
    return 0
  fi
  args=("${fields[@]:5}")
  if [[ -n "${fields[4]}" ]]; then
    [[ -n "${CONFIG_DIR}" ]] || CONFIG_DIR="$(mktemp -d)"
    file="$(mktemp "${CONFIG_DIR}/config-XXXXXX")"
    jq . <<<"${fields[4]}" >"${file}"
    args=("${args[@]//@CONFIG/${file}}")
  fi
  info "+ $(render gcloud "${args[@]}")"
  err="$(mktemp)"
  gcloud "${args[@]}" 2>"${err}" || status=$?
  [[ ! -s "${err}" ]] || cat "${err}" >&2
  if [[ ${status} -ne 0 && -n "${fields[2]}" ]] && grep -Eq "${fields[2]}" "${err}"; then
    record_failure "${fields[3]}"
  elif [[ ${status} -ne 0 ]]; then
    record_failure "${fields[1]}"
  fi
  rm -f "${err}"
  return "${status}"
}

# Reads the settings (or prints the usage for --help) through the planner's settings step.
load_settings() {
  local out
  out="$(plan settings)"
  if [[ "${out}" == HELP$'\n'* ]]; then
    printf '%s\n' "${out#HELP$'\n'}"
    exit 0
  fi
  READS=() READS_MONITORING=()
  apply "${out}"
  readonly PROJECT REGION NAME DRY_RUN SMOKE_SA SMOKE_TIMEOUT SMOKE_URL_OVERRIDE MONITORING \
    MONITORING_ONLY SOURCE SOURCE_KIND READS READ_FUNCTION READS_MONITORING
}

# --- checks: tools, artifact, account -----------------------------------------------------------

require_tools() {
  command -v gcloud >/dev/null 2>&1 || die "gcloud not found on PATH: install the Google Cloud CLI" 2
  command -v jq >/dev/null 2>&1 || die "jq not found on PATH: install jq (Debian package jq)" 2
  [[ -z "${SMOKE_SA}" ]] || command -v curl >/dev/null 2>&1 ||
    die "curl not found on PATH: --smoke-test needs it" 2
}

# The directory gcloud uploads (the planner checked the source, SOURCE_KIND): SOURCE itself, or for
# a jar a new directory holding only a copy of it (gcloud takes a directory; a jar given as is would
# be uploaded as a source archive), or the default artifact, built first when missing.
SOURCE_DIR="" STAGING_DIR=""
ensure_artifact() {
  SOURCE_DIR="${SOURCE}"
  if [[ "${SOURCE_KIND}" == "jar" ]]; then
    STAGING_DIR="$(mktemp -d)"
    cp "${SOURCE}" "${STAGING_DIR}/" || die "cannot copy '${SOURCE}'" 2
    SOURCE_DIR="${STAGING_DIR}"
  elif [[ "${SOURCE_KIND}" == "build" && "${DRY_RUN}" == "true" ]]; then
    info "[dry-run] (cd $(render "${REPO_ROOT}") && $(render "${BUILD_CMD[@]}"))"
  elif [[ "${SOURCE_KIND}" == "build" ]]; then
    info "Artifact missing in ${SOURCE}: building it"
    (cd "${REPO_ROOT}" && "${BUILD_CMD[@]}") ||
      die "building the function failed: $(render "${BUILD_CMD[@]}")" 2
    step source
  fi
}

check_account() {
  local account
  [[ "${DRY_RUN}" != "true" ]] || info "[read] gcloud auth list --filter=status:ACTIVE --format=value\(account\)"
  account="$(gcloud auth list --filter=status:ACTIVE --format='value(account)' 2>/dev/null |
    head -n 1 || true)"
  [[ -n "${account}" ]] || die "gcloud is not authenticated: run 'gcloud auth login'" 2
  info "Acting as ${account} on project ${PROJECT}, region ${REGION}"
}

# Describes the function and replans the deploy on it: EXISTS, URL, DEPLOY (the action), REDEPLOY
# and the reads of its IAM policy and Cloud Run service (READ_POLICY, READ_SERVICE).
describe_function() {
  read_facts "${READ_FUNCTION}"
  step deploy
}

# 2nd gen: the invoker IAM check of the service read and, when off, switched on (read again after
# the repair), then the trust-mode gate said. Before the deploy a check still off with trust mode
# asked for stops the run (the planner's exit 2). The deploy is replanned on what was read.
converge_invoker_check() {
  if [[ -n "${READ_SERVICE}" ]]; then
    if [[ "${EXISTS}" == "true" ]]; then
      read_facts "${READ_SERVICE}"
      INVOKER_REPAIR=false
      step invoker-check
      [[ "${INVOKER_REPAIR}" == "false" ]] || read_facts "${READ_SERVICE}"
    fi
    step trust
  fi
  step deploy
}

# --- the smoke test (docs/DEPLOY.md, "Proving it"): the calls here, the judgement in the planner ---

# One call to TARGET; prints what it got as JSON: status, content type and the fields of a JSON
# answer that say what the guard saw (never the token). HEADERS: none, authorization (the token in
# Authorization only) or both (Authorization and X-Serverless-Authorization).
smoke_call() {
  local target="$1" headers="$2" token="${3:-}" body status type lines=""
  body="$(mktemp)"
  local args=(-sS -o "${body}" -w '%{http_code} %{content_type}' --max-time 30)
  # The token goes through a header file on stdin (printf is a builtin), never on a command line.
  [[ "${headers}" == "none" ]] || args+=(-H @-) lines="Authorization: Bearer ${token}"
  [[ "${headers}" != "both" ]] || lines+=$'\n'"X-Serverless-Authorization: Bearer ${token}"
  read -r status type < <(printf '%s\n' "${lines}" | curl "${args[@]}" "${target}" 2>/dev/null ||
    printf '000 none\n')
  jq -n --arg status "${status}" --arg type "${type:-}" --rawfile body "${body}" \
    '{status: $status, type: $type, answer: (($body | fromjson? | objects
      | {reason, error, tokenHeader, tokenSignature, serverlessHeader}) // null)}'
  rm -f "${body}"
}

# Calls the function without a token, with an ID token of SMOKE_SA for URL in both headers, and in
# Authorization alone; the planner's smoke step judges each attempt (SMOKE=pass|retry|fail).
# Retries with backoff until SMOKE_TIMEOUT: invoker grants take minutes to propagate.
smoke_test() {
  local target="${SMOKE_URL_OVERRIDE:-${URL}}" deadline=$((SECONDS + SMOKE_TIMEOUT)) delay=5
  local attempt=0 none token both alone err last SMOKE=""
  while true; do
    attempt=$((attempt + 1))
    none="$(smoke_call "${target}" none)"
    err="$(mktemp)"
    if token="$(gcloud auth print-identity-token --impersonate-service-account="${SMOKE_SA}" \
      --audiences="${URL}" --include-email 2>"${err}")" && [[ -n "${token}" ]]; then
      both="$(smoke_call "${target}" both "${token}")"
      alone="$(smoke_call "${target}" authorization "${token}")"
    else
      both="$(jq -n --arg error "$(grep -m 1 'ERROR' "${err}" || true)" '{tokenError: $error}')"
      alone="${both}"
    fi
    rm -f "${err}"
    last=false
    ((SECONDS + delay <= deadline)) || last=true
    fact smoke "$(jq -n --argjson attempt "${attempt}" --argjson last "${last}" \
      --argjson none "${none}" --argjson both "${both}" --argjson alone "${alone}" \
      '{attempt: $attempt, last: $last, none: $none, both: $both, authorization: $alone}')"
    step smoke
    [[ "${SMOKE}" == "retry" ]] || return 0
    sleep "${delay}"
    delay=$((delay * 2 > 60 ? 60 : delay * 2))
  done
}

# A dry run ends saying so; the smoke test runs only after changes that all went through. Every
# failure recorded is listed at the end, and the exit code is 1.
finish() {
  if [[ "${DRY_RUN}" == "true" ]]; then
    info ""
    [[ -z "${SMOKE_SA}" ]] || info "[dry-run] smoke test as ${SMOKE_SA} not run"
    info "Dry run: nothing was changed."
  elif [[ -n "${SMOKE_SA}" && ${#FAILURES[@]} -eq 0 ]]; then
    smoke_test
  elif [[ -n "${SMOKE_SA}" ]]; then
    info ""
    info "Smoke test not run: the changes above failed first."
  fi
  [[ ${#FAILURES[@]} -gt 0 ]] || return 0
  printf '\n%s: %d failure(s); the rest was done (rerun after fixing: the script converges):\n' \
    "${PROG}" "${#FAILURES[@]}" >&2
  printf '  - %s\n' "${FAILURES[@]}" >&2
  exit 1
}

# --- the plan -----------------------------------------------------------------------------------

main() {
  exec 3>&1
  local EXISTS=false URL="" DEPLOY="" REDEPLOY=false READ_POLICY="" READ_SERVICE="" INVOKER_REPAIR=false

  # What this run made in temporary directories goes at exit.
  trap '[[ -z "${STAGING_DIR}${CONFIG_DIR}" ]] || rm -rf "${STAGING_DIR}" "${CONFIG_DIR}"' EXIT
  ARGS=("$@")
  JAVA="$(java_cmd)"
  readonly JAVA
  ensure_planner
  load_settings
  require_tools
  [[ "${MONITORING_ONLY}" == "true" ]] || ensure_artifact
  check_account
  fact sourceDir "$(jq -n --arg dir "${SOURCE_DIR}" '$dir')"
  if [[ "${MONITORING_ONLY}" == "false" ]]; then
    # The project number and the callers' service accounts, judged before the function is read.
    read_facts "${READS[@]}"
    step callers
  fi

  # --monitoring-only reads the function to check its generation; it need not exist yet.
  describe_function
  # Every monitoring read before any change: a refused read stops with nothing changed.
  read_facts "${READS_MONITORING[@]}"
  [[ "${MONITORING_ONLY}" == "false" ]] || { step monitoring; finish; return; }

  if [[ "${EXISTS}" == "true" ]]; then
    # Read before deploying: on 2nd gen gcloud's own deploy (--no-allow-unauthenticated) drops
    # allUsers from the service quietly, and the operator should hear that it was there.
    read_facts "${READ_POLICY}"
    step iam-before
  fi
  # Before the deploy: trust mode goes out only behind an invoker IAM check read on.
  converge_invoker_check

  # deployed: the deploy that went out (the planner compares the one planned next with it).
  if ! act "${DEPLOY}"; then
    fact deployed true
  elif [[ "${DRY_RUN}" == "false" ]]; then
    fact deployed "${DEPLOY}"
  fi
  if [[ "${DRY_RUN}" == "false" ]]; then
    describe_function
    [[ "${EXISTS}" == "true" ]] || die "function ${NAME} not found after deploying it"
    converge_invoker_check
    # The planner compares the deploy planned now with the one sent (a URL known only after a first
    # 2nd gen deploy, trust mode behind the check read on) and says why it deploys again.
    [[ "${REDEPLOY}" == "false" ]] || act "${DEPLOY}" || true
  fi
  if [[ "${EXISTS}" == "true" ]]; then
    [[ -z "${READ_SERVICE}" ]] || step audiences
    read_facts "${READ_POLICY}"
  else
    # A dry run of a first deploy: nothing exists yet, so nobody holds the role.
    fact policy '"{}"'
  fi
  step iam
  [[ "${MONITORING}" == "false" ]] || step monitoring
  step summary
  finish
}

main "$@"
