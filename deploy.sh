#!/usr/bin/env bash
# Deploys the invoker-guard protected Cloud Function with authentication required, and keeps the
# function's invoker IAM binding equal to the allowlist (grant missing, revoke extra, drop public).
# Run ./deploy.sh --help for usage. See docs/DEPLOY.md.
set -euo pipefail

readonly PROG="deploy.sh"
readonly ENTRY_POINT="dev.invokerguard.function.ProtectedFunction"
readonly DEFAULT_NAME="invoker-guard"
readonly DEFAULT_RUNTIME="java21"
# gcloud splits --set-env-vars on commas unless an alternate delimiter is declared with ^DELIM^
# (gcloud topic escaping). Emails contain '@' and URLs contain ':', so neither can be the delimiter;
# '|' can appear in no validated email or URL, and env_vars_arg() still refuses any value holding it.
readonly ENV_DELIM="|"
# Same rule as ServiceAccountAllowlist.isServiceAccountEmail in the verifier (matched lower-cased).
readonly SA_EMAIL_RE='^[a-z0-9]([a-z0-9._-]{0,98}[a-z0-9])?@([a-z0-9]([a-z0-9.-]{0,98}[a-z0-9])?\.iam|developer|appspot)\.gserviceaccount\.com$'
readonly PROJECT_RE='^[a-z][a-z0-9-]{4,28}[a-z0-9]$'
readonly REGION_RE='^[a-z]+(-[a-z]+)+[0-9]+$'
# Lower case only: for 2nd gen the name becomes a Cloud Run service name, and it is part of the
# audience URL, which must match the token's aud exactly.
readonly NAME_RE='^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$'
readonly RUNTIME_RE='^java[0-9]+$'
readonly RUN_APP_URL_RE='^https://[a-z0-9]([a-z0-9.-]*[a-z0-9])?\.run\.app$'
readonly FUNCTIONS_URL_RE='^https://[a-z0-9]([a-z0-9.-]*[a-z0-9])?\.cloudfunctions\.net/[a-z0-9_-]+$'

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly REPO_ROOT
readonly DEFAULT_SOURCE="${REPO_ROOT}/function/target/deploy"

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

# Progress and plan lines go to fd 3 (the original stdout), so that functions whose stdout is
# captured with $(...) can still print them in order.
exec 3>&1
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

# --- settings: env file, then environment, then command line ------------------------------------

KNOWN_KEYS=(INVOKER_GUARD_PROJECT INVOKER_GUARD_REGION INVOKER_GUARD_ALLOW INVOKER_GUARD_NAME
  INVOKER_GUARD_GEN1 INVOKER_GUARD_RUNTIME INVOKER_GUARD_SERVICE_ACCOUNT INVOKER_GUARD_SOURCE
  INVOKER_GUARD_DRY_RUN)

declare -A FILE_VALUES=()

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

CLI_PROJECT="" CLI_REGION="" CLI_NAME="" CLI_RUNTIME="" CLI_SA="" CLI_SOURCE="" ENV_FILE=""
CLI_GEN1="" CLI_DRY_RUN="" HAVE_SOURCE_FLAG=false
CLI_ALLOW=()

