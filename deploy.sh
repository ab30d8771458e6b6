#!/usr/bin/env bash
# Deploys the invoker-guard protected Cloud Function with authentication required, and keeps the
# function's invoker IAM binding equal to the allowlist (grant missing, revoke extra, drop public).
# Run ./deploy.sh --help for usage. See docs/DEPLOY.md.
#
# Java decides, gcloud acts: the planner (deploy-plan/, run as java -jar) reads the arguments, the
# environment and the env file, checks every setting with the guard's own rules and says what to
# do; this script makes the gcloud reads, hands what they printed to the planner as JSON, and runs
# the gcloud calls the plan lists. Layout, top to bottom: constants, helpers, the planner, checks,
# reads, actions, and main, which reads as the plan.
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

die_usage() {
  printf '%s: error: %s\n' "${PROG}" "$1" >&2
  exit 2
}

die() {
  printf '%s: error: %s\n' "${PROG}" "$1" >&2
  exit 1
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
  local out="" arg
  for arg in "$@"; do
    out+="$(printf '%q' "${arg}") "
  done
  printf '%s' "${out% }"
}

join_by() {
  local IFS="$1"
  shift
  printf '%s' "$*"
}

contains() {
  local needle="$1" item
  shift
  for item in "$@"; do
    [[ "${item}" == "${needle}" ]] && return 0
  done
  return 1
}

# Runs a gcloud call that only reads. Printed in dry-run mode so the plan shows every call.
gcloud_read() {
  if [[ "${DRY_RUN}" == "true" ]]; then
    info "[read] $(render gcloud "$@")"
  fi
  gcloud "$@"
}

# Runs a gcloud call that changes something, or only prints it in dry-run mode. Its stderr is
# shown and also kept in LAST_ERR, so that a refusal can be explained.
LAST_ERR=""
gcloud_change() {
  if [[ "${DRY_RUN}" == "true" ]]; then
    info "[dry-run] $(render gcloud "$@")"
    return 0
  fi
  info "+ $(render gcloud "$@")"
  local err status=0
  err="$(mktemp)"
  gcloud "$@" 2>"${err}" || status=$?
  LAST_ERR="$(cat "${err}")"
  rm -f "${err}"
  [[ -z "${LAST_ERR}" ]] || printf '%s\n' "${LAST_ERR}" >&2
  return "${status}"
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
    command -v java 2>/dev/null || die_usage "java not found on PATH: install a JDK 17 or newer (or set JAVA_HOME)"
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
    die_usage "building the deploy planner failed: $(render "${PLANNER_BUILD_CMD[@]}")"
  [[ -f "${PLANNER_JAR}" ]] || die_usage "the build left no ${PLANNER_JAR}"
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
# an array, @info and @warn print, @action runs a gcloud call.
apply() {
  local line
  while IFS= read -r line; do
    case "${line}" in
      "") ;;
      "@info "*) info "${line#@info }" ;;
      "@warn "*) warn "${line#@warn }" ;;
      "@action "*) act "${line#@action }" ;;
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

