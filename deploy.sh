#!/usr/bin/env bash
# Deploys the invoker-guard protected Cloud Function with authentication required, and keeps the
# function's invoker IAM binding equal to the allowlist (grant missing, revoke extra, drop public).
# Run ./deploy.sh --help for usage. See docs/DEPLOY.md.
#
# Layout, top to bottom: constants, helpers, arguments and settings (read-only once checked),
# checks, reads, actions, and main, which reads as the plan. Sourcing this file only defines
# them: deploy-test's AllowlistAgreementTest calls allowlist_from that way.
set -euo pipefail

# --- constants ----------------------------------------------------------------------------------

readonly PROG="deploy.sh"
readonly DEFAULT_ENTRY_POINT="dev.invokerguard.function.ProtectedFunction"
readonly DEFAULT_NAME="invoker-guard"
readonly DEFAULT_RUNTIME="java21"
# gcloud splits --set-env-vars on commas unless an alternate delimiter is declared with ^DELIM^
# (gcloud topic escaping). Emails contain '@' and URLs contain ':', so neither can be the delimiter;
# '|' can appear in no validated email or URL, and env_vars_arg() still refuses any value holding it.
readonly ENV_DELIM="|"
# Same rule as ServiceAccountAllowlist.isServiceAccountEmail in the verifier (matched lower-cased,
# ASCII only: see is_sa_email). AllowlistAgreementTest feeds both the same inputs.
readonly SA_EMAIL_RE='^[a-z0-9]([a-z0-9._-]{0,98}[a-z0-9])?@([a-z0-9]([a-z0-9.-]{0,98}[a-z0-9])?\.iam|developer|appspot)\.gserviceaccount\.com$'
# The characters around an allowlist entry that are ignored: the ASCII ones Java's String.strip()
# removes, as ServiceAccountAllowlist does with ALLOWED_INVOKERS.
readonly ENTRY_PADDING=$' \t\n\v\f\r\x1c\x1d\x1e\x1f'
# Same rule as ServiceAccountAllowlist's unique IDs: 10 to 30 digits, no leading zero.
readonly UNIQUE_ID_RE='^[1-9][0-9]{9,29}$'
# A Java class name: dotted identifiers (ASCII letters, digits, _ and $).
readonly CLASS_RE='^[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*)*$'
# A custom audience: an https URL without spaces, commas or the env delimiter.
readonly AUDIENCE_RE='^https://[A-Za-z0-9.-]+(:[0-9]+)?(/[^[:space:],|]*)?$'
# Where smoke-test requests go instead of the function's URL, for tests against a local stand-in
# only: loopback and plain http (the token's audience stays the function's URL).
readonly SMOKE_OVERRIDE_RE='^http://127\.0\.0\.1:[0-9]{1,5}/?$'
readonly DEFAULT_SMOKE_TIMEOUT=300
readonly PROJECT_RE='^[a-z][a-z0-9-]{4,28}[a-z0-9]$'
readonly REGION_RE='^[a-z]+(-[a-z]+)+[0-9]+$'
# Lower case only: for 2nd gen the name becomes a Cloud Run service name, and it is part of the
# audience URL, which must match the token's aud exactly.
readonly NAME_RE='^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$'
readonly RUNTIME_RE='^java[0-9]+$'
readonly RUN_APP_URL_RE='^https://[a-z0-9]([a-z0-9.-]*[a-z0-9])?\.run\.app$'
readonly FUNCTIONS_URL_RE='^https://[a-z0-9]([a-z0-9.-]*[a-z0-9])?\.cloudfunctions\.net/[a-z0-9_-]+$'
readonly KNOWN_KEYS=(INVOKER_GUARD_PROJECT INVOKER_GUARD_REGION INVOKER_GUARD_ALLOW INVOKER_GUARD_NAME
  INVOKER_GUARD_GEN1 INVOKER_GUARD_RUNTIME INVOKER_GUARD_SERVICE_ACCOUNT INVOKER_GUARD_SOURCE
  INVOKER_GUARD_DRY_RUN INVOKER_GUARD_ENTRY_POINT INVOKER_GUARD_AUDIENCES INVOKER_GUARD_PIN_IDS
  INVOKER_GUARD_SMOKE_TEST INVOKER_GUARD_SMOKE_TEST_TIMEOUT
  INVOKER_GUARD_TRUST_PLATFORM_VERIFIED_TOKENS INVOKER_GUARD_CLOCK_SKEW_SECONDS
  INVOKER_GUARD_KEY_FETCH_TIMEOUT_SECONDS INVOKER_GUARD_KEY_REFETCH_INTERVAL_SECONDS
  INVOKER_GUARD_MONITORING INVOKER_GUARD_MONITORING_ONLY INVOKER_GUARD_DENIED_ALERT_THRESHOLD
  INVOKER_GUARD_ALERT_WINDOW_MINUTES INVOKER_GUARD_NOTIFICATION_CHANNELS)
# The guard's settings (verifier-functions GuardConfig) deploy.sh sets when given, each with the
# range GuardConfig accepts ("bool" for exactly true or false). Not given: left as the function has
# it. JWKS_URL and TOKEN_ISSUERS are not offered: on Google Cloud the guard accepts Google's only.
readonly GUARD_SETTINGS=(TRUST_PLATFORM_VERIFIED_TOKENS:bool CLOCK_SKEW_SECONDS:0:300
  KEY_FETCH_TIMEOUT_SECONDS:1:60 KEY_REFETCH_INTERVAL_SECONDS:1:3600)

# Monitoring (--monitoring): the alert on denials fires when more than this many requests are
# denied within the window; the keys-unavailable alert fires on any such line within it.
readonly DEFAULT_DENIED_ALERT_THRESHOLD=20
readonly DEFAULT_ALERT_WINDOW_MINUTES=5
# A notification channel: its numeric ID, or its full name in the host project.
readonly CHANNEL_ID_RE='^[0-9]{1,30}$'
readonly CHANNEL_NAME_RE='^projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/notificationChannels/[0-9]{1,30}$'

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly REPO_ROOT
readonly DEFAULT_SOURCE="${REPO_ROOT}/function/target/deploy"
readonly BUILD_CMD=("${REPO_ROOT}/mvnw" -q -pl function -am package -DskipTests)

# --- helpers ------------------------------------------------------------------------------------

usage() {
  cat <<'EOF'
Usage: ./deploy.sh --project HOST_PROJECT --region REGION --allow CALLER [--allow CALLER ...]
                   [--name NAME] [--gen1] [--runtime RUNTIME] [--service-account RUNTIME_SA]
                   [--entry-point CLASS] [--source DIR_OR_JAR] [--audience URL ...] [--pin-ids]
                   [--clock-skew-seconds N] [--key-fetch-timeout-seconds N]
                   [--key-refetch-interval-seconds N] [--trust-platform-verified-tokens true|false]
                   [--smoke-test SA_EMAIL] [--smoke-test-timeout SECONDS]
                   [--monitoring | --monitoring-only] [--denied-alert-threshold N]
                   [--alert-window-minutes M] [--notification-channel ID ...]
                   [--env-file FILE] [--dry-run]

Deploys an HTTP Cloud Function protected by invoker-guard (by default the sample,
dev.invokerguard.function.ProtectedFunction) with authentication required
(--no-allow-unauthenticated), sets the guard's environment variables and leaves every
other variable as it is, and makes the invoker role on the function hold exactly the
allowlisted service accounts: public members are removed first, missing accounts are
granted, any other unconditional member is revoked. A failed change does not stop the
others; every failure is listed at the end.

CALLER is SA_EMAIL (granted, and listed in ALLOWED_INVOKERS), SA_EMAIL=UNIQUE_ID (granted
by email, pinned: only the numeric ID goes into ALLOWED_INVOKERS, so an account re-created
under the same email is refused), or UNIQUE_ID alone (its email is read with
gcloud iam service-accounts describe, for the grant).

Options (each also settable by an environment variable, or by a KEY=VALUE line in the env file):
  --project ID            host project                        INVOKER_GUARD_PROJECT
  --region REGION         e.g. europe-west1                   INVOKER_GUARD_REGION
  --allow CALLER          allowlisted caller, repeatable      INVOKER_GUARD_ALLOW (comma-separated)
  --name NAME             function name (default invoker-guard) INVOKER_GUARD_NAME
  --gen1                  deploy 1st gen (default: 2nd gen)   INVOKER_GUARD_GEN1=true|false
  --runtime RUNTIME       Java runtime (default java21)       INVOKER_GUARD_RUNTIME
  --service-account SA    runtime service account             INVOKER_GUARD_SERVICE_ACCOUNT
  --entry-point CLASS     the function's class                INVOKER_GUARD_ENTRY_POINT
                          (default dev.invokerguard.function.ProtectedFunction)
  --source DIR_OR_JAR     a directory with exactly one jar, or a jar INVOKER_GUARD_SOURCE
                          (default function/target/deploy; built with
                          ./mvnw -q -pl function -am package -DskipTests when missing)
  --audience URL          custom audience, repeatable (2nd gen): INVOKER_GUARD_AUDIENCES
                          expected by the guard and set on the Cloud Run service
  --pin-ids               read the unique ID of every email given INVOKER_GUARD_PIN_IDS=true|false
                          without one (gcloud iam service-accounts describe) and pin it;
                          where that is not allowed the entry stays unpinned, with a warning
  --clock-skew-seconds N            0-300      INVOKER_GUARD_CLOCK_SKEW_SECONDS
  --key-fetch-timeout-seconds N     1-60       INVOKER_GUARD_KEY_FETCH_TIMEOUT_SECONDS
  --key-refetch-interval-seconds N  1-3600     INVOKER_GUARD_KEY_REFETCH_INTERVAL_SECONDS
  --trust-platform-verified-tokens true|false  INVOKER_GUARD_TRUST_PLATFORM_VERIFIED_TOKENS
                          the guard's settings (docs/FUNCTION.md); not given: left as they are
  --smoke-test SA_EMAIL   after deploying, prove it: no token refused by Google, a token of
                          SA_EMAIL (an allowlisted account you may impersonate) gets 200
                                                              INVOKER_GUARD_SMOKE_TEST
  --smoke-test-timeout S  how long the smoke test retries (default 300) INVOKER_GUARD_SMOKE_TEST_TIMEOUT
  --monitoring            after deploying, create or update (idempotent) the log-based
                          metrics, the two alert policies and the dashboard of the function
                          (docs/FUNCTION.md, Monitoring)   INVOKER_GUARD_MONITORING=true|false
  --monitoring-only       only that: no deploy, no IAM change, no --allow needed
                                                              INVOKER_GUARD_MONITORING_ONLY=true|false
  --denied-alert-threshold N  alert when more than N requests are denied within the window
                          (default 20; 1-1000000)             INVOKER_GUARD_DENIED_ALERT_THRESHOLD
  --alert-window-minutes M    the alerts' window (default 5; 1-60) INVOKER_GUARD_ALERT_WINDOW_MINUTES
  --notification-channel ID   where alerts go: a channel ID or projects/P/notificationChannels/ID,
                          repeatable (default none: alerts show in the console only)
                                                              INVOKER_GUARD_NOTIFICATION_CHANNELS
  --env-file FILE         read INVOKER_GUARD_* settings from FILE
  --dry-run               print every gcloud command, change nothing INVOKER_GUARD_DRY_RUN=true|false
  -h, --help              show this help

deploy.sh owns these environment variables of the function and updates only them:
ALLOWED_INVOKERS, EXPECTED_AUDIENCES, GOOGLE_CLOUD_PROJECT, FUNCTION_GENERATION, and the
guard settings given above.

Precedence: command line, then environment, then env file. --allow on the command line
replaces (does not add to) INVOKER_GUARD_ALLOW; --audience likewise INVOKER_GUARD_AUDIENCES.
The env file holds KEY=VALUE lines with INVOKER_GUARD_* keys only; blank lines and lines
starting with # are ignored; a value may be wrapped in single or double quotes; nothing in
it is expanded or executed.

--dry-run still runs the read-only gcloud calls (auth list, projects describe, functions
describe, get-iam-policy, service-accounts describe) so that the plan is exact, and prints
them marked [read]; every command that would change something is printed marked [dry-run]
and not run. It does not build and does not smoke-test. With --monitoring it also reads the
metrics, alert policies and dashboards, and prints each config it would send below its command.

Exit status: 0 done; 2 bad input or unmet prerequisite (nothing was changed); 1 a change
failed or the smoke test never passed (every failure is listed; rerun: the script converges).
EOF
}

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

