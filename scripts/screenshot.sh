#!/usr/bin/env bash
# make screenshot: writes docs/img/status.png, the status page of a running
# lbd as headless Chromium shows it at 1280 px wide. Loopback only, no root,
# no BIND: lbd master with its embedded DNS server (zone lb.demo) and three
# lbclient agents on 127.0.0.2-4, then about a minute of membership changes
# (a load drop, drains with /etc/nologin, returns) so the timelines have
# something to show. Needs bin/ (make build) and Debian's chromium.
#   OUT=/tmp/x.png WINDOW=5m make screenshot
set -euo pipefail
cd "$(dirname "$0")/.."

DNS_PORT=${DNS_PORT:-15363}
SNMP_PORT=${SNMP_PORT:-16171}
HTTP_PORT=${HTTP_PORT:-18090}
OUT=${OUT:-docs/img/status.png}
WINDOW=${WINDOW:-90s}
STEP=${STEP:-9}            # seconds between two changes
SIZE=${SIZE:-1280,1290}
CHROMIUM=${CHROMIUM:-chromium}
command -v "$CHROMIUM" >/dev/null || { echo "screenshot: $CHROMIUM not found (apt-get install chromium)" >&2; exit 1; }
[ -x bin/lbd ] && [ -x bin/lbclient ] && [ -x bin/dnsq ] || { echo "screenshot: run make build first" >&2; exit 1; }

SECRET=$(head -c 32 /dev/urandom | base64)
PASSWORD=shot-password-$$
DIR=$(mktemp -d /tmp/lbd-shot.XXXXXX)
declare -A agent_pid
lbd_pid=

cleanup() {
  trap - EXIT INT TERM
  for p in $lbd_pid "${agent_pid[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT INT TERM

say() { printf '== %s\n' "$*"; }
answer() { bin/dnsq -server "127.0.0.1:$DNS_PORT" "$1" 2>/dev/null || true; }
# expect NAME "ADDRS": wait (at most 30 s) until NAME answers exactly ADDRS
expect() {
  for _ in $(seq 1 60); do
    [ "$(answer "$1")" = "$2" ] && { echo "   $1 → $2"; return 0; }
    sleep 0.5
  done
  echo "screenshot: $1 answers '$(answer "$1")', expected '$2'; lbd log:" >&2
  tail -20 "$DIR/lbd.log" >&2
  return 1
}

# agent N WWW_LOAD API_LOAD: (re)start the agent on 127.0.0.N
agent() {
  local i=$1 root="$DIR/node$1"
  mkdir -p "$root/etc"
  [ -n "${agent_pid[$i]:-}" ] && { kill "${agent_pid[$i]}" 2>/dev/null || true; wait "${agent_pid[$i]}" 2>/dev/null || true; }
  cat > "$DIR/lbclient$i.toml" <<CONF
[agent]
listen = ["127.0.0.$i:$SNMP_PORT"]
root = "$root"
users = [{ name = "loadbalancing", auth_protocol = "md5", auth_password = "$PASSWORD" }]
interval = "500ms"

[[alias]]
name = "www.lb.demo"
checks = ["nologin"]
loads = [{ type = "constant", data = "$2" }]

[[alias]]
name = "api.lb.demo"
checks = ["nologin"]
loads = [{ type = "constant", data = "$3" }]
CONF
  bin/lbclient -config "$DIR/lbclient$i.toml" >> "$DIR/lbclient$i.log" 2>&1 &
  agent_pid[$i]=$!
}

say "agents on 127.0.0.2-4:$SNMP_PORT; lbd on 127.0.0.1 (DNS :$DNS_PORT, HTTP :$HTTP_PORT)"
agent 2 10 40; agent 3 20 30; agent 4 30 50

cat > "$DIR/lbd.toml" <<CONF
[lbd]
role = "master"
http_listen = "127.0.0.1:$HTTP_PORT"
[heartbeat]
interval = "1s"
stale_after = "5s"
[dns]
internal_key = { name = "lbd-internal.", algorithm = "hmac-sha256", secret = "$SECRET" }
[snmp]
version = "3"
port = $SNMP_PORT
auth_protocol = "md5"
auth_password = "$PASSWORD"
timeout = "500ms"
retries = 0
[defaults]
polling_interval = "1s"
ttl = "60s"
[authoritative]
listen = "127.0.0.1:$DNS_PORT"
data_dir = "$DIR/dns"
keys = [{ name = "lbd-internal.", algorithm = "hmac-sha256", secret = "$SECRET" }]
[[authoritative.zone]]
name = "lb.demo"
ns = ["ns1.lb.demo."]
update_keys = ["lbd-internal."]
[[alias]]
name = "www.lb.demo"
members = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
best_hosts = 2
[[alias]]
name = "api.lb.demo"
# 127.0.0.5 runs no agent: the page says "no answer"
members = ["127.0.0.3", "127.0.0.4", "127.0.0.5"]
best_hosts = 1
CONF
bin/lbd -config "$DIR/lbd.toml" -hostname demo-master > "$DIR/lbd.log" 2>&1 &
lbd_pid=$!

expect www.lb.demo "127.0.0.2 127.0.0.3"
expect api.lb.demo "127.0.0.3"
sleep "$STEP"
say "127.0.0.4's www load drops to 5"
agent 4 5 50
expect www.lb.demo "127.0.0.2 127.0.0.4"
sleep "$STEP"
say "127.0.0.3 drains (nologin: both aliases)"
touch "$DIR/node3/etc/nologin"
expect api.lb.demo "127.0.0.4"
sleep "$STEP"
say "127.0.0.2 drains (nologin)"
touch "$DIR/node2/etc/nologin"
expect www.lb.demo "127.0.0.4"
sleep "$STEP"
say "127.0.0.3 is back"
rm "$DIR/node3/etc/nologin"
expect api.lb.demo "127.0.0.3"
expect www.lb.demo "127.0.0.3 127.0.0.4"
sleep "$STEP"
say "127.0.0.2 is back"
rm "$DIR/node2/etc/nologin"
expect www.lb.demo "127.0.0.2 127.0.0.4"
sleep "$STEP"

say "screenshot of http://127.0.0.1:$HTTP_PORT/?window=$WINDOW → $OUT"
mkdir -p "$(dirname "$OUT")"
timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync --disable-extensions \
  --hide-scrollbars --user-data-dir="$DIR/chromium" --window-size="$SIZE" \
  --screenshot="$OUT" "http://127.0.0.1:$HTTP_PORT/?window=$WINDOW" 2>"$DIR/chromium.log" \
  || { cat "$DIR/chromium.log" >&2; exit 1; }
ls -l "$OUT"
