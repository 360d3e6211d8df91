#!/usr/bin/env bash
# A local high-availability PostgreSQL 15 cluster for failover tests.
#
#   ha/cluster.sh start DIR    set up (or resume) the cluster under DIR, wait
#                              for a leader and two streaming replicas, print
#                              the connection URL the service should use
#   ha/cluster.sh stop DIR     stop Patroni, PostgreSQL and etcd; nothing runs
#   ha/cluster.sh status DIR   etcd health, Patroni's member list, replication
#
# What runs, on loopback only:
#   - one etcd member (Debian's etcd-server) on 127.0.0.1:23790 (clients) and
#     127.0.0.1:23800 (peers), away from etcd's default ports;
#   - three PostgreSQL 15 members managed by Patroni (Debian's patroni),
#     PostgreSQL on 5441/5442/5443 and Patroni's REST API on 8441/8442/8443,
#     each with its own data directory DIR/pgN/data.
#
# Replication is synchronous (synchronous_mode: true): a commit the primary
# acknowledges is on the synchronous standby too, so Patroni may promote that
# standby without losing it. primary_start_timeout is 0: when the primary's
# postmaster dies, Patroni fails over to the synchronous standby at once
# instead of restarting PostgreSQL in place (its default, 300 s), which is
# what a failover test needs to see.
#
# This is a test rig, not a deployment:
#   - a single etcd member is a single point of failure; production needs
#     three (or five) etcd members on separate machines;
#   - authentication is "trust" for every loopback connection (no passwords),
#     acceptable only because everything listens on 127.0.0.1 of a test
#     machine;
#   - there is no watchdog, so a frozen (not dead) primary could briefly
#     overlap with a new one.
#
# PostgreSQL refuses to run as root, so etcd, Patroni and PostgreSQL all run
# as the existing `postgres` system user; DIR is owned by it. The server that
# may already run on 127.0.0.1:5432 is never touched.
set -euo pipefail

readonly PG_BIN=/usr/lib/postgresql/15/bin
readonly ETCD_CLIENT_PORT=23790
readonly ETCD_PEER_PORT=23800
readonly MEMBERS=(1 2 3)
readonly SCOPE=deconflict-ha
readonly DATABASE=deconflict
readonly RUN_AS=postgres
# /usr/bin/python3 is the interpreter Debian's patroni runs on; used here only
# to read JSON.
readonly PY=/usr/bin/python3

pg_port() { echo $((5440 + $1)); }
api_port() { echo $((8440 + $1)); }

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

usage() {
    echo "usage: $0 start|stop|status DIR" >&2
    exit 2
}

connection_url() {
    local hosts=() n
    for n in "${MEMBERS[@]}"; do hosts+=("127.0.0.1:$(pg_port "$n")"); done
    local IFS=,
    echo "postgresql://postgres@${hosts[*]}/${DATABASE}?target_session_attrs=read-write"
}

# Run a command as the postgres user, with its own HOME.
as_postgres() {
    env HOME="$(getent passwd "$RUN_AS" | cut -d: -f6)" \
        setpriv --reuid="$RUN_AS" --regid="$RUN_AS" --init-groups -- "$@"
}

# Start a daemon as the postgres user in its own session (so it outlives this
# script and ignores the caller's ^C), with its pid in PIDFILE once it runs.
spawn() {
    local pidfile=$1 logfile=$2
    shift 2
    rm -f "$pidfile"
    (
        # shellcheck disable=SC2016 # $$ and $@ are for the inner shell
        exec env HOME="$(getent passwd "$RUN_AS" | cut -d: -f6)" \
            setpriv --reuid="$RUN_AS" --regid="$RUN_AS" --init-groups -- \
            setsid bash -c 'echo $$ >"$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' "$pidfile" "$@" \
            </dev/null >>"$logfile" 2>&1
    ) &
    local deadline=$((SECONDS + 5))
    while ((SECONDS < deadline)); do
        [[ -s $pidfile ]] && return
        sleep 0.1
    done
    die "$1 did not start; see $logfile"
}

