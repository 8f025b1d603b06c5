import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import { createDb } from "@/lib/db/client";
import { ensureDatabaseExists, migrateDatabase } from "@/lib/db/migrate";
import type { Target } from "@/lib/db/schema";
import type { TEnv } from "@/lib/env";
import { isPortInUse } from "@/lib/engine/cluster/free-port";
import { LocalCluster, shellQuote } from "@/lib/engine/cluster/local-cluster";
import { CLUSTER_OS_USER, isRoot } from "@/lib/engine/cluster/os-user";
import { parseRecipients } from "@/lib/engine/crypto/age";
import { LocalRepository } from "@/lib/engine/repository/repository";
import { withClient } from "@/lib/engine/pg/server-info";
import { execChild } from "@/lib/engine/process/spawn-child";
import { upsertDefaultTarget } from "@/lib/targets/default-target";
import { ensureAdmin, type EnsureAdminResult } from "@/lib/users/ensure-admin";

export type StartSandboxOptions = {
  /** The checkout: relative paths in the environment (DB_DATA_DIR, BACKUP_DIR) resolve from here. */
  rootDir: string;
  env: TEnv;
  adminEmail: string;
  resetAdminPassword?: boolean | undefined;
  log: (line: string) => void;
};

export type SandboxResult = {
  demo: LocalCluster;
  /** Present when the metadata database lives in the sandbox's own cluster. */
  meta: LocalCluster | undefined;
  archiveDir: string;
  admin: EnsureAdminResult;
  target: Target;
  seeded: boolean;
};

/**
 * Start (or reuse) the quickstart sandbox: the demo cluster with WAL archiving into the
 * repository, its seeded `allertify` database, Lifeboat's own metadata cluster, the migrated
 * metadata database, the admin user and the default target. Running it again changes nothing
 * that exists.
 */
export async function startSandbox(options: StartSandboxOptions): Promise<SandboxResult> {
  const { env, log } = options;
  const root = path.resolve(options.rootDir);
  if (!env.DB_DATA_DIR) throw new Error("DB_DATA_DIR must name the demo cluster's data directory (e.g. .lifeboat/demo/pgdata)");
  const demoDataDir = path.resolve(root, env.DB_DATA_DIR);
  if (path.basename(demoDataDir) !== "pgdata") throw new Error("DB_DATA_DIR must end in /pgdata for the quickstart's demo cluster");
  const demoBase = path.dirname(demoDataDir);

  // The server (running as the cluster's OS user) writes WAL into the archive, and only there.
  const repository = new LocalRepository(path.resolve(root, env.BACKUP_DIR), env.DB_TARGET_NAME);
  await repository.prepareArchive();
  const archiveDir = repository.archiveDir;
  await mkdir(path.join(root, ".lifeboat"), { recursive: true, mode: 0o755 });
  await chmod(path.join(root, ".lifeboat"), 0o755);
  await assertClusterUserCanReach(path.join(root, ".lifeboat"));
  await assertClusterUserCanReach(archiveDir);

  const archiveWal = path.join(root, "bin", "archive-wal");
  const archiveCommand = await demoArchiveCommand(root, env, archiveWal, archiveDir);
  const demo = await openCluster(
    "demo",
    {
      baseDir: demoBase,
      port: env.DB_PORT,
      pgBinDir: env.PG_BIN_DIR,
      walLevel: "replica",
      archiveMode: "on",
      archiveCommand,
      settings: { archive_timeout: 60 },
      password: undefined,
    },
    log,
  );

  // The settings may have changed since the cluster was made (compression, encryption): keep them current.
  await demo.query(`alter system set archive_command = ${pg.escapeLiteral(archiveCommand)}`);
  await demo.query("select pg_reload_conf()");

  const seeded = await seedDemoDatabase(demo, env, root, log);

  let meta: LocalCluster | undefined;
  const metaUrl = new URL(env.DATABASE_URL);
  if (isSandboxMetaUrl(metaUrl)) {
    meta = await openCluster(
      "metadata",
      {
        baseDir: path.join(root, ".lifeboat", "meta"),
        port: Number(metaUrl.port),
        pgBinDir: env.PG_BIN_DIR,
        walLevel: "replica",
        archiveMode: "off",
        password: undefined,
      },
      log,
    );
    await ensureRoleAndDatabase(meta, decodeURIComponent(metaUrl.username), decodeURIComponent(metaUrl.password), metaUrl.pathname.slice(1));
  } else {
    await ensureDatabaseExists(env.DATABASE_URL);
  }

  const handle = createDb(env.DATABASE_URL);
  try {
    await migrateDatabase(handle);
    const admin = await ensureAdmin(handle.db, { email: options.adminEmail, resetPassword: options.resetAdminPassword });
    const target = await upsertDefaultTarget(handle.db, { ...env, DB_DATA_DIR: demoDataDir });
    return { demo, meta, archiveDir, admin, target, seeded };
  } finally {
    await handle.close();
  }
}

/**
 * The demo cluster's archive_command: zstd when LIFEBOAT_WAL_COMPRESSION=zstd, and with
 * LIFEBOAT_ENCRYPT_BACKUPS the segments encrypted to LIFEBOAT_AGE_RECIPIENTS (public keys, in a
 * file the server's OS user can read; the secret key never goes near the server).
 */
