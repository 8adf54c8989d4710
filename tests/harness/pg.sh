#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests.
#
#   pg.sh start DIR        initdb into DIR/data (once), start on 127.0.0.1 with a
#                          free port and a unix socket in DIR, create ciu_test,
#                          write postgresql://ciu@127.0.0.1:PORT/ciu_test to DIR/url.
#                          Reuses a server that is already running.
#   pg.sh stop DIR         stop it (pg_ctl -m fast); DIR is kept.
#   pg.sh url DIR          print the URL.
#   pg.sh newdb DIR NAME   (re)create database NAME and print its URL.
#
# As root, initdb and postgres run as the `postgres` user (else `nobody`).
# On failure the server log is printed.
set -eu
cd /

die() {
    echo "pg.sh: $*" >&2
    exit 1
}

usage() {
    die "usage: pg.sh start|stop|url DIR | pg.sh newdb DIR NAME"
}

[ $# -ge 2 ] || usage
cmd=$1
dir=$2
case $dir in
/*) ;;
*) dir=$(pwd)/$dir ;;
esac
data=$dir/data
log=$dir/postgres.log

find_bindir() {
    if command -v pg_config >/dev/null 2>&1; then
        b=$(pg_config --bindir 2>/dev/null || true)
        if [ -n "$b" ] && [ -x "$b/pg_ctl" ] && [ -x "$b/initdb" ]; then
            echo "$b"
            return
        fi
    fi
    b=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5,5n | tail -n 1)
    [ -n "$b" ] && [ -x "$b/pg_ctl" ] || die "no PostgreSQL server binaries (initdb, pg_ctl) found"
    echo "$b"
}
bin=$(find_bindir)

# Run a command as the unprivileged user when we are root.
if [ "$(id -u)" = 0 ]; then
    if id postgres >/dev/null 2>&1; then
        runas=postgres
    else
        runas=nobody
    fi
else
    runas=
fi
as_user() {
    if [ -n "$runas" ]; then
        runuser -u "$runas" -- "$@"
    else
        "$@"
    fi
}

port_of() {
    sed -n 's/^port *= *\([0-9]*\).*/\1/p' "$data/postgresql.auto.conf" 2>/dev/null | tail -n 1
}

is_running() {
    [ -f "$data/PG_VERSION" ] && as_user "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1
}

url_of() {
    echo "postgresql://ciu@127.0.0.1:$(port_of)/${1:-ciu_test}"
}

psql_admin() {
    PGOPTIONS="-c client_min_messages=warning" as_user "$bin/psql" -X -q -v ON_ERROR_STOP=1 \
        -h "$dir" -p "$(port_of)" -U ciu -d postgres "$@"
}

wait_ready() {
    i=0
    while ! as_user "$bin/pg_isready" -q -h "$dir" -p "$(port_of)" -U ciu -d postgres; do
        i=$((i + 1))
        [ $i -lt 300 ] || { cat "$log" >&2 || true; die "server not ready after 30 s"; }
        sleep 0.1
    done
}

port_free() {
    # A port is free when nothing accepts on it; pg_ctl start settles races.
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start() {
    mkdir -p "$dir"
    if [ -n "$runas" ]; then
        chown "$runas" "$dir"
        # The unprivileged user must reach DIR through the build tree.
        d=$dir
        while [ "$d" != / ]; do
            d=$(dirname "$d")
            chmod o+x "$d" 2>/dev/null || true
        done
    fi
    if [ ! -f "$data/PG_VERSION" ]; then
        rm -rf "$data"
        as_user "$bin/initdb" -D "$data" -A trust -U ciu --no-sync -E UTF8 --locale=C \
            >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    fi
    if is_running; then
        wait_ready
    else
        base=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 30000))
        prev=$(port_of)
        n=0
        started=
        while [ $n -lt 50 ]; do
            port=$((base + n))
            # A server started again keeps its port, so its URLs stay valid.
            [ $n -eq 0 ] && [ -n "$prev" ] && port=$prev && base=$((base - 1))
            n=$((n + 1))
            port_free "$port" 2>/dev/null || continue
            printf 'port = %s\n' "$port" | as_user tee "$data/postgresql.auto.conf" >/dev/null
            if as_user "$bin/pg_ctl" -D "$data" -l "$log" -w -t 30 start \
                -o "-k $dir -h 127.0.0.1 -p $port -c fsync=off -c full_page_writes=off" \
                >/dev/null 2>&1; then
                started=1
                break
            fi
        done
        [ -n "$started" ] || { cat "$log" >&2 || true; die "cannot start postgres"; }
        wait_ready
    fi
    if [ "$(psql_admin -tA -c "SELECT 1 FROM pg_database WHERE datname = 'ciu_test'")" != 1 ]; then
        psql_admin -c "CREATE DATABASE ciu_test"
    fi
    url_of ciu_test >"$dir/url.tmp"
    mv "$dir/url.tmp" "$dir/url"
    chmod a+r "$dir/url"
    cat "$dir/url"
}

stop() {
    if is_running; then
        as_user "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
    fi
}

case $cmd in
start) start ;;
stop) stop ;;
url)
    is_running || die "not running in $dir"
    url_of ciu_test
    ;;
newdb)
    [ $# -eq 3 ] || usage
    name=$3
    case $name in
    *[!a-z0-9_]* | "") die "database names are [a-z0-9_]+" ;;
    esac
    is_running || die "not running in $dir"
    psql_admin -c "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name"
    url_of "$name"
    ;;
*) usage ;;
esac
