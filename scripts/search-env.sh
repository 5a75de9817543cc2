# Sourced by scripts/bench-search and scripts/train-search-ranker: a scratch database ($DB) and
# index for the whole shared dataset, on ports apart from scripts/up's, and `start_api`.
DATA=${DATA:-../shared/data/wikipedia-movies}
[ -d "$DATA" ] || { echo "no dataset at $DATA" >&2; exit 1; }
ADMIN=${MEDIAGW_TEST_DATABASE_URL:-postgres://mediagw@127.0.0.1:5432/postgres}
DIR="target/bench-search/$DB"
mkdir -p "$DIR"
psql "$ADMIN" -qtAc "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1 || psql "$ADMIN" -qc "CREATE DATABASE $DB"
export MEDIAGW__DATABASE__URL="${ADMIN%/*}/$DB"
export MEDIAGW__KAFKA__TOPIC_PREFIX="$DB." MEDIAGW__KAFKA__GROUP_PREFIX="$DB-"
export MEDIAGW__HTTP__ADDR=127.0.0.1:18080 MEDIAGW__HTTP__INTERNAL_ADDR=127.0.0.1:19080 MEDIAGW__GRPC__ADDR=127.0.0.1:15051
export MEDIAGW__REGISTRY__LISTEN=127.0.0.1:18081 MEDIAGW__REGISTRY__URL=http://127.0.0.1:18081
export MEDIAGW__SEARCH__INDEX_DIR="$DIR/index" MEDIAGW__REDIS__KEY_PREFIX="mediagw:$DB:"
# Searches are anonymous here: lift the anonymous tier (the gateway is measured by scripts/bench-auth).
export MEDIAGW__GATEWAY__RATE_LIMITS__ANONYMOUS__REQUESTS_PER_MINUTE=100000000 MEDIAGW__GATEWAY__RATE_LIMITS__ANONYMOUS__BURST=1000000
export RUST_LOG=${RUST_LOG:-info,sqlx=warn,librdkafka=error}
# Text lines: the scripts read serve.log with grep.
export MEDIAGW__LOG__FORMAT=text
BIN=target/release/mediagw
API=http://127.0.0.1:18080
q() { psql "$MEDIAGW__DATABASE__URL" -Atc "$1"; }

# Starts `mediagw serve` in the background (PID) and waits until it is ready.
start_api() {
  $BIN serve >> "$DIR/serve.log" 2>&1 &
  PID=$!
  for _ in $(seq 120); do curl -sf "http://127.0.0.1:19080/health/ready" >/dev/null && break; sleep 0.5; done
  curl -sf "http://127.0.0.1:19080/health/ready" >/dev/null || { echo "the API did not get ready (see $DIR/serve.log)" >&2; return 1; }
  # The API reads interaction counts (the prior's `engaged`) before it is ready; one search
  # opens the index generation, so the measured ones all start from the same state.
  curl -sf -o /dev/null -H 'content-type: application/json' -H 'cache-control: no-cache' -d '{"query":"warm up"}' "$API/v1/search" || true
}
