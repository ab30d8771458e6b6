#!/usr/bin/env bash
# Onboards a client project: creates the Google service account that calls the invoker-guard
# protected function, binds it to a GKE Kubernetes service account (Workload Identity) or writes a
# key for on-premises callers, deletes keys, and prints what the host team needs to allowlist it.
# Run ./client-setup.sh --help for usage. See docs/CLIENT.md.
set -euo pipefail

# --- constants ----------------------------------------------------------------------------------

readonly PROG="client-setup.sh"
readonly PROJECT_RE='^[a-z][a-z0-9-]{4,28}[a-z0-9]$'
# Google's rule for a service account ID: 6 to 30 lower-case letters, digits or hyphens, starting
# with a letter and not ending with a hyphen.
readonly SA_NAME_RE='^[a-z]([-a-z0-9]{4,28}[a-z0-9])$'
# Kubernetes: a namespace is a DNS label (RFC 1123), a service account name a DNS subdomain.
readonly NAMESPACE_RE='^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$'
readonly KSA_RE='^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$'
# An https URL with a host and an optional plain path: no quotes, spaces, query or fragment, so it
# can be written into YAML and printed in a shell command as is. The audience of a token is
# compared exactly, so a query or fragment would never match anyway.
readonly AUDIENCE_RE='^https://[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$'
readonly WI_ROLE="roles/iam.workloadIdentityUser"
readonly DEFAULT_OUT="client-setup-out"
readonly DISPLAY_NAME="invoker-guard client"
# What the sample workload's image and URL say when the team has not set them yet. Both are
# invalid on purpose (upper case), so the workload cannot start until they are set.
readonly IMAGE_PLACEHOLDER="SET-ME-an-image-with-java-17-and-invoke.jar"
readonly URL_PLACEHOLDER="SET-ME-the-function-URL"

# --- state: set by parse_args and check_input, read-only after that -------------------------------

PROJECT="" SA_NAME="" GKE="" KEY_FILE="" AUDIENCE="" OUT_DIR="${DEFAULT_OUT}"
DELETE_KEYS=false DRY_RUN=false HAVE_KEY_FILE=false HAVE_OUT=false
NAMESPACE="" KSA="" EMAIL="" WI_MEMBER=""
# What failed while the script went on (key deletions): listed, and exit 1, at the end.
FAILURES=()

# --- output and gcloud helpers --------------------------------------------------------------------

usage() {
  cat <<'EOF'
Usage: ./client-setup.sh --project CLIENT_PROJECT --name SA_NAME
                         [--gke NAMESPACE/KSA] [--key-file PATH] [--delete-keys]
                         [--audience FUNCTION_URL] [--out DIR] [--dry-run]

Creates the service account SA_NAME@CLIENT_PROJECT.iam.gserviceaccount.com unless it
exists, and ends by printing what the host team needs to allowlist it (email, numeric
unique ID, the deploy.sh --allow argument) and how to call the function.

Options:
  --project ID          the client project (where the service account lives)
  --name SA_NAME        service account ID: 6-30 lower-case letters, digits, hyphens
  --gke NS/KSA          GKE with Workload Identity: grant roles/iam.workloadIdentityUser
                        on the service account to the Kubernetes service account KSA in
                        namespace NS (member serviceAccount:CLIENT_PROJECT.svc.id.goog[NS/KSA]),
                        write DIR/kubernetes.yaml, and check the project's clusters
  --audience URL        the function's URL, the audience of the tokens (used in the
                        manifest and in the printed commands)
  --out DIR             where kubernetes.yaml goes (default client-setup-out)
  --key-file PATH       on-premises callers only: create a key and write it to PATH
                        (mode 600). An existing key file of this account is kept.
  --delete-keys         delete every user-managed key of the service account
  --dry-run             run the reads, print every change, change nothing
  -h, --help            show this help

