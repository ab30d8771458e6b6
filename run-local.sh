#!/usr/bin/env bash
# Runs the protected function on this machine, no Google account needed: builds what it needs, then
# starts a development issuer (standing in for Google, keys on loopback) and the real Functions
# Framework invoker on http://localhost:8080, and prints two curl commands with fresh tokens: an
# allowed caller (200) and a stranger (403). Ctrl-C stops everything.
#
# Usage: ./run-local.sh [--port N]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

# client too: the printed invoke commands run client/target/invoke.jar.
./mvnw -q -pl local-run,client -am package -DskipTests

classpath="local-run/target/classes:$(cat local-run/target/classpath.txt)"
exec java -cp "${classpath}" dev.invokerguard.localrun.LocalRun "$@"
