#!/bin/sh
# The official image's first start, reduced to what docker-compose.yml uses; PGLISTEN (default
# all addresses) is where it listens.
set -eu
mkdir -p "$PGDATA" /run/postgresql
chown postgres:postgres "$PGDATA" /run/postgresql
chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    echo "$POSTGRES_PASSWORD" > /tmp/pwfile
    su postgres -c "initdb -D '$PGDATA' -U postgres --pwfile=/tmp/pwfile --auth-local=trust --auth-host=scram-sha-256"
    rm /tmp/pwfile
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    su postgres -c "pg_ctl -D '$PGDATA' -o '-c listen_addresses=' -w start"
    if [ -n "${POSTGRES_DB:-}" ] && [ "$POSTGRES_DB" != postgres ]; then
        su postgres -c "createdb -U postgres '$POSTGRES_DB'"
    fi
    su postgres -c "pg_ctl -D '$PGDATA' -m fast -w stop"
fi
exec su postgres -c "exec $* -D '$PGDATA' -p '$PGPORT' -c listen_addresses='${PGLISTEN:-*}'"