# An option's value must be present and must not be the next option (--allow --dry-run).
need_value() {
  [[ $# -ge 2 && -n "$2" && "$2" != --* ]] || die_usage "$1 needs a value"
}

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

if [[ -n "${ENV_FILE}" ]]; then
  read_env_file "${ENV_FILE}"
fi

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

RAW_ALLOW=()
# Splits a comma-separated list into RAW_ALLOW, keeping empty items (a trailing or doubled comma)
# so that they are reported instead of silently dropped.
split_into_raw_allow() {
  local rest="$1,"
  while [[ -n "${rest}" ]]; do
    RAW_ALLOW+=("${rest%%,*}")
    rest="${rest#*,}"
  done
}
if [[ ${#CLI_ALLOW[@]} -gt 0 ]]; then
  # --allow may also carry a comma-separated list.
  for value in "${CLI_ALLOW[@]}"; do
    split_into_raw_allow "${value}"
  done
else
  ENV_ALLOW="$(setting INVOKER_GUARD_ALLOW "")"
  [[ -z "${ENV_ALLOW}" ]] || split_into_raw_allow "${ENV_ALLOW}"
fi

# --- validation: no gcloud call before all input is known good ----------------------------------

[[ -n "${PROJECT}" ]] || die_usage "no project: pass --project or set INVOKER_GUARD_PROJECT"
[[ "${PROJECT}" =~ ${PROJECT_RE} ]] || die_usage "'${PROJECT}' is not a valid project ID"
[[ -n "${REGION}" ]] || die_usage "no region: pass --region or set INVOKER_GUARD_REGION"
[[ "${REGION}" =~ ${REGION_RE} ]] || die_usage "'${REGION}' is not a valid region"
[[ "${NAME}" =~ ${NAME_RE} ]] ||
  die_usage "'${NAME}' is not a valid function name (lower-case letters, digits, hyphens; 1-63)"
[[ "${RUNTIME}" =~ ${RUNTIME_RE} ]] || die_usage "'${RUNTIME}' is not a Java runtime (e.g. java21)"

is_sa_email() {
  local value="${1,,}"
  [[ ${#value} -le 254 && "${value}" =~ ${SA_EMAIL_RE} ]]
}

ALLOW=()
for entry in "${RAW_ALLOW[@]}"; do
  # Spaces around entries are ignored, as in ALLOWED_INVOKERS.
  entry="${entry#"${entry%%[![:space:]]*}"}"
  entry="${entry%"${entry##*[![:space:]]}"}"
  [[ -n "${entry}" ]] || die_usage "empty entry in the allowlist"
  is_sa_email "${entry}" || die_usage "'${entry}' is not a service-account email"
  entry="${entry,,}"
  dup=false
  for seen in "${ALLOW[@]}"; do
    [[ "${seen}" == "${entry}" ]] && dup=true
  done
  [[ "${dup}" == "true" ]] || ALLOW+=("${entry}")
done
[[ ${#ALLOW[@]} -gt 0 ]] ||
  die_usage "no allowlisted caller: pass --allow SA_EMAIL or set INVOKER_GUARD_ALLOW"
if [[ -n "${RUNTIME_SA}" ]]; then
  is_sa_email "${RUNTIME_SA}" ||
    die_usage "--service-account '${RUNTIME_SA}' is not a service-account email"
fi

if [[ -n "${SOURCE}" && ! -d "${SOURCE}" ]]; then
  die_usage "source directory '${SOURCE}' does not exist"
fi

command -v gcloud >/dev/null 2>&1 || die_usage "gcloud not found on PATH: install the Google Cloud CLI"
command -v jq >/dev/null 2>&1 || die_usage "jq not found on PATH: install jq (Debian package jq)"

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

BUILD_CMD=("${REPO_ROOT}/mvnw" -q -pl function -am package -DskipTests)
if [[ -n "${SOURCE}" ]]; then
  check_artifact "${SOURCE}"
else
  SOURCE="${DEFAULT_SOURCE}"
  if [[ ! -d "${SOURCE}" || "$(jar_count "${SOURCE}")" -eq 0 ]]; then
    if [[ "${DRY_RUN}" == "true" ]]; then
      info "[dry-run] (cd $(render "${REPO_ROOT}") && $(render "${BUILD_CMD[@]}"))"
    else
      info "Artifact missing in ${SOURCE}: building it"
      (cd "${REPO_ROOT}" && "${BUILD_CMD[@]}") ||
        die_usage "building the function failed: $(render "${BUILD_CMD[@]}")"
      [[ -d "${SOURCE}" ]] || die_usage "the build left no directory '${SOURCE}'"
      check_artifact "${SOURCE}"
    fi
  else
    check_artifact "${SOURCE}"
  fi
fi

ACCOUNT="$(gcloud_read auth list --filter=status:ACTIVE --format='value(account)' 2>/dev/null |
  head -n 1 || true)"
[[ -n "${ACCOUNT}" ]] || die_usage "gcloud is not authenticated: run 'gcloud auth login'"
info "Acting as ${ACCOUNT} on project ${PROJECT}, region ${REGION}"

# --- read the current state ---------------------------------------------------------------------

COMMON=(--region="${REGION}" --project="${PROJECT}")

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

DESIRED_GEN=2
# Passed explicitly to the commands that act on the function once its generation is known, so a
# functions/gen2 property in the user's gcloud configuration cannot send them to the other API.
GEN_FLAG="--gen2"
if [[ "${GEN1}" == "true" ]]; then
  DESIRED_GEN=1
  GEN_FLAG="--no-gen2"
fi

BEFORE="$(describe_function)"
if [[ -n "${BEFORE}" ]]; then
  EXISTING_GEN="$(printf '%s' "${BEFORE}" | generation_of)"
  if [[ "${EXISTING_GEN}" != "?" && "${EXISTING_GEN}" != "${DESIRED_GEN}" ]]; then
    if [[ "${EXISTING_GEN}" == "1" ]]; then
      die_usage "function ${NAME} exists as 1st gen: rerun with --gen1 (or delete it first)"
    fi
    die_usage "function ${NAME} exists as 2nd gen: rerun without --gen1 (or delete it first)"
  fi
fi

readonly FUNCTIONS_URL="https://${REGION}-${PROJECT}.cloudfunctions.net/${NAME}"

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

join_by() {
  local IFS="$1"
  shift
  printf '%s' "$*"
}

# The --set-env-vars value, with gcloud's alternate delimiter because values hold commas.
env_vars_arg() {
  local invokers audiences
  invokers="$(join_by , "${ALLOW[@]}")"
  audiences="$(join_by , "${AUDIENCES[@]}")"
  if [[ "${invokers}${audiences}" == *"${ENV_DELIM}"* ]]; then
    die_usage "a value contains the env delimiter '${ENV_DELIM}'"
  fi
  printf '^%s^ALLOWED_INVOKERS=%s%sEXPECTED_AUDIENCES=%s' \
    "${ENV_DELIM}" "${invokers}" "${ENV_DELIM}" "${audiences}"
}

deploy_function() {
  local cmd=(functions deploy "${NAME}" "${COMMON[@]}")
  cmd+=("${GEN_FLAG}" --trigger-http --no-allow-unauthenticated --runtime="${RUNTIME}"
    --entry-point="${ENTRY_POINT}" --source="${SOURCE}" --set-env-vars="$(env_vars_arg)")
  if [[ -n "${RUNTIME_SA}" ]]; then
    cmd+=(--service-account="${RUNTIME_SA,,}")
  fi
  cmd+=(--quiet)
  gcloud_change "${cmd[@]}" || die "gcloud functions deploy failed"
}

# Captured first (not read through < <(...)) so that a failure inside stops the script.
AUDIENCE_LINES="$(audiences_from "${BEFORE}")"
mapfile -t AUDIENCES <<<"${AUDIENCE_LINES}"

# --- deploy -------------------------------------------------------------------------------------

deploy_function

if [[ "${DRY_RUN}" == "true" ]]; then
  AFTER="${BEFORE}"
else
  AFTER="$(describe_function)"
  [[ -n "${AFTER}" ]] || die "function ${NAME} not found after deploying it"
fi

if [[ -n "${AFTER}" ]]; then
  AUDIENCE_LINES="$(audiences_from "${AFTER}")"
  mapfile -t NEW_AUDIENCES <<<"${AUDIENCE_LINES}"
  if [[ "$(join_by , "${NEW_AUDIENCES[@]}")" != "$(join_by , "${AUDIENCES[@]}")" ]]; then
    # First deploy of a 2nd gen function: its run.app URL exists only now.
    AUDIENCES=("${NEW_AUDIENCES[@]}")
    info "The function answers at a URL it did not know yet: redeploying with EXPECTED_AUDIENCES=$(join_by , "${AUDIENCES[@]}")"
    deploy_function
  fi
fi

# --- converge the invoker IAM binding -----------------------------------------------------------

if [[ "${DESIRED_GEN}" == "2" ]]; then
  ROLE="roles/run.invoker"
  SERVICE="${NAME}"
  if [[ -n "${AFTER}" ]]; then
    SERVICE="$(printf '%s' "${AFTER}" | jq -r '.serviceConfig.service // empty')"
    SERVICE="${SERVICE##*/}"
    [[ -n "${SERVICE}" ]] || SERVICE="${NAME}"
  fi
  POLICY_READ=(run services get-iam-policy "${SERVICE}" "${COMMON[@]}" --format=json)
  REMOVE_CMD=(run services remove-iam-policy-binding "${SERVICE}" "${COMMON[@]}")
else
  ROLE="roles/cloudfunctions.invoker"
  POLICY_READ=(functions get-iam-policy "${NAME}" "${COMMON[@]}" --no-gen2 --format=json)
  REMOVE_CMD=(functions remove-iam-policy-binding "${NAME}" "${COMMON[@]}" --no-gen2)
fi

CURRENT=()
if [[ -n "${AFTER}" ]]; then
  POLICY="$(gcloud_read "${POLICY_READ[@]}")" || die "reading the IAM policy failed"
  # Fail closed: a policy we cannot parse must not read as "no members".
  MEMBER_LINES="$(printf '%s' "${POLICY}" | jq -er --arg role "${ROLE}" \
    'if type == "object" then ([.bindings[]? | select(.role == $role) | .members[]?] | join("\n"))
     else error("not a policy") end')" || die "the IAM policy is not valid JSON"
  if [[ -n "${MEMBER_LINES}" ]]; then
    mapfile -t CURRENT <<<"${MEMBER_LINES}"
  fi
fi

# IAM member as compared here: service-account emails are case-insensitive, other kinds are
# compared as written.
normalize_member() {
  local member="$1"
  if [[ "${member}" == serviceAccount:* ]]; then
    member="serviceAccount:$(printf '%s' "${member#serviceAccount:}" | tr '[:upper:]' '[:lower:]')"
  fi
  printf '%s' "${member}"
}

contains() {
  local needle="$1" item
  shift
  for item in "$@"; do
    [[ "${item}" == "${needle}" ]] && return 0
  done
  return 1
}

WANTED=()
for sa in "${ALLOW[@]}"; do
  WANTED+=("serviceAccount:${sa}")
done

CURRENT_NORMALIZED=()
for member in "${CURRENT[@]}"; do
  CURRENT_NORMALIZED+=("$(normalize_member "${member}")")
done

CHANGES=0
for member in "${CURRENT[@]}"; do
  contains "$(normalize_member "${member}")" "${WANTED[@]}" && continue
  if [[ "${member}" == "allUsers" || "${member}" == "allAuthenticatedUsers" ]]; then
    warn "PUBLIC ACCESS: ${member} holds ${ROLE} on ${NAME}; removing it"
  else
    info "Revoking ${ROLE} from ${member} (not on the allowlist)"
  fi
  gcloud_change "${REMOVE_CMD[@]}" --member="${member}" --role="${ROLE}" --quiet ||
    die "removing ${member} failed"
  CHANGES=$((CHANGES + 1))
done

for member in "${WANTED[@]}"; do
  contains "${member}" "${CURRENT_NORMALIZED[@]}" && continue
  info "Granting ${ROLE} to ${member}"
  gcloud_change functions add-invoker-policy-binding "${NAME}" "${COMMON[@]}" "${GEN_FLAG}" \
    --member="${member}" --quiet || die "granting ${member} failed"
  CHANGES=$((CHANGES + 1))
done

if [[ ${CHANGES} -eq 0 ]]; then
  info "IAM already matches the allowlist: no IAM changes."
elif [[ "${DRY_RUN}" == "true" ]]; then
  info "Dry run: ${CHANGES} IAM change(s) planned, none made."
else
  info "IAM converged: ${CHANGES} change(s) made."
fi

# --- how to call it -----------------------------------------------------------------------------

URL="${AUDIENCES[${#AUDIENCES[@]} - 1]}"
cat <<EOF

Function:  ${NAME} ($([[ "${DESIRED_GEN}" == "2" ]] && echo "2nd gen" || echo "1st gen"), ${REGION}, ${PROJECT})
URL:       ${URL}
Audiences: $(join_by , "${AUDIENCES[@]}")
Allowlist: $(join_by , "${ALLOW[@]}")

Call it from GKE with Workload Identity (as the pod's Kubernetes service account bound to an
allowlisted Google service account):
  TOKEN="\$(curl -sS -H 'Metadata-Flavor: Google' \\
    'http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/identity?audience=${URL}&format=full')"
  curl -sS -H "Authorization: Bearer \${TOKEN}" '${URL}'

Call it from a workstation (needs roles/iam.serviceAccountTokenCreator on the service account):
  TOKEN="\$(gcloud auth print-identity-token --impersonate-service-account=${ALLOW[0]} \\
    --audiences='${URL}' --include-email)"
  curl -sS -H "Authorization: Bearer \${TOKEN}" '${URL}'
EOF
if [[ "${DRY_RUN}" == "true" ]]; then
  info ""
  info "Dry run: nothing was changed."
fi
