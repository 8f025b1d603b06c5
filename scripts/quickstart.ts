/**
 * The quickstart sandbox (README's first command). Writes .env with random secrets when missing,
 * starts or reuses the demo and metadata clusters, seeds the demo database, migrates, creates the
 * admin (printing the password once), builds the dashboard when the sources changed and serves it.
 * Ctrl-C stops the web server and leaves every cluster and backup in place; `npm run demo:stop`
 * stops the clusters.
 */
import { spawn } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { EnvError, getEnv, requireAuthSecret, type TEnv } from "@/lib/env";
import { recordArchiverSample } from "@/lib/catalog/record-archiver-sample";
import { createDb } from "@/lib/db/client";
import { sampleArchiver } from "@/lib/engine/wal/sample-archiver";
import { isPortInUse } from "@/lib/engine/cluster/free-port";
import { PgBinaryNotFoundError, findPgBinary } from "@/lib/engine/pg/find-pg-binary";
import { AGE_IDENTITY_FILE, ensureAgeIdentity, ensureEnvFile, sandboxDefaults, updateOldDefault } from "@/lib/sandbox/env-file";
import { startSandbox } from "@/lib/sandbox/start-sandbox";
import { listBaseBackups } from "@/lib/engine/pitr/plan-pitr";
import { BackupLog } from "@/lib/log/backup-log";
import { runOperation } from "@/lib/operations";
import { backupOperation } from "@/lib/operations/backup";
import { identities } from "@/lib/operations/settings";
import { defaultTargetConnection } from "@/lib/targets/default-target";
import { resolveTarget } from "@/lib/targets/resolve-target";

const root = path.resolve(import.meta.dirname, "..");

const { values: args } = parseArgs({
  options: {
    "no-serve": { type: "boolean", default: false },
    "reset-admin-password": { type: "boolean", default: false },
    "admin-email": { type: "string", default: "admin@lifeboat.local" },
    port: { type: "string", default: "3000" },
  },
});

function say(line: string) {
  console.log(`[lifeboat] ${line}`);
}

async function main() {
  const webPort = Number(args.port);
  const envFile = path.join(root, ".env");
  const age = await ensureAgeIdentity(path.join(root, AGE_IDENTITY_FILE));
  if (age.created) say(`created an age key for encrypted backups in ${AGE_IDENTITY_FILE} (keep a copy elsewhere: without it they cannot be decrypted)`);
  const written = await ensureEnvFile(envFile, sandboxDefaults({ demoPort: 15432, metaPort: 15433, webPort }, age.recipient));
  if (written.created) say("wrote .env with fresh random secrets (mode 0600)");
  else if (written.added.length) say(`added ${written.added.join(", ")} to .env`);
  if (await updateOldDefault(envFile, "DB_PRISMA_SCHEMA", "demo/schema.prisma", "prisma/schema.prisma"))
    say("DB_PRISMA_SCHEMA now points at prisma/schema.prisma");
  process.loadEnvFile(envFile);
  const env = getEnv();
  requireAuthSecret(env);

  for (const tool of ["initdb", "pg_ctl", "postgres", "pg_dump", "psql"] as const) await findPgBinary(tool, { pgBinDir: env.PG_BIN_DIR });

  const sandbox = await startSandbox({
    rootDir: root,
    env,
    adminEmail: args["admin-email"],
    resetAdminPassword: args["reset-admin-password"],
    log: say,
  });
  say(`WAL archive: ${path.relative(root, sandbox.archiveDir)}/`);
  say(`default target: ${sandbox.target.name} (${env.DB_USER}@${env.DB_HOST}:${env.DB_PORT}/${env.DB_NAME})`);

  // Archived WAL is only useful from a base backup on: take the first one now, as any backup is taken
  // (run record, catalog, log line, audit row).
  const meta = createDb(env.DATABASE_URL, { max: 3 });
  try {
    const target = await resolveTarget({ env, db: meta.db });
    if ((await listBaseBackups(target.repository)).length === 0) {
      say("taking the first base backup so point-in-time recovery works from now on…");
      const outcome = await runOperation(
        backupOperation,
        { kinds: ["base"] },
        {
          actor: { label: "quickstart", userId: null, role: null, via: "quickstart" },
          services: { env, meta, log: new BackupLog(path.resolve(root, env.LOG_DIR), [env.DB_PASSWORD]) },
        },
      );
      const base = outcome.result?.artifacts[0];
      if (outcome.status !== "succeeded" || !base?.ok)
        throw new Error(`the first base backup failed: ${outcome.error?.message ?? outcome.verdict?.error ?? "unknown error"}`);
      say(`base backup: ${base.file}`);
    }
  } finally {
    await meta.close();
  }

  if (sandbox.admin.password) {
    const line = "─".repeat(60);
    console.log(
      `\n${line}\n  Admin sign-in (shown once; only a hash is stored)\n  email:    ${sandbox.admin.email}\n  password: ${sandbox.admin.password}\n${line}\n`,
    );
  } else {
    say(`admin ${sandbox.admin.email} exists; its password was printed on the first run (new one: npm run quickstart -- --reset-admin-password)`);
  }

  if (args["no-serve"]) return;
  const stopSampling = sampleArchiverEveryMinute(env, sandbox.target.id);
  try {
    await serve(webPort);
  } finally {
    stopSampling();
  }
}