# Runs one planned action: {"say", "gcloud": [...], "failure", "refusal": {"match", "failure"},
# "config"} (docs/DEPLOY.md, "The plan"): a config goes to a file in CONFIG_DIR (removed at exit)
# named by @CONFIG in the arguments, and is printed below the command in a dry run. A failure is
# recorded and the next action goes on.
CONFIG_DIR=""
act() {
  local fields=() args file
  mapfile -t fields < <(jq -r '.say // "", .failure, .refusal.match // "", .refusal.failure // "",
    (.config | if . == null then "" else tojson end), .gcloud[]' <<<"$1")
  args=("${fields[@]:5}")
  if [[ -n "${fields[4]}" ]]; then
    [[ -n "${CONFIG_DIR}" ]] || CONFIG_DIR="$(mktemp -d)"
    file="$(mktemp "${CONFIG_DIR}/config-XXXXXX")"
    jq . <<<"${fields[4]}" >"${file}"
    args=("${args[@]//@CONFIG/${file}}")
  fi
  [[ -z "${fields[0]}" ]] || info "${fields[0]}"
  if [[ "${DRY_RUN}" == "true" && -n "${fields[4]}" ]]; then
    gcloud_change "${args[@]}"
    sed 's/^/    /' "${file}" >&3
    return 0
  fi
  gcloud_change "${args[@]}" && return 0
  if [[ -n "${fields[2]}" ]] && grep -Eq "${fields[2]}" <<<"${LAST_ERR}"; then
    record_failure "${fields[3]}"
  else
    record_failure "${fields[1]}"
  fi
}

# Adds what a read printed to FACTS: fact NAME JSON, fact_text NAME TEXT (the planner parses it).
fact() {
  FACTS="$(jq -c --arg name "$1" --argjson value "$2" '.[$name] = $value' <<<"${FACTS}")"
}

fact_text() {
  FACTS="$(jq -c --arg name "$1" --arg value "$2" '.[$name] = $value' <<<"${FACTS}")"
}

# Runs one planner step and applies its plan.
step() {
  local out
  out="$(plan "$1")"
  apply "${out}"
}

# Reads the settings (or prints the usage for --help) through the planner's settings step.
load_settings() {
  local out
  out="$(plan settings)"
  if [[ "${out}" == HELP$'\n'* ]]; then
    printf '%s\n' "${out#HELP$'\n'}"
    exit 0
  fi
  EMAIL_READS=() ID_READS=() FUNCTION_READ=() METRIC_NAMES=()
  apply "${out}"
  readonly PROJECT REGION NAME DESIRED_GEN DRY_RUN SMOKE_SA SMOKE_TIMEOUT SMOKE_URL_OVERRIDE \
    MONITORING MONITORING_ONLY SOURCE SOURCE_KIND EMAIL_READS ID_READS FUNCTION_READ METRIC_NAMES
}

# --- checks: tools, artifact, account -----------------------------------------------------------

require_tools() {
  command -v gcloud >/dev/null 2>&1 || die_usage "gcloud not found on PATH: install the Google Cloud CLI"
  command -v jq >/dev/null 2>&1 || die_usage "jq not found on PATH: install jq (Debian package jq)"
  if [[ -n "${SMOKE_SA}" ]]; then
    command -v curl >/dev/null 2>&1 || die_usage "curl not found on PATH: --smoke-test needs it"
  fi
}

# The directory gcloud uploads (the planner checked the source, SOURCE_KIND): SOURCE itself, or for
# a jar a new directory holding only a copy of it (gcloud takes a directory; a jar given as is would
# be uploaded as a source archive), or the default artifact, built first when missing.
SOURCE_DIR="" STAGING_DIR=""
ensure_artifact() {
  SOURCE_DIR="${SOURCE}"
  if [[ "${SOURCE_KIND}" == "jar" ]]; then
    STAGING_DIR="$(mktemp -d)"
    cp "${SOURCE}" "${STAGING_DIR}/" || die_usage "cannot copy '${SOURCE}'"
    SOURCE_DIR="${STAGING_DIR}"
  elif [[ "${SOURCE_KIND}" == "build" && "${DRY_RUN}" == "true" ]]; then
    info "[dry-run] (cd $(render "${REPO_ROOT}") && $(render "${BUILD_CMD[@]}"))"
  elif [[ "${SOURCE_KIND}" == "build" ]]; then
    info "Artifact missing in ${SOURCE}: building it"
    (cd "${REPO_ROOT}" && "${BUILD_CMD[@]}") ||
      die_usage "building the function failed: $(render "${BUILD_CMD[@]}")"
    step source
  fi
}

check_account() {
  local account
  account="$(gcloud_read auth list --filter=status:ACTIVE --format='value(account)' 2>/dev/null |
    head -n 1 || true)"
  [[ -n "${account}" ]] || die_usage "gcloud is not authenticated: run 'gcloud auth login'"
  info "Acting as ${account} on project ${PROJECT}, region ${REGION}"
}

# --- reads: the project, the callers, the function, its invoker members -------------------------

