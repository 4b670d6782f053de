#!/usr/bin/env bash
# Side-by-side HTTP benchmark: eid-server vs panva's oidc-provider (bench/node), with wrk.
#
#   bench/run.sh
#
# Scenarios: GET discovery, GET JWKS, POST /token with client_credentials, with
# authorization_code (+PKCE, pre-minted single-use codes) and with refresh_token (rotation,
# chained: see bench/wrk/refresh.lua). Each runs WARMUP seconds (discarded) then DURATION
# seconds with wrk -t2 -cCONNECTIONS --latency, wrk pinned to core 1. Servers:
#   1. eid-server pinned to core 0 (taskset -c 0: one tokio worker; durable SQLite,
#      ephemeral memory)
#   2. oidc-provider 9.13.3 pinned to core 0 (Node serves on one core anyway)
#   3. eid-server on all cores (still sharing core 1 with wrk)
# Prints a Markdown table (requests/s, p99, eid-server/oidc-provider ratio) and writes it
# with the raw wrk output to $BENCH_OUT (default target/bench). Exits non-zero if any
# measured run had errors, non-2xx/3xx responses or ran out of pre-minted tokens: such a
# figure is invalid and shows as INVALID in the table.
#
# Settings (environment): BENCH_DURATION (10), BENCH_WARMUP (2), BENCH_CONNECTIONS (32),
# BENCH_CODES (40000 codes per measured code run), BENCH_SEEDS (2000 refresh tokens
# seeding the rotation chains), BENCH_EID_PORT (18080), BENCH_NODE_PORT (13000),
# BENCH_OUT, BENCH_SERVERS (a subset of "eid-1core node-1core eid-all", in that order),
# BENCH_EID_DURABLE / BENCH_EID_EPHEMERAL (eid-server's stores instead of SQLite and memory,
# e.g. postgres://postgres@127.0.0.1/bench and redis://127.0.0.1:6379).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
THREADS=2
CODES=${BENCH_CODES:-40000}
# Warm-up codes, in proportion to the warm-up's length.
WARM_CODES=$(((CODES * WARMUP + DURATION - 1) / DURATION))
SEEDS=${BENCH_SEEDS:-2000}
EID_PORT=${BENCH_EID_PORT:-18080}
NODE_PORT=${BENCH_NODE_PORT:-13000}
OUT=${BENCH_OUT:-$ROOT/target/bench}
SERVERS=${BENCH_SERVERS:-eid-1core node-1core eid-all}
CLIENT_ID=bench
REDIRECT_URI=http://localhost:9999/cb