# --- arguments and settings: command line, then environment, then env file ----------------------

# The command line as given, set by parse_args.
CLI_PROJECT="" CLI_REGION="" CLI_NAME="" CLI_RUNTIME="" CLI_SA="" CLI_SOURCE="" ENV_FILE=""
CLI_GEN1="" CLI_DRY_RUN="" HAVE_SOURCE_FLAG=false CLI_ENTRY_POINT="" CLI_PIN_IDS=""
CLI_SMOKE_TEST="" CLI_SMOKE_TIMEOUT=""
CLI_MONITORING="" CLI_MONITORING_ONLY="" CLI_DENIED_THRESHOLD="" CLI_ALERT_WINDOW=""
CLI_ALLOW=() CLI_AUDIENCES=() CLI_CHANNELS=()
declare -A CLI_GUARD=()
# KEY=VALUE lines of the env file, set by read_env_file.
declare -A FILE_VALUES=()

# An option's value must be present and must not be the next option (--allow --dry-run).
need_value() {
  [[ $# -ge 2 && -n "$2" && "$2" != --* ]] || die_usage "$1 needs a value"
}

parse_args() {
  while [[ $# -gt 0 ]]; do
    case "$1" in
      -h | --help)
        usage
        exit 0
        ;;
      --project) need_value "$@"; CLI_PROJECT="$2"; shift 2 ;;
      --project=*) CLI_PROJECT="${1#*=}"; shift ;;
      --region) need_value "$@"; CLI_REGION="$2"; shift 2 ;;
      --region=*) CLI_REGION="${1#*=}"; shift ;;
      --allow) need_value "$@"; CLI_ALLOW+=("$2"); shift 2 ;;
      --allow=*) CLI_ALLOW+=("${1#*=}"); shift ;;
      --name) need_value "$@"; CLI_NAME="$2"; shift 2 ;;
      --name=*) CLI_NAME="${1#*=}"; shift ;;
      --runtime) need_value "$@"; CLI_RUNTIME="$2"; shift 2 ;;
      --runtime=*) CLI_RUNTIME="${1#*=}"; shift ;;
      --service-account) need_value "$@"; CLI_SA="$2"; shift 2 ;;
      --service-account=*) CLI_SA="${1#*=}"; shift ;;
      --source) need_value "$@"; CLI_SOURCE="$2"; HAVE_SOURCE_FLAG=true; shift 2 ;;
      --source=*) CLI_SOURCE="${1#*=}"; HAVE_SOURCE_FLAG=true; shift ;;
      --env-file) need_value "$@"; ENV_FILE="$2"; shift 2 ;;
      --env-file=*) ENV_FILE="${1#*=}"; shift ;;
      --entry-point) need_value "$@"; CLI_ENTRY_POINT="$2"; shift 2 ;;
      --entry-point=*) CLI_ENTRY_POINT="${1#*=}"; shift ;;
      --audience) need_value "$@"; CLI_AUDIENCES+=("$2"); shift 2 ;;
      --audience=*) CLI_AUDIENCES+=("${1#*=}"); shift ;;
      --smoke-test) need_value "$@"; CLI_SMOKE_TEST="$2"; shift 2 ;;
      --smoke-test=*) CLI_SMOKE_TEST="${1#*=}"; shift ;;
      --smoke-test-timeout) need_value "$@"; CLI_SMOKE_TIMEOUT="$2"; shift 2 ;;
      --smoke-test-timeout=*) CLI_SMOKE_TIMEOUT="${1#*=}"; shift ;;
      --clock-skew-seconds | --key-fetch-timeout-seconds | --key-refetch-interval-seconds | \
        --trust-platform-verified-tokens)
        need_value "$@"; CLI_GUARD["$(guard_variable "$1")"]="$2"; shift 2 ;;
      --clock-skew-seconds=* | --key-fetch-timeout-seconds=* | --key-refetch-interval-seconds=* | \
        --trust-platform-verified-tokens=*)
        CLI_GUARD["$(guard_variable "${1%%=*}")"]="${1#*=}"; shift ;;
      --denied-alert-threshold) need_value "$@"; CLI_DENIED_THRESHOLD="$2"; shift 2 ;;
      --denied-alert-threshold=*) CLI_DENIED_THRESHOLD="${1#*=}"; shift ;;
      --alert-window-minutes) need_value "$@"; CLI_ALERT_WINDOW="$2"; shift 2 ;;
      --alert-window-minutes=*) CLI_ALERT_WINDOW="${1#*=}"; shift ;;
      --notification-channel) need_value "$@"; CLI_CHANNELS+=("$2"); shift 2 ;;
      --notification-channel=*) CLI_CHANNELS+=("${1#*=}"); shift ;;
      --monitoring) CLI_MONITORING=true; shift ;;
      --monitoring-only) CLI_MONITORING_ONLY=true; shift ;;
      --pin-ids) CLI_PIN_IDS=true; shift ;;
      --gen1) CLI_GEN1=true; shift ;;
      --dry-run) CLI_DRY_RUN=true; shift ;;
      *) die_usage "unknown argument '$1' (see --help)" ;;
    esac
  done
  readonly CLI_PROJECT CLI_REGION CLI_NAME CLI_RUNTIME CLI_SA CLI_SOURCE ENV_FILE CLI_GEN1 \
    CLI_DRY_RUN HAVE_SOURCE_FLAG CLI_ALLOW CLI_ENTRY_POINT CLI_AUDIENCES CLI_PIN_IDS \
    CLI_SMOKE_TEST CLI_SMOKE_TIMEOUT CLI_GUARD CLI_MONITORING CLI_MONITORING_ONLY \
    CLI_DENIED_THRESHOLD CLI_ALERT_WINDOW CLI_CHANNELS
}

# --clock-skew-seconds -> CLOCK_SKEW_SECONDS
guard_variable() {
  local name="${1#--}"
  name="${name//-/_}"
  printf '%s' "${name^^}"
}

