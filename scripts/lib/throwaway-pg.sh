# Starts a throwaway PostgreSQL in a temporary directory on a free loopback port and exports
# FENGQIAO_TEST_PG_URL (an admin URL; tests create one database each). Source this file,
# then call start_throwaway_pg; the server is stopped and its directory removed on exit.
start_throwaway_pg() {
  local bindir
  bindir=$(dirname "$(command -v initdb 2>/dev/null || ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | tail -n1)")
  [ -x "$bindir/initdb" ] || { echo "initdb not found" >&2; return 1; }
  PG_TMP=$(mktemp -d /tmp/fengqiao-pg.XXXXXX)
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  local run=()
  if [ "$(id -u)" = 0 ]; then
    # PostgreSQL refuses to run as root: run it as the postgres user (created by the Debian package).
    id postgres >/dev/null 2>&1 || useradd --system --home "$PG_TMP" postgres
    chown postgres "$PG_TMP"
    run=(runuser -u postgres --)
  fi
  "${run[@]}" "$bindir/initdb" -D "$PG_TMP/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$PG_TMP/initdb.log" 2>&1 \
    || { cat "$PG_TMP/initdb.log" >&2; return 1; }
  # fsync off: a test database need not survive a power cut, and tests run faster.
  "${run[@]}" "$bindir/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/server.log" -w -t 60 \
    -o "-p $port -k $PG_TMP -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
    start >/dev/null || { cat "$PG_TMP/server.log" >&2; return 1; }
  export FENGQIAO_TEST_PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
  PG_STOP=("${run[@]}" "$bindir/pg_ctl" -D "$PG_TMP/data" -m immediate stop)
  trap 'stop_throwaway_pg' EXIT
  echo "throwaway PostgreSQL on port $port"
}

stop_throwaway_pg() {
  if [ -n "${PG_TMP:-}" ]; then
    "${PG_STOP[@]}" >/dev/null 2>&1 || true
    rm -rf "$PG_TMP"
    PG_TMP=""
  fi
}
