/**
 * RESTORE.md in every target folder: how to check and restore each kind of artifact with plain
 * PostgreSQL and age tools, for the day Lifeboat itself is not available.
 */
export function restoreKitText(target: string): string {
  return `# Restoring ${target} without Lifeboat

Everything here can be checked and restored with PostgreSQL's own tools, \`sha256sum\` and \`age\`.
Each artifact has a \`<file>.manifest.json\` beside it: its kind, time, server version, the
sha256 of every file, and row counts per table.

## 1. Check the file is intact

    jq -r '.files[] | "\\(.sha256)  \\(.name)"' full_backup_<time>.dump.manifest.json | sha256sum -c -

Do not restore a file that fails this check.

## 2. Decrypt (files ending in .age)

    age -d -i /path/to/lifeboat-age-identity.txt -o full_backup_<time>.dump full_backup_<time>.dump.age

The identity file is the one named by LIFEBOAT_AGE_IDENTITY_FILE on the Lifeboat host
(AGE-SECRET-KEY-1…). Without it, encrypted backups cannot be read by anyone.

## 3. Restore

A full dump ending in .dump.zst (the default) is pg_dump's custom format through zstd: first

    zstd -d full_backup_<time>.dump.zst                # gives full_backup_<time>.dump

Full dump (pg_dump custom format), into a new database first to inspect it:

    createdb -h HOST -p PORT -U USER restored
    pg_restore -h HOST -p PORT -U USER -d restored --single-transaction --exit-on-error full_backup_<time>.dump

Over the existing database (drops and recreates every object in the dump):

    pg_restore -h HOST -p PORT -U USER -d DBNAME --clean --if-exists --single-transaction --exit-on-error full_backup_<time>.dump

Schema only:

    psql -h HOST -p PORT -U USER -d DBNAME -v ON_ERROR_STOP=1 -f schema_<time>.sql

JSON export (data_export_<time>.json.gz): a JSON document with every table's columns, their
PostgreSQL types and the rows (values in PostgreSQL's text form). \`zcat\` it and load it with any
JSON tool, or with \`npm run restore json <file>\` from a Lifeboat checkout.

Environment backup (env_<time>.tar.age): decrypt, then \`tar -xf\`; apply config/ and server/ by
hand, and roles with \`psql -f globals.sql\`.

## 4. Point-in-time recovery by hand (base/ and archive/)

    # a compressed base backup (base.tar.zst, pg_wal.tar.zst, backup_manifest; the default):
    jq -r '.files[] | "\\(.sha256)  \\(.name)"' base/<time>.manifest.json | sha256sum -c -
    mkdir -m 700 /path/to/new/pgdata && zstd -dc base/<time>/base.tar.zst | tar -xf - -C /path/to/new/pgdata
    zstd -dc base/<time>/pg_wal.tar.zst | tar -xf - -C /path/to/new/pgdata/pg_wal && chown -R postgres /path/to/new/pgdata
    # a plain one (LIFEBOAT_BASE_COMPRESSION=none):
    pg_verifybackup base/<time>                       # every file against its backup_manifest
    cp -a base/<time>/. /path/to/new/pgdata && chown -R postgres /path/to/new/pgdata
    cat >> /path/to/new/pgdata/postgresql.auto.conf <<EOF
    restore_command = 'cp /path/to/backups/${target}/archive/%f %p'
    recovery_target_time = '2026-01-15 14:30:00+00'   # or recovery_target_name / _lsn, or none for latest
    recovery_target_action = 'promote'
    archive_mode = off                                 # a copy must not write into this archive
    EOF
    touch /path/to/new/pgdata/recovery.signal
    pg_ctl -D /path/to/new/pgdata start               # as the postgres user

base/<time>.manifest.json gives each base backup's WAL range and timeline; pick the newest base
backup that ended before your target.
`;
}
