#!/usr/bin/env bash
# A PostgreSQL cluster of its own for the tests: trust auth, loopback only, a free port, a
# folder under /tmp. The machines' packaged cluster is stopped and asks for a password on
# 127.0.0.1, so tests never use it.
#
#   dev/test_postgres.sh start [DIR]   prints the URL to put in TEST_DATABASE_URL
#   dev/test_postgres.sh stop [DIR]
#
# Run as root (it runs the server as the `postgres` user) or as the user that owns DIR.
set -euo pipefail

action=${1:-}
dir=${2:-/tmp/vrstream-postgres}
bin=$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)

as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    su postgres -s /bin/bash -c "$*"
  else
    bash -c "$*"
  fi
}

case $action in
  start)
    if [[ -f $dir/port ]] && as_owner "'$bin/pg_ctl' -D '$dir/data' status" >/dev/null 2>&1; then
      echo "postgres://postgres@127.0.0.1:$(cat "$dir/port")/postgres"
      exit 0
    fi
    rm -rf "$dir"
    mkdir -p "$dir"
    [[ $(id -u) -eq 0 ]] && chown postgres: "$dir"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_owner "'$bin/initdb' -D '$dir/data' -U postgres --auth=trust -E UTF8 --locale=C.UTF-8" >/dev/null
    as_owner "'$bin/pg_ctl' -D '$dir/data' -l '$dir/log' -w -t 60 -o \"-p $port -k '$dir' -c listen_addresses=127.0.0.1 -c max_connections=300\" start" >/dev/null
    echo "$port" >"$dir/port"
    echo "postgres://postgres@127.0.0.1:${port}/postgres"
    ;;
  stop)
    if [[ -d $dir/data ]]; then
      as_owner "'$bin/pg_ctl' -D '$dir/data' -m fast stop" >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start|stop [DIR]" >&2
    exit 2
    ;;
esac
