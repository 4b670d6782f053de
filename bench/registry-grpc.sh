#!/usr/bin/env bash
# VerifyIdentity over gRPC on a large synthetic register: p50/p99 and requests/s.
#
#   bench/registry-grpc.sh
#
# Builds (once, then reused) a synthetic register of BENCH_CITIZENS (10,000,000) citizens,
# seed 42, in $BENCH_OUT/register-<citizens>.sqlite with `eid-server registry generate`,
# serves it with `eid-server registry serve` (pinned to core 0 with taskset when the machine
# has 2+ cores), and drives it from core 1 with the load generator
# crates/eid-core/examples/registry_grpc_load.rs (BENCH_CONNECTIONS HTTP/2 connections,
# default 2; BENCH_CONCURRENCY requests in flight, default 64; BENCH_DURATION seconds after
# a 2 s warm-up, default 20). The output goes to stdout and $BENCH_OUT/registry-grpc.txt.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CITIZENS=${BENCH_CITIZENS:-10000000}
CONNECTIONS=${BENCH_CONNECTIONS:-2}
CONCURRENCY=${BENCH_CONCURRENCY:-64}
DURATION=${BENCH_DURATION:-20}
OUT=${BENCH_OUT:-$ROOT/target/bench}
PORT=${BENCH_REGISTER_PORT:-50151}
REGISTER=$OUT/register-$CITIZENS.sqlite
mkdir -p "$OUT"

cd "$ROOT"
cargo build --release -q -p eid-server --bin eid-server
cargo build --release -q -p eid-core --example registry_grpc_load
BIN=$ROOT/target/release/eid-server

if [[ ! -f $REGISTER ]]; then
  "$BIN" registry generate --citizens "$CITIZENS" --seed 42 --out "$REGISTER"
fi

PIN_SERVER=() PIN_LOAD=()
if [[ $(nproc) -ge 2 ]] && command -v taskset >/dev/null; then
  PIN_SERVER=(taskset -c 0) PIN_LOAD=(taskset -c 1)
fi
export EID_REGISTRY_TOKEN=bench-register-token
"${PIN_SERVER[@]}" "$BIN" registry serve --register "$REGISTER" --listen "127.0.0.1:$PORT" \
  >"$OUT/registry-serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  grep -q "serving gRPC" "$OUT/registry-serve.log" && break
  kill -0 $SERVER 2>/dev/null || { cat "$OUT/registry-serve.log"; exit 1; }
  sleep 0.2
done

"${PIN_LOAD[@]}" "$ROOT/target/release/examples/registry_grpc_load" \
  "http://127.0.0.1:$PORT" "$CITIZENS" 42 "$CONNECTIONS" "$CONCURRENCY" "$DURATION" |
  tee "$OUT/registry-grpc.txt"