--key-file and --delete-keys cannot be combined. The reads (auth list, describe,
get-iam-policy, keys list, clusters list) also run in a dry run, printed marked
[read]; every change is printed marked [dry-run] and not made.

--key-file takes a plain path to a new file or to this account's key file: not
"-", nor a directory, a symbolic link or a device. Values of options may not start
with "-" (in both spellings, --key-file PATH and --key-file=PATH).

Exit status: 0 done; 2 bad input or unmet prerequisite (nothing was changed);
1 a gcloud call failed part way, key creation was refused, or a key could not be
deleted (--delete-keys deletes every other key first and lists each failure; rerun:
the script converges).
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

# Progress and plan lines go to fd 3 (the original stdout, opened in main), so that functions
# whose stdout is captured with $(...) can still print them in order.
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

# Records a failure the script goes on past; main lists them all and exits 1 at the end.
record_failure() {
  FAILURES+=("$1")
  printf '%s: error: %s\n' "${PROG}" "$1" >&2
}

# --- arguments ----------------------------------------------------------------------------------

# An option's value must be present, not empty, and must not look like an option: "--name
# --dry-run" forgot the name, and "--key-file -" would make gcloud print the private key to stdout.
need_value() {
  [[ $# -ge 2 && -n "$2" ]] || die_usage "$1 needs a value"
  [[ "$2" != -* ]] || die_usage "$1 needs a value, got '$2' (a value may not start with '-')"
}

parse_args() {
  while [[ $# -gt 0 ]]; do
    # --option=value is --option value: one path, one value check for both spellings.
    if [[ "$1" == --*=* ]]; then
      set -- "${1%%=*}" "${1#*=}" "${@:2}"
    fi
    case "$1" in
      -h | --help)
        usage
        exit 0
        ;;
      --project) need_value "$@"; PROJECT="$2"; shift 2 ;;
      --name) need_value "$@"; SA_NAME="$2"; shift 2 ;;
      --gke) need_value "$@"; GKE="$2"; shift 2 ;;
      --key-file) need_value "$@"; KEY_FILE="$2"; HAVE_KEY_FILE=true; shift 2 ;;
      --audience) need_value "$@"; AUDIENCE="$2"; shift 2 ;;
      --out) need_value "$@"; OUT_DIR="$2"; HAVE_OUT=true; shift 2 ;;
      --delete-keys) DELETE_KEYS=true; shift ;;
      --dry-run) DRY_RUN=true; shift ;;
      *) die_usage "unknown argument '$1' (see --help)" ;;
    esac
  done
}

# --- checks: input, tools, account (no gcloud call before all input is known good) -------------

