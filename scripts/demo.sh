#!/usr/bin/env bash
# make demo: the whole system on one machine, loopback only, no BIND, no root.
#   lbd master with its embedded authoritative DNS server on 127.0.0.1:$DNS_PORT
#   three lbclient agents on 127.0.0.2-4:$SNMP_PORT (SNMPv3 MD5) with loads 10, 20, 30
# It shows the alias answering with the two best hosts, changes a load, drains
# one member with /etc/nologin (inside its fixture root) and shows the answer
# follow each time. Ctrl-C (or the end) stops everything it started.
#   DEMO_HOLD=1 make demo    keeps it running so you can watch with dig.
set -euo pipefail
cd "$(dirname "$0")/.."

DNS_PORT=${DNS_PORT:-15353}
SNMP_PORT=${SNMP_PORT:-16161}
HTTP_PORT=${HTTP_PORT:-18080}
ALIAS=www.lb.demo
SECRET=$(head -c 32 /dev/urandom | base64)
PASSWORD=demo-password-$$
DIR=$(mktemp -d /tmp/lbd-demo.XXXXXX)
declare -A agent_pid
pids=()

cleanup() {
  trap - EXIT INT TERM
  echo; echo "== cleaning up"
  for p in "${pids[@]}" "${agent_pid[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$DIR"
  echo "   stopped lbd and the agents; removed $DIR"
}
trap cleanup EXIT INT TERM

say() { printf '\n== %s\n' "$*"; }
answer() { bin/dnsq -server "127.0.0.1:$DNS_PORT" "$ALIAS" 2>/dev/null || true; }
# expect "ADDRS": wait (at most 30 s) until the alias answers exactly ADDRS
expect() {
  for _ in $(seq 1 60); do
    [ "$(answer)" = "$1" ] && { echo "   $ALIAS → $1"; return 0; }
    sleep 0.5
  done
  echo "   timed out: $ALIAS answers '$(answer)', expected '$1'; lbd log:" >&2
  tail -20 "$DIR/lbd.log" >&2
  return 1
}

# agent N LOAD: (re)start the agent on 127.0.0.N with a constant load
agent() {
  local i=$1 load=$2 root="$DIR/node$1"
  mkdir -p "$root/etc"
  [ -n "${agent_pid[$i]:-}" ] && { kill "${agent_pid[$i]}" 2>/dev/null || true; wait "${agent_pid[$i]}" 2>/dev/null || true; }
  cat > "$DIR/lbclient$i.toml" <<CONF
[agent]
listen = ["127.0.0.$i:$SNMP_PORT"]
root = "$root"
users = [{ name = "loadbalancing", auth_protocol = "md5", auth_password = "$PASSWORD" }]
interval = "1s"

[[alias]]
name = "$ALIAS"
checks = ["nologin"]
loads = [{ type = "constant", data = "$load" }]
CONF
  bin/lbclient -config "$DIR/lbclient$i.toml" >> "$DIR/lbclient$i.log" 2>&1 &
  agent_pid[$i]=$!
}

say "three lbclient agents on 127.0.0.2-4:$SNMP_PORT (SNMPv3, user loadbalancing, MD5)"
agent 2 10; agent 3 20; agent 4 30
echo "   127.0.0.2 load 10, 127.0.0.3 load 20, 127.0.0.4 load 30"

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
timeout = "1s"
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
name = "$ALIAS"
members = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
best_hosts = 2
CONF
say "lbd master with its embedded DNS server on 127.0.0.1:$DNS_PORT (zone lb.demo); best_hosts = 2"
bin/lbd -config "$DIR/lbd.toml" -hostname demo-master > "$DIR/lbd.log" 2>&1 &
pids+=($!)
echo "   watch it:  dig -p $DNS_PORT @127.0.0.1 $ALIAS A     status: curl -s 127.0.0.1:$HTTP_PORT/status"

say "the two least loaded members"
expect "127.0.0.2 127.0.0.3"

say "127.0.0.4's load drops from 30 to 5 (far better than 127.0.0.3's 20)"
agent 4 5
expect "127.0.0.2 127.0.0.4"

say "touch node2/etc/nologin: 127.0.0.2 drains"
touch "$DIR/node2/etc/nologin"
expect "127.0.0.3 127.0.0.4"

say "rm node2/etc/nologin: 127.0.0.2 (load 10) is back and clearly beats 127.0.0.3 (load 20)"
rm "$DIR/node2/etc/nologin"
expect "127.0.0.2 127.0.0.4"

say "lbd's audit trail (one line per change)"
grep -E 'DNS updated|member' "$DIR/lbd.log" | sed -e 's/^time="[^"]*" //' -e 's/^/   /' | tail -10
if [ -n "${DEMO_HOLD:-}" ]; then
  say "holding (DEMO_HOLD set): dig -p $DNS_PORT @127.0.0.1 $ALIAS A — Ctrl-C to stop"
  wait
fi
say "demo finished"