# The project's number, for the deterministic run.app URL (2nd gen; the planner checks it).
read_project_number() {
  local number
  number="$(gcloud_read projects describe "${PROJECT}" --format='value(projectNumber)')" ||
    die "reading the number of project ${PROJECT} failed"
  fact_text projectNumber "${number}"
}

# Completes the allowlist: the planner lists the reads (the email of an ID given alone; with
# --pin-ids the ID of an email given alone) and judges what they printed (FACTS serviceAccounts):
# an ID whose email cannot be read stops the run, an email left unpinned is a warning.
resolve_callers() {
  local key reads='{}' out
  for key in "${EMAIL_READS[@]}" "${ID_READS[@]}"; do
    if contains "${key}" "${EMAIL_READS[@]}"; then
      out="$(gcloud_read iam service-accounts describe "${key}" --format='value(email)' 2>/dev/null)" ||
        out=""
    else
      out="$(gcloud_read iam service-accounts describe "${key}" --format='value(uniqueId)' \
        2>/dev/null)" || out=""
    fi
    reads="$(jq -c --arg key "${key}" --arg out "${out}" '.[$key] = $out' <<<"${reads}")"
  done
  fact serviceAccounts "${reads}"
  step callers
}


# Prints what a read printed as a JSON string, or null when what it reads does not exist. Any other
# failure stops (the alpha component, which the alert policy commands need, named when missing).
read_text() {
  local what="$1" out err status=0 message
  shift
  err="$(mktemp)"
  out="$(gcloud_read "$@" 2>"${err}")" || status=$?
  message="$(cat "${err}")"
  rm -f "${err}"
  if [[ ${status} -eq 0 ]]; then
    jq -n --arg out "${out}" '$out'
  elif grep -Eq 'NOT_FOUND|not found|does not exist|status=\[404\]' <<<"${message}"; then
    printf 'null'
  elif grep -qi 'component' <<<"${message}"; then
    die_usage "${what} needs the gcloud alpha component: gcloud components install alpha"
  else
    printf '%s\n' "${message}" >&2
    die "${what} failed"
  fi
}

# Describes the function; the planner checks its generation and sets EXISTS, AUDIENCES, URL,
# DEPLOY (the gcloud call) and the reads of its IAM policy and Cloud Run service.
describe_function() {
  local described
  described="$(read_text "gcloud functions describe" "${FUNCTION_READ[@]}")"
  fact function "${described}"
  replan_deploy
}

# The planner's deploy step on the facts read so far (DEPLOY carries trust mode only behind an
# invoker IAM check read on: TRUST_HELD).
replan_deploy() {
  AUDIENCES=() DEPLOY=() POLICY_READ=() SERVICE_READ=()
  step deploy
}

# Reads the 2nd gen function's Cloud Run service (SERVICE_READ) into FACTS: null when the read
# fails, so that nothing older is judged.
read_service() {
  local described
  if described="$(gcloud_read "${SERVICE_READ[@]}")"; then
    fact_text service "${described}"
  else
    fact service null
  fi
}

