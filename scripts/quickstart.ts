/**
 * The quickstart sandbox (README's first command). Writes .env with random secrets when missing,
 * starts or reuses the demo and metadata clusters, seeds the demo database, migrates, creates the
 * admin (printing the password once), builds the dashboard when the sources changed and serves it
 * with a worker beside it (in this process: queued and scheduled operations, archiver samples, and
 * the demo target's host queue, so an in-place PITR from the dashboard runs here). Ctrl-C (or
 * `npm run demo:stop`, which signals this process through .lifeboat/quickstart.pid) stops the web
 * server and the worker and leaves every cluster and backup in place; `npm run demo:stop` then
 * stops the clusters. `--no-serve` prepares everything and exits: nothing keeps running but the
 * clusters (`npm run worker` runs a worker on its own).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { readdir, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { EnvError, getEnv, requireAuthSecret, type TEnv } from "@/lib/env";
import { createDb } from "@/lib/db/client";
import { isPortInUse } from "@/lib/engine/cluster/free-port";
import { PgBinaryNotFoundError, findPgBinary } from "@/lib/engine/pg/find-pg-binary";
import { processStartTime } from "@/lib/engine/process/spawn-child";
import { AGE_IDENTITY_FILE, ensureAgeIdentity, ensureEnvFile, sandboxDefaults, updateOldDefault } from "@/lib/sandbox/env-file";
import { startSandbox } from "@/lib/sandbox/start-sandbox";
import { listBaseBackups } from "@/lib/engine/pitr/plan-pitr";
import { openQueue, workerLabel } from "@/lib/jobs/queue";
import { startStandardWorker } from "@/lib/jobs/worker";
import { BackupLog } from "@/lib/log/backup-log";
import { runOperation } from "@/lib/operations";
import { backupOperation } from "@/lib/operations/backup";
import { resolveTarget } from "@/lib/targets/resolve-target";

const root = path.resolve(import.meta.dirname, "..");

const { values: args } = parseArgs({
  options: {
    "no-serve": { type: "boolean", default: false },
    "reset-admin-password": { type: "boolean", default: false },
    "admin-email": { type: "string", default: "admin@lifeboat.local" },
    port: { type: "string", default: "3000" },
    // Only this machine by default: the sandbox's admin password is printed on the terminal.
    host: { type: "string", default: "127.0.0.1" },
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

  if (args["no-serve"]) {
    // Nothing is left running but the clusters: a worker that outlived this command would hold
    // connections nobody can see or stop. npm run worker runs one on its own.
    say("ready (--no-serve: no dashboard and no worker started; npm run worker runs queued and scheduled operations)");
    return;
  }
  await serve(webPort, env);
}

/** Where the serving quickstart records itself, so `npm run demo:stop` (scripts/demo-stop.ts) can stop it and its worker first. */
const QUICKSTART_PID_FILE = path.join(root, ".lifeboat", "quickstart.pid");

/**
 * The sandbox's worker, in this process: the shared queue, schedules, archiver samples every
 * minute, and the host queue of the demo target (its data directory is readable here), so an
 * in-place PITR queued from the dashboard runs without an agent.
 */
async function startSandboxWorker(env: TEnv) {
  const meta = createDb(env.DATABASE_URL, { max: 4 });
  const boss = await openQueue(env.DATABASE_URL, { application: "lifeboat quickstart worker" });
  const label = workerLabel("worker");
  const worker = await startStandardWorker({
    services: { env, meta, log: new BackupLog(path.resolve(root, env.LOG_DIR), [env.DB_PASSWORD]) },
    boss,
    label,
    timezone: env.LIFEBOAT_SCHEDULE_TIMEZONE,
    onEvent: (message) => say(`worker: ${message}`),
  });
  say(`worker running (${label}; also the database host of ${worker.hostTargets.join(", ") || "no target"})`);
  return {
    stop: async () => {
      await worker.stop();
      await boss.stop({ graceful: true, timeout: 10_000 }).catch(() => undefined);
      await meta.close().catch(() => undefined);
      say("worker stopped");
    },
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

async function serve(webPort: number, env: TEnv) {
  if (await isPortInUse(webPort)) throw new Error(`Port ${webPort} is already in use: stop what runs there, or pass -- --port N.`);
  const next = path.join(root, "node_modules", ".bin", "next");
  if (await buildIsStale()) {
    say("building the dashboard (first run or sources changed)…");
    await run(next, ["build"]);
  }
  // A signal from here on stops the dashboard, then the worker (its running operations end as interrupted).
  let child: ChildProcess | undefined;
  let stopping = false;
  const stop = () => {
    stopping = true;
    child?.kill("SIGTERM");
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  const worker = await startSandboxWorker(env);
  await writeFile(QUICKSTART_PID_FILE, `${JSON.stringify({ pid: process.pid, startTime: processStartTime(process.pid) })}\n`, { mode: 0o644 });
  try {
    if (stopping) return;
    const listening = args.host === "127.0.0.1" ? "this machine only; --host 0.0.0.0 to serve others" : `listening on ${args.host}`;
    say(`serving the dashboard on http://localhost:${webPort} (${listening}; Ctrl-C stops it and the worker; data stays)`);
    child = spawn(next, ["start", "-p", String(webPort), "-H", args.host], { cwd: root, stdio: "inherit" });
    await new Promise<void>((resolve) => child!.once("close", () => resolve()));
    say("dashboard stopped");
  } finally {
    await worker.stop();
    await rm(QUICKSTART_PID_FILE, { force: true });
    say("the demo cluster keeps running (npm run demo:stop stops it)");
  }
}

main().catch((error: unknown) => {
  const message = error instanceof EnvError || error instanceof PgBinaryNotFoundError ? error.message : error instanceof Error ? error.message : String(error);
  console.error(`[lifeboat] ERROR: ${message}`);
  process.exit(1);
});
