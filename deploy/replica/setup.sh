#!/usr/bin/env bash
# Make sure a hot standby of the local PostgreSQL primary runs and streams. Idempotent: creates the
# standby cluster when it is missing (pg_createcluster + pg_basebackup), starts it when it is down,
# rebuilds it when it cannot stream (another primary, WAL it needs already recycled, promoted), and
# waits until the primary reports it `streaming`. Run as root (or postgres) on a Debian host with
# postgresql-N installed; CI calls it before the PostgreSQL tests.
#
#   deploy/replica/setup.sh            # primary 127.0.0.1:5432 -> standby 127.0.0.1:5433
#   REPLICA_TIMEOUT=120 deploy/replica/setup.sh
#
# Then: DATABASE_REPLICA_URL=postgres://postgres@127.0.0.1:5433/<same database name as primary>
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
PG_VERSION=${PG_VERSION:-$(ls /etc/postgresql | sort -V | tail -n 1)}
CLUSTER=${REPLICA_CLUSTER:-replica}
PRIMARY_PORT=5432
REPLICA_PORT=5433
APP=ledgerflow_replica  # application_name and physical replication slot
TIMEOUT=${REPLICA_TIMEOUT:-60}
CONF_DIR=/etc/postgresql/$PG_VERSION/$CLUSTER
DATA_DIR=/var/lib/postgresql/$PG_VERSION/$CLUSTER

log() { echo "replica: $*"; }
die() { echo "replica: $*" >&2; exit 1; }

as_postgres() {
  if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi
}
on_primary() { psql -X -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -d postgres -tAqc "$1"; }
on_replica() { psql -X -h 127.0.0.1 -p "$REPLICA_PORT" -U postgres -d postgres -tAqc "$1" 2>/dev/null; }
cluster_status() {  # online | down | missing
  pg_lsclusters -h 2>/dev/null | awk -v v="$PG_VERSION" -v c="$CLUSTER" \
    '$1 == v && $2 == c { print ($4 ~ /online/) ? "online" : "down"; found = 1 }
     END { if (!found) print "missing" }'
}
start_replica() {
  pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" "$CLUSTER" start
}
stop_replica() {
  if [ "$(cluster_status)" = online ]; then
    pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" "$CLUSTER" stop -m fast
  fi
}

[ "$(id -u)" = 0 ] || [ "$(id -un)" = postgres ] || die "run as root or postgres."
pg_isready -q -h 127.0.0.1 -p "$PRIMARY_PORT" || die "the primary on 127.0.0.1:$PRIMARY_PORT is down."

# --- the primary: WAL for a standby and a replication entry in pg_hba (a reload, no restart) ---
wal_level=$(on_primary "SHOW wal_level")
senders=$(on_primary "SHOW max_wal_senders")
if [ "$wal_level" = minimal ] || [ "$senders" = 0 ]; then
  die "the primary has wal_level=$wal_level, max_wal_senders=$senders: set wal_level=replica and max_wal_senders>=2, then restart it."
