#!/usr/bin/env bash
# bench/backends.sh: the same binary, data volume and load on each database backend, one after
# the other: SQLite (a fresh file), PostgreSQL and MariaDB (fresh databases, dropped after).
# Per backend: `migrate`, `seed --demo`, `seed --patients $PATIENTS`; then per shape of
# bench/queries/: 5 s warm-up and 15 s measured with oha (32 keep-alive connections, one worker
# thread, as compare.sh), recording req/s, p99 and the server's peak RSS in the window (VmHWM,
# reset after the warm-up). Prints one table; results in $OUT (default /tmp/cgbench-backends).
#
# Needs a release build (`cargo build --release`, or CG_BIN), oha (setup-peer.sh builds it into
# $CGBENCH_HOME/oha-root/bin, or OHA_BIN), PostgreSQL on 127.0.0.1:5432 (user postgres, trust) and
# MariaDB on 127.0.0.1:3306 (root, no password); BACKENDS="sqlite postgres mysql" chooses.
set -euo pipefail
cd "$(dirname "$0")/.."

CG_BIN=${CG_BIN:-target/release/clinicgraph}
OHA_BIN=${OHA_BIN:-${CGBENCH_HOME:-/tmp/cgbench}/oha-root/bin/oha}
BACKENDS=${BACKENDS:-sqlite postgres mysql}
PATIENTS=${PATIENTS:-10000} WARM=${WARM:-5} DUR=${DUR:-15} CONC=${CONC:-32}
OUT=${OUT:-/tmp/cgbench-backends}
PORT=${PORT:-18931}
[ -x "$CG_BIN" ] || { echo "no $CG_BIN: cargo build --release first" >&2; exit 1; }
[ -x "$OHA_BIN" ] || { echo "no oha at $OHA_BIN: run ../shared/bench/setup-peer.sh" >&2; exit 1; }
CG_BIN=$(realpath "$CG_BIN")
rm -rf "$OUT" && mkdir -p "$OUT"
name=cgbench_backends_$$
server_pid=
cleanup() {
  [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
  psql -h 127.0.0.1 -U postgres -qtAc "DROP DATABASE IF EXISTS $name WITH (FORCE)" postgres \
    >/dev/null 2>&1 || true
  mariadb -h 127.0.0.1 -u root -e "DROP DATABASE IF EXISTS $name" 2>/dev/null || true
}
trap cleanup EXIT
secret=$(head -c 36 /dev/urandom | base64 | tr -d '/+=' | head -c 48)

cg() { # backend_url args...: clinicgraph in a clean environment, from the backend's folder
  local url=$1
  shift
  (cd "$OUT" && env -i PATH="$PATH" HOME="$OUT" RUST_LOG=warn JWT_SECRET="$secret" \
    DATABASE_URL="$url" "${ENV[@]}" "$CG_BIN" "$@")
}

body() { # shape: the body with the first patient's id in place
  sed "s/__PATIENT_ID__/$first_id/" "bench/queries/$1.json"
}

printf 'backend\tshape\treq/s\tp99 ms\tpeak RSS MB\n' > "$OUT/results.tsv"
for backend in $BACKENDS; do
  case $backend in
    sqlite) url="sqlite://$OUT/sqlite/clinicgraph.db" ;;
    postgres)
      psql -h 127.0.0.1 -U postgres -qtAc "CREATE DATABASE $name" postgres >/dev/null
      url="postgres://postgres@127.0.0.1:5432/$name" ;;
    mysql)
      mariadb -h 127.0.0.1 -u root \
        -e "CREATE DATABASE $name CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
      url="mysql://root@127.0.0.1:3306/$name" ;;
    *) echo "unknown backend $backend" >&2; exit 1 ;;
  esac
  echo "== $backend: seeding"
  ENV=(APP_ENV=development)
  cg "$url" migrate >/dev/null
  cg "$url" seed --demo >/dev/null
  cg "$url" seed --patients "$PATIENTS" >/dev/null
  [ "$backend" != postgres ] \
    || psql -h 127.0.0.1 -U postgres -qtAc "VACUUM ANALYZE" "$name" >/dev/null
  [ "$backend" != mysql ] \
    || mariadb -h 127.0.0.1 -u root "$name" -e "ANALYZE TABLE patients, appointments, prescriptions, doctors" >/dev/null

  ENV=(APP_ENV=production GRAPHIQL=false BIND_ADDR="127.0.0.1:$PORT" MIGRATE_ON_START=false
    RATE_LIMIT_PER_MINUTE=100000000)
  # exec all the way down: $! is the server itself, whose memory is read below.
  (cd "$OUT" && exec env -i PATH="$PATH" HOME="$OUT" RUST_LOG=warn JWT_SECRET="$secret" \
    DATABASE_URL="$url" "${ENV[@]}" "$CG_BIN" serve) >"$OUT/$backend.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$PORT/ready" >/dev/null 2>&1 && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$OUT/$backend.log" >&2; exit 1; }
    sleep 0.2
  done
  token=$(curl -fsS -H 'Content-Type: application/json' "http://127.0.0.1:$PORT/graphql" \
    --data '{"query":"mutation { login(email: \"admin@demo.clinic\", password: \"clinicgraph-demo\") { accessToken } }"}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["login"]["accessToken"])')
  first_id=$(curl -fsS -H 'Content-Type: application/json' -H "Authorization: Bearer $token" \
    "http://127.0.0.1:$PORT/graphql" --data '{"query":"{ patients(first: 1) { nodes { id } } }"}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["patients"]["nodes"][0]["id"])')
  for shape in q1 q2 q3; do
    body "$shape" >"$OUT/$shape.json"
    # The answer must have data and no errors before it is measured.
    curl -fsS -H 'Content-Type: application/json' -H "Authorization: Bearer $token" \
      "http://127.0.0.1:$PORT/graphql" --data-binary "@$OUT/$shape.json" \
      | python3 -c 'import json,sys; a=json.load(sys.stdin); assert a.get("data") and not a.get("errors"), a'
    load=(-c "$CONC" -w --worker-threads 1 --no-tui --output-format json -m POST -H 'Content-Type: application/json'
      -H "Authorization: Bearer $token" -D "$OUT/$shape.json" "http://127.0.0.1:$PORT/graphql")
    "$OHA_BIN" -z "${WARM}s" "${load[@]}" >/dev/null
    echo 5 >"/proc/$server_pid/clear_refs"
    "$OHA_BIN" -z "${DUR}s" "${load[@]}" >"$OUT/$backend-$shape.json"
    rss=$(awk '/VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$server_pid/status")
    python3 - "$OUT/$backend-$shape.json" "$backend" "$shape" "$rss" >>"$OUT/results.tsv" <<'EOF'
import json, sys
run = json.load(open(sys.argv[1]))
codes = run.get("statusCodeDistribution", {})
bad = sum(n for code, n in codes.items() if code != "200") + sum(run.get("errorDistribution", {}).values())
assert bad == 0, f"{bad} failed requests: {codes}"
print(f"{sys.argv[2]}\t{sys.argv[3]}\t{run['summary']['requestsPerSec']:.0f}\t"
      f"{run['latencyPercentiles']['p99'] * 1000:.1f}\t{sys.argv[4]}")
EOF
    tail -1 "$OUT/results.tsv"
  done
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=
done
echo
column -t -s $'\t' "$OUT/results.tsv"