# Reads KEY=VALUE lines without sourcing the file: nothing in it is executed or expanded.
read_env_file() {
  local file="$1" line key value lineno=0 known k
  [[ -f "${file}" && -r "${file}" ]] || die_usage "env file '${file}' is not a readable file"
  while IFS= read -r line || [[ -n "${line}" ]]; do
    lineno=$((lineno + 1))
    line="${line%$'\r'}"
    # Trim surrounding whitespace.
    line="${line#"${line%%[![:space:]]*}"}"
    line="${line%"${line##*[![:space:]]}"}"
    [[ -z "${line}" || "${line}" == \#* ]] && continue
    if [[ ! "${line}" =~ ^([A-Z_][A-Z0-9_]*)=(.*)$ ]]; then
      die_usage "env file '${file}' line ${lineno}: expected KEY=VALUE"
    fi
    key="${BASH_REMATCH[1]}"
    value="${BASH_REMATCH[2]}"
    known=false
    for k in "${KNOWN_KEYS[@]}"; do
      [[ "${k}" == "${key}" ]] && known=true
    done
    [[ "${known}" == "true" ]] || die_usage "env file '${file}' line ${lineno}: unknown key ${key}"
    if [[ "${value}" =~ ^\"(.*)\"$ || "${value}" =~ ^\'(.*)\'$ ]]; then
      value="${BASH_REMATCH[1]}"
    fi
    FILE_VALUES["${key}"]="${value}"
  done <"${file}"
}

# Value of a setting: the environment wins over the env file.
setting() {
  local key="$1" default="$2"
  if [[ -n "${!key+set}" ]]; then
    printf '%s' "${!key}"
  elif [[ -n "${FILE_VALUES[${key}]+set}" ]]; then
    printf '%s' "${FILE_VALUES[${key}]}"
  else
    printf '%s' "${default}"
  fi
}

parse_bool() {
  local name="$1" value="$2"
  case "${value,,}" in
    true | 1 | yes) printf 'true' ;;
    false | 0 | no | "") printf 'false' ;;
    *) die_usage "${name} must be true or false, got '${value}'" ;;
  esac
}

# Whether a value is a service-account email. Byte-wise in the C locale, whatever the user's
# locale: lower-casing and the pattern then know ASCII only, so a look-alike such as the Kelvin
# sign (U+212A, which a UTF-8 locale lower-cases to 'k') is refused instead of granted as 'k'.
is_sa_email() {
  local LC_ALL=C
  local value="${1,,}"
  [[ ${#value} -le 254 && "${value}" =~ ${SA_EMAIL_RE} ]]
}

# The allowlist from comma-separated values (each --allow, or INVOKER_GUARD_ALLOW): every entry
# trimmed, checked, lower-cased, printed once per line in first-seen order as EMAIL, EMAIL=ID or ID.
# Empty items (a trailing or doubled comma) are reported instead of silently dropped. The same
# account twice in different forms is refused. Stops at the first bad entry.
allowlist_from() {
  local LC_ALL=C
  local value rest entry email id key
  local allow=() keys=()
  for value in "$@"; do
    rest="${value},"
    while [[ -n "${rest}" ]]; do
      entry="${rest%%,*}"
      rest="${rest#*,}"
      # Spaces around entries are ignored, as in ALLOWED_INVOKERS.
      entry="${entry#"${entry%%[!"${ENTRY_PADDING}"]*}"}"
      entry="${entry%"${entry##*[!"${ENTRY_PADDING}"]}"}"
      [[ -n "${entry}" ]] || die_usage "empty entry in the allowlist"
      email="" id=""
      if [[ "${entry}" == *=* ]]; then
        email="${entry%%=*}" id="${entry#*=}"
        is_sa_email "${email}" || die_usage "'${entry}': '${email}' is not a service-account email"
        [[ "${id}" =~ ${UNIQUE_ID_RE} ]] ||
          die_usage "'${entry}': '${id}' is not a numeric unique ID (10 to 30 digits)"
      elif [[ "${entry}" =~ ^[0-9]+$ ]]; then
        id="${entry}"
        [[ "${id}" =~ ${UNIQUE_ID_RE} ]] ||
          die_usage "'${entry}' is not a numeric unique ID (10 to 30 digits, no leading zero)"
      else
        is_sa_email "${entry}" ||
          die_usage "'${entry}' is not a service-account email or numeric unique ID"
        email="${entry}"
      fi
      email="${email,,}"
      key="${email:-${id}}"
      entry="${email}${email:+${id:+=}}${id}"
      if contains "${key}" "${keys[@]}"; then
        contains "${entry}" "${allow[@]}" || die_usage "'${key}' is listed twice, differently"
        continue
      fi
      keys+=("${key}")
      allow+=("${entry}")
    done
  done
  [[ ${#allow[@]} -eq 0 ]] || printf '%s\n' "${allow[@]}"
}

# Checks one guard setting's value against GuardConfig's range; prints it.
guard_value() {
  local variable="$1" value="$2" spec low high
  for spec in "${GUARD_SETTINGS[@]}"; do
    [[ "${spec%%:*}" == "${variable}" ]] || continue
    if [[ "${spec}" == *:bool ]]; then
      [[ "${value}" == "true" || "${value}" == "false" ]] ||
        die_usage "${variable} must be exactly true or false, got '${value}'"
    else
      low="${spec#*:}" high="${low#*:}" low="${low%%:*}"
      if [[ ! "${value}" =~ ^[0-9]{1,5}$ ]] || ((10#${value} < low || 10#${value} > high)); then
        die_usage "${variable} must be a whole number of seconds from ${low} to ${high}, got '${value}'"
      fi
      value="$((10#${value}))"
    fi
    printf '%s' "${value}"
    return 0
  done
  die_usage "unknown guard setting ${variable}"
}

# The monitoring settings (--monitoring and the options that go with it), checked and read-only.
# --monitoring-only implies --monitoring. An alert option without either is refused: it would
# silently do nothing. Runs once PROJECT is checked (a channel ID is named in that project).
load_monitoring_settings() {
  local value channel channels=() given=false
  MONITORING_ONLY="${CLI_MONITORING_ONLY:-$(parse_bool INVOKER_GUARD_MONITORING_ONLY \
    "$(setting INVOKER_GUARD_MONITORING_ONLY false)")}"
  MONITORING="${CLI_MONITORING:-$(parse_bool INVOKER_GUARD_MONITORING \
    "$(setting INVOKER_GUARD_MONITORING false)")}"
  [[ "${MONITORING_ONLY}" == "false" ]] || MONITORING=true

  value="${CLI_DENIED_THRESHOLD:-$(setting INVOKER_GUARD_DENIED_ALERT_THRESHOLD "")}"
  [[ -z "${value}" ]] || given=true
  value="${value:-${DEFAULT_DENIED_ALERT_THRESHOLD}}"
  if [[ ! "${value}" =~ ^[0-9]{1,7}$ ]] || ((10#${value} < 1 || 10#${value} > 1000000)); then
    die_usage "--denied-alert-threshold must be a whole number from 1 to 1000000, got '${value}'"
  fi
  DENIED_THRESHOLD="$((10#${value}))"

  value="${CLI_ALERT_WINDOW:-$(setting INVOKER_GUARD_ALERT_WINDOW_MINUTES "")}"
  [[ -z "${value}" ]] || given=true
  value="${value:-${DEFAULT_ALERT_WINDOW_MINUTES}}"
  if [[ ! "${value}" =~ ^[0-9]{1,2}$ ]] || ((10#${value} < 1 || 10#${value} > 60)); then
    die_usage "--alert-window-minutes must be a whole number from 1 to 60, got '${value}'"
  fi
  ALERT_WINDOW_MINUTES="$((10#${value}))"

  if [[ ${#CLI_CHANNELS[@]} -gt 0 ]]; then
    channels=("${CLI_CHANNELS[@]}")
  else
    value="$(setting INVOKER_GUARD_NOTIFICATION_CHANNELS "")"
    [[ -z "${value}" ]] || IFS=',' read -r -a channels <<<"${value}"
  fi
  CHANNELS=()
  for channel in "${channels[@]}"; do
    given=true
    if [[ "${channel}" =~ ${CHANNEL_ID_RE} ]]; then
      channel="projects/${PROJECT}/notificationChannels/${channel}"
    elif [[ ! "${channel}" =~ ${CHANNEL_NAME_RE} ]]; then
      die_usage "--notification-channel '${channel}' is not a channel ID or projects/PROJECT/notificationChannels/ID"
    fi
    contains "${channel}" "${CHANNELS[@]}" || CHANNELS+=("${channel}")
  done
  if [[ "${given}" == "true" && "${MONITORING}" == "false" ]]; then
    die_usage "the alert options need --monitoring or --monitoring-only"
  fi
  readonly MONITORING MONITORING_ONLY DENIED_THRESHOLD ALERT_WINDOW_MINUTES CHANNELS
}

# Sets the settings from the command line, the environment and the env file, checks them before
# any gcloud call, and makes them read-only. Checks run in the order of the messages a user meets.
load_settings() {
  if [[ -n "${ENV_FILE}" ]]; then
    read_env_file "${ENV_FILE}"
  fi
  readonly FILE_VALUES

  PROJECT="${CLI_PROJECT:-$(setting INVOKER_GUARD_PROJECT "")}"
  REGION="${CLI_REGION:-$(setting INVOKER_GUARD_REGION "")}"
  NAME="${CLI_NAME:-$(setting INVOKER_GUARD_NAME "${DEFAULT_NAME}")}"
  RUNTIME="${CLI_RUNTIME:-$(setting INVOKER_GUARD_RUNTIME "${DEFAULT_RUNTIME}")}"
  RUNTIME_SA="${CLI_SA:-$(setting INVOKER_GUARD_SERVICE_ACCOUNT "")}"
  ENTRY_POINT="${CLI_ENTRY_POINT:-$(setting INVOKER_GUARD_ENTRY_POINT "${DEFAULT_ENTRY_POINT}")}"
  GEN1="${CLI_GEN1:-$(parse_bool INVOKER_GUARD_GEN1 "$(setting INVOKER_GUARD_GEN1 false)")}"
  DRY_RUN="${CLI_DRY_RUN:-$(parse_bool INVOKER_GUARD_DRY_RUN "$(setting INVOKER_GUARD_DRY_RUN false)")}"
  PIN_IDS="${CLI_PIN_IDS:-$(parse_bool INVOKER_GUARD_PIN_IDS "$(setting INVOKER_GUARD_PIN_IDS false)")}"
  SMOKE_SA="${CLI_SMOKE_TEST:-$(setting INVOKER_GUARD_SMOKE_TEST "")}"
  SMOKE_TIMEOUT="${CLI_SMOKE_TIMEOUT:-$(setting INVOKER_GUARD_SMOKE_TEST_TIMEOUT "${DEFAULT_SMOKE_TIMEOUT}")}"
  # Test seam, environment only (never the env file): see SMOKE_OVERRIDE_RE.
  SMOKE_URL_OVERRIDE="${INVOKER_GUARD_SMOKE_TEST_URL_OVERRIDE:-}"
  if [[ "${HAVE_SOURCE_FLAG}" == "true" ]]; then
    [[ -n "${CLI_SOURCE}" ]] || die_usage "--source needs a value"
    SOURCE="${CLI_SOURCE}"
  else
    SOURCE="$(setting INVOKER_GUARD_SOURCE "")"
  fi
  # No source named: the default artifact, built by ensure_artifact when missing.
  SOURCE_IS_DEFAULT=false
  if [[ -z "${SOURCE}" ]]; then
    SOURCE_IS_DEFAULT=true
    SOURCE="${DEFAULT_SOURCE}"
  fi

  [[ -n "${PROJECT}" ]] || die_usage "no project: pass --project or set INVOKER_GUARD_PROJECT"
  [[ "${PROJECT}" =~ ${PROJECT_RE} ]] || die_usage "'${PROJECT}' is not a valid project ID"
  [[ -n "${REGION}" ]] || die_usage "no region: pass --region or set INVOKER_GUARD_REGION"
  [[ "${REGION}" =~ ${REGION_RE} ]] || die_usage "'${REGION}' is not a valid region"
  [[ "${NAME}" =~ ${NAME_RE} ]] ||
    die_usage "'${NAME}' is not a valid function name (lower-case letters, digits, hyphens; 1-63)"
  [[ "${RUNTIME}" =~ ${RUNTIME_RE} ]] || die_usage "'${RUNTIME}' is not a Java runtime (e.g. java21)"
  [[ "${ENTRY_POINT}" =~ ${CLASS_RE} ]] ||
    die_usage "'${ENTRY_POINT}' is not a Java class name (e.g. com.example.MyFunction)"

  load_monitoring_settings

  local allow_values=() allow_lines env_allow entry
  if [[ ${#CLI_ALLOW[@]} -gt 0 ]]; then
    # --allow replaces INVOKER_GUARD_ALLOW, and may also carry a comma-separated list.
    allow_values=("${CLI_ALLOW[@]}")
  else
    env_allow="$(setting INVOKER_GUARD_ALLOW "")"
    [[ -z "${env_allow}" ]] || allow_values=("${env_allow}")
  fi
  # Captured first (not read through < <(...)) so that a bad entry stops the script.
  allow_lines="$(allowlist_from "${allow_values[@]}")"
  ENTRIES=()
  [[ -z "${allow_lines}" ]] || mapfile -t ENTRIES <<<"${allow_lines}"
  [[ ${#ENTRIES[@]} -gt 0 || "${MONITORING_ONLY}" == "true" ]] ||
    die_usage "no allowlisted caller: pass --allow SA_EMAIL or set INVOKER_GUARD_ALLOW"
  if [[ -n "${RUNTIME_SA}" ]]; then
    is_sa_email "${RUNTIME_SA}" ||
      die_usage "--service-account '${RUNTIME_SA}' is not a service-account email"
  fi

  local audience_values=() env_audiences url
  if [[ ${#CLI_AUDIENCES[@]} -gt 0 ]]; then
    audience_values=("${CLI_AUDIENCES[@]}")
  else
    env_audiences="$(setting INVOKER_GUARD_AUDIENCES "")"
    [[ -z "${env_audiences}" ]] || IFS=',' read -r -a audience_values <<<"${env_audiences}"
  fi
  CUSTOM_AUDIENCES=()
  for url in "${audience_values[@]}"; do
    [[ "${url}" =~ ${AUDIENCE_RE} ]] || die_usage "--audience '${url}' is not an https URL"
    contains "${url}" "${CUSTOM_AUDIENCES[@]}" || CUSTOM_AUDIENCES+=("${url}")
  done
  if [[ ${#CUSTOM_AUDIENCES[@]} -gt 0 && "${GEN1}" == "true" ]]; then
    die_usage "--audience needs 2nd gen: custom audiences are a Cloud Run setting"
  fi

  # Guard settings given: command line, then environment, then env file.
  declare -gA GUARD=()
  local spec variable value
  for spec in "${GUARD_SETTINGS[@]}"; do
    variable="${spec%%:*}"
    value="${CLI_GUARD[${variable}]-$(setting "INVOKER_GUARD_${variable}" "")}"
    [[ -z "${value}" ]] || GUARD["${variable}"]="$(guard_value "${variable}" "${value}")"
  done
  for variable in "${!CLI_GUARD[@]}"; do
    [[ -n "${GUARD[${variable}]+set}" ]] || die_usage "--${variable,,} needs a value"
  done
  if [[ "${GUARD[TRUST_PLATFORM_VERIFIED_TOKENS]:-}" == "true" && "${GEN1}" == "true" ]]; then
    die_usage "TRUST_PLATFORM_VERIFIED_TOKENS=true is for 2nd gen only (see SECURITY.md)"
  fi

  if [[ -n "${SMOKE_SA}" ]]; then
    [[ "${MONITORING_ONLY}" == "false" ]] ||
      die_usage "--smoke-test needs a deploy: it cannot go with --monitoring-only"
    is_sa_email "${SMOKE_SA}" || die_usage "--smoke-test '${SMOKE_SA}' is not a service-account email"
    SMOKE_SA="${SMOKE_SA,,}"
    local listed=false
    for entry in "${ENTRIES[@]}"; do
      [[ "${entry%%=*}" == "${SMOKE_SA}" ]] && listed=true
    done
    [[ "${listed}" == "true" ]] ||
      die_usage "--smoke-test '${SMOKE_SA}' is not on the allowlist: it would be refused"
    [[ "${SMOKE_TIMEOUT}" =~ ^[0-9]{1,5}$ && "${SMOKE_TIMEOUT}" -ge 1 ]] ||
      die_usage "--smoke-test-timeout must be a whole number of seconds, got '${SMOKE_TIMEOUT}'"
  fi
  if [[ -n "${SMOKE_URL_OVERRIDE}" && ! "${SMOKE_URL_OVERRIDE}" =~ ${SMOKE_OVERRIDE_RE} ]]; then
    die_usage "INVOKER_GUARD_SMOKE_TEST_URL_OVERRIDE must be http://127.0.0.1:PORT (tests only)"
  fi

  if [[ "${SOURCE_IS_DEFAULT}" == "false" ]]; then
    if [[ -f "${SOURCE}" ]]; then
      [[ "${SOURCE}" == *.jar ]] || die_usage "source file '${SOURCE}' is not a .jar"
    elif [[ ! -d "${SOURCE}" ]]; then
      die_usage "source '${SOURCE}' does not exist (give a directory with one jar, or a jar)"
    fi
  fi
  readonly PROJECT REGION NAME RUNTIME RUNTIME_SA GEN1 DRY_RUN SOURCE SOURCE_IS_DEFAULT \
    ENTRY_POINT PIN_IDS SMOKE_SA SMOKE_TIMEOUT SMOKE_URL_OVERRIDE CUSTOM_AUDIENCES GUARD

  # Derived from the settings, read-only as well.
  COMMON=(--region="${REGION}" --project="${PROJECT}")
  FUNCTIONS_URL="https://${REGION}-${PROJECT}.cloudfunctions.net/${NAME}"
  # GEN_FLAG is passed explicitly to the commands that act on the function, so a functions/gen2
  # property in the user's gcloud configuration cannot send them to the other API.
  if [[ "${GEN1}" == "true" ]]; then
    DESIRED_GEN=1 GEN_FLAG="--no-gen2" ROLE="roles/cloudfunctions.invoker"
  else
    DESIRED_GEN=2 GEN_FLAG="--gen2" ROLE="roles/run.invoker"
  fi
  readonly COMMON FUNCTIONS_URL DESIRED_GEN GEN_FLAG ROLE
}

# --- checks: tools, artifact, account -----------------------------------------------------------

require_tools() {
  command -v gcloud >/dev/null 2>&1 || die_usage "gcloud not found on PATH: install the Google Cloud CLI"
  command -v jq >/dev/null 2>&1 || die_usage "jq not found on PATH: install jq (Debian package jq)"
  if [[ -n "${SMOKE_SA}" ]]; then
    command -v curl >/dev/null 2>&1 || die_usage "curl not found on PATH: --smoke-test needs it"
  fi
}

# Number of jars directly in a directory (the artifact is exactly one self-contained jar).
jar_count() {
  local jars=()
  shopt -s nullglob
  jars=("$1"/*.jar)
  shopt -u nullglob
  printf '%s' "${#jars[@]}"
}

check_artifact() {
  local count
  count="$(jar_count "$1")"
  [[ "${count}" -ne 0 ]] || die_usage "source directory '$1' holds no jar: build the function first"
  [[ "${count}" -eq 1 ]] ||
    die_usage "source directory '$1' holds ${count} jars; expected exactly one"
}

# The directory gcloud uploads: SOURCE itself, or for a jar a new directory holding only a copy of
# it (gcloud takes a directory; a jar given as is would be uploaded as a source archive).
SOURCE_DIR="" STAGING_DIR=""
ensure_artifact() {
  if [[ -f "${SOURCE}" ]]; then
    STAGING_DIR="$(mktemp -d)"
    cp "${SOURCE}" "${STAGING_DIR}/" || die_usage "cannot copy '${SOURCE}'"
    SOURCE_DIR="${STAGING_DIR}"
  elif [[ "${SOURCE_IS_DEFAULT}" == "false" || (-d "${SOURCE}" && "$(jar_count "${SOURCE}")" -ne 0) ]]; then
    check_artifact "${SOURCE}"
    SOURCE_DIR="${SOURCE}"
  elif [[ "${DRY_RUN}" == "true" ]]; then
    info "[dry-run] (cd $(render "${REPO_ROOT}") && $(render "${BUILD_CMD[@]}"))"
    SOURCE_DIR="${SOURCE}"
  else
    info "Artifact missing in ${SOURCE}: building it"
    (cd "${REPO_ROOT}" && "${BUILD_CMD[@]}") ||
      die_usage "building the function failed: $(render "${BUILD_CMD[@]}")"
    [[ -d "${SOURCE}" ]] || die_usage "the build left no directory '${SOURCE}'"
    check_artifact "${SOURCE}"
    SOURCE_DIR="${SOURCE}"
  fi
}

check_account() {
  local account
  account="$(gcloud_read auth list --filter=status:ACTIVE --format='value(account)' 2>/dev/null |
    head -n 1 || true)"
  [[ -n "${account}" ]] || die_usage "gcloud is not authenticated: run 'gcloud auth login'"
  info "Acting as ${account} on project ${PROJECT}, region ${REGION}"
}

# --- reads: the project, the callers, the function, its URLs, its invoker members ----------------

# The project's number, for the deterministic run.app URL (2nd gen).
project_number() {
  local number
  number="$(gcloud_read projects describe "${PROJECT}" --format='value(projectNumber)')" ||
    die "reading the number of project ${PROJECT} failed"
  [[ "${number}" =~ ^[0-9]+$ ]] || die "project ${PROJECT} has no project number ('${number}')"
  printf '%s' "${number}"
}

# Completes the allowlist: an ID given alone gets its email (needed for the grant), and with
# --pin-ids an email given alone gets its ID where describe is allowed. Sets ALLOW_EMAILS (IAM
# members), INVOKERS (ALLOWED_INVOKERS entries) and PINNED (one line per entry for the summary).
resolve_callers() {
  local entry email id out
  ALLOW_EMAILS=() INVOKERS=() PINNED=()
  for entry in "${ENTRIES[@]}"; do
    email="" id=""
    if [[ "${entry}" == *=* ]]; then
      email="${entry%%=*}" id="${entry#*=}"
    elif [[ "${entry}" =~ ${UNIQUE_ID_RE} ]]; then
      id="${entry}"
      out="$(gcloud_read iam service-accounts describe "${id}" --format='value(email)' 2>/dev/null)" ||
        out=""
      is_sa_email "${out}" ||
        die_usage "cannot read the email of unique ID ${id} (gcloud iam service-accounts describe): pass --allow EMAIL=${id}"
      email="${out,,}"
    else
      email="${entry}"
      if [[ "${PIN_IDS}" == "true" ]]; then
        out="$(gcloud_read iam service-accounts describe "${email}" --format='value(uniqueId)' \
          2>/dev/null)" || out=""
        if [[ "${out}" =~ ${UNIQUE_ID_RE} ]]; then
          id="${out}"
        else
          warn "cannot read the unique ID of ${email} (describe is often not allowed across projects): left unpinned; ask its team for the ID and pass --allow ${email}=UNIQUE_ID"
        fi
      fi
    fi
    contains "${email}" "${ALLOW_EMAILS[@]}" || ALLOW_EMAILS+=("${email}")
    if [[ -n "${id}" ]]; then
      INVOKERS+=("${id}")
      PINNED+=("${email} pinned to unique ID ${id}")
    else
      INVOKERS+=("${email}")
      PINNED+=("${email} not pinned (pin it with --allow ${email}=UNIQUE_ID)")
    fi
  done
  readonly ALLOW_EMAILS INVOKERS PINNED
}

# Prints the function's JSON, or nothing when it does not exist yet. Any other failure stops.
describe_function() {
  local out err status=0
  err="$(mktemp)"
  out="$(gcloud_read functions describe "${NAME}" "${COMMON[@]}" --format=json 2>"${err}")" ||
    status=$?
  if [[ ${status} -ne 0 ]]; then
    if grep -Eq 'NOT_FOUND|not found|does not exist|status=\[404\]' "${err}"; then
      rm -f "${err}"
      return 0
    fi
    cat "${err}" >&2
    rm -f "${err}"
    die "gcloud functions describe failed"
  fi
  rm -f "${err}"
  printf '%s' "${out}" | jq -e 'type == "object"' >/dev/null 2>&1 ||
    die "gcloud functions describe returned no JSON object"
  printf '%s' "${out}"
}

generation_of() {
  jq -r 'if (.environment // "") == "GEN_2" or has("serviceConfig") then "2"
         elif (.environment // "") == "GEN_1" or has("httpsTrigger") then "1"
         else "?" end'
}

# An existing function of the other generation is not replaced: stop before any change.
check_generation() {
  local json="$1" existing_gen
  [[ -n "${json}" ]] || return 0
  existing_gen="$(printf '%s' "${json}" | generation_of)"
  if [[ "${existing_gen}" != "?" && "${existing_gen}" != "${DESIRED_GEN}" ]]; then
    if [[ "${existing_gen}" == "1" ]]; then
      die_usage "function ${NAME} exists as 1st gen: rerun with --gen1 (or delete it first)"
    fi
    die_usage "function ${NAME} exists as 2nd gen: rerun without --gen1 (or delete it first)"
  fi
}

# Every audience a token for the function may carry and Google accepts: its URLs (for 2nd gen the
# deterministic run.app URL, known before the first deploy, and serviceConfig.uri, last), then the
# custom audiences.
audiences_from() {
  local json="$1" url
  printf '%s\n' "${FUNCTIONS_URL}"
  if [[ "${DESIRED_GEN}" == "2" ]]; then
    printf '%s\n' "https://${NAME}-${PROJECT_NUMBER}.${REGION}.run.app"
  fi
  if [[ -n "${json}" ]]; then
    if [[ "${DESIRED_GEN}" == "2" ]]; then
      url="$(printf '%s' "${json}" | jq -r '.serviceConfig.uri // empty')"
      if [[ -n "${url}" && "${url}" != "https://${NAME}-${PROJECT_NUMBER}.${REGION}.run.app" ]]; then
        [[ "${url}" =~ ${RUN_APP_URL_RE} ]] || die "unexpected serviceConfig.uri '${url}'"
        printf '%s\n' "${url}"
      fi
    else
      # v1 API shape (httpsTrigger.url), or v2 API shape (url) for a 1st gen function.
      url="$(printf '%s' "${json}" | jq -r '.httpsTrigger.url // .url // empty')"
      if [[ -n "${url}" && "${url}" != "${FUNCTIONS_URL}" ]]; then
        [[ "${url}" =~ ${FUNCTIONS_URL_RE} ]] || die "unexpected httpsTrigger.url '${url}'"
        printf '%s\n' "${url}"
      fi
    fi
  fi
  [[ ${#CUSTOM_AUDIENCES[@]} -eq 0 ]] || printf '%s\n' "${CUSTOM_AUDIENCES[@]}"
}

# The Cloud Run service behind the deployed 2nd gen function (described as $1).
service_of() {
  local service
  service="$(printf '%s' "$1" | jq -r '.serviceConfig.service // empty')"
  service="${service##*/}"
  printf '%s' "${service:-${NAME}}"
}

# The invoker bindings of the deployed function (described as $1), one line each:
# "U<TAB>member" for an unconditional member of ROLE, "C<TAB>member<TAB>condition title" for one
# held only through a conditional binding (a version 3 binding with a condition, or the role
# "ROLE_withcond_..." that a version 1 read shows instead). Fails closed on anything unreadable.
invoker_bindings() {
  local json="$1" policy_read policy
  if [[ "${DESIRED_GEN}" == "2" ]]; then
    policy_read=(run services get-iam-policy "$(service_of "${json}")" "${COMMON[@]}" --format=json)
  else
    policy_read=(functions get-iam-policy "${NAME}" "${COMMON[@]}" --no-gen2 --format=json)
  fi
  policy="$(gcloud_read "${policy_read[@]}")" || die "reading the IAM policy failed"
  # Fail closed: a policy we cannot parse must not read as "no members".
  printf '%s' "${policy}" | jq -er --arg role "${ROLE}" '
    if type != "object" then error("not a policy") else . end
    | [.bindings[]?
       | if .role == $role and (has("condition") | not) then
           .members[]? | "U\t\(.)"
         elif .role == $role or (.role | startswith($role + "_withcond_")) then
           .members[]? as $m | "C\t\($m)\t\(.condition.title // "(condition not shown)")"
         else empty end]
    | join("\n")' || die "the IAM policy is not valid JSON"
}

# IAM member as compared here: service-account emails are case-insensitive, other kinds are
# compared as written.
normalize_member() {
  local member="$1"
  if [[ "${member}" == serviceAccount:* ]]; then
    member="serviceAccount:$(printf '%s' "${member#serviceAccount:}" | tr '[:upper:]' '[:lower:]')"
  fi
  printf '%s' "${member}"
}

is_public() {
  [[ "$1" == "allUsers" || "$1" == "allAuthenticatedUsers" ]]
}

# --- actions: deploy, converge the invoker IAM binding, say how to call, prove it -----------------

# The --update-env-vars value for the given audiences: the variables deploy.sh owns, with gcloud's
# alternate delimiter because values hold commas. Every other variable is left as it is.
env_vars_arg() {
  local vars=() variable joined
  vars+=("ALLOWED_INVOKERS=$(join_by , "${INVOKERS[@]}")")
  vars+=("EXPECTED_AUDIENCES=$(join_by , "$@")")
  vars+=("GOOGLE_CLOUD_PROJECT=${PROJECT}")
  vars+=("FUNCTION_GENERATION=gen${DESIRED_GEN}")
  for variable in "${!GUARD[@]}"; do
    vars+=("${variable}=${GUARD[${variable}]}")
  done
  joined="$(join_by "${ENV_DELIM}" "${vars[@]}")"
  if [[ "$(join_by , "${vars[@]}")" == *"${ENV_DELIM}"* ]]; then
    die_usage "a value contains the env delimiter '${ENV_DELIM}'"
  fi
  printf '^%s^%s' "${ENV_DELIM}" "${joined}"
}

# Deploys with the given audiences in EXPECTED_AUDIENCES; a failure is recorded.
deploy_function() {
  local cmd=(functions deploy "${NAME}" "${COMMON[@]}")
  cmd+=("${GEN_FLAG}" --trigger-http --no-allow-unauthenticated --runtime="${RUNTIME}"
    --entry-point="${ENTRY_POINT}" --source="${SOURCE_DIR}" --update-env-vars="$(env_vars_arg "$@")")
  if [[ -n "${RUNTIME_SA}" ]]; then
    cmd+=(--service-account="${RUNTIME_SA,,}")
  fi
  cmd+=(--quiet)
  gcloud_change "${cmd[@]}" || {
    record_failure "gcloud functions deploy ${NAME}"
    return 1
  }
}

# Sets the custom audiences on the 2nd gen function's Cloud Run service, where Google checks them.
# Only the missing ones are added: the service is read first, because every `gcloud run services
# update` replaces the service (gcloud sets a new nonce on its template: a new revision) even when
# the audiences are already there. Audiences set on the service by hand are left as they are.
set_custom_audiences() {
  local service="$1" described current=() missing=() audience lines
  [[ ${#CUSTOM_AUDIENCES[@]} -gt 0 ]] || return 0
  if described="$(gcloud_read run services describe "${service}" "${COMMON[@]}" --format=json)" &&
    lines="$(printf '%s' "${described}" | jq -r '
      (.metadata.annotations["run.googleapis.com/custom-audiences"] // "[]") | fromjson
      | if type == "array" then .[] | strings else error("not a list") end')"; then
    [[ -z "${lines}" ]] || mapfile -t current <<<"${lines}"
  elif [[ -n "${described:-}" ]]; then
    warn "the custom audiences of service ${service} are unreadable; adding every --audience"
  else
    warn "could not read service ${service}; adding every --audience"
  fi
  for audience in "${CUSTOM_AUDIENCES[@]}"; do
    contains "${audience}" "${current[@]}" || missing+=("${audience}")
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    info "Custom audiences already set on service ${service}: no update."
    return 0
  fi
  gcloud_change run services update "${service}" "${COMMON[@]}" \
    --add-custom-audiences="$(join_by , "${missing[@]}")" --quiet ||
    record_failure "setting the custom audiences on service ${service}"
}

# What to tell the operator when a grant fails: an organization policy is named with what to ask.
explain_grant_failure() {
  local member="$1"
  if grep -Eq 'permitted customer|allowedPolicyMemberDomains|allowedPolicyMembers' <<<"${LAST_ERR}"; then
    record_failure "granting ${ROLE} to ${member} was refused by the organization policy constraints/iam.allowedPolicyMemberDomains (domain-restricted sharing; or iam.managed.allowedPolicyMembers): ask your organization policy administrator to allow the caller's organization (its Google Workspace customer ID, or organization principal set) in that constraint for project ${PROJECT}"
  else
    record_failure "granting ${ROLE} to ${member}"
  fi
}

# Makes the unconditional members of ROLE equal the allowlist: public members removed first, then
# every other extra member, then the missing accounts granted. A failure is recorded and the rest
# goes on. Members held only through a conditional binding are reported and left alone; they do
# not count as granted (they lapse with their condition). Arguments: the lines of
# invoker_bindings. Prints the summary line.
converge_invokers() {
  local line kind member title current=() wanted=() current_normalized=() changes=0 sa
  local pass
  for sa in "${ALLOW_EMAILS[@]}"; do
    wanted+=("serviceAccount:${sa}")
  done
  for line in "$@"; do
    IFS=$'\t' read -r kind member title <<<"${line}"
    if [[ "${kind}" == "C" ]]; then
      warn "conditional binding left alone: ${member} holds ${ROLE} on ${NAME} only under condition '${title}'; it does not count as granted (deploy.sh neither removes nor rewrites conditional bindings)"
      continue
    fi
    current+=("${member}")
    current_normalized+=("$(normalize_member "${member}")")
  done

  for pass in public other; do
    for member in "${current[@]}"; do
      contains "$(normalize_member "${member}")" "${wanted[@]}" && continue
      if is_public "${member}"; then
        [[ "${pass}" == "public" ]] || continue
        warn "PUBLIC ACCESS: ${member} holds ${ROLE} on ${NAME}; removing it"
      else
        [[ "${pass}" == "other" ]] || continue
        info "Revoking ${ROLE} from ${member} (not on the allowlist)"
      fi
      changes=$((changes + 1))
      gcloud_change functions remove-invoker-policy-binding "${NAME}" "${COMMON[@]}" "${GEN_FLAG}" \
        --member="${member}" --quiet || record_failure "removing ${member} from ${ROLE}"
    done
  done

  for member in "${wanted[@]}"; do
    contains "${member}" "${current_normalized[@]}" && continue
    info "Granting ${ROLE} to ${member}"
    changes=$((changes + 1))
    gcloud_change functions add-invoker-policy-binding "${NAME}" "${COMMON[@]}" "${GEN_FLAG}" \
      --member="${member}" --quiet || explain_grant_failure "${member}"
  done

  if [[ ${changes} -eq 0 ]]; then
    info "IAM already matches the allowlist: no IAM changes."
  elif [[ "${DRY_RUN}" == "true" ]]; then
    info "Dry run: ${changes} IAM change(s) planned, none made."
  else
    info "IAM converged: ${changes} change(s) attempted."
  fi
}

# How to call the function at its URL (the second argument on: every expected audience).
print_summary() {
  local url="$1" audience pinned
  shift
  cat <<EOF_CALL

Function:  ${NAME} ($([[ "${DESIRED_GEN}" == "2" ]] && echo "2nd gen" || echo "1st gen"), ${REGION}, ${PROJECT}), entry point ${ENTRY_POINT}
URL:       ${url}
Expected audiences (EXPECTED_AUDIENCES; a token for any other is the guard's 401):
EOF_CALL
  for audience in "$@"; do
    printf '  %s\n' "${audience}"
  done
  printf 'Allowlist: %s (ALLOWED_INVOKERS)\n' "$(join_by , "${INVOKERS[@]}")"
  for pinned in "${PINNED[@]}"; do
    printf '  %s\n' "${pinned}"
  done
  cat <<EOF_CALL

Call it from GKE with Workload Identity (as the pod's Kubernetes service account bound to an
allowlisted Google service account):
  TOKEN="\$(curl -sS -H 'Metadata-Flavor: Google' \\
    'http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/identity?audience=${url}&format=full')"
  curl -sS -H "Authorization: Bearer \${TOKEN}" '${url}'

Call it from a workstation (needs roles/iam.serviceAccountTokenCreator on the service account):
  TOKEN="\$(gcloud auth print-identity-token --impersonate-service-account=${ALLOW_EMAILS[0]} \\
    --audiences='${url}' --include-email)"
  curl -sS -H "Authorization: Bearer \${TOKEN}" '${url}'
EOF_CALL
}

# One request for the smoke test; prints "STATUS KIND" where KIND says who answered: google (an
# HTML page: Google's front end), guard (JSON: the function's guard) or none (no answer).
smoke_request() {
  local target="$1" token="${2:-}" body status type kind
  body="$(mktemp)"
  local args=(-sS -o "${body}" -w '%{http_code} %{content_type}' --max-time 30)
  if [[ -n "${token}" ]]; then
    # The token goes through a header file on stdin, never on the command line.
    args+=(-H @-)
  fi
  read -r status type < <(printf 'Authorization: Bearer %s\n' "${token}" |
    curl "${args[@]}" "${target}" 2>/dev/null || printf '000 none\n')
  if [[ "${status}" == "000" ]]; then
    kind="none"
  elif [[ "${type}" == application/json* ]]; then
    kind="guard:$(jq -r '.reason // .error // empty' <"${body}" 2>/dev/null | head -n 1)"
  else
    kind="google"
  fi
  rm -f "${body}"
  printf '%s %s' "${status}" "${kind}"
}

# Proves the deployment: a request without a token is refused by Google, and one with an ID token
# of SMOKE_SA for URL gets 200 from the guard. Retries with backoff until SMOKE_TIMEOUT (invoker
# grants take minutes to propagate), printing what each attempt got.
smoke_test() {
  local url="$1" target deadline delay=5 attempt=0 token anon with err
  target="${SMOKE_URL_OVERRIDE:-${url}}"
  deadline=$((SECONDS + SMOKE_TIMEOUT))
  info ""
  info "Smoke test: ${url} as ${SMOKE_SA}, for up to ${SMOKE_TIMEOUT} s"
  while true; do
    attempt=$((attempt + 1))
    anon="$(smoke_request "${target}")"
    err="$(mktemp)"
    if token="$(gcloud auth print-identity-token --impersonate-service-account="${SMOKE_SA}" \
      --audiences="${url}" --include-email 2>"${err}")" && [[ -n "${token}" ]]; then
      with="$(smoke_request "${target}" "${token}")"
    else
      with="no token: $(grep -m 1 'ERROR' "${err}" || echo 'gcloud auth print-identity-token failed')"
    fi
    rm -f "${err}"
    info "  attempt ${attempt}: without a token: $(describe_answer "${anon}"); with ${SMOKE_SA}'s token: $(describe_answer "${with}")"
    if [[ "${anon}" == 40[13]" google" && "${with}" == 200" "* ]]; then
      info "Smoke test passed: Google refuses a call without a token, the guard answers ${SMOKE_SA} with 200."
      return 0
    fi
    if ((SECONDS + delay > deadline)); then
      record_failure "smoke test: no pass within ${SMOKE_TIMEOUT} s (last: without a token $(describe_answer "${anon}"); with a token $(describe_answer "${with}")); see docs/DEPLOY.md, 'Which 403 is this'"
      return 1
    fi
    sleep "${delay}"
    delay=$((delay * 2 > 60 ? 60 : delay * 2))
  done
}

describe_answer() {
  case "$1" in
    "000 none") printf 'no answer' ;;
    "200 "*) printf '200' ;;
    *" google") printf '%s from Google (HTML; IAM: no invoker grant seen yet, or no valid token)' "${1%% *}" ;;
    *" guard:"*) printf '%s from the guard (JSON, %s)' "${1%% *}" "${1#* guard:}" ;;
    *) printf '%s' "$1" ;;
  esac
}

# --- monitoring: log-based metrics, alert policies, dashboard (--monitoring) ---------------------

# Each run compares what exists with what it would send and writes only what differs: a second
# run changes nothing. Metrics are found by name, alert policies and the dashboard by display
# name (the API gives them generated IDs). The configs go through files (--config-from-file,
# --policy-from-file), kept in MONITORING_DIR and removed at exit.
MONITORING_DIR=""
MONITORING_CHANGES=0 MONITORING_UNCHANGED=0

# The log entries of this function only: the monitored resource the platform writes its stdout
# under (2nd gen: the Cloud Run revision of the service named after the function; 1st gen: the
# function).
log_scope() {
  if [[ "${DESIRED_GEN}" == "2" ]]; then
    printf 'resource.type="cloud_run_revision" AND resource.labels.service_name="%s"' "${NAME}"
  else
    printf 'resource.type="cloud_function" AND resource.labels.function_name="%s"' "${NAME}"
  fi
}

monitored_resource_type() {
  if [[ "${DESIRED_GEN}" == "2" ]]; then printf 'cloud_run_revision'; else printf 'cloud_function'; fi
}

# The four metrics, "SUFFIX<TAB>LINES MATCHED" (the filter's part after the scope), by
# docs/FUNCTION.md's log lines.
metric_specs() {
  printf '%s\t%s\n' \
    allowed 'jsonPayload.decision="allow"' \
    denied 'jsonPayload.decision="deny"' \
    key-fetch-failures 'jsonPayload.keyHealth="FETCH_FAILED"' \
    keys-unavailable '(jsonPayload.keyHealth="UNUSABLE" OR jsonPayload.reason="KEYS_UNAVAILABLE")'
}

metric_name() {
  printf '%s-%s' "${NAME}" "$1"
}

metric_type() {
  printf 'logging.googleapis.com/user/%s' "$(metric_name "$1")"
}

# The LogMetric (Logging API v2) for one spec: a counter; allowed and denied are labelled with the
# decision's reason and caller (absent on lines without one: no token, or not verified).
metric_config() {
  local suffix="$1" matched="$2" labelled=false description
  case "${suffix}" in
    allowed) description="Requests the invoker-guard of ${NAME} allowed, by reason and caller" ;;
    denied) description="Requests the invoker-guard of ${NAME} denied (401, 403, 503), by reason and caller" ;;
    key-fetch-failures) description="Runs of failed fetches of Google's signing keys by the guard of ${NAME} (one per run)" ;;
    keys-unavailable) description="Lines of the guard of ${NAME} saying no usable signing keys: key set UNUSABLE, or a request denied with KEYS_UNAVAILABLE (503)" ;;
  esac
  [[ "${suffix}" == "allowed" || "${suffix}" == "denied" ]] && labelled=true
  jq -n --arg description "${description}" --arg filter "$(log_scope) AND ${matched}" \
    --argjson labelled "${labelled}" '{
      description: $description,
      filter: $filter,
      metricDescriptor: ({metricKind: "DELTA", valueType: "INT64", unit: "1"}
        + if $labelled then {labels: [
            {key: "reason", valueType: "STRING",
             description: "the decision reason (ALLOWED, CALLER_NOT_ALLOWED, EXPIRED, ...)"},
            {key: "caller", valueType: "STRING",
             description: "the verified caller email (empty when there was none)"}]}
          else {} end)}
    + if $labelled then {labelExtractors: {
        reason: "EXTRACT(jsonPayload.reason)", caller: "EXTRACT(jsonPayload.caller)"}}
      else {} end'
}

# What a comparison looks at: the fields deploy.sh sets, with the API's defaults filled in (an
# unset label valueType is STRING), so that an unchanged metric compares equal.
# shellcheck disable=SC2016
readonly NORMALIZE_METRIC='{description: (.description // ""), filter,
  labelExtractors: (.labelExtractors // {}),
  metricKind: .metricDescriptor.metricKind, valueType: .metricDescriptor.valueType,
  unit: (.metricDescriptor.unit // ""),
  labels: ([.metricDescriptor.labels[]? | {key, valueType: (.valueType // "STRING"),
    description: (.description // "")}] | sort_by(.key))}'
# shellcheck disable=SC2016
readonly NORMALIZE_POLICY='{displayName, combiner, enabled: (.enabled // true),
  documentation: (.documentation // {}), userLabels: (.userLabels // {}),
  notificationChannels: ((.notificationChannels // []) | sort),
  conditions: [(.conditions // [])[] | {displayName, conditionThreshold: (.conditionThreshold
    | {filter, comparison, thresholdValue: (.thresholdValue // 0), duration: (.duration // "0s"),
       aggregations: (.aggregations // []), trigger: (.trigger // {count: 1})})}]}'
# shellcheck disable=SC2016
readonly NORMALIZE_DASHBOARD='{displayName, labels: (.labels // {}), mosaicLayout}'

# Whether two JSON documents are equal after the jq program $3.
same_config() {
  jq -en --argjson a "$1" --argjson b "$2" "(\$a | $3) == (\$b | $3)" >/dev/null
}

# The Monitoring filter of a metric's time series for this function.
series_filter() {
  printf 'metric.type="%s" AND resource.type="%s"' "$(metric_type "$1")" "$(monitored_resource_type)"
}

# The alert policies (Monitoring API v3), one JSON per line: keys unavailable, denials rising.
# Each documentation says what to do; docs/FUNCTION.md has the whole runbook.
alert_policies() {
  local window="$((ALERT_WINDOW_MINUTES * 60))s" channels
  channels="$(printf '%s\n' "${CHANNELS[@]}" | jq -R . | jq -cs 'map(select(length > 0))')"
  jq -cn --arg name "${NAME}" --arg filter "$(series_filter keys-unavailable)" \
    --arg window "${window}" --argjson channels "${channels}" '{
      displayName: "invoker-guard \($name): signing keys unavailable",
      documentation: {mimeType: "text/markdown", content: ("The guard of \($name) has no usable Google signing keys: requests get 503 KEYS_UNAVAILABLE. Check that the function reaches https://www.googleapis.com/oauth2/v3/certs (egress, VPC connector, firewall), KEY_FETCH_TIMEOUT_SECONDS, and the function logs (jsonPayload.keyHealth, fetchOutcome). Runbook: docs/FUNCTION.md, Monitoring.")},
      userLabels: {"invoker-guard-function": $name},
      combiner: "OR", enabled: true,
      conditions: [{displayName: "keys-unavailable lines in the last \($window)",
        conditionThreshold: {filter: $filter, comparison: "COMPARISON_GT", thresholdValue: 0,
          duration: "0s", trigger: {count: 1},
          aggregations: [{alignmentPeriod: $window, perSeriesAligner: "ALIGN_SUM",
            crossSeriesReducer: "REDUCE_SUM"}]}}],
      notificationChannels: $channels}'
  jq -cn --arg name "${NAME}" --arg filter "$(series_filter denied)" --arg window "${window}" \
    --argjson threshold "${DENIED_THRESHOLD}" --argjson channels "${channels}" '{
      displayName: "invoker-guard \($name): denials rising",
      documentation: {mimeType: "text/markdown", content: ("More than \($threshold) requests to \($name) were denied by its guard within \($window). Read the deny lines by reason and caller (jsonPayload.decision=\"deny\"): CALLER_NOT_ALLOWED names an account holding the invoker role but not allowlisted; token reasons point at a client minting tokens wrongly; KEYS_UNAVAILABLE is the other alert. Runbook: docs/FUNCTION.md, Monitoring.")},
      userLabels: {"invoker-guard-function": $name},
      combiner: "OR", enabled: true,
      conditions: [{displayName: "more than \($threshold) denials in \($window)",
        conditionThreshold: {filter: $filter, comparison: "COMPARISON_GT",
          thresholdValue: $threshold, duration: "0s", trigger: {count: 1},
          aggregations: [{alignmentPeriod: $window, perSeriesAligner: "ALIGN_SUM",
            crossSeriesReducer: "REDUCE_SUM"}]}}],
      notificationChannels: $channels}'
}

# The dashboard (Monitoring API v1): requests allowed and denied by reason and caller, the key
# health counters, and the deny and key-health lines themselves.
dashboard_config() {
  local scope
  scope="$(log_scope)"
  jq -n --arg name "${NAME}" --arg project "${PROJECT}" --arg scope "${scope}" \
    --arg allowed "$(series_filter allowed)" --arg denied "$(series_filter denied)" \
    --arg fetch "$(series_filter key-fetch-failures)" \
    --arg unavailable "$(series_filter keys-unavailable)" '
    def chart($title; $filter; $group; $x; $y): {xPos: $x, yPos: $y, width: 24, height: 16,
      widget: {title: $title, xyChart: {chartOptions: {mode: "COLOR"}, dataSets: [{
        plotType: "STACKED_BAR", targetAxis: "Y1",
        timeSeriesQuery: {timeSeriesFilter: {filter: $filter, aggregation: ({
          alignmentPeriod: "60s", perSeriesAligner: "ALIGN_SUM", crossSeriesReducer: "REDUCE_SUM"}
          + if $group == null then {} else {groupByFields: [$group]} end)}}}]}}};
    {displayName: "invoker-guard \($name)",
     labels: {"invoker-guard": ""},
     mosaicLayout: {columns: 48, tiles: [
       chart("Allowed requests by caller (per minute)"; $allowed; "metric.label.caller"; 0; 0),
       chart("Denied requests by reason (per minute)"; $denied; "metric.label.reason"; 24; 0),
       chart("Denied requests by caller (per minute)"; $denied; "metric.label.caller"; 0; 16),
       (chart("Signing keys: fetch failure runs and keys-unavailable lines"; $fetch; null; 24; 16)
         | .widget.xyChart.dataSets += [.widget.xyChart.dataSets[0]
             | .timeSeriesQuery.timeSeriesFilter.filter = $unavailable]),
       {xPos: 0, yPos: 32, width: 48, height: 16, widget: {
         title: "Deny and key-health lines",
         logsPanel: {resourceNames: ["projects/\($project)"],
           filter: ($scope + " AND (jsonPayload.decision=\"deny\" OR jsonPayload.keyHealth=\"LOADED\" OR jsonPayload.keyHealth=\"FETCH_FAILED\" OR jsonPayload.keyHealth=\"STALE_IN_USE\" OR jsonPayload.keyHealth=\"UNUSABLE\" OR jsonPayload.keyHealth=\"RECOVERED\")")}}}]}}'
}

# Runs a monitoring change whose config is in FILE (the first argument); in a dry run prints the
# command and then the config, indented.
monitoring_change() {
  local file="$1"
  shift
  MONITORING_CHANGES=$((MONITORING_CHANGES + 1))
  if [[ "${DRY_RUN}" == "true" ]]; then
    gcloud_change "$@"
    jq . "${file}" | sed 's/^/    /' >&3
    return 0
  fi
  gcloud_change "$@"
}

# A failed monitoring read stops the run before any monitoring change. The alpha component that
# the alert policy commands need is named when it is missing.
monitoring_read_failed() {
  if grep -qi 'component' <<<"$2"; then
    die_usage "$1 needs the gcloud alpha component: gcloud components install alpha"
  fi
  printf '%s\n' "$2" >&2
  die "$1 failed"
}

# The existing metric's JSON, or nothing when it does not exist.
read_metric() {
  local name="$1" out err status=0
  err="$(mktemp)"
  out="$(gcloud_read logging metrics describe "${name}" --project="${PROJECT}" --format=json \
    2>"${err}")" || status=$?
  if [[ ${status} -ne 0 ]]; then
    if grep -Eq 'NOT_FOUND|not found|does not exist|status=\[404\]' "${err}"; then
      rm -f "${err}"
      return 0
    fi
    local message
    message="$(cat "${err}")"
    rm -f "${err}"
    monitoring_read_failed "gcloud logging metrics describe ${name}" "${message}"
  fi
  rm -f "${err}"
  printf '%s' "${out}"
}

# A JSON array of what a list command prints (an empty list may print nothing at all).
read_list() {
  local what="$1" out err status=0 message
  shift
  err="$(mktemp)"
  out="$(gcloud_read "$@" --project="${PROJECT}" --format=json 2>"${err}")" || status=$?
  message="$(cat "${err}")"
  rm -f "${err}"
  [[ ${status} -eq 0 ]] || monitoring_read_failed "${what}" "${message}"
  printf '%s' "${out:-[]}" | jq -ce 'if type == "array" then . else error("not a list") end' ||
    die "${what} did not print a JSON list"
}

# Creates or updates the metrics, alert policies and dashboard: every read first, so that a read
# that fails (no permission, no alpha component) stops before anything changed. A failed change
# is recorded and the next one tried.
setup_monitoring() {
  local suffix matched name config existing file policies dashboards policy display found count
  local -A existing_metrics=()
  info ""
  info "Monitoring of ${NAME}: log-based metrics, alert policies, dashboard (docs/FUNCTION.md, Monitoring)"
  MONITORING_DIR="$(mktemp -d)"

  while IFS=$'\t' read -r -u 4 suffix matched; do
    name="$(metric_name "${suffix}")"
    # Captured (not read through < <(...)) so that a failed read stops the script.
    existing_metrics["${name}"]="$(read_metric "${name}")"
  done 4< <(metric_specs)
  policies="$(read_list "gcloud alpha monitoring policies list" alpha monitoring policies list)"
  dashboards="$(read_list "gcloud monitoring dashboards list" monitoring dashboards list)"

  while IFS=$'\t' read -r -u 4 suffix matched; do
    name="$(metric_name "${suffix}")"
    config="$(metric_config "${suffix}" "${matched}")"
    file="${MONITORING_DIR}/metric-${name}.json"
    printf '%s\n' "${config}" >"${file}"
    existing="${existing_metrics[${name}]}"
    if [[ -z "${existing}" ]]; then
      info "Creating log-based metric ${name}"
      monitoring_change "${file}" logging metrics create "${name}" --project="${PROJECT}" \
        --config-from-file="${file}" || record_failure "creating log-based metric ${name}"
    elif same_config "${existing}" "${config}" "${NORMALIZE_METRIC}"; then
      info "Log-based metric ${name} is up to date"
      MONITORING_UNCHANGED=$((MONITORING_UNCHANGED + 1))
    else
      info "Updating log-based metric ${name}"
      monitoring_change "${file}" logging metrics update "${name}" --project="${PROJECT}" \
        --config-from-file="${file}" || record_failure "updating log-based metric ${name}"
    fi
  done 4< <(metric_specs)

  count=0
  while IFS= read -r -u 4 policy; do
    count=$((count + 1))
    display="$(jq -r .displayName <<<"${policy}")"
    file="${MONITORING_DIR}/policy-${count}.json"
    printf '%s\n' "${policy}" >"${file}"
    found="$(jq -c --arg d "${display}" '[.[] | select(.displayName == $d)]' <<<"${policies}")"
    if [[ "$(jq length <<<"${found}")" -eq 0 ]]; then
      info "Creating alert policy '${display}'"
      monitoring_change "${file}" alpha monitoring policies create --project="${PROJECT}" \
        --policy-from-file="${file}" || record_failure "creating alert policy '${display}'"
      continue
    fi
    [[ "$(jq length <<<"${found}")" -eq 1 ]] ||
      warn "$(jq length <<<"${found}") alert policies are named '${display}': only the first is kept up to date"
    existing="$(jq -c '.[0]' <<<"${found}")"
    if same_config "${existing}" "${policy}" "${NORMALIZE_POLICY}"; then
      info "Alert policy '${display}' is up to date"
      MONITORING_UNCHANGED=$((MONITORING_UNCHANGED + 1))
    else
      name="$(jq -r .name <<<"${existing}")"
      info "Updating alert policy '${display}' (${name})"
      monitoring_change "${file}" alpha monitoring policies update "${name}" \
        --project="${PROJECT}" --policy-from-file="${file}" ||
        record_failure "updating alert policy '${display}'"
    fi
  done 4< <(alert_policies)

  config="$(dashboard_config)"
  display="$(jq -r .displayName <<<"${config}")"
  file="${MONITORING_DIR}/dashboard.json"
  existing="$(jq -c --arg d "${display}" '[.[] | select(.displayName == $d)] | .[0] // empty' \
    <<<"${dashboards}")"
  if [[ -z "${existing}" ]]; then
    printf '%s\n' "${config}" >"${file}"
    info "Creating dashboard '${display}'"
    monitoring_change "${file}" monitoring dashboards create --project="${PROJECT}" \
      --config-from-file="${file}" || record_failure "creating dashboard '${display}'"
  elif same_config "${existing}" "${config}" "${NORMALIZE_DASHBOARD}"; then
    info "Dashboard '${display}' is up to date"
    MONITORING_UNCHANGED=$((MONITORING_UNCHANGED + 1))
  else
    # The etag read makes the update refused if someone changed the dashboard since.
    jq --arg etag "$(jq -r '.etag // empty' <<<"${existing}")" '. + {etag: $etag}' \
      <<<"${config}" >"${file}"
    name="$(jq -r .name <<<"${existing}")"
    info "Updating dashboard '${display}' (${name})"
    monitoring_change "${file}" monitoring dashboards update "${name##*/}" \
      --project="${PROJECT}" --config-from-file="${file}" ||
      record_failure "updating dashboard '${display}'"
  fi

  if [[ ${MONITORING_CHANGES} -eq 0 ]]; then
    info "Monitoring already up to date: no change (${MONITORING_UNCHANGED} checked)."
  elif [[ "${DRY_RUN}" == "true" ]]; then
    info "Dry run: ${MONITORING_CHANGES} monitoring change(s) planned, none made."
  else
    info "Monitoring: ${MONITORING_CHANGES} change(s) attempted, ${MONITORING_UNCHANGED} already up to date."
  fi
}

# Removes what this run made in temporary directories.
cleanup() {
  [[ -z "${STAGING_DIR}" ]] || rm -rf "${STAGING_DIR}"
  [[ -z "${MONITORING_DIR}" ]] || rm -rf "${MONITORING_DIR}"
}

# --- the plan -----------------------------------------------------------------------------------

main() {
  exec 3>&1
  local before after lines audiences=() new_audiences=() bindings=() pre_bindings=() deployed=true
  local line

  trap cleanup EXIT
  parse_args "$@"
  load_settings
  require_tools
  if [[ "${MONITORING_ONLY}" == "true" ]]; then
    monitoring_only
    return
  fi
  ensure_artifact
  check_account

  if [[ "${DESIRED_GEN}" == "2" ]]; then
    PROJECT_NUMBER="$(project_number)"
  else
    PROJECT_NUMBER=""
  fi
  readonly PROJECT_NUMBER
  resolve_callers

  before="$(describe_function)"
  check_generation "${before}"
  # Captured first (not read through < <(...)) so that a failure inside stops the script.
  lines="$(audiences_from "${before}")"
  mapfile -t audiences <<<"${lines}"

  if [[ -n "${before}" ]]; then
    # Read before deploying: on 2nd gen gcloud's own deploy (--no-allow-unauthenticated) drops
    # allUsers from the service quietly, and the operator should hear that it was there.
    lines="$(invoker_bindings "${before}")"
    [[ -z "${lines}" ]] || mapfile -t pre_bindings <<<"${lines}"
    for line in "${pre_bindings[@]}"; do
      if [[ "${line}" == U$'\t'* ]] && is_public "${line#U$'\t'}"; then
        warn "PUBLIC ACCESS: ${line#U$'\t'} held ${ROLE} on ${NAME} before this run: anyone could reach the function (the guard still checked every call); it is being removed"
      fi
    done
  fi

  deploy_function "${audiences[@]}" || deployed=false
  if [[ "${DRY_RUN}" == "true" ]]; then
    after="${before}"
  else
    after="$(describe_function)"
    [[ -n "${after}" ]] || die "function ${NAME} not found after deploying it"
  fi
  if [[ -n "${after}" ]]; then
    lines="$(audiences_from "${after}")"
    mapfile -t new_audiences <<<"${lines}"
    if [[ "${deployed}" == "true" &&
      "$(join_by , "${new_audiences[@]}")" != "$(join_by , "${audiences[@]}")" ]]; then
      # First deploy of a 2nd gen function: its serviceConfig.uri exists only now.
      audiences=("${new_audiences[@]}")
      info "The function answers at a URL it did not know yet: redeploying with EXPECTED_AUDIENCES=$(join_by , "${audiences[@]}")"
      deploy_function "${audiences[@]}" || true
    fi
    if [[ "${DESIRED_GEN}" == "2" ]]; then
      set_custom_audiences "$(service_of "${after}")"
    fi

    lines="$(invoker_bindings "${after}")"
    [[ -z "${lines}" ]] || mapfile -t bindings <<<"${lines}"
  fi
  converge_invokers "${bindings[@]}"
  [[ "${MONITORING}" == "false" ]] || setup_monitoring

  # The URL to call: serviceConfig.uri for 2nd gen, the cloudfunctions.net URL for 1st gen.
  local url="${FUNCTIONS_URL}"
  if [[ "${DESIRED_GEN}" == "2" ]]; then
    url="$(printf '%s' "${after}" | jq -r '.serviceConfig.uri // empty' 2>/dev/null || true)"
    url="${url:-https://${NAME}-${PROJECT_NUMBER}.${REGION}.run.app}"
  fi
  print_summary "${url}" "${audiences[@]}"

  if [[ "${DRY_RUN}" == "true" ]]; then
    info ""
    [[ -z "${SMOKE_SA}" ]] || info "[dry-run] smoke test as ${SMOKE_SA} not run"
    info "Dry run: nothing was changed."
  elif [[ -n "${SMOKE_SA}" && ${#FAILURES[@]} -eq 0 ]]; then
    smoke_test "${url}" || true
  elif [[ -n "${SMOKE_SA}" ]]; then
    info ""
    info "Smoke test not run: the changes above failed first."
  fi

  exit_with_failures
}

# --monitoring-only: the function is read (to check its generation) but neither deployed nor
# its IAM touched; it need not exist yet (the metrics then count nothing until it does).
monitoring_only() {
  local before
  check_account
  before="$(describe_function)"
  check_generation "${before}"
  if [[ -z "${before}" ]]; then
    warn "function ${NAME} does not exist (yet) in ${REGION}: the metrics count nothing until it is deployed"
  fi
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

# Run only when executed, not when sourced (AllowlistAgreementTest sources it).
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  main "$@"
fi