/**
 * While the sandbox serves, pg_stat_archiver and the backlog are sampled into the metadata store
 * once a minute (the job queue will own this for production workers).
 */
function sampleArchiverEveryMinute(env: TEnv, targetId: number): () => void {
  const meta = createDb(env.DATABASE_URL, { max: 1 });
  const sample = async () => {
    try {
      const archive = {
        dir: path.resolve(root, env.BACKUP_DIR, env.DB_TARGET_NAME, "archive"),
        pgBinDir: env.PG_BIN_DIR,
        identities: await identities(env).catch(() => []),
      };
      await recordArchiverSample(meta.db, targetId, await sampleArchiver(defaultTargetConnection(env), { archive }));
    } catch (error) {
      say(`archiver sample failed: ${(error as Error).message}`);
    }
  };
  void sample();
  const timer = setInterval(() => void sample(), 60_000);
  return () => {
    clearInterval(timer);
    void meta.close();
  };
}

async function newestMtime(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, await newestMtime(full));
    else newest = Math.max(newest, (await stat(full)).mtimeMs);
  }
  return newest;
}

async function buildIsStale(): Promise<boolean> {
  const buildId = path.join(root, ".next", "BUILD_ID");
  if (!existsSync(buildId)) return true;
  const built = statSync(buildId).mtimeMs;
  const sources = ["app", "components", "lib", "types"].map((d) => newestMtime(path.join(root, d)));
  const files = ["next.config.mjs", "package-lock.json", "postcss.config.mjs", "instrumentation.ts"].map((f) =>
    stat(path.join(root, f)).then(
      (s) => s.mtimeMs,
      () => 0,
    ),
  );
  return Math.max(...(await Promise.all([...sources, ...files]))) > built;
}

function run(command: string, commandArgs: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, commandArgs, { cwd: root, stdio: "inherit" });
    child.once("error", reject);
    child.once("close", (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${commandArgs.join(" ")} exited with ${code}`))));
  });
}

async function serve(webPort: number) {
  if (await isPortInUse(webPort)) throw new Error(`Port ${webPort} is already in use: stop what runs there, or pass -- --port N.`);
  const next = path.join(root, "node_modules", ".bin", "next");
  if (await buildIsStale()) {
    say("building the dashboard (first run or sources changed)…");
    await run(next, ["build"]);
  }
  say(`serving the dashboard on http://localhost:${webPort} (Ctrl-C stops it; data stays)`);
  const child = spawn(next, ["start", "-p", String(webPort)], { cwd: root, stdio: "inherit" });
  const stop = () => child.kill("SIGTERM");
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  await new Promise<void>((resolve) => child.once("close", () => resolve()));
  say("dashboard stopped; the demo cluster keeps running (npm run demo:stop stops it)");
}

main().catch((error: unknown) => {
  const message = error instanceof EnvError || error instanceof PgBinaryNotFoundError ? error.message : error instanceof Error ? error.message : String(error);
  console.error(`[lifeboat] ERROR: ${message}`);
  process.exit(1);
});
