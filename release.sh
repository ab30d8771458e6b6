#!/usr/bin/env bash
# Cuts a release (docs/RELEASE.md): sets the release version, dates CHANGELOG.md's Unreleased
# section, runs the release build (every test, sources and javadoc jars, the API check), commits and
# tags vVERSION, then sets the next snapshot version with the API baseline moved to VERSION, and
# commits that. Publishing is a separate step from the tag; nothing is pushed.
#
# Usage: ./release.sh VERSION [NEXT_SNAPSHOT]      e.g. ./release.sh 0.1.0 0.2.0-SNAPSHOT
#   NEXT_SNAPSHOT defaults to the next patch: 0.1.0 -> 0.1.1-SNAPSHOT.
#   RELEASE_MAVEN_ARGS (environment) is added to the release build, e.g. -DskipTests for a rehearsal.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

die() { echo "release: $*" >&2; exit 1; }
usage() { die "usage: ./release.sh VERSION [NEXT_SNAPSHOT]   (e.g. 0.1.0 0.2.0-SNAPSHOT)"; }

if [ "$#" -lt 1 ] || [ "$#" -gt 2 ]; then usage; fi
version="$1"
semver='^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$'
[[ "${version}" =~ ${semver} ]] || die "VERSION must be MAJOR.MINOR.PATCH (semantic versioning), got '${version}'"
next="${2:-${BASH_REMATCH[1]}.${BASH_REMATCH[2]}.$((BASH_REMATCH[3] + 1))-SNAPSHOT}"
if [[ "${next}" != *-SNAPSHOT ]] || ! [[ "${next%-SNAPSHOT}" =~ ${semver} ]]; then
  die "NEXT_SNAPSHOT must be MAJOR.MINOR.PATCH-SNAPSHOT, got '${next}'"
fi

[ -z "$(git status --porcelain)" ] || die "the working tree has changes; commit or stash them first"
git rev-parse -q --verify "refs/tags/v${version}" >/dev/null && die "tag v${version} exists already"
current="$(sed -n 's#^  <version>\(.*\)</version>$#\1#p' pom.xml | head -1)"
[[ "${current}" == *-SNAPSHOT ]] || die "the current version '${current}' is not a snapshot"
grep -q '^## \[Unreleased\]$' CHANGELOG.md || die "CHANGELOG.md has no '## [Unreleased]' section"
unreleased="$(sed -n '/^## \[Unreleased\]$/,/^## \[/p' CHANGELOG.md | grep -c '^- ' || true)"
[ "${unreleased}" -gt 0 ] || die "CHANGELOG.md's Unreleased section is empty: say what this release changes"

set_version() { # versions:set on every module (the bom has no parent), outputTimestamp moved along
  ./mvnw -q versions:set -DnewVersion="$1" -DprocessAllModules=true -DgenerateBackupPoms=false \
    -DupdateBuildOutputTimestampPolicy=always
}
restore() { git checkout -q -- . && echo "release: stopped; the working tree is back at HEAD" >&2; }

echo "release: ${current} -> ${version}, then ${next}"
set_version "${version}"
today="$(date -u +%Y-%m-%d)"
sed -i "s/^## \[Unreleased\]$/## [Unreleased]\n\n## [${version}] - ${today}/" CHANGELOG.md

# shellcheck disable=SC2086 # RELEASE_MAVEN_ARGS is a list of arguments
if ! ./mvnw -Prelease clean verify ${RELEASE_MAVEN_ARGS:-}; then
  restore
  die "the release build failed"
fi
git commit -q -am "Release ${version}"
git tag -a "v${version}" -m "invoker-guard ${version}"

set_version "${next}"
# The next version's API check compares with this release.
sed -i "s#<api.baseline>.*</api.baseline>#<api.baseline>${version}</api.baseline>#; \
s#<api-check.skip>.*</api-check.skip>#<api-check.skip>false</api-check.skip>#" pom.xml
git commit -q -am "Next development version ${next} (API baseline ${version})"

cat <<DONE
release: tagged v${version}; the branch is at ${next}.
Publish from the tag (docs/RELEASE.md), then push:
  git checkout v${version}
  ./mvnw -Prelease deploy -DskipTests -DaltDeploymentRepository=ID::URL
  git checkout -
  git push origin HEAD v${version}
DONE
