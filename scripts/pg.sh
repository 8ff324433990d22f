# A throwaway PostgreSQL for the tests (issue 17): Debian's `postgresql`
# binaries, a cluster made by initdb in a temporary directory, owned and run
# by an unprivileged user, listening on 127.0.0.1 only, on a free port, with
# its unix socket in the same directory, and gone when the shell exits.
#
#   source scripts/pg.sh            # start it; stopped and removed on exit
#   bash scripts/pg.sh CMD [ARG...] # start it, run CMD, stop it; CMD's status
#
# It exports:
#   PV_TEST_POSTGRES_URL  postgres://pvtest:PASSWORD@127.0.0.1:PORT/pvtest
#                         (a superuser: the tests create a database each)
#   PV_TEST_POSTGRES_CTL  a command line that restarts the cluster
#                         (`pg_ctl -m fast -w restart` as the cluster's user),
#                         for tests that restart PostgreSQL mid-load
#   PV_PG_DIR             the temporary directory (data/, server.log, socket)
#
# As root the cluster runs as the system user `pvpg` (made if missing:
# PostgreSQL refuses to run as root); otherwise as the current user.
# Loopback connections need the password (scram-sha-256); the unix socket,
# inside a 0700 directory, trusts its owner.

pv_pg_bin() { # the newest installed PostgreSQL's bin directory
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$d" ] || [ ! -x "$d/initdb" ]; then
    echo "pg.sh: no PostgreSQL under /usr/lib/postgresql (bash scripts/setup.sh core installs it)" >&2
    return 1
  fi
  echo "$d"
}

pv_pg_as() { # run a command as the cluster's user
  if [ "$(id -u)" = 0 ]; then
    runuser -u pvpg -- "$@"
  else
    "$@"
  fi
}

pv_pg_stop() {
  if [ -n "${PV_PG_DIR:-}" ] && [ -d "$PV_PG_DIR" ]; then
    if [ -f "$PV_PG_DIR/data/postmaster.pid" ]; then
      pv_pg_as "$PV_PG_BIN/pg_ctl" -D "$PV_PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$PV_PG_DIR"
  fi
  unset PV_PG_DIR PV_TEST_POSTGRES_URL PV_TEST_POSTGRES_CTL
}

pv_pg_start() {
  local bin dir pw port try started=""
  bin=$(pv_pg_bin) || return 1
  PV_PG_BIN=$bin
  if [ "$(id -u)" = 0 ] && ! id pvpg >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin pvpg
  fi
  dir=$(mktemp -d "${TMPDIR:-/tmp}/pvpg.XXXXXX")
  PV_PG_DIR=$dir
  export PV_PG_DIR
  [ "$(id -u)" = 0 ] && chown pvpg: "$dir"
  chmod 700 "$dir"
  pw=$(od -An -N18 -tx1 /dev/urandom | tr -d ' \n')
  printf '%s\n' "$pw" >"$dir/pwfile"
  [ "$(id -u)" = 0 ] && chown pvpg: "$dir/pwfile"
  if ! pv_pg_as "$bin/initdb" -D "$dir/data" -U pvtest --pwfile="$dir/pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-locale >"$dir/initdb.log" 2>&1; then
    cat "$dir/initdb.log" >&2
    echo "pg.sh: initdb failed" >&2
    return 1
  fi
  rm -f "$dir/pwfile"
  # Loopback only; the socket lives in the private directory; room for
  # many test databases' pools at once.
  cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
max_connections = 300
EOF
  for try in 1 2 3 4 5 6 7 8; do
    port=$((20000 + RANDOM % 30000))
    # Taken already? (a connect that succeeds means someone listens)
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi
    sed -i '/^port = /d' "$dir/data/postgresql.conf"
    echo "port = $port" >>"$dir/data/postgresql.conf"
    if pv_pg_as "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null 2>&1; then
      started=1
      break
    fi
  done
  if [ -z "$started" ]; then
    tail -n 20 "$dir/server.log" >&2 2>/dev/null || true
    echo "pg.sh: PostgreSQL did not start" >&2
    return 1
  fi
  pv_pg_as "$bin/createdb" -h "$dir" -p "$port" -U pvtest pvtest
  export PV_TEST_POSTGRES_URL="postgres://pvtest:$pw@127.0.0.1:$port/pvtest"
  local as=""
  [ "$(id -u)" = 0 ] && as="runuser -u pvpg -- "
  export PV_TEST_POSTGRES_CTL="${as}$bin/pg_ctl -D $dir/data -l $dir/server.log -m fast -w -t 60 restart"
  echo "pg.sh: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (data in $dir)"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  # Run as a command: start, run the arguments, stop.
  set -euo pipefail
  trap pv_pg_stop EXIT
  pv_pg_start
  if [ $# -gt 0 ]; then "$@"; else echo "$PV_TEST_POSTGRES_URL"; fi
else
  pv_pg_start || return 1
  trap pv_pg_stop EXIT
fi