# 2nd gen: the invoker IAM check of the service read and, when off, switched on (read again after
# the repair), then the trust-mode gate said and the deploy replanned on what was read. Before the
# deploy a check still off with trust mode asked for stops the run (the planner's exit 2).
converge_invoker_check() {
  [[ ${#SERVICE_READ[@]} -gt 0 ]] || return 0
  if [[ "${EXISTS}" == "true" ]]; then
    read_service
    INVOKER_REPAIR=false
    step invoker-check
    if [[ "${INVOKER_REPAIR}" == "true" && "${DRY_RUN}" == "false" ]]; then
      read_service
    fi
  fi
  step trust
  replan_deploy
}

# The IAM policy the plan judges, read with POLICY_READ (the planner's), into FACTS.
read_policy() {
  local policy
  policy="$(gcloud_read "${POLICY_READ[@]}")" || die "reading the IAM policy failed"
  fact_text policy "${policy}"
}


# --- actions: deploy, converge the invoker IAM binding, say how to call, prove it -----------------

# Runs the planned deploy; a failure is recorded.
deploy_function() {
  gcloud_change "${DEPLOY[@]}" || {
    record_failure "gcloud functions deploy ${NAME}"
    return 1
  }
}

# The custom audiences missing on the Cloud Run service, judged on the service as last read.
set_custom_audiences() {
  [[ ${#SERVICE_READ[@]} -gt 0 ]] || return 0
  step audiences
}


# One request for the smoke test; prints "STATUS KIND" where KIND says who answered: google (an
# HTML page: Google's front end), guard:REASON|SAW (JSON: the function's guard; SAW is what it says
# of the token it judged, docs/FUNCTION.md "Which header") or none (no answer). HEADERS: none,
# authorization (the token in Authorization only) or both (Authorization and
# X-Serverless-Authorization, what clients send by default).
smoke_request() {
  local target="$1" headers="$2" token="${3:-}" body status type kind saw
  body="$(mktemp)"
  local args=(-sS -o "${body}" -w '%{http_code} %{content_type}' --max-time 30)
  # The token goes through a header file on stdin, never on the command line.
  [[ "${headers}" == "none" ]] || args+=(-H @-)
  read -r status type < <(smoke_headers "${headers}" "${token}" |
    curl "${args[@]}" "${target}" 2>/dev/null || printf '000 none\n')
  if [[ "${status}" == "000" ]]; then
    kind="none"
  elif [[ "${type}" == application/json* ]]; then
    saw="$(jq -r '[.tokenHeader, .tokenSignature, .serverlessHeader] | map(. // "-") | join(",")' \
      <"${body}" 2>/dev/null | head -n 1)"
    kind="guard:$(jq -r '.reason // .error // empty' <"${body}" 2>/dev/null | head -n 1)|${saw}"
  else
    kind="google"
  fi
  rm -f "${body}"
  printf '%s %s' "${status}" "${kind}"
}

smoke_headers() {
  case "$1" in
    authorization) printf 'Authorization: Bearer %s\n' "$2" ;;
    both) printf 'Authorization: Bearer %s\nX-Serverless-Authorization: Bearer %s\n' "$2" "$2" ;;
    *) : ;;
  esac
}

# Proves the deployment and says which front end it met: a request without a token must be refused
# by Google (answered by the guard, Google judged nothing: the invoker IAM check is off or a public
# grant is left); one with an ID token of SMOKE_SA for URL in both headers must get 200 from the
# guard; the same token in Authorization alone shows whether this platform strips that header
# (reported, not required). Retries with backoff until SMOKE_TIMEOUT (invoker grants take minutes
# to propagate), printing what each attempt got.
smoke_test() {
  local url="$1" target deadline delay=5 attempt=0 token anon with alone err
  target="${SMOKE_URL_OVERRIDE:-${url}}"
  deadline=$((SECONDS + SMOKE_TIMEOUT))
  info ""
  info "Smoke test: ${url} as ${SMOKE_SA}, for up to ${SMOKE_TIMEOUT} s"
  while true; do
    attempt=$((attempt + 1))
    anon="$(smoke_request "${target}" none)"
    err="$(mktemp)"
    if token="$(gcloud auth print-identity-token --impersonate-service-account="${SMOKE_SA}" \
      --audiences="${url}" --include-email 2>"${err}")" && [[ -n "${token}" ]]; then
      with="$(smoke_request "${target}" both "${token}")"
      alone="$(smoke_request "${target}" authorization "${token}")"
    else
      with="no token: $(grep -m 1 'ERROR' "${err}" || echo 'gcloud auth print-identity-token failed')"
      alone="${with}"
    fi
    rm -f "${err}"
    info "  attempt ${attempt}: without a token: $(describe_answer "${anon}"); with ${SMOKE_SA}'s token: $(describe_answer "${with}") (both headers); in Authorization alone: $(describe_answer "${alone}")"
    if [[ "${anon}" == 40[13]" google" && "${with}" == 200" "* ]]; then
      info "Smoke test passed: Google refuses a call without a token, the guard answers ${SMOKE_SA} with 200."
      if [[ "${alone}" == 200" "* ]]; then
        info "Clients: send the token in both headers (the default of invoke and IdTokenAuthenticator); here a token in Authorization alone arrived intact too."
      else
        info "Clients: send the token in both headers (the default of invoke and IdTokenAuthenticator); here a token in Authorization alone got $(describe_answer "${alone}"), so Authorization-only clients fail on this platform."
      fi
      return 0
    fi
    if ((SECONDS + delay > deadline)); then
      if [[ "${anon}" == *" guard:"* ]]; then
        record_failure "smoke test: a call without a token reached the guard ($(describe_answer "${anon}")): Google judged nothing, so the invoker IAM check is off or a public grant is left; see docs/DEPLOY.md, 'Which 403 is this'"
      else
        record_failure "smoke test: no pass within ${SMOKE_TIMEOUT} s (last: without a token $(describe_answer "${anon}"); with a token $(describe_answer "${with}")); see docs/DEPLOY.md, 'Which 403 is this'"
      fi
      return 1
    fi
    sleep "${delay}"
    delay=$((delay * 2 > 60 ? 60 : delay * 2))
  done
}

# "STATUS KIND" (smoke_request) as a phrase; for the guard, what it saw of the token: the header
# the deciding token came from and whether it was intact, and the X-Serverless-Authorization state.
describe_answer() {
  local -a saw
  case "$1" in
    "000 none") printf 'no answer' ;;
    *" google") printf '%s from Google (HTML; IAM: no invoker grant seen yet, or no valid token)' "${1%% *}" ;;
    *" guard:"*)
      IFS=, read -r -a saw <<<"${1#*|}"
      if [[ "${1}" == 200" "* ]]; then
        printf '200 (guard: token from %s)' "$(saw_phrase "${saw[@]}")"
      else
        local reason="${1#* guard:}"
        printf '%s from the guard (JSON, %s; token from %s)' "${1%% *}" "${reason%%|*}" \
          "$(saw_phrase "${saw[@]}")"
      fi
      ;;
    *) printf '%s' "$1" ;;
  esac
}

