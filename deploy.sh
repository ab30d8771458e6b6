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
readonly ENTRY_POINT="dev.invokerguard.function.ProtectedFunction"
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
  INVOKER_GUARD_DRY_RUN)

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly REPO_ROOT
readonly DEFAULT_SOURCE="${REPO_ROOT}/function/target/deploy"
readonly BUILD_CMD=("${REPO_ROOT}/mvnw" -q -pl function -am package -DskipTests)

# --- helpers ------------------------------------------------------------------------------------

usage() {
  cat <<'EOF'
Usage: ./deploy.sh --project HOST_PROJECT --region REGION --allow SA_EMAIL [--allow SA_EMAIL ...]
                   [--name NAME] [--gen1] [--runtime RUNTIME] [--service-account RUNTIME_SA]
                   [--source DIR] [--env-file FILE] [--dry-run]

Deploys the protected HTTP Cloud Function (entry point
dev.invokerguard.function.ProtectedFunction) with authentication required
(--no-allow-unauthenticated), sets ALLOWED_INVOKERS and EXPECTED_AUDIENCES, and makes
the invoker role on the function hold exactly the allowlisted service accounts:
missing ones are granted, any other member is revoked, allUsers and
allAuthenticatedUsers are removed and reported.

Options (each also settable by an environment variable, or by a KEY=VALUE line in the env file):
  --project ID            host project                        INVOKER_GUARD_PROJECT
  --region REGION         e.g. europe-west1                   INVOKER_GUARD_REGION
  --allow SA_EMAIL        allowlisted caller, repeatable      INVOKER_GUARD_ALLOW (comma-separated)
  --name NAME             function name (default invoker-guard) INVOKER_GUARD_NAME
  --gen1                  deploy 1st gen (default: 2nd gen)   INVOKER_GUARD_GEN1=true|false
  --runtime RUNTIME       Java runtime (default java21)       INVOKER_GUARD_RUNTIME
  --service-account SA    runtime service account             INVOKER_GUARD_SERVICE_ACCOUNT
  --source DIR            directory with the one deployable jar INVOKER_GUARD_SOURCE
                          (default function/target/deploy; built with
                          ./mvnw -q -pl function -am package -DskipTests when missing)
  --env-file FILE         read INVOKER_GUARD_* settings from FILE
  --dry-run               print every gcloud command, change nothing INVOKER_GUARD_DRY_RUN=true|false
  -h, --help              show this help

Precedence: command line, then environment, then env file. --allow on the command line
replaces (does not add to) INVOKER_GUARD_ALLOW. The env file holds KEY=VALUE lines with
INVOKER_GUARD_* keys only; blank lines and lines starting with # are ignored; a value may be
wrapped in single or double quotes; nothing in it is expanded or executed.

--dry-run still runs the read-only gcloud calls (auth list, functions describe,
get-iam-policy) so that the plan is exact, and prints them marked [read]; every command
that would change something is printed marked [dry-run] and not run. It does not build.

Exit status: 0 done; 2 bad input or unmet prerequisite (nothing was changed); 1 a gcloud
call failed part way (rerun: the script converges).
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

# Runs a gcloud call that changes something, or only prints it in dry-run mode.
gcloud_change() {
  if [[ "${DRY_RUN}" == "true" ]]; then
    info "[dry-run] $(render gcloud "$@")"
    return 0
  fi
  info "+ $(render gcloud "$@")"
  gcloud "$@"
}

# --- arguments and settings: command line, then environment, then env file ----------------------

# The command line as given, set by parse_args.
CLI_PROJECT="" CLI_REGION="" CLI_NAME="" CLI_RUNTIME="" CLI_SA="" CLI_SOURCE="" ENV_FILE=""
CLI_GEN1="" CLI_DRY_RUN="" HAVE_SOURCE_FLAG=false
CLI_ALLOW=()
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
      --gen1) CLI_GEN1=true; shift ;;
      --dry-run) CLI_DRY_RUN=true; shift ;;
      *) die_usage "unknown argument '$1' (see --help)" ;;
    esac
  done
  readonly CLI_PROJECT CLI_REGION CLI_NAME CLI_RUNTIME CLI_SA CLI_SOURCE ENV_FILE CLI_GEN1 \
    CLI_DRY_RUN HAVE_SOURCE_FLAG CLI_ALLOW
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
# trimmed, checked, lower-cased, printed once per line in first-seen order. Empty items (a trailing
# or doubled comma) are reported instead of silently dropped. Stops at the first bad entry.
allowlist_from() {
  local LC_ALL=C
  local value rest entry
  local allow=()
  for value in "$@"; do
    rest="${value},"
    while [[ -n "${rest}" ]]; do
      entry="${rest%%,*}"
      rest="${rest#*,}"
      # Spaces around entries are ignored, as in ALLOWED_INVOKERS.
      entry="${entry#"${entry%%[!"${ENTRY_PADDING}"]*}"}"
      entry="${entry%"${entry##*[!"${ENTRY_PADDING}"]}"}"
      [[ -n "${entry}" ]] || die_usage "empty entry in the allowlist"
      is_sa_email "${entry}" || die_usage "'${entry}' is not a service-account email"
      entry="${entry,,}"
      contains "${entry}" "${allow[@]}" || allow+=("${entry}")
    done
  done
  [[ ${#allow[@]} -eq 0 ]] || printf '%s\n' "${allow[@]}"
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
  GEN1="${CLI_GEN1:-$(parse_bool INVOKER_GUARD_GEN1 "$(setting INVOKER_GUARD_GEN1 false)")}"
  DRY_RUN="${CLI_DRY_RUN:-$(parse_bool INVOKER_GUARD_DRY_RUN "$(setting INVOKER_GUARD_DRY_RUN false)")}"
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

  local allow_values=() allow_lines env_allow
  if [[ ${#CLI_ALLOW[@]} -gt 0 ]]; then
    # --allow replaces INVOKER_GUARD_ALLOW, and may also carry a comma-separated list.
    allow_values=("${CLI_ALLOW[@]}")
  else
    env_allow="$(setting INVOKER_GUARD_ALLOW "")"
    [[ -z "${env_allow}" ]] || allow_values=("${env_allow}")
  fi
  # Captured first (not read through < <(...)) so that a bad entry stops the script.
  allow_lines="$(allowlist_from "${allow_values[@]}")"
  ALLOW=()
  [[ -z "${allow_lines}" ]] || mapfile -t ALLOW <<<"${allow_lines}"
  [[ ${#ALLOW[@]} -gt 0 ]] ||
    die_usage "no allowlisted caller: pass --allow SA_EMAIL or set INVOKER_GUARD_ALLOW"
  if [[ -n "${RUNTIME_SA}" ]]; then
    is_sa_email "${RUNTIME_SA}" ||
      die_usage "--service-account '${RUNTIME_SA}' is not a service-account email"
  fi
  if [[ "${SOURCE_IS_DEFAULT}" == "false" && ! -d "${SOURCE}" ]]; then
    die_usage "source directory '${SOURCE}' does not exist"
  fi
  readonly PROJECT REGION NAME RUNTIME RUNTIME_SA GEN1 DRY_RUN SOURCE SOURCE_IS_DEFAULT ALLOW

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

# A named source must hold the artifact; the default one is built when missing (not in dry-run).
ensure_artifact() {
  if [[ "${SOURCE_IS_DEFAULT}" == "false" || (-d "${SOURCE}" && "$(jar_count "${SOURCE}")" -ne 0) ]]; then
    check_artifact "${SOURCE}"
  elif [[ "${DRY_RUN}" == "true" ]]; then
    info "[dry-run] (cd $(render "${REPO_ROOT}") && $(render "${BUILD_CMD[@]}"))"
  else
    info "Artifact missing in ${SOURCE}: building it"
    (cd "${REPO_ROOT}" && "${BUILD_CMD[@]}") ||
      die_usage "building the function failed: $(render "${BUILD_CMD[@]}")"
    [[ -d "${SOURCE}" ]] || die_usage "the build left no directory '${SOURCE}'"
    check_artifact "${SOURCE}"
  fi
}

check_account() {
  local account
  account="$(gcloud_read auth list --filter=status:ACTIVE --format='value(account)' 2>/dev/null |
    head -n 1 || true)"
  [[ -n "${account}" ]] || die_usage "gcloud is not authenticated: run 'gcloud auth login'"
  info "Acting as ${account} on project ${PROJECT}, region ${REGION}"
}

# --- reads: the function, its URLs, its invoker members -----------------------------------------

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

# Every URL the function answers at; a client may mint its token for any of them.
audiences_from() {
  local json="$1" url
  printf '%s\n' "${FUNCTIONS_URL}"
  [[ -n "${json}" ]] || return 0
  if [[ "${DESIRED_GEN}" == "2" ]]; then
    url="$(printf '%s' "${json}" | jq -r '.serviceConfig.uri // empty')"
    if [[ -n "${url}" ]]; then
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
}

# Prints the members holding ROLE on the deployed function (described as $1), one per line.
invoker_members() {
  local json="$1" service policy_read policy
  if [[ "${DESIRED_GEN}" == "2" ]]; then
    service="$(printf '%s' "${json}" | jq -r '.serviceConfig.service // empty')"
    service="${service##*/}"
    [[ -n "${service}" ]] || service="${NAME}"
    policy_read=(run services get-iam-policy "${service}" "${COMMON[@]}" --format=json)
  else
    policy_read=(functions get-iam-policy "${NAME}" "${COMMON[@]}" --no-gen2 --format=json)
  fi
  policy="$(gcloud_read "${policy_read[@]}")" || die "reading the IAM policy failed"
  # Fail closed: a policy we cannot parse must not read as "no members".
  printf '%s' "${policy}" | jq -er --arg role "${ROLE}" \
    'if type == "object" then ([.bindings[]? | select(.role == $role) | .members[]?] | join("\n"))
     else error("not a policy") end' || die "the IAM policy is not valid JSON"
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

# --- actions: deploy, converge the invoker IAM binding, say how to call -------------------------

# The --set-env-vars value for the given audiences, with gcloud's alternate delimiter because
# values hold commas.
env_vars_arg() {
  local invokers audiences
  invokers="$(join_by , "${ALLOW[@]}")"
  audiences="$(join_by , "$@")"
  if [[ "${invokers}${audiences}" == *"${ENV_DELIM}"* ]]; then
    die_usage "a value contains the env delimiter '${ENV_DELIM}'"
  fi
  printf '^%s^ALLOWED_INVOKERS=%s%sEXPECTED_AUDIENCES=%s' \
    "${ENV_DELIM}" "${invokers}" "${ENV_DELIM}" "${audiences}"
}

# Deploys with the given audiences in EXPECTED_AUDIENCES.
deploy_function() {
  local cmd=(functions deploy "${NAME}" "${COMMON[@]}")
  cmd+=("${GEN_FLAG}" --trigger-http --no-allow-unauthenticated --runtime="${RUNTIME}"
    --entry-point="${ENTRY_POINT}" --source="${SOURCE}" --set-env-vars="$(env_vars_arg "$@")")
  if [[ -n "${RUNTIME_SA}" ]]; then
    cmd+=(--service-account="${RUNTIME_SA,,}")
  fi
  cmd+=(--quiet)
  gcloud_change "${cmd[@]}" || die "gcloud functions deploy failed"
}

# Revokes ROLE from every given member not on the allowlist, then grants it to every allowlisted
# account not among them, with the pair of commands that act on the invoker role of either
# generation. Prints the summary line.
converge_invokers() {
  local current=("$@") wanted=() current_normalized=() changes=0 sa member
  for sa in "${ALLOW[@]}"; do
    wanted+=("serviceAccount:${sa}")
  done
  for member in "${current[@]}"; do
    current_normalized+=("$(normalize_member "${member}")")
  done

  for member in "${current[@]}"; do
    contains "$(normalize_member "${member}")" "${wanted[@]}" && continue
    if [[ "${member}" == "allUsers" || "${member}" == "allAuthenticatedUsers" ]]; then
      warn "PUBLIC ACCESS: ${member} holds ${ROLE} on ${NAME}; removing it"
    else
      info "Revoking ${ROLE} from ${member} (not on the allowlist)"
    fi
    gcloud_change functions remove-invoker-policy-binding "${NAME}" "${COMMON[@]}" "${GEN_FLAG}" \
      --member="${member}" --quiet || die "removing ${member} failed"
    changes=$((changes + 1))
  done

  for member in "${wanted[@]}"; do
    contains "${member}" "${current_normalized[@]}" && continue
    info "Granting ${ROLE} to ${member}"
    gcloud_change functions add-invoker-policy-binding "${NAME}" "${COMMON[@]}" "${GEN_FLAG}" \
      --member="${member}" --quiet || die "granting ${member} failed"
    changes=$((changes + 1))
  done

  if [[ ${changes} -eq 0 ]]; then
    info "IAM already matches the allowlist: no IAM changes."
  elif [[ "${DRY_RUN}" == "true" ]]; then
    info "Dry run: ${changes} IAM change(s) planned, none made."
  else
    info "IAM converged: ${changes} change(s) made."
  fi
}

# How to call the function at the last of the given audiences.
print_how_to_call() {
  local url="${*: -1}"
  cat <<EOF_CALL

Function:  ${NAME} ($([[ "${DESIRED_GEN}" == "2" ]] && echo "2nd gen" || echo "1st gen"), ${REGION}, ${PROJECT})
URL:       ${url}
Audiences: $(join_by , "$@")
Allowlist: $(join_by , "${ALLOW[@]}")

Call it from GKE with Workload Identity (as the pod's Kubernetes service account bound to an
allowlisted Google service account):
  TOKEN="\$(curl -sS -H 'Metadata-Flavor: Google' \\
    'http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/identity?audience=${url}&format=full')"
  curl -sS -H "Authorization: Bearer \${TOKEN}" '${url}'

Call it from a workstation (needs roles/iam.serviceAccountTokenCreator on the service account):
  TOKEN="\$(gcloud auth print-identity-token --impersonate-service-account=${ALLOW[0]} \\
    --audiences='${url}' --include-email)"
  curl -sS -H "Authorization: Bearer \${TOKEN}" '${url}'
EOF_CALL
  if [[ "${DRY_RUN}" == "true" ]]; then
    info ""
    info "Dry run: nothing was changed."
  fi
}

# --- the plan -----------------------------------------------------------------------------------

main() {
  exec 3>&1
  local before after lines audiences=() new_audiences=() members=()

  parse_args "$@"
  load_settings
  require_tools
  ensure_artifact
  check_account

  before="$(describe_function)"
  check_generation "${before}"
  # Captured first (not read through < <(...)) so that a failure inside stops the script.
  lines="$(audiences_from "${before}")"
  mapfile -t audiences <<<"${lines}"

  deploy_function "${audiences[@]}"
  if [[ "${DRY_RUN}" == "true" ]]; then
    after="${before}"
  else
    after="$(describe_function)"
    [[ -n "${after}" ]] || die "function ${NAME} not found after deploying it"
  fi
  if [[ -n "${after}" ]]; then
    lines="$(audiences_from "${after}")"
    mapfile -t new_audiences <<<"${lines}"
    if [[ "$(join_by , "${new_audiences[@]}")" != "$(join_by , "${audiences[@]}")" ]]; then
      # First deploy of a 2nd gen function: its run.app URL exists only now.
      audiences=("${new_audiences[@]}")
      info "The function answers at a URL it did not know yet: redeploying with EXPECTED_AUDIENCES=$(join_by , "${audiences[@]}")"
      deploy_function "${audiences[@]}"
    fi

    lines="$(invoker_members "${after}")"
    [[ -z "${lines}" ]] || mapfile -t members <<<"${lines}"
  fi
  converge_invokers "${members[@]}"

  print_how_to_call "${audiences[@]}"
}

# Run only when executed, not when sourced (AllowlistAgreementTest sources it).
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  main "$@"
fi
