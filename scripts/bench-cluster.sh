#!/usr/bin/env bash
# Starts a 4-validator testnet on 127.0.0.1, runs `phalanx bench` against all four nodes, and
# tears the network down. Prints the bench's last line: tps=N p50_ms=N p99_ms=N committed=N.
#
#   scripts/bench-cluster.sh                                # max rate, 20 s, 2 workers x 1,000
#   RATE=2000 WORKERS=4 BATCH=20 scripts/bench-cluster.sh   # latency at a fixed offered rate
#
# Environment: PHALANX (binary, default target/release/phalanx, built if missing), RATE
# (transfers/s or max), DURATION (s), BATCH (transactions per tx_submitBatch), SENDERS,
# WORKERS, VALIDATORS (default 4), BASE_PORT (default 27600), KEEP=1 to keep the directory.
set -euo pipefail
cd "$(dirname "$0")/.."

RATE="${RATE:-max}"
DURATION="${DURATION:-20}"
BATCH="${BATCH:-1000}"
SENDERS="${SENDERS:-256}"
WORKERS="${WORKERS:-2}"
VALIDATORS="${VALIDATORS:-4}"
BASE_PORT="${BASE_PORT:-27600}"
# shellcheck source=lib/bench-common.sh
source scripts/lib/bench-common.sh bench

"$PHALANX" testnet --validators "$VALIDATORS" --out "$DIR" --base-port "$BASE_PORT" >/dev/null
RPCS=()
for ((i = 0; i < VALIDATORS; i++)); do
  RUST_LOG="${RUST_LOG:-warn}" "$PHALANX" start --home "$DIR/node$i" >"$DIR/node$i.log" 2>&1 &
  PIDS+=($!)
  RPCS+=(--rpc "http://127.0.0.1:$((BASE_PORT + 2 * i + 1))")
done
# Ready: every node answers and the chain moves.
for ((t = 0; t < 100; t++)); do
  if curl -sf "127.0.0.1:$((BASE_PORT + 1))/ready" >/dev/null 2>&1; then break; fi
  sleep 0.2
done

"$PHALANX" bench "${RPCS[@]}" --key "$DIR/client.key" --token "$TOKEN" \
  --duration "$DURATION" --rate "$RATE" --batch "$BATCH" --senders "$SENDERS" \
  --workers "$WORKERS" "$@"
