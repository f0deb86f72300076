#!/usr/bin/env bash
# make demo: the whole loop on one machine, on loopback only.
#   named (throwaway, 127.0.0.1:$DNS_PORT, dynamic zone, TSIG key)
#   three lbclient agents on 127.0.0.2-4:$SNMP_PORT with loads 10, 20, 30
#   the lbd master polling them over SNMPv3 and updating named
# It shows the alias answering with the two best hosts, drains the best one
# with /etc/nologin (in its fixture root), and shows the answer change.
# Ctrl-C (or the end of the demo) stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."

DNS_PORT=${DNS_PORT:-15353}
SNMP_PORT=${SNMP_PORT:-16161}
HTTP_PORT=${HTTP_PORT:-18080}
ALIAS=www.lb.demo
SECRET=$(head -c 32 /dev/urandom | base64)
PASSWORD=demo-password-$$
NAMED=$(command -v named || echo /usr/sbin/named)
DIR=$(mktemp -d /tmp/lbd-demo.XXXXXX)
pids=()

cleanup() {
  trap - EXIT INT TERM
  echo; echo "== cleaning up"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$DIR"
  echo "   stopped named, lbd and the agents; removed $DIR"
}
trap cleanup EXIT INT TERM

say() { printf '\n== %s\n' "$*"; }
answer() {
  dig +short +norecurse -p "$DNS_PORT" @127.0.0.1 "$ALIAS" A | sort | tr '\n' ' '
}
# wait_for CMD... : retry a condition for at most 30 s
wait_for() {
  for _ in $(seq 1 60); do "$@" && return 0; sleep 0.5; done
  echo "timed out waiting for: $*" >&2; return 1
}

say "named on 127.0.0.1:$DNS_PORT (zone $ALIAS, TSIG key lbd-internal.)"
cat > "$DIR/named.conf" <<CONF
options {
  directory "$DIR"; pid-file "$DIR/named.pid"; session-keyfile "$DIR/session.key";
  managed-keys-directory "$DIR";
  listen-on port $DNS_PORT { 127.0.0.1; }; listen-on-v6 { none; };
  recursion no; dnssec-validation no; notify no;
};
controls { };
key "lbd-internal." { algorithm hmac-sha256; secret "$SECRET"; };
zone "$ALIAS" { type primary; file "$DIR/$ALIAS.zone"; update-policy { grant lbd-internal. zonesub ANY; }; };
CONF
cat > "$DIR/$ALIAS.zone" <<ZONE
\$TTL 60
@   SOA ns1.$ALIAS. hostmaster.$ALIAS. 1 3600 600 86400 60
@   NS  ns1.$ALIAS.
ns1 A   127.0.0.1
ZONE
"$NAMED" -g -4 -n 1 -c "$DIR/named.conf" > "$DIR/named.log" 2>&1 &
pids+=($!)
wait_for dig +short -p "$DNS_PORT" @127.0.0.1 "$ALIAS" SOA >/dev/null

say "three lbclient agents (SNMP v2c + v3 MD5) on 127.0.0.2-4:$SNMP_PORT"
for i in 2 3 4; do
  root="$DIR/node$i"; mkdir -p "$root/etc"
  cat > "$DIR/lbclient$i.toml" <<CONF
[agent]
listen = ["127.0.0.$i:$SNMP_PORT"]
root = "$root"
community = "public"
users = [{ name = "loadbalancing", auth_protocol = "md5", auth_password = "$PASSWORD" }]
interval = "1s"

[[alias]]
name = "$ALIAS"
checks = ["nologin"]
loads = [{ type = "constant", data = "$(( (i - 1) * 10 ))" }]
CONF
  bin/lbclient -config "$DIR/lbclient$i.toml" > "$DIR/lbclient$i.log" 2>&1 &
  pids+=($!)
  echo "   node 127.0.0.$i: load $(( (i - 1) * 10 ))"
done

cat > "$DIR/lbd.toml" <<CONF
[lbd]
role = "master"
http_listen = "127.0.0.1:$HTTP_PORT"
[heartbeat]
interval = "1s"
stale_after = "5s"
[dns]
server = "127.0.0.1:$DNS_PORT"
internal_key = { name = "lbd-internal.", algorithm = "hmac-sha256", secret = "$SECRET" }
[snmp]
version = "3"
port = $SNMP_PORT
auth_protocol = "md5"
auth_password = "$PASSWORD"
timeout = "1s"
[defaults]
polling_interval = "2s"
ttl = "60s"
[[alias]]
name = "$ALIAS"
members = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
best_hosts = 2
CONF
say "lbd master (best_hosts = 2, every 2 s); log in $DIR/lbd.log"
bin/lbd -config "$DIR/lbd.toml" -hostname demo-master > "$DIR/lbd.log" 2>&1 &
pids+=($!)

say "dig -p $DNS_PORT @127.0.0.1 $ALIAS A   (waiting for the two least loaded)"
wait_for bash -c "[ \"\$(dig +short -p $DNS_PORT @127.0.0.1 $ALIAS A | sort | tr '\n' ' ')\" = '127.0.0.2 127.0.0.3 ' ]"
echo "   $ALIAS → $(answer)"

say "touch $DIR/node2/etc/nologin  (drain the best member)"
touch "$DIR/node2/etc/nologin"
wait_for bash -c "[ \"\$(dig +short -p $DNS_PORT @127.0.0.1 $ALIAS A | sort | tr '\n' ' ')\" = '127.0.0.3 127.0.0.4 ' ]"
echo "   $ALIAS → $(answer)"

say "rm $DIR/node2/etc/nologin  (127.0.0.2 is usable again; hysteresis keeps a stable answer unless it is clearly better)"
rm "$DIR/node2/etc/nologin"
wait_for bash -c "[ \"\$(dig +short -p $DNS_PORT @127.0.0.1 $ALIAS A | sort | tr '\n' ' ')\" = '127.0.0.2 127.0.0.3 ' ]"
echo "   $ALIAS → $(answer)"

say "lbd's audit trail"
grep -E 'DNS updated|member' "$DIR/lbd.log" | sed 's/^/   /' | tail -8
if [ -n "${DEMO_HOLD:-}" ]; then
  say "holding (DEMO_HOLD set); watch with: dig -p $DNS_PORT @127.0.0.1 $ALIAS A — Ctrl-C to stop"
  wait
fi
say "demo finished"