check_input() {
  [[ -n "${PROJECT}" ]] || die_usage "no project: pass --project CLIENT_PROJECT"
  [[ "${PROJECT}" =~ ${PROJECT_RE} ]] || die_usage "'${PROJECT}' is not a valid project ID"
  [[ -n "${SA_NAME}" ]] || die_usage "no service account name: pass --name SA_NAME"
  [[ "${SA_NAME}" =~ ${SA_NAME_RE} ]] ||
    die_usage "'${SA_NAME}' is not a valid service account ID (6-30 lower-case letters, digits, hyphens, starting with a letter)"
  if [[ -n "${GKE}" ]]; then
    [[ "${GKE}" == */* ]] || die_usage "--gke must be NAMESPACE/KSA, got '${GKE}'"
    NAMESPACE="${GKE%%/*}"
    KSA="${GKE#*/}"
    [[ "${NAMESPACE}" =~ ${NAMESPACE_RE} ]] ||
      die_usage "'${NAMESPACE}' is not a valid Kubernetes namespace"
    [[ ${#KSA} -le 253 && "${KSA}" =~ ${KSA_RE} ]] ||
      die_usage "'${KSA}' is not a valid Kubernetes service account name"
  elif [[ "${HAVE_OUT}" == "true" ]]; then
    die_usage "--out is where --gke writes its manifest: pass --gke too"
  fi
  if [[ -n "${AUDIENCE}" ]]; then
    [[ ${#AUDIENCE} -le 2000 && "${AUDIENCE}" =~ ${AUDIENCE_RE} ]] ||
      die_usage "--audience '${AUDIENCE}' is not the function's https URL (no query, no fragment)"
  fi
  if [[ "${HAVE_KEY_FILE}" == "true" ]]; then
    [[ "${DELETE_KEYS}" == "false" ]] ||
      die_usage "--key-file and --delete-keys together would delete the key just written: run them one after the other"
    check_key_file_path
  fi
  if [[ -n "${GKE}" && -e "${OUT_DIR}" && ! -d "${OUT_DIR}" ]]; then
    die_usage "--out '${OUT_DIR}' exists and is not a directory"
  fi
  EMAIL="${SA_NAME}@${PROJECT}.iam.gserviceaccount.com"
  readonly PROJECT SA_NAME GKE KEY_FILE AUDIENCE OUT_DIR DELETE_KEYS DRY_RUN EMAIL NAMESPACE KSA
}

# gcloud writes the new private key wherever KEY_FILE points: "-" is stdout, and /dev/stdout, a
# FIFO or a symbolic link lead elsewhere. Only a plain path to a regular file, or to nothing yet, in
# a directory that exists, may reach it.
check_key_file_path() {
  [[ "${KEY_FILE}" =~ ^[[:print:]]+$ ]] ||
    die_usage "--key-file must be a plain file path (printable characters only)"
  [[ "${KEY_FILE}" != */ && ! -d "${KEY_FILE}" ]] ||
    die_usage "--key-file '${KEY_FILE}' is a directory: give the path of the key file"
  [[ ! -L "${KEY_FILE}" ]] ||
    die_usage "--key-file '${KEY_FILE}' is a symbolic link: give the path of the file itself"
  [[ ! -e "${KEY_FILE}" || -f "${KEY_FILE}" ]] ||
    die_usage "--key-file '${KEY_FILE}' exists and is not a regular file"
  [[ -d "$(dirname -- "${KEY_FILE}")" ]] ||
    die_usage "the directory of --key-file '${KEY_FILE}' does not exist"
}

require_tools() {
  command -v gcloud >/dev/null 2>&1 || die_usage "gcloud not found on PATH: install the Google Cloud CLI"
  command -v jq >/dev/null 2>&1 || die_usage "jq not found on PATH: install jq (Debian package jq)"
}

check_account() {
  local account
  account="$(gcloud_read auth list --filter=status:ACTIVE --format='value(account)' 2>/dev/null |
    head -n 1 || true)"
  [[ -n "${account}" ]] || die_usage "gcloud is not authenticated: run 'gcloud auth login'"
  info "Acting as ${account} on project ${PROJECT}"
}

# An existing --key-file must be a key of this very account: it is kept (no second key). Any
# other file is refused, never overwritten.
check_existing_key_file() {
  [[ "${HAVE_KEY_FILE}" == "true" && -e "${KEY_FILE}" ]] || return 0
  local owner
  owner="$(jq -r 'if type == "object" and .type == "service_account" then .client_email
                  else empty end' "${KEY_FILE}" 2>/dev/null || true)"
  [[ "${owner,,}" == "${EMAIL}" ]] ||
    die_usage "'${KEY_FILE}' exists and is not a key of ${EMAIL}: refusing to overwrite it"
}

# --- reads: the service account, its policy, its keys, the clusters -----------------------------

# Prints the service account's JSON, or nothing when it does not exist. Any other failure stops.
describe_account() {
  local out err status=0
  err="$(mktemp)"
  out="$(gcloud_read iam service-accounts describe "${EMAIL}" --project="${PROJECT}" \
    --format=json 2>"${err}")" || status=$?
  if [[ ${status} -ne 0 ]]; then
    if grep -Eq 'NOT_FOUND|status=\[404\]' "${err}"; then
      rm -f "${err}"
      return 0
    fi
    cat "${err}" >&2
    rm -f "${err}"
    die "gcloud iam service-accounts describe failed"
  fi
  rm -f "${err}"
  printf '%s' "${out}" | jq -e 'type == "object" and (.uniqueId | type == "string")' \
    >/dev/null 2>&1 || die "gcloud iam service-accounts describe returned no service account"
  printf '%s' "${out}"
}

# Whether the service account's policy grants the Workload Identity role to MEMBER without a
# condition (a conditional grant may lapse: it does not count).
wi_granted() {
  local member="$1" policy
  policy="$(gcloud_read iam service-accounts get-iam-policy "${EMAIL}" --project="${PROJECT}" \
    --format=json)" || die "reading the IAM policy of ${EMAIL} failed"
  # Fail closed: a policy that cannot be parsed must not read as "granted" or "not granted".
  printf '%s' "${policy}" | jq -e --arg role "${WI_ROLE}" --arg member "${member}" \
    'if type != "object" then error("not a policy")
     else any(.bindings[]? | select(.role == $role and (has("condition") | not));
              any(.members[]?; . == $member)) end' >/dev/null 2>&1 && return 0
  printf '%s' "${policy}" | jq -e 'type == "object"' >/dev/null 2>&1 ||
    die "the IAM policy of ${EMAIL} is not valid JSON"
  return 1
}

# Prints the ids of the account's user-managed keys, one a line.
user_managed_keys() {
  local keys
  keys="$(gcloud_read iam service-accounts keys list --iam-account="${EMAIL}" \
    --project="${PROJECT}" --managed-by=user --format=json)" || die "listing the keys of ${EMAIL} failed"
  # Fail closed: a list that cannot be parsed must not read as "no keys".
  printf '%s' "${keys}" | jq -e 'type == "array"' >/dev/null 2>&1 ||
    die "the key list of ${EMAIL} is not valid JSON"
  printf '%s' "${keys}" | jq -r '.[].name | split("/") | last'
}

# Checks what Workload Identity needs on the project's clusters, when the caller may read them.
# The script cannot know which cluster the pods run in: it reports, it does not stop.
check_clusters() {
  local clusters err status=0 pool="${PROJECT}.svc.id.goog"
  err="$(mktemp)"
  clusters="$(gcloud_read container clusters list --project="${PROJECT}" --format=json \
    2>"${err}")" || status=$?
  if [[ ${status} -ne 0 ]] || ! printf '%s' "${clusters}" | jq -e 'type == "array"' >/dev/null 2>&1
  then
    warn "could not list the GKE clusters of ${PROJECT} to check them: $(tail -n 1 "${err}")"
    rm -f "${err}"
    return 0
  fi
  rm -f "${err}"
  if [[ "$(printf '%s' "${clusters}" | jq 'length')" -eq 0 ]]; then
    info "No GKE cluster in ${PROJECT} to check (the pods must run in a cluster of ${PROJECT}:"
    info "the member ${WI_MEMBER} names that project's pool)."
    return 0
  fi
  printf '%s' "${clusters}" | jq -r --arg pool "${pool}" '.[] |
    "Cluster \(.name) (\(.location)): " +
    (if (.autopilot.enabled // false) then "Autopilot, Workload Identity always on"
     elif (.workloadIdentityConfig.workloadPool // "") == $pool
       then "Workload Identity pool \($pool): on"
     else "Workload Identity pool \($pool): OFF. Fix: gcloud container clusters update \(.name) --location=\(.location) --workload-pool=\($pool)"
     end),
    (select((.autopilot.enabled // false) | not) | .nodePools[]? |
      "  node pool \(.name): " +
      (if (.config.workloadMetadataConfig.mode // "") == "GKE_METADATA" then "GKE_METADATA: on"
       else "not GKE_METADATA. Fix: gcloud container node-pools update \(.name) --cluster=CLUSTER --location=LOCATION --workload-metadata=GKE_METADATA"
       end))' |
    while IFS= read -r line; do
      info "${line}"
    done
}

# --- actions ------------------------------------------------------------------------------------

# Creates the service account; prints its JSON (nothing in a dry run).
create_account() {
  local out
  if [[ "${DRY_RUN}" == "true" ]]; then
    gcloud_change iam service-accounts create "${SA_NAME}" --project="${PROJECT}" \
      --display-name="${DISPLAY_NAME}" --format=json
    return 0
  fi
  out="$(gcloud_change iam service-accounts create "${SA_NAME}" --project="${PROJECT}" \
    --display-name="${DISPLAY_NAME}" --format=json)" || die "creating ${EMAIL} failed"
  printf '%s' "${out}" | jq -e 'type == "object" and (.uniqueId | type == "string")' \
    >/dev/null 2>&1 || die "gcloud iam service-accounts create returned no service account"
  printf '%s' "${out}"
}

grant_workload_identity() {
  if wi_granted "${WI_MEMBER}"; then
    info "${WI_MEMBER} already holds ${WI_ROLE} on ${EMAIL}."
    return 0
  fi
  info "Granting ${WI_ROLE} on ${EMAIL} to ${WI_MEMBER}"
  gcloud_change iam service-accounts add-iam-policy-binding "${EMAIL}" --project="${PROJECT}" \
    --member="${WI_MEMBER}" --role="${WI_ROLE}" --condition=None --format=none ||
    die "granting ${WI_ROLE} to ${WI_MEMBER} failed"
}

# The Kubernetes ServiceAccount bound to the Google service account, and a sample Job that runs
# as it and calls the function once with invoke.jar.
manifest() {
  local url="${AUDIENCE:-${URL_PLACEHOLDER}}"
  cat <<EOF
# Written by client-setup.sh for ${EMAIL}.
# Needs: Workload Identity on the cluster (pool ${PROJECT}.svc.id.goog) and GKE_METADATA on the
# node pool the pod runs on. Set the image of the sample Job before applying: any image with
# Java 17+ and client/target/invoke.jar at /app/invoke.jar.
apiVersion: v1
kind: ServiceAccount
metadata:
  name: "${KSA}"
  namespace: "${NAMESPACE}"
  annotations:
    iam.gke.io/gcp-service-account: "${EMAIL}"
---
apiVersion: batch/v1
kind: Job
metadata:
  name: invoker-guard-call
  namespace: "${NAMESPACE}"
spec:
  backoffLimit: 2
  template:
    spec:
      serviceAccountName: "${KSA}"
      restartPolicy: Never
      # On a Standard cluster whose node pools do not all use GKE_METADATA, also schedule on the
      # ones that do:  nodeSelector: {iam.gke.io/gke-metadata-server-enabled: "true"}
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
      containers:
        - name: invoke
          image: "${IMAGE_PLACEHOLDER}"
          env:
            - name: FUNCTION_URL
              value: "${url}"
          command: ["java", "-jar", "/app/invoke.jar", "\$(FUNCTION_URL)"]
          securityContext:
            allowPrivilegeEscalation: false
            capabilities:
              drop: ["ALL"]
          resources:
            requests:
              cpu: 100m
              memory: 256Mi
EOF
}

write_manifest() {
  local file="${OUT_DIR}/kubernetes.yaml"
  if [[ "${DRY_RUN}" == "true" ]]; then
    info "[dry-run] write ${file} (ServiceAccount ${NAMESPACE}/${KSA}, Job ${NAMESPACE}/invoker-guard-call)"
    return 0
  fi
  mkdir -p -- "${OUT_DIR}" || die "cannot create ${OUT_DIR}"
  manifest >"${file}" || die "cannot write ${file}"
  info "Wrote ${file}"
}

# Writes a new key to KEY_FILE with mode 600, or keeps the key file of this account already there.
create_key() {
  local err status=0 constraint
  if [[ -e "${KEY_FILE}" ]]; then
    info "${KEY_FILE} already holds a key of ${EMAIL}: keeping it (no new key)."
    if [[ "$(stat -c '%a' "${KEY_FILE}")" != "600" ]]; then
      if [[ "${DRY_RUN}" == "true" ]]; then
        info "[dry-run] chmod 600 $(render "${KEY_FILE}")"
      else
        chmod 600 -- "${KEY_FILE}" || die "cannot chmod 600 ${KEY_FILE}"
      fi
    fi
    return 0
  fi
  if [[ "${DRY_RUN}" == "true" ]]; then
    gcloud_change iam service-accounts keys create "${KEY_FILE}" --iam-account="${EMAIL}" \
      --project="${PROJECT}"
    return 0
  fi
  err="$(mktemp)"
  # umask first: the key is never readable by others, not even for a moment.
  (umask 077 && gcloud_change iam service-accounts keys create "${KEY_FILE}" \
    --iam-account="${EMAIL}" --project="${PROJECT}") 2>"${err}" || status=$?
  if [[ ${status} -ne 0 ]]; then
    # Google names the constraint in the error's PreconditionFailure: the classic one or the
    # managed iam.managed.disableServiceAccountKeyCreation that new organizations get by default.
    constraint="$(grep -Eo 'constraints/iam\.([a-z]+\.)?disableServiceAccountKeyCreation' "${err}" |
      head -n 1 || true)"
    if [[ -n "${constraint}" ]]; then
      rm -f "${err}"
      rm -f -- "${KEY_FILE}"
      die "an organization policy (${constraint}) forbids keys for ${EMAIL}.
  Keys are forbidden on purpose: prefer Workload Identity (--gke) on GKE, or Workload Identity
  Federation for on-premises callers. If a key is the only way, ask your organization policy
  administrator for an exception on project ${PROJECT} (nothing else was changed by this step)."
    fi
    cat "${err}" >&2
    rm -f "${err}"
    die "creating a key for ${EMAIL} failed"
  fi
  rm -f "${err}"
  chmod 600 -- "${KEY_FILE}" || die "cannot chmod 600 ${KEY_FILE}"
  info "Wrote a new key of ${EMAIL} to ${KEY_FILE} (mode 600)."
  warn "${KEY_FILE} is a credential: anyone who reads it can call as ${EMAIL}. Keep it out of
  source control and images, store it in a secret manager, rotate it (create a new key, switch,
  then delete the old one with --delete-keys), and prefer Workload Identity where it is possible."
}

delete_keys() {
  local lines ids=() id
  lines="$(user_managed_keys)"
  [[ -z "${lines}" ]] || mapfile -t ids <<<"${lines}"
  if [[ ${#ids[@]} -eq 0 ]]; then
    info "${EMAIL} has no user-managed keys: nothing to delete."
    return 0
  fi
  # One key that cannot be deleted must not keep the others alive: go on, and fail at the end.
  for id in "${ids[@]}"; do
    info "Deleting key ${id} of ${EMAIL}"
    gcloud_change iam service-accounts keys delete "${id}" --iam-account="${EMAIL}" \
      --project="${PROJECT}" --quiet ||
      record_failure "deleting key ${id} of ${EMAIL} failed"
  done
}

# Lists what failed while the script went on, and exits 1 when anything did.
report_failures() {
  local failure
  [[ ${#FAILURES[@]} -gt 0 ]] || return 0
  printf '\n%s: %d step(s) failed; fix the cause and rerun (the script converges):\n' \
    "${PROG}" "${#FAILURES[@]}" >&2
  for failure in "${FAILURES[@]}"; do
    printf '  - %s\n' "${failure}" >&2
  done
  exit 1
}

print_summary() {
  local unique_id="$1" url="${AUDIENCE:-FUNCTION_URL}" allow
  if [[ -n "${unique_id}" ]]; then
    allow="${EMAIL}=${unique_id}"
  else
    allow="${EMAIL}=UNIQUE_ID"
  fi
  cat <<EOF

Service account: ${EMAIL}
Unique ID:       ${unique_id:-(known once the account exists: rerun without --dry-run)}

Send the host team the email and the unique ID. They allowlist the account with:
  ./deploy.sh --project HOST_PROJECT --region REGION ... --allow ${allow}
(the unique ID pins the account: one deleted and re-created under the same email gets another).
Invoker grants take effect within minutes: until then Google answers 403 (an HTML page).
EOF
  if [[ -n "${GKE}" ]]; then
    cat <<EOF

Call from GKE (pods running as ${NAMESPACE}/${KSA}): set the image in ${OUT_DIR}/kubernetes.yaml, then
  kubectl apply -f ${OUT_DIR}/kubernetes.yaml
  kubectl logs -n ${NAMESPACE} job/invoker-guard-call
or, in any container of such a pod:
  java -jar invoke.jar ${url}
EOF
  fi
  if [[ "${HAVE_KEY_FILE}" == "true" ]]; then
    cat <<EOF

Call from on-premises with the key:
  GOOGLE_APPLICATION_CREDENTIALS=$(render "${KEY_FILE}") java -jar client/target/invoke.jar ${url}
EOF
  fi
  if [[ -n "${GKE}" || "${HAVE_KEY_FILE}" == "true" ]]; then
    cat <<EOF
invoke sends the token in Authorization and in X-Serverless-Authorization (one copy for Google to
judge, one that reaches the function as sent); --authorization-only sends Authorization alone.
EOF
  fi
  if [[ -z "${GKE}" && "${HAVE_KEY_FILE}" == "false" ]]; then
    cat <<EOF

Next: --gke NAMESPACE/KSA to run on GKE with Workload Identity (no key), or --key-file PATH
for an on-premises caller. See docs/CLIENT.md.
EOF
  fi
  if [[ "${DRY_RUN}" == "true" ]]; then
    printf '\nDry run: nothing was changed.\n'
  fi
}

# --- main ---------------------------------------------------------------------------------------

main() {
  exec 3>&1
  local account unique_id=""

  parse_args "$@"
  check_input
  require_tools
  check_existing_key_file
  check_account

  account="$(describe_account)"
  if [[ -n "${account}" ]]; then
    info "Service account ${EMAIL} exists."
  else
    info "Creating service account ${EMAIL}"
    account="$(create_account)"
  fi
  if [[ -n "${account}" ]]; then
    unique_id="$(printf '%s' "${account}" | jq -r '.uniqueId')"
  fi

  if [[ -n "${GKE}" ]]; then
    WI_MEMBER="serviceAccount:${PROJECT}.svc.id.goog[${NAMESPACE}/${KSA}]"
    readonly WI_MEMBER
    if [[ -n "${account}" ]]; then
      grant_workload_identity
    else
      info "[dry-run] $(render gcloud iam service-accounts add-iam-policy-binding "${EMAIL}" \
        --project="${PROJECT}" --member="${WI_MEMBER}" --role="${WI_ROLE}" --condition=None \
        --format=none)"
    fi
    [[ -n "${AUDIENCE}" ]] ||
      warn "no --audience: the sample Job's FUNCTION_URL is a placeholder to set"
    write_manifest
    info "The cluster needs Workload Identity (pool ${PROJECT}.svc.id.goog) and node pools with GKE_METADATA:"
    check_clusters
  fi

  if [[ "${HAVE_KEY_FILE}" == "true" ]]; then
    create_key
  fi
  if [[ "${DELETE_KEYS}" == "true" ]]; then
    if [[ -n "${account}" ]]; then
      delete_keys
    else
      info "${EMAIL} does not exist yet: it has no keys to delete."
    fi
  fi

  print_summary "${unique_id}"
  report_failures
}

main "$@"
