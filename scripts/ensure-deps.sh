#!/usr/bin/env bash
# Make sure the external programs the tests and the demo use are installed.
# As root it installs the missing Debian packages with apt-get; otherwise it
# names the packages to install and exits 1.
#   scripts/ensure-deps.sh            # what `make test` needs
set -euo pipefail

# binary → Debian package
declare -A pkg=(
  [named]=bind9 [nsupdate]=bind9-dnsutils [dig]=bind9-dnsutils
  [snmpget]=snmp [snmpd]=snmpd
  [knotd]=knot [kdig]=knot-dnsutils
  [pdns_server]=pdns-server [pdnsutil]=pdns-server [sqlite3]=sqlite3
  [promtool]=prometheus [lintian]=lintian [man]=man-db
  [chromium]=chromium [haproxy]=haproxy
)
want=(named nsupdate dig snmpget snmpd knotd kdig pdns_server pdnsutil sqlite3 promtool lintian man chromium haproxy)
# data file → Debian package (PowerDNS's SQLite backend and its schema; a
# font for Chromium's screenshots)
declare -A filepkg=(
  [/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql]=pdns-backend-sqlite3
  [/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf]=fonts-liberation
)

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }

missing=()
for b in "${want[@]}"; do have "$b" || missing+=("${pkg[$b]}"); done
for f in "${!filepkg[@]}"; do [ -e "$f" ] || missing+=("${filepkg[$f]}"); done
[ ${#missing[@]} -eq 0 ] && exit 0
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)

if ! command -v go >/dev/null 2>&1; then
  echo "go is not installed (Go 1.26 or newer is required)" >&2
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo ">> installing missing packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  # Debian starts the daemons it installs; the tests start their own.
  for s in named bind9 snmpd knot pdns prometheus haproxy; do
    (systemctl stop "$s" || service "$s" stop) >/dev/null 2>&1 || true
  done
  exit 0
fi
echo "missing programs; install these Debian packages (as root):" >&2
echo "    apt-get install ${missing[*]}" >&2
exit 1