# tokenHeader tokenSignature serverlessHeader ("-" when the guard did not say) as a phrase.
saw_phrase() {
  if [[ "${1:--}" == "-" ]]; then
    printf 'no header'
  else
    printf '%s, %s; X-Serverless-Authorization %s' "$1" "${2:--}" "${3:--}"
  fi
}

# --- monitoring: log-based metrics, alert policies, dashboard (--monitoring) ---------------------

# Reads the metrics, alert policies and dashboards into FACTS, before any change: a read that
# fails (no permission, no alpha component) stops the run with nothing changed.
read_monitoring() {
  local name metrics='{}' out
  local project=(--project="${PROJECT}" --format=json)
  for name in "${METRIC_NAMES[@]}"; do
    out="$(read_text "gcloud logging metrics describe ${name}" logging metrics describe "${name}" \
      "${project[@]}")"
    metrics="$(jq -c --arg name "${name}" --argjson out "${out}" '.[$name] = $out' <<<"${metrics}")"
  done
  fact metrics "${metrics}"
  out="$(read_text "gcloud alpha monitoring policies list" alpha monitoring policies list \
    "${project[@]}")"
  fact policies "${out}"
  out="$(read_text "gcloud monitoring dashboards list" monitoring dashboards list "${project[@]}")"
  fact dashboards "${out}"
}

# Creates or updates (only what differs) the metrics, alert policies and dashboard as planned. A
# failed change is recorded and the next one tried.
setup_monitoring() {
  info ""
  info "Monitoring of ${NAME}: log-based metrics, alert policies, dashboard (docs/FUNCTION.md, Monitoring)"
  step monitoring
}

# Removes what this run made in temporary directories.
cleanup() {
  [[ -z "${STAGING_DIR}" ]] || rm -rf "${STAGING_DIR}"
  [[ -z "${CONFIG_DIR}" ]] || rm -rf "${CONFIG_DIR}"
}

# --- the plan -----------------------------------------------------------------------------------

