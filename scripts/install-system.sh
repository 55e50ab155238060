#!/usr/bin/env bash
# Install the Debian packages tinhso needs for development, tests and
# benchmarks: PostgreSQL server binaries, Redis, Debian's Chromium (for
# Playwright), nginx and wrk (benchmarks), and fonts with Vietnamese glyphs.
#
# - Installs only what is missing (checked with dpkg), so a re-run takes ~1 s.
# - Never leaves a service running: Debian's postinst scripts would start
#   postgresql/redis/nginx, so a policy-rc.d that forbids starts is put in
#   place for the install, and the services are stopped and disabled after.
#   The test suite starts its own throwaway servers (tests/support/services.py).
# - Non-interactive (CI=true, no stdin). Quiet on success.
set -euo pipefail

PACKAGES=(
  postgresql        # server binaries in /usr/lib/postgresql/<ver>/bin
  postgresql-contrib
  redis-server
  chromium          # /usr/bin/chromium, driven by Playwright (no `playwright install`)
  nginx
  wrk
  fonts-noto-core   # Vietnamese glyphs for screenshots
  fonts-dejavu-core
)
# Init scripts / units the packages above may start.
SERVICES=(postgresql redis-server nginx)

if [[ "$(id -u)" -ne 0 ]]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    exec sudo -n -E bash "$0" "$@"
  fi
  echo "install-system: must run as root (or with passwordless sudo)" >&2
  exit 1
fi

is_installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
  is_installed "$pkg" || missing+=("$pkg")
done
if (( ${#missing[@]} == 0 )); then
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -y -q -o DPkg::Lock::Timeout=600
     -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

LOG="$(mktemp)"
POLICY=/usr/sbin/policy-rc.d
created_policy=0
cleanup() {
  local rc=$?
  if (( created_policy )); then rm -f "$POLICY"; fi
  if (( rc != 0 )); then
    cat "$LOG" >&2
    echo "install-system: failed (exit $rc) installing: ${missing[*]}" >&2
  fi
  rm -f "$LOG"
}
trap cleanup EXIT

# Forbid service starts during the install (honoured by invoke-rc.d and
# deb-systemd-invoke). Keep an existing policy (e.g. Docker images ship one).
if [[ ! -e "$POLICY" ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$POLICY"
  chmod 755 "$POLICY"
  created_policy=1
fi

"${APT[@]}" update >>"$LOG" 2>&1
"${APT[@]}" install --no-install-recommends "${missing[@]}" </dev/null >>"$LOG" 2>&1

# Belt and braces: stop and disable anything that got started or enabled.
for svc in "${SERVICES[@]}"; do
  if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
    systemctl disable --now "$svc" >>"$LOG" 2>&1 || true
  elif [[ -x "/etc/init.d/$svc" ]]; then
    "/etc/init.d/$svc" stop >>"$LOG" 2>&1 || true
    update-rc.d "$svc" disable >>"$LOG" 2>&1 || true
  fi
done

for pkg in "${PACKAGES[@]}"; do
  is_installed "$pkg" || { echo "install-system: $pkg still not installed" >&2; exit 1; }
done
