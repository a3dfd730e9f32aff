#!/usr/bin/env bash
# npm run lint:shell: shellcheck on the project's shell scripts. Where shellcheck is not installed (a
# fresh machine), it says so and lints nothing, so `npm test` still runs; in CI (CI=true) it must be
# there (.ci/run installs it), so the scripts are always linted before anything lands.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v shellcheck >/dev/null 2>&1; then
  if [ "${CI:-}" = "true" ]; then
    echo "lint:shell: shellcheck is required in CI (.ci/run installs it)" >&2
    exit 1
  fi
  echo "lint:shell: shellcheck is not installed, so the shell scripts were NOT linted here (Debian/Ubuntu: apt-get install shellcheck; CI lints them)" >&2
  exit 0
fi
exec shellcheck scripts/*.sh sim/toolchain/*.sh .ci/run