fi
hba_rules=$(on_primary "SELECT count(*) FROM pg_hba_file_rules
  WHERE type = 'host' AND 'replication' = ANY(database) AND address = '127.0.0.1' AND error IS NULL")
if [ "$hba_rules" = 0 ]; then
  hba_file=$(on_primary "SHOW hba_file")
  printf '\n# LedgerFlow local streaming replica (deploy/replica/setup.sh)\nhost replication postgres 127.0.0.1/32 trust\n' \
    >>"$hba_file"
  on_primary "SELECT pg_reload_conf()" >/dev/null
  log "added a replication entry to $hba_file and reloaded the primary."
fi
primary_conf_dir=$(dirname "$(on_primary "SHOW config_file")")/conf.d
if ! cmp -s "$here/primary.conf" "$primary_conf_dir/91-ledgerflow-replica.conf"; then
  install -D -o postgres -g postgres -m 644 "$here/primary.conf" \
    "$primary_conf_dir/91-ledgerflow-replica.conf"
  on_primary "SELECT pg_reload_conf()" >/dev/null
  log "installed $primary_conf_dir/91-ledgerflow-replica.conf and reloaded the primary."
fi

# --- the standby cluster ---------------------------------------------------------------------
install_config() {
  mkdir -p "$CONF_DIR/conf.d"
  {
    cat "$here/replica.conf"
    echo "# The primary's values at setup (a standby may not run with less):"
    for name in max_connections max_worker_processes max_wal_senders max_prepared_transactions \
      max_locks_per_transaction; do
      echo "$name = $(on_primary "SHOW $name")"
    done
  } >"$CONF_DIR/conf.d/90-ledgerflow-replica.conf"
  chown postgres:postgres "$CONF_DIR/conf.d/90-ledgerflow-replica.conf"
  install -o postgres -g postgres -m 640 "$here/pg_hba.conf" "$CONF_DIR/pg_hba.conf"
}

drop_slot() {  # the walsender of a just-stopped standby may take a moment to let go of it
  for _ in $(seq 10); do
    [ "$(on_primary "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$APP'")" = 0 ] &&
      return 0
    on_primary "SELECT pg_drop_replication_slot('$APP')
      FROM pg_replication_slots WHERE slot_name = '$APP' AND NOT active" >/dev/null || true
    sleep 1
  done
  die "cannot drop the replication slot $APP on the primary (still in use?)."
}

rebuild() {  # a fresh copy of the primary as a standby
  log "copying the primary with pg_basebackup into $DATA_DIR ..."
  stop_replica
  drop_slot
  rm -rf "$DATA_DIR"
  install -d -o postgres -g postgres -m 700 "$DATA_DIR"
  # -C -S: the slot is created when the copy starts, so no WAL after it is recycled before the
  # standby connects.
  as_postgres pg_basebackup -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -D "$DATA_DIR" \
    -X stream -c fast --no-password -C -S "$APP"
  as_postgres touch "$DATA_DIR/standby.signal"
  # The copy carries the primary's postgresql.auto.conf: drop a primary_conninfo it may hold so
  # ours (conf.d, application_name included) is the one in force.
  sed -i '/^primary_conninfo/d;/^primary_slot_name/d' "$DATA_DIR/postgresql.auto.conf"
}

streaming() {
  [ "$(on_primary "SELECT count(*) FROM pg_stat_replication
        WHERE application_name = '$APP' AND state = 'streaming'")" -ge 1 ] &&
    [ "$(on_replica "SELECT pg_is_in_recovery()")" = t ]
}

wait_streaming() {  # seconds
  local deadline=$((SECONDS + $1))
  while [ "$SECONDS" -lt "$deadline" ]; do
    streaming && return 0
    sleep 1
  done
  return 1
}

case $(cluster_status) in
  missing)
    log "creating cluster $PG_VERSION/$CLUSTER on port $REPLICA_PORT."
    pg_createcluster "$PG_VERSION" "$CLUSTER" -p "$REPLICA_PORT" >/dev/null
    install_config
    rebuild
    ;;
  *)
    install_config
    slot=$(on_primary "SELECT coalesce(wal_status, '') FROM pg_replication_slots
      WHERE slot_name = '$APP'")
    if [ ! -f "$DATA_DIR/standby.signal" ]; then
      rebuild  # a leftover cluster that is no standby (or was promoted)
    elif [ -z "$slot" ] || [ "$slot" = lost ]; then
      log "its replication slot is ${slot:-missing} on the primary: the WAL it needs may be gone."
      rebuild
    fi
    ;;
esac

if streaming; then
  log "already streaming from 127.0.0.1:$PRIMARY_PORT on 127.0.0.1:$REPLICA_PORT."
  exit 0
fi
if [ "$(cluster_status)" != online ]; then
  start_replica || { log "the standby does not start; rebuilding it."; rebuild; start_replica; }
fi
if ! wait_streaming "$TIMEOUT"; then
  # Another primary (system identifier), WAL already recycled, or a promoted copy: start over.
  log "not streaming after ${TIMEOUT}s; rebuilding it (log: /var/log/postgresql/postgresql-$PG_VERSION-$CLUSTER.log)."
  rebuild
  start_replica
  wait_streaming "$TIMEOUT" || die "the standby does not stream; see /var/log/postgresql/postgresql-$PG_VERSION-$CLUSTER.log"
fi
log "streaming from 127.0.0.1:$PRIMARY_PORT on 127.0.0.1:$REPLICA_PORT (took ${SECONDS}s)."