main() {
  exec 3>&1
  local EXISTS=false AUDIENCES=() DEPLOY=() URL="" POLICY_READ=() SERVICE_READ=() first=""
  local deployed=true TRUST_HELD=false INVOKER_REPAIR=false held=""

  trap cleanup EXIT
  ARGS=("$@")
  JAVA="$(java_cmd)"
  readonly JAVA
  ensure_planner
  load_settings
  require_tools
  [[ "${MONITORING_ONLY}" == "true" ]] || ensure_artifact
  check_account
  if [[ "${MONITORING_ONLY}" == "false" ]]; then
    [[ "${DESIRED_GEN}" == "1" ]] || read_project_number
    fact_text sourceDir "${SOURCE_DIR}"
    resolve_callers
  fi

  # --monitoring-only reads the function to check its generation; it need not exist yet.
  describe_function
  first="$(join_by , "${AUDIENCES[@]}")"
  # Every monitoring read before any change: a refused read stops with nothing changed.
  [[ "${MONITORING}" == "false" ]] || read_monitoring
  [[ "${MONITORING_ONLY}" == "false" ]] || { monitoring_only; return; }

  if [[ "${EXISTS}" == "true" ]]; then
    # Read before deploying: on 2nd gen gcloud's own deploy (--no-allow-unauthenticated) drops
    # allUsers from the service quietly, and the operator should hear that it was there.
    read_policy
    step iam-before
  fi
  # Before the deploy: trust mode goes out only behind an invoker IAM check read on.
  converge_invoker_check

  deploy_function || deployed=false
  held="${TRUST_HELD}"
  if [[ "${DRY_RUN}" == "false" ]]; then
    describe_function
    [[ "${EXISTS}" == "true" ]] || die "function ${NAME} not found after deploying it"
    fact deployed true
    converge_invoker_check
    if [[ "${deployed}" == "true" && "$(join_by , "${AUDIENCES[@]}")" != "${first}" ]]; then
      # First deploy of a 2nd gen function: its serviceConfig.uri exists only now.
      info "The function answers at a URL it did not know yet: redeploying with EXPECTED_AUDIENCES=$(join_by , "${AUDIENCES[@]}")"
      deploy_function || true
    elif [[ "${deployed}" == "true" && "${TRUST_HELD}" != "${held}" ]]; then
      info "Redeploying with TRUST_PLATFORM_VERIFIED_TOKENS=${TRUST_HELD}: the invoker IAM check now reads $([[ "${TRUST_HELD}" == "true" ]] && echo on || echo 'off or unknown')"
      deploy_function || true
    fi
  fi
  if [[ "${EXISTS}" == "true" ]]; then
    set_custom_audiences
    read_policy
  else
    # A dry run of a first deploy: nothing exists yet, so nobody holds the role.
    fact_text policy '{}'
  fi
  step iam
  [[ "${MONITORING}" == "false" ]] || setup_monitoring
  step summary

  if [[ "${DRY_RUN}" == "true" ]]; then
    info ""
    [[ -z "${SMOKE_SA}" ]] || info "[dry-run] smoke test as ${SMOKE_SA} not run"
    info "Dry run: nothing was changed."
  elif [[ -n "${SMOKE_SA}" && ${#FAILURES[@]} -eq 0 ]]; then
    smoke_test "${URL}" || true
  elif [[ -n "${SMOKE_SA}" ]]; then
    info ""
    info "Smoke test not run: the changes above failed first."
  fi
  exit_with_failures
}

# --monitoring-only: neither deploy nor IAM; the metrics, alert policies and dashboard only.
monitoring_only() {
  setup_monitoring
  if [[ "${DRY_RUN}" == "true" ]]; then
    info ""
    info "Dry run: nothing was changed."
  fi
  exit_with_failures
}

# Every failure recorded is listed at the end, and the exit code is 1.
exit_with_failures() {
  if [[ ${#FAILURES[@]} -gt 0 ]]; then
    printf '\n%s: %d failure(s); the rest was done (rerun after fixing: the script converges):\n' \
      "${PROG}" "${#FAILURES[@]}" >&2
    printf '  - %s\n' "${FAILURES[@]}" >&2
    exit 1
  fi
}

main "$@"
