#!/usr/bin/env bash
# Entrypoint of the docker-compose `postgres` service (docker/postgres-agent/Dockerfile).
#   lifeboat-agent-entrypoint.sh [postgres] [-c name=value ...]
# 0. The data directory is $PGDATA, one level below the volume (see the Dockerfile).
# 1. The repository's archive folder belongs to the server's OS user (and only it: a database
#    superuser cannot touch the backups beside it).
# 2. First boot (empty data directory): the official image's own initialisation (initdb,
#    POSTGRES_USER/PASSWORD/DB, /docker-entrypoint-initdb.d), from its docker-entrypoint.sh.
# 3. The server settings given as arguments (-c name=value, as the official image takes them) are
#    written into a marked block of postgresql.conf, because the agent starts the server with pg_ctl.
# 4. exec the Lifeboat agent with --supervise (as root: it reads the repository the Lifeboat
#    container writes, and runs PostgreSQL's own programs as the postgres OS user).
set -Eeuo pipefail

export PGDATA="${PGDATA:-/var/lib/postgresql/data/pgdata}"
volume="$(dirname "$PGDATA")"
target="${DB_TARGET_NAME:-allertify}"
backups="${BACKUP_DIR:-/backups}"

settings=()
while [ $# -gt 0 ]; do
  case "$1" in
    postgres) shift ;;
    -c) [ $# -ge 2 ] || { echo "lifeboat-agent-entrypoint: -c needs name=value" >&2; exit 2; }; settings+=("$2"); shift 2 ;;
    -c*) settings+=("${1#-c}"); shift ;;
    --*=*) settings+=("${1#--}"); shift ;;
    *) echo "lifeboat-agent-entrypoint: unexpected argument '$1' (server settings go as -c name=value)" >&2; exit 2 ;;
  esac
done

mkdir -p "$backups/$target/archive"
chown root:root "$backups" "$backups/$target"
chmod 711 "$backups" "$backups/$target"
chown postgres:postgres "$backups/$target/archive"
chmod 700 "$backups/$target/archive"

# A volume from before this image kept the cluster at its top (the official image's default):
# move it one level down, once, within the volume (an in-place PITR must be able to rename it).
if [ -s "$volume/PG_VERSION" ] && [ ! -e "$PGDATA" ]; then
  echo "lifeboat-agent-entrypoint: moving the cluster at the top of $volume into $PGDATA"
  mkdir "$volume/.pgdata-moving"
  find "$volume" -mindepth 1 -maxdepth 1 ! -name .pgdata-moving -exec mv -t "$volume/.pgdata-moving" -- {} +
  mv "$volume/.pgdata-moving" "$PGDATA"
  chown postgres:postgres "$PGDATA"
  chmod 700 "$PGDATA"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  echo "lifeboat-agent-entrypoint: empty data directory: initialising it as the official image does"
  # docker-entrypoint.sh only defines its functions when sourced (it runs its main only when
  # executed); it is not written for `set -u`.
  set +u
  # shellcheck disable=SC1091
  source /usr/local/bin/docker-entrypoint.sh
  docker_setup_env
  docker_create_db_directories
  set -u
  # The rest as the postgres OS user, as the official entrypoint re-executes itself with gosu.
  gosu postgres bash -Eeo pipefail -c '
    source /usr/local/bin/docker-entrypoint.sh
    docker_setup_env
    docker_verify_minimum_env
    ls /docker-entrypoint-initdb.d/ > /dev/null
    docker_init_database_dir
    pg_setup_hba_conf postgres
    export PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}"
    docker_temp_server_start postgres
    docker_setup_db
    docker_process_init_files /docker-entrypoint-initdb.d/*
    docker_temp_server_stop
  '
fi

conf="$PGDATA/postgresql.conf"
begin="# BEGIN lifeboat-agent: written at every start from the service's command (edit docker-compose.yml, not this block)"
end="# END lifeboat-agent"
{
  sed "/^# BEGIN lifeboat-agent/,/^# END lifeboat-agent/d" "$conf"
  echo "$begin"
  for setting in "${settings[@]}"; do
    name="${setting%%=*}"
    value="${setting#*=}"
    [[ "$name" =~ ^[A-Za-z_][A-Za-z0-9_.]*$ && "$setting" == *=* ]] || { echo "lifeboat-agent-entrypoint: '$setting' is not name=value" >&2; exit 2; }
    echo "$name = '${value//\'/\'\'}'"
  done
  echo "$end"
} > "$conf.lifeboat-new"
chown postgres:postgres "$conf.lifeboat-new"
chmod 600 "$conf.lifeboat-new"
mv "$conf.lifeboat-new" "$conf"

# PostgreSQL's log (pg_ctl's -l file beside the data directory, in the volume) into the container's output.
log="$volume/postgres.log"
touch "$log" && chown postgres:postgres "$log"
tail -n 0 -F "$log" &

cd /opt/lifeboat
export DB_DATA_DIR="$PGDATA" DB_CONTROL=pg_ctl DB_OS_USER=postgres
exec node --import tsx cli/agent.ts --target "$target" --supervise
