#!/usr/bin/env bash
# Start pgbouncer (transaction pooling, deploy/pgbouncer/pgbouncer.ini) on 127.0.0.1:6432 in front
# of the primary on 127.0.0.1:5432, unless it already answers there. Idempotent; prints nothing
# when all is well (errors go to stderr, exit 1). Installs Debian's pgbouncer package when it is
# missing and this runs as root. bench/run.py --pgbouncer calls it.
#
#   deploy/pgbouncer/start.sh
#   DATABASE_URL=postgres://postgres@127.0.0.1:6432/ledgerflow DATABASE_POOL_MODE=transaction ...
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
RUN_DIR=${PGBOUNCER_RUN_DIR:-/tmp/ledgerflow-pgbouncer}
PORT=6432

die() { echo "pgbouncer: $*" >&2; exit 1; }
answers() { pg_isready -q -h 127.0.0.1 -p "$PORT" -d pgbouncer -U postgres; }

answers && exit 0

if ! command -v pgbouncer >/dev/null; then
  [ "$(id -u)" = 0 ] || die "not installed: apt-get install -y pgbouncer"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >"${TMPDIR:-/tmp}/ledgerflow-pgbouncer-apt.log" 2>&1 ||
    die "apt-get install pgbouncer failed (log: ${TMPDIR:-/tmp}/ledgerflow-pgbouncer-apt.log)"
fi

# pgbouncer refuses to run as root: as root it runs as postgres, which must own its files.
owner=$(id -un)
[ "$owner" = root ] && owner=postgres
install -d -m 750 -o "$owner" "$RUN_DIR"
sed "s|@RUN_DIR@|$RUN_DIR|g" "$here/pgbouncer.ini" >"$RUN_DIR/pgbouncer.ini"
echo '"postgres" ""' >"$RUN_DIR/userlist.txt"
chown "$owner" "$RUN_DIR/pgbouncer.ini" "$RUN_DIR/userlist.txt"

# A stale pid file of a pgbouncer that died would make the new one refuse to start.
if [ -f "$RUN_DIR/pgbouncer.pid" ] && ! kill -0 "$(cat "$RUN_DIR/pgbouncer.pid")" 2>/dev/null; then
  rm -f "$RUN_DIR/pgbouncer.pid"
fi
if [ "$(id -u)" = 0 ]; then
  runuser -u postgres -- pgbouncer -q -d "$RUN_DIR/pgbouncer.ini"
else
  pgbouncer -q -d "$RUN_DIR/pgbouncer.ini"
fi

for _ in $(seq 50); do
  answers && exit 0
  sleep 0.1
done
die "did not answer on 127.0.0.1:$PORT within 5 s (log: $RUN_DIR/pgbouncer.log)"