log() { printf '[bench] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- tools -------------------------------------------------------------------------------
need_apt=()
command -v wrk >/dev/null || need_apt+=(wrk)
command -v sqlite3 >/dev/null || need_apt+=(sqlite3)
if ((${#need_apt[@]})); then
  [[ $(id -u) == 0 ]] || die "install ${need_apt[*]} (Debian packages)"
  log "installing ${need_apt[*]}"
  apt-get update -qq && apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
for tool in node npm taskset openssl curl cargo; do
  command -v "$tool" >/dev/null || die "$tool is required"
done
(($(nproc) >= 2)) || die "needs 2 cores (server on core 0, wrk on core 1)"
if [[ ! -d $BENCH_DIR/node/node_modules/oidc-provider ]]; then
  log "npm ci (oidc-provider)"
  (cd "$BENCH_DIR/node" && npm ci --no-audit --no-fund --loglevel=error)
fi

log "building eid-server (release)"
(cd "$ROOT" && cargo build --release -p eid-server --quiet)
EID=$ROOT/target/release/eid-server

rm -rf "$OUT/raw"
mkdir -p "$OUT/raw"
WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  stop_server
  rm -rf "$WORK"
}
stop_server() {
  if [[ -n $SERVER_PID ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
  fi
}
trap cleanup EXIT

random_b64url() { openssl rand -base64 "$1" | tr '+/' '-_' | tr -d '=\n'; }

CODE_VERIFIER=$(random_b64url 48)
CODE_CHALLENGE=$(printf %s "$CODE_VERIFIER" | openssl dgst -sha256 -binary | openssl base64 -A | tr '+/' '-_' | tr -d '=')
PASSWORD=$(random_b64url 18)

log "generating a register of 1000 citizens"
"$EID" registry generate --citizens 1000 --seed 1 --out "$WORK/register.sqlite" >/dev/null
PERSONAL_ID=$(printf '%012d' "$(sqlite3 "$WORK/register.sqlite" \
  "SELECT personal_id FROM citizens WHERE status = 'active' ORDER BY personal_id LIMIT 1")")

# One configuration for both eid-server runs; each run points the durable store and the
# key ring at a directory of its own (EID_DURABLE_URL, EID_KEYS_FILE).
cat >"$WORK/eid.toml" <<EOF
issuer = "http://localhost:$EID_PORT"
listen = "127.0.0.1:$EID_PORT"

[durable]
url = "sqlite://$WORK/unused.sqlite"

[ephemeral]
url = "memory"

[register]
file = "$WORK/register.sqlite"

[keys]
file = "$WORK/unused.sealed"

[tokens]
id_token_lifetime_secs = 300
access_token_lifetime_secs = 300
refresh_token_lifetime_secs = 86400
authorization_code_lifetime_secs = 600
EOF
# The client, through the admin CLI: it generates the secret and writes its argon2id hash.
CLIENT_SECRET=$("$EID" clients add --config "$WORK/eid.toml" --client-id "$CLIENT_ID" \
  --name "Benchmark client" --redirect-uri "$REDIRECT_URI" --auth client_secret_basic \
  --subject-type public --client-credentials 2>/dev/null | sed -n 's/^client_secret: //p')
[[ -n $CLIENT_SECRET ]] || die "eid-server clients add printed no client_secret"
BASIC=$(printf '%s:%s' "$CLIENT_ID" "$CLIENT_SECRET" | openssl base64 -A)

wait_ready() { # URL PID
  for _ in $(seq 1 300); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || die "the server exited (see $OUT/raw/*.log)"
    sleep 0.1
  done
  die "the server did not answer $1 within 30 s"
}

# Splits FILE into FILE.warm (first N lines) and FILE.main (the rest).
split_tokens() {
  head -n "$2" "$1" >"$1.warm"
  tail -n +"$(($2 + 1))" "$1" >"$1.main"
}

declare -A RPS P99 STATUS
INVALID=0
WARMUP_NOTES=()

# run_wrk LABEL SCENARIO SCRIPT URL [TOKENS_PREFIX]
run_wrk() {
  local label=$1 scenario=$2 script=$3 url=$4 tokens=${5:-}
  local phase secs raw line
  for phase in warm main; do
    secs=$([[ $phase == warm ]] && echo "$WARMUP" || echo "$DURATION")
    raw=$OUT/raw/$label-$scenario-$phase.txt
    BENCH_WRK_DIR=$BENCH_DIR/wrk BENCH_THREADS=$THREADS BENCH_BASIC=$BASIC \
      BENCH_TOKENS=${tokens:+$tokens.$phase} BENCH_REDIRECT_URI=$REDIRECT_URI \
      BENCH_CODE_VERIFIER=$CODE_VERIFIER \
      taskset -c 1 wrk -t"$THREADS" -c"$CONNECTIONS" -d"${secs}s" --latency \
      -s "$BENCH_DIR/wrk/$script" "$url" >"$raw" 2>&1 || die "wrk failed: $raw"
    line=$(grep '^BENCH ' "$raw") || die "no result line in $raw"
    field() { sed -E "s/.* $1=([^ ]*).*/\1/" <<<"$line"; }
    local bad=$(($(field non2xx3xx) + $(field socket_errors) + $(field exhausted)))
    if ((bad > 0)) && [[ $phase == warm ]]; then
      WARMUP_NOTES+=("$label $scenario warm-up: $(field non2xx3xx) non-2xx/3xx, $(field socket_errors) socket errors, $(field exhausted) out of tokens (statuses $(field statuses))")
    fi
    if ((bad > 0)); then
      log "$label $scenario ($phase): $(field non2xx3xx) non-2xx/3xx, $(field socket_errors) socket errors, $(field exhausted) out of tokens; statuses $(field statuses)"
    fi
    if [[ $phase == main ]]; then
      RPS[$label.$scenario]=$(field rps)
      P99[$label.$scenario]=$(field p99_us)
      if ((bad > 0)); then
        STATUS[$label.$scenario]="INVALID: $(field non2xx3xx) non-2xx/3xx, $(field socket_errors) socket errors, $(field exhausted) out of tokens"
        INVALID=1
      fi
      log "$label $scenario: $(field rps) req/s, p99 $(field p99_us) µs, statuses $(field statuses)"
    fi
  done
}

# bench_eid LABEL CPUS (a taskset CPU list, or "all")
bench_eid() {
  local label=$1 cpus=$2 dir=$WORK/$1 base=http://127.0.0.1:$EID_PORT
  mkdir -p "$dir"
  export EID_DURABLE_URL=${BENCH_EID_DURABLE:-sqlite://$dir/eid.sqlite} EID_KEYS_FILE=$dir/keys.sealed
  export EID_EPHEMERAL_URL=${BENCH_EID_EPHEMERAL:-memory}
  export EID_KEY_ENCRYPTION_KEY
  EID_KEY_ENCRYPTION_KEY=$(openssl rand -base64 32)
  printf '%s\n' "$PASSWORD" | "$EID" accounts add --config "$WORK/eid.toml" --personal-id "$PERSONAL_ID" >/dev/null 2>>"$OUT/raw/$label.log"
  local pin=()
  [[ $cpus == all ]] || pin=(taskset -c "$cpus")
  log "starting eid-server ($label)"
  RUST_LOG=warn "${pin[@]}" "$EID" serve --config "$WORK/eid.toml" >>"$OUT/raw/$label.log" 2>&1 &
  SERVER_PID=$!
  wait_ready "$base/.well-known/openid-configuration" "$SERVER_PID"
  run_wrk "$label" discovery get.lua "$base/.well-known/openid-configuration"
  run_wrk "$label" jwks get.lua "$base/jwks.json"
  run_wrk "$label" client_credentials client_credentials.lua "$base/token"
  log "minting $((WARM_CODES + CODES)) codes and $((2 * SEEDS)) refresh tokens on eid-server ($label)"
  BENCH_BASE_URL=$base BENCH_CLIENT_ID=$CLIENT_ID BENCH_CLIENT_SECRET=$CLIENT_SECRET \
    BENCH_REDIRECT_URI=$REDIRECT_URI BENCH_CODE_VERIFIER=$CODE_VERIFIER \
    BENCH_PERSONAL_ID=$PERSONAL_ID BENCH_PASSWORD=$PASSWORD \
    BENCH_CODES=$((WARM_CODES + CODES)) BENCH_REFRESH=$((2 * SEEDS)) BENCH_OUT_DIR=$dir \
    taskset -c 1 node "$BENCH_DIR/node/eid-prepare.mjs" >&2
  split_tokens "$dir/codes.txt" "$WARM_CODES"
  split_tokens "$dir/refresh.txt" "$SEEDS"
  run_wrk "$label" refresh refresh.lua "$base/token" "$dir/refresh.txt"
  run_wrk "$label" code code.lua "$base/token" "$dir/codes.txt"
  stop_server
}

bench_node() {
  local label=node-1core dir=$WORK/node base=http://127.0.0.1:$NODE_PORT
  mkdir -p "$dir"
  log "starting oidc-provider, minting $((WARM_CODES + CODES)) codes and $((2 * SEEDS)) refresh tokens"
  BENCH_PORT=$NODE_PORT BENCH_ISSUER=http://localhost:$NODE_PORT BENCH_CLIENT_ID=$CLIENT_ID \
    BENCH_CLIENT_SECRET=$CLIENT_SECRET BENCH_REDIRECT_URI=$REDIRECT_URI \
    BENCH_CODE_CHALLENGE=$CODE_CHALLENGE BENCH_CODES=$((WARM_CODES + CODES)) \
    BENCH_REFRESH=$((2 * SEEDS)) BENCH_OUT_DIR=$dir NODE_ENV=production \
    taskset -c 0 node "$BENCH_DIR/node/oidc-provider-server.mjs" >"$OUT/raw/$label.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 1200); do
    grep -q '^ready' "$OUT/raw/$label.log" && break
    kill -0 "$SERVER_PID" 2>/dev/null || die "oidc-provider exited (see $OUT/raw/$label.log)"
    sleep 0.1
  done
  wait_ready "$base/.well-known/openid-configuration" "$SERVER_PID"
  split_tokens "$dir/codes.txt" "$WARM_CODES"
  split_tokens "$dir/refresh.txt" "$SEEDS"
  run_wrk "$label" discovery get.lua "$base/.well-known/openid-configuration"
  run_wrk "$label" jwks get.lua "$base/jwks"
  run_wrk "$label" client_credentials client_credentials.lua "$base/token"
  run_wrk "$label" refresh refresh.lua "$base/token" "$dir/refresh.txt"
  run_wrk "$label" code code.lua "$base/token" "$dir/codes.txt"
  stop_server
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for server in $SERVERS; do
  case $server in
    eid-1core) bench_eid eid-1core 0 ;;
    node-1core) bench_node ;;
    eid-all) bench_eid eid-all all ;;
    *) die "unknown server $server in BENCH_SERVERS" ;;
  esac
done

# --- report ------------------------------------------------------------------------------
cell() { # LABEL SCENARIO
  local key=$1.$2
  if [[ -z ${RPS[$key]:-} ]]; then
    printf '— | —'
  elif [[ -n ${STATUS[$key]:-} ]]; then
    printf 'INVALID | %s' "${STATUS[$key]#INVALID: }"
  else
    awk -v r="${RPS[$key]}" -v p="${P99[$key]}" 'BEGIN { printf "%.0f | %.2f ms", r, p / 1000 }'
  fi
}
ratio() {
  [[ -n ${RPS[eid-1core.$1]:-} && -n ${RPS[node-1core.$1]:-} ]] || { printf '—'; return; }
  [[ -z ${STATUS[eid-1core.$1]:-}${STATUS[node-1core.$1]:-} ]] || { printf '— (invalid)'; return; }
  awk -v a="${RPS[eid-1core.$1]}" -v b="${RPS[node-1core.$1]}" 'BEGIN { printf "**%.2f×**", a / b }'
}
{
  printf '| scenario | eid-server, 1 core: req/s | p99 | oidc-provider, 1 core: req/s | p99 | ratio (1 core) | eid-server, all cores: req/s | p99 |\n'
  printf '|---|---:|---:|---:|---:|---:|---:|---:|\n'
  for s in discovery jwks client_credentials code refresh; do
    name=$s
    case $s in
      discovery) name='GET discovery' ;;
      jwks) name='GET JWKS' ;;
      client_credentials) name='token: client_credentials' ;;
      code) name='token: authorization_code + PKCE' ;;
      refresh) name='token: refresh_token (rotation)' ;;
    esac
    printf '| %s | %s | %s | %s | %s |\n' "$name" "$(cell eid-1core "$s")" \
      "$(cell node-1core "$s")" "$(ratio "$s")" "$(cell eid-all "$s")"
  done
} >"$OUT/results.md"
{
  echo
  echo "$(date -u +%F) · $(nproc) vCPU ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)) ·" \
    "$("$EID" --version) · oidc-provider $(node -p "require('$BENCH_DIR/node/node_modules/oidc-provider/package.json').version")" \
    "on Node $(node --version) · $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)"
  echo "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency (after a ${WARMUP} s warm-up), wrk on core 1;" \
    "load average before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)"
  for note in "${WARMUP_NOTES[@]}"; do
    echo
    echo "Discarded $note"
  done
} >>"$OUT/results.md"
cat "$OUT/results.md"
if ((INVALID)); then
  log "some runs had errors: their figures are invalid (raw output in $OUT/raw)"
  exit 1
fi