async function demoArchiveCommand(root: string, env: TEnv, archiveWal: string, archiveDir: string): Promise<string> {
  const flags: string[] = [];
  if (env.LIFEBOAT_WAL_COMPRESSION === "zstd") flags.push("--zstd");
  if (env.LIFEBOAT_ENCRYPT_BACKUPS && env.LIFEBOAT_AGE_RECIPIENTS) {
    const recipients = path.join(root, ".lifeboat", "age-recipients.txt");
    await writeFile(recipients, `${parseRecipients(env.LIFEBOAT_AGE_RECIPIENTS).join("\n")}\n`, { mode: 0o644 });
    await chmod(recipients, 0o644);
    flags.push("--encrypt", shellQuote(recipients));
  }
  return [shellQuote(archiveWal), ...flags, "%p", shellQuote(archiveDir), "%f"].join(" ");
}

function isSandboxMetaUrl(url: URL): boolean {
  return ["127.0.0.1", "localhost"].includes(url.hostname) && url.port !== "" && url.port !== "5432";
}

async function openCluster(label: string, options: Parameters<typeof LocalCluster.open>[0], log: (line: string) => void): Promise<LocalCluster> {
  const cluster = await LocalCluster.open(options);
  if (await cluster.isRunning()) {
    log(`${label} cluster: running on port ${cluster.port} (${cluster.dataDir})`);
    return cluster;
  }
  if (await isPortInUse(cluster.port)) {
    throw new Error(`Port ${cluster.port} is taken by another server, so the ${label} cluster cannot start. Stop that server, or choose another port in .env.`);
  }
  await cluster.start();
  log(`${label} cluster: started on port ${cluster.port} (${cluster.dataDir})`);
  return cluster;
}

async function ensureRoleAndDatabase(cluster: LocalCluster, role: string, password: string, database: string): Promise<void> {
  const ident = pg.escapeIdentifier;
  const [existingRole] = await cluster.query("select 1 from pg_roles where rolname = $1", [role]);
  // The password is sent to the server in the statement (PostgreSQL offers no bind parameter for
  // DDL); the default log_statement=none keeps it out of the server log.
  const verb = existingRole ? "alter" : "create";
  await cluster.query(`${verb} role ${ident(role)} with login password ${pg.escapeLiteral(password)}`);
  const [existingDb] = await cluster.query("select 1 from pg_database where datname = $1", [database]);
  if (!existingDb) await cluster.query(`create database ${ident(database)} owner ${ident(role)}`);
}

async function seedDemoDatabase(demo: LocalCluster, env: TEnv, root: string, log: (line: string) => void): Promise<boolean> {
  if (env.DB_PASSWORD === undefined) throw new Error("DB_PASSWORD must be set for the demo database's owner");
  await ensureRoleAndDatabase(demo, env.DB_USER, env.DB_PASSWORD, env.DB_NAME);
  // The demo owner is the backup user: base backups need REPLICATION, `restore backup --into` CREATEDB.
  await demo.query(`alter role ${pg.escapeIdentifier(env.DB_USER)} with replication createdb`);
  // pg_monitor: read the archive backlog (.ready files) for the health checks.
  await demo.query(`grant pg_monitor to ${pg.escapeIdentifier(env.DB_USER)}`);
  // Function privileges are per database. Restore points and WAL switches are cluster-wide, so the
  // grants go in `postgres`: in the app's database they would land in every dump of it.
  await demo.query(`grant execute on function pg_create_restore_point(text) to ${pg.escapeIdentifier(env.DB_USER)}`);
  await demo.query(`grant execute on function pg_switch_wal() to ${pg.escapeIdentifier(env.DB_USER)}`);
  for (const fn of ["pg_create_restore_point(text)", "pg_switch_wal()"]) {
    await demo.query(`revoke execute on function ${fn} from ${pg.escapeIdentifier(env.DB_USER)}`, [], env.DB_NAME);
  }

  const connection = { host: "127.0.0.1", port: demo.port, database: env.DB_NAME, user: env.DB_USER, password: env.DB_PASSWORD };
  return withClient(connection, async (client) => {
    const { rows } = await client.query<{ present: string | null }>("select to_regclass('public.users')::text as present");
    if (rows[0]?.present) {
      log(`demo database: ${env.DB_NAME} already seeded`);
      return false;
    }
    const sql = await readFile(path.join(root, "demo", "seed.sql"), "utf8");
    await client.query(sql);
    const { rows: counts } = await client.query<{ n: string }>(
      "select (select count(*) from users) + (select count(*) from products) + (select count(*) from ingredients) + (select count(*) from alerts) as n",
    );
    log(`demo database: ${env.DB_NAME} seeded (${counts[0]?.n ?? "?"} rows)`);
    return true;
  });
}

/** When we run as root, the cluster's OS user must be able to reach the folders it works in. */
async function assertClusterUserCanReach(dir: string): Promise<void> {
  if (!isRoot()) return;
  try {
    await execChild("runuser", ["-u", CLUSTER_OS_USER, "--", "test", "-x", dir], { timeoutMs: 10_000 });
  } catch {
    throw new Error(
      `Running as root, PostgreSQL runs as the '${CLUSTER_OS_USER}' OS user, which cannot reach ${dir}. ` +
        `Put the checkout where that user can read it (e.g. not under /root), or run the quickstart as an ordinary user.`,
    );
  }
}
