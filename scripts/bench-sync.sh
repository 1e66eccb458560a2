#!/usr/bin/env bash
# Block sync of a fresh node, end to end: three of four validators on 127.0.0.1 build a
# history under `phalanx bench --rate max` (three are a quorum of four) while the fourth stays
# off; then the fourth starts from an empty store, fetches every certified block from its
# peers, replays it (every signature checked) and commits it. Prints the last line
#   synced_blocks=H synced_txs=N seconds=S tx_per_s=R
# where N counts only the transfers the load generator saw committed (setup transactions are
# left out, so the rate is a lower bound) and S runs from starting the process (opening the
# store, compiling the genesis contract) until its height reaches the others'.
#
# Environment: PHALANX (binary, default target/release/phalanx, built if missing), DURATION of
# the load in s (default 20), BASE_PORT (default 27700), SENDERS, WORKERS, BATCH, KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-20}"
BATCH="${BATCH:-100}"
SENDERS="${SENDERS:-256}"
WORKERS="${WORKERS:-4}"
BASE_PORT="${BASE_PORT:-27700}"
# shellcheck source=lib/bench-common.sh
source scripts/lib/bench-common.sh sync

rpc() { echo "http://127.0.0.1:$((BASE_PORT + 2 * $1 + 1))"; }
height() {
  "$PHALANX" status --rpc "$(rpc "$1")" --output json 2>/dev/null |
    grep -o '"height": *[0-9]*' | head -1 | grep -o '[0-9]*$' || echo 0
}

"$PHALANX" testnet --validators 4 --out "$DIR" --base-port "$BASE_PORT" >/dev/null
for i in 0 1 2; do
  RUST_LOG="${RUST_LOG:-warn}" "$PHALANX" start --home "$DIR/node$i" >"$DIR/node$i.log" 2>&1 &
  PIDS+=($!)
done
ready=0
for ((t = 0; t < 100; t++)); do
  if curl -sf "127.0.0.1:$((BASE_PORT + 1))/ready" >/dev/null 2>&1; then ready=1; break; fi
  sleep 0.2
done
[[ "$ready" == 1 ]] || { echo "node0 never became ready (see $DIR/node0.log; KEEP=1)" >&2; exit 1; }

LOAD="$("$PHALANX" bench --rpc "$(rpc 0)" --rpc "$(rpc 1)" --rpc "$(rpc 2)" --key "$DIR/client.key" \
  --token "$TOKEN" --duration "$DURATION" --rate max --batch "$BATCH" --senders "$SENDERS" \
  --workers "$WORKERS" | tail -1)"
echo "history: $LOAD" >&2
TXS="$(echo "$LOAD" | grep -o 'committed=[0-9]*' | cut -d= -f2 || true)"
H="$(height 0)"
[[ -n "$TXS" && "$H" -gt 0 ]] || { echo "no history was built (bench: $LOAD)" >&2; exit 1; }

START="$(date +%s%N)"
RUST_LOG="${RUST_LOG:-warn}" "$PHALANX" start --home "$DIR/node3" >"$DIR/node3.log" 2>&1 &
SYNCING=$!
PIDS+=("$SYNCING")
DEADLINE=$((SECONDS + 600))
until [[ "$(height 3)" -ge "$H" ]]; do
  kill -0 "$SYNCING" 2>/dev/null || { echo "the syncing node stopped (see $DIR/node3.log; KEEP=1)" >&2; exit 1; }
  ((SECONDS < DEADLINE)) || { echo "no sync within 600 s" >&2; exit 1; }
  sleep 0.05
done
END="$(date +%s%N)"

MS=$(((END - START) / 1000000))
((MS > 0)) || MS=1
echo "synced_blocks=$H synced_txs=$TXS seconds=$((MS / 1000)).$(printf '%03d' $((MS % 1000))) tx_per_s=$((TXS * 1000 / MS))"