ensure_packages() {
    local missing=()
    command -v patroni >/dev/null || missing+=(patroni)
    command -v etcd >/dev/null || missing+=(etcd-server)
    [[ -x $PG_BIN/postgres ]] || missing+=(postgresql-15)
    if ((${#missing[@]})); then
        log "installing ${missing[*]}"
        # policy-rc.d on these machines keeps the packages' own services off;
        # this script starts what it needs by itself.
        apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
    fi
}

pid_alive() {
    local file=$1
    [[ -s $file ]] && kill -0 "$(cat "$file")" 2>/dev/null
}

port_busy() {
    ss -Hltn "sport = :$1" | grep -q .
}

http_get() {
    curl -fsS --max-time 2 "$1" 2>/dev/null
}

# --- configuration -------------------------------------------------------

write_patroni_config() {
    local n=$1 dir=$2
    local member=$dir/pg$n
    cat >"$member/patroni.yml" <<EOF
# Written by ha/cluster.sh; rewritten on every start.
scope: $SCOPE
namespace: /deconflict-ha/
name: pg$n

restapi:
  listen: 127.0.0.1:$(api_port "$n")
  connect_address: 127.0.0.1:$(api_port "$n")

etcd3:
  hosts: 127.0.0.1:$ETCD_CLIENT_PORT

log:
  level: INFO

bootstrap:
  # Stored in etcd by the first member to initialise the cluster; the others
  # read it from there.
  dcs:
    ttl: 20
    loop_wait: 2
    retry_timeout: 5
    maximum_lag_on_failover: 1048576
    synchronous_mode: true
    primary_start_timeout: 0
    check_timeline: true
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_level: replica
        hot_standby: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        wal_log_hints: "on"
        max_connections: 100
  initdb:
    - encoding: UTF8
    - locale: C.UTF-8
    - data-checksums
  # Trust on loopback only: a local test cluster with no passwords.
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 trust
    - local replication all trust
    - host replication all 127.0.0.1/32 trust

postgresql:
  listen: 127.0.0.1:$(pg_port "$n")
  connect_address: 127.0.0.1:$(pg_port "$n")
  data_dir: $member/data
  bin_dir: $PG_BIN
  pgpass: $member/pgpass
  authentication:
    superuser:
      username: postgres
    replication:
      username: replicator
    rewind:
      username: postgres
  parameters:
    unix_socket_directories: $member
    logging_collector: "on"
    log_directory: $member/log
    log_filename: postgresql.log
    log_line_prefix: "%m [%p] "

tags:
  nofailover: false
  noloadbalance: false
  clonefrom: false
  nosync: false
EOF
}

# --- start ---------------------------------------------------------------

start_etcd() {
    local dir=$1
    local pidfile=$dir/etcd/etcd.pid
    if pid_alive "$pidfile"; then
        log "etcd already running (pid $(cat "$pidfile"))"
        return
    fi
    port_busy "$ETCD_CLIENT_PORT" && die "port $ETCD_CLIENT_PORT is in use by something else"
    port_busy "$ETCD_PEER_PORT" && die "port $ETCD_PEER_PORT is in use by something else"
    local state=new
    [[ -d $dir/etcd/data/member ]] && state=existing
    log "starting etcd on 127.0.0.1:$ETCD_CLIENT_PORT ($state data)"
    spawn "$pidfile" "$dir/etcd/etcd.log" \
        etcd --name "$SCOPE" --data-dir "$dir/etcd/data" \
        --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
        --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
        --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
        --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
        --initial-cluster "$SCOPE=http://127.0.0.1:$ETCD_PEER_PORT" \
        --initial-cluster-token "$SCOPE" \
        --initial-cluster-state "$state"
    local deadline=$((SECONDS + 20))
    while ((SECONDS < deadline)); do
        http_get "http://127.0.0.1:$ETCD_CLIENT_PORT/health" | grep -q '"health":"true"' && return
        pid_alive "$pidfile" || die "etcd exited; see $dir/etcd/etcd.log"
        sleep 0.2
    done
    die "etcd not healthy after 20 s; see $dir/etcd/etcd.log"
}

start_member() {
    local n=$1 dir=$2
    local member=$dir/pg$n
    local pidfile=$member/patroni.pid
    if pid_alive "$pidfile"; then
        log "pg$n: patroni already running (pid $(cat "$pidfile"))"
        return
    fi
    port_busy "$(pg_port "$n")" && die "port $(pg_port "$n") is in use by something else"
    port_busy "$(api_port "$n")" && die "port $(api_port "$n") is in use by something else"
    log "pg$n: starting patroni (PostgreSQL 127.0.0.1:$(pg_port "$n"), REST 127.0.0.1:$(api_port "$n"))"
    spawn "$pidfile" "$member/patroni.log" patroni "$member/patroni.yml"
}

# Print "NAME PORT SYNC" if exactly one member runs as leader, where SYNC is
# the number of members Patroni holds as synchronous standbys (only those may
# be promoted without losing acknowledged commits); nothing otherwise.
leader() {
    local body
    body=$(http_get "http://127.0.0.1:$(api_port 1)/cluster" ||
        http_get "http://127.0.0.1:$(api_port 2)/cluster" ||
        http_get "http://127.0.0.1:$(api_port 3)/cluster") || return 0
    $PY -c '
import json, sys
members = json.loads(sys.argv[1]).get("members", [])
leaders = [m for m in members if m.get("role") == "leader" and m.get("state") == "running"]
sync = [m for m in members if m.get("role") == "sync_standby" and m.get("state") == "running"]
if len(leaders) == 1:
    print(leaders[0]["name"], leaders[0]["port"], len(sync))
' "$body"
}

psql_at() {
    local port=$1
    shift
    as_postgres psql -X -q -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 "$@"
}

# Number of standbys the leader on PORT streams to, and how many are sync.
replication_summary() {
    psql_at "$1" -d postgres -At -F ' ' -c \
        "SELECT count(*) FILTER (WHERE state = 'streaming'),
                count(*) FILTER (WHERE state = 'streaming' AND sync_state = 'sync')
           FROM pg_stat_replication" 2>/dev/null || echo "0 0"
}

wait_for_cluster() {
    local dir=$1 deadline=$((SECONDS + ${HA_START_TIMEOUT:-180}))
    local name="" port="" patroni_sync=0 streaming=0 sync=0 n
    # Healthy means: one leader, two replicas streaming from it, one of them
    # synchronous in PostgreSQL and recorded as such in etcd. Until the last
    # holds, Patroni has no safe candidate and would restart a crashed
    # primary in place rather than fail over.
    while ((SECONDS < deadline)); do
        for n in "${MEMBERS[@]}"; do
            pid_alive "$dir/pg$n/patroni.pid" || die "pg$n: patroni exited; see $dir/pg$n/patroni.log"
        done
        read -r name port patroni_sync < <(leader) || true
        if [[ -n $port ]]; then
            read -r streaming sync < <(replication_summary "$port")
            if ((streaming == 2 && sync >= 1 && patroni_sync >= 1)); then
                log "leader $name on port $port, 2 streaming replicas ($sync synchronous)"
                echo "$port"
                return
            fi
        fi
        sleep 1
    done
    die "no leader with two streaming replicas after ${HA_START_TIMEOUT:-180} s (leader: ${name:-none}, streaming: $streaming, synchronous: $sync); see $dir/pg*/patroni.log"
}

ensure_database() {
    local port=$1
    if [[ -z $(psql_at "$port" -d postgres -At -c "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'") ]]; then
        log "creating database $DATABASE"
        psql_at "$port" -d postgres -c "CREATE DATABASE $DATABASE"
    fi
}

cmd_start() {
    local dir=$1
    ensure_packages
    mkdir -p "$dir"
    dir=$(realpath "$dir")
    [[ ${#dir} -le 80 ]] || die "DIR is too long for PostgreSQL's socket path: $dir"
    local n
    mkdir -p "$dir/etcd"
    for n in "${MEMBERS[@]}"; do
        mkdir -p "$dir/pg$n/log"
        write_patroni_config "$n" "$dir"
    done
    chown -R "$RUN_AS:" "$dir"
    # initdb and PostgreSQL insist that the data directory is private.
    for n in "${MEMBERS[@]}"; do [[ -d $dir/pg$n/data ]] && chmod 700 "$dir/pg$n/data"; done
    as_postgres test -w "$dir" -a -x "$dir" || die "the $RUN_AS user cannot use $dir (check its parents' permissions)"

    start_etcd "$dir"
    for n in "${MEMBERS[@]}"; do start_member "$n" "$dir"; done
    local port
    port=$(wait_for_cluster "$dir")
    ensure_database "$port"
    connection_url
}

# --- stop ----------------------------------------------------------------

stop_pid() {
    local pidfile=$1 what=$2 wait=${3:-60}
    pid_alive "$pidfile" || {
        rm -f "$pidfile"
        return 0
    }
    local pid deadline=$((SECONDS + wait))
    pid=$(cat "$pidfile")
    kill -TERM "$pid" 2>/dev/null || true
    while ((SECONDS < deadline)) && kill -0 "$pid" 2>/dev/null; do
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "$what (pid $pid) still running after ${wait} s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

# A postmaster left behind (Patroni killed, or crashed): stop it by its pid
# file, never by name.
stop_postmaster() {
    local data=$1
    [[ -s $data/postmaster.pid ]] || return 0
    local pid
    pid=$(head -1 "$data/postmaster.pid")
    if kill -0 "$pid" 2>/dev/null && [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == "$PG_BIN/postgres" ]]; then
        log "stopping leftover postmaster $pid in $data"
        as_postgres "$PG_BIN/pg_ctl" stop -D "$data" -m fast -w -t 30 >&2 ||
            as_postgres "$PG_BIN/pg_ctl" stop -D "$data" -m immediate -w -t 30 >&2 || true
    fi
}

cmd_stop() {
    local dir=$1
    [[ -d $dir ]] || {
        log "$dir does not exist: nothing to stop"
        return
    }
    dir=$(realpath "$dir")
    local n pids=()
    # Stop the replicas first so that none of them takes over from a leader
    # that is shutting down, then the leader.
    local lead
    lead=$(leader || true)
    lead=${lead%% *}
    for n in "${MEMBERS[@]}"; do
        [[ pg$n == "$lead" ]] && continue
        if pid_alive "$dir/pg$n/patroni.pid"; then
            log "pg$n: stopping patroni"
            stop_pid "$dir/pg$n/patroni.pid" "pg$n patroni" &
            pids+=($!)
        fi
    done
    ((${#pids[@]})) && wait "${pids[@]}"
    if [[ -n $lead ]] && pid_alive "$dir/$lead/patroni.pid"; then
        log "$lead: stopping patroni (leader)"
        stop_pid "$dir/$lead/patroni.pid" "$lead patroni"
    fi
    for n in "${MEMBERS[@]}"; do
        rm -f "$dir/pg$n/patroni.pid"
        stop_postmaster "$dir/pg$n/data"
    done
    if pid_alive "$dir/etcd/etcd.pid"; then
        log "stopping etcd"
        stop_pid "$dir/etcd/etcd.pid" etcd 20
    fi
    log "stopped"
}

# --- status --------------------------------------------------------------

cmd_status() {
    local dir=$1 health
    dir=$(realpath "$dir")
    local up=0
    if health=$(http_get "http://127.0.0.1:$ETCD_CLIENT_PORT/health"); then
        echo "etcd: $health"
    else
        echo "etcd: not running"
        up=1
    fi
    # patronictl retries for a long time without etcd: ask it only if etcd is up.
    if ((up == 0)) && [[ -f $dir/pg1/patroni.yml ]]; then
        timeout 15 patronictl -c "$dir/pg1/patroni.yml" list 2>/dev/null || {
            echo "patroni: no member answers"
            up=1
        }
    fi
    local name="" port="" sync=""
    read -r name port sync < <(leader) || true
    if [[ -n $port ]]; then
        echo "leader: $name (port $port)"
        psql_at "$port" -d postgres -c \
            "SELECT application_name, state, sync_state, replay_lsn FROM pg_stat_replication ORDER BY 1"
        connection_url
    else
        echo "leader: none"
        up=1
    fi
    return $up
}

main() {
    (($# == 2)) || usage
    [[ $(id -u) == 0 ]] || die "run as root (it runs the cluster as the $RUN_AS user)"
    case $1 in
    start) cmd_start "$2" ;;
    stop) cmd_stop "$2" ;;
    status) cmd_status "$2" ;;
    *) usage ;;
    esac
}

main "$@"
