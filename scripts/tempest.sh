#!/usr/bin/env bash
# Neutron's API test suite (neutron-tempest-plugin) against hypernet behind a private Keystone
# (testkit/tempest.ts). Installs tempest and the plugin when missing, builds, runs, prints totals,
# each skip's reason and the most frequent failure messages; exits non-zero on any failure.
# Arguments go to the runner: --regex R (default ^neutron_tempest_plugin\.api), --keep.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v tempest >/dev/null 2>&1 || need_apt+=(tempest)
/usr/bin/python3 -c 'import neutron_tempest_plugin' 2>/dev/null || need_apt+=(neutron-tempest-plugin)
command -v keystone-wsgi-public >/dev/null 2>&1 || need_apt+=(python3-keystone)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "tempest: missing Debian packages: ${need_apt[*]} (run as root to install them)" >&2
    exit 1
  fi
  echo "tempest: installing Debian packages: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

npx tsc -p tsconfig.json
exec node dist/testkit/tempest.js "$@"
