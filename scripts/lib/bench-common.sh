# Shared by the bench scripts (sourced, from the repository root): the release binary and
# token.wasm (built if missing), a scratch directory, and stopping every started node on exit.
# Reads CARGO_TARGET_DIR, PHALANX and KEEP; sets TARGET, PHALANX,
# TOKEN, DIR and PIDS. $1 names the scratch directory.

TARGET="${CARGO_TARGET_DIR:-target}"
PHALANX="${PHALANX:-$TARGET/release/phalanx}"

if [[ ! -x "$PHALANX" ]]; then
  echo "== building $PHALANX" >&2
  cargo build --release --workspace --bins >&2
fi
TOKEN="$TARGET/phalanx-contracts/wasm32-unknown-unknown/release/token.wasm"
if [[ ! -f "$TOKEN" ]]; then
  echo "== building token.wasm" >&2
  CARGO_TARGET_DIR="$TARGET/phalanx-contracts" cargo build --release \
    --target wasm32-unknown-unknown -p token --manifest-path contracts/Cargo.toml >&2
fi

DIR="$(mktemp -d "/tmp/phalanx-$1.XXXXXX")"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ "${KEEP:-0}" != 1 ]]; then rm -rf "$DIR"; else echo "kept $DIR" >&2; fi
}
trap cleanup EXIT
