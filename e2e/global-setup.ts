import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, copyFile, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { hashPassword, generatePassword } from "../lib/auth/password";
import { users } from "../lib/db/schema";
import { LocalCluster } from "../lib/engine/cluster/local-cluster";
import { withClient } from "../lib/engine/pg/server-info";
import { LocalRepository } from "../lib/engine/repository/repository";
import { createTestMetadataDb } from "../test/helpers/metadata-db";

const root = path.resolve(import.meta.dirname, "..");

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: root, env, stdio: "inherit" });
    child.once("error", reject);
    child.once("close", (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(" ")} exited with ${code}`))));
  });
}

async function waitForHealth(url: string, server: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`next start exited with ${server.exitCode}`);
    const ok = await fetch(url).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the dashboard did not answer at ${url}`);
}

/** A throwaway target and metadata database, three users, and the built dashboard serving them. */
export default async function globalSetup() {
  const port = Number(process.env.E2E_PORT ?? 3100);
  const targetPassword = `tgt-${randomBytes(9).toString("base64url")}`;
  // A target as the quickstart's: WAL archived into the repository by bin/archive-wal (so base
  // backups and PITR work), password auth, the demo app's data in "shop".
  const work = await mkdtemp(path.join(os.tmpdir(), "lifeboat-e2e-"));
  await chmod(work, 0o755);
  const archiveWal = path.join(work, "archive-wal");
  await copyFile(path.join(root, "bin", "archive-wal"), archiveWal);
  await chmod(archiveWal, 0o755);
  const backupDir = path.join(work, "backups");
  const repository = new LocalRepository(backupDir, "shop");
  await repository.prepareArchive();
  const target = await LocalCluster.open({
    baseDir: path.join(work, "cluster"),
    password: randomBytes(12).toString("hex"),
    walLevel: "replica",
    archiveMode: "on",
    archiveCommand: `'${archiveWal}' %p '${repository.archiveDir}' %f`,
  });
  await target.start();
  await target.query(`create role shop_owner login createdb replication password '${targetPassword}'`);
  await target.query("create database shop owner shop_owner");
  await target.query("grant execute on function pg_create_restore_point(text) to shop_owner");
  await target.query("grant pg_monitor to shop_owner");
  await withClient({ host: "127.0.0.1", port: target.port, database: "shop", user: "shop_owner", password: targetPassword }, async (c) => {
    await c.query(await readFile(path.join(root, "demo", "seed.sql"), "utf8"));
  });

  const meta = await createTestMetadataDb();
  const metricsToken = randomBytes(16).toString("hex");
  const credentials: Record<string, string> = {};
  for (const role of ["admin", "operator", "viewer"] as const) {
    const password = generatePassword();
    credentials[role] = password;
    await meta.db.insert(users).values({ email: `${role}@e2e.test`, passwordHash: await hashPassword(password), role });
  }

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: "production",
    NEXT_TELEMETRY_DISABLED: "1",
    DATABASE_URL: meta.url,
    AUTH_SECRET: randomBytes(32).toString("base64"),
    NEXTAUTH_URL: `http://127.0.0.1:${port}`,
    DB_HOST: "127.0.0.1",
    DB_PORT: String(target.port),
    DB_NAME: "shop",
    DB_USER: "shop_owner",
    DB_PASSWORD: targetPassword,
    DB_TARGET_NAME: "shop",
    DB_DATA_DIR: "",
    BACKUP_DIR: backupDir,
    LOG_DIR: path.join(work, "logs"),
    LIFEBOAT_LOCK_TIMEOUT: "60",
    LIFEBOAT_METRICS_TOKEN: metricsToken,
    // Seals target passwords and webhook URLs saved from /settings (as the quickstart's .env has one).
    LIFEBOAT_SECRETS_KEY: randomBytes(32).toString("base64"),
  };
  const next = path.join(root, "node_modules", ".bin", "next");
  if (!existsSync(path.join(root, ".next", "BUILD_ID"))) await run(next, ["build"], env);
  const server = spawn(next, ["start", "-p", String(port), "-H", "127.0.0.1"], { cwd: root, env, stdio: ["ignore", "inherit", "inherit"] });
  await waitForHealth(`http://127.0.0.1:${port}/api/health`, server);
  // The worker runs what the pages queue (backups, restores, PITR), as in the quickstart.
  const worker = spawn(path.join(root, "node_modules", ".bin", "tsx"), [path.join(root, "cli", "worker.ts")], {
    cwd: root,
    env: { ...env, NODE_ENV: "test" },
    stdio: ["ignore", "inherit", "inherit"],
  });

  // Read by the specs (workers start after global setup and inherit these).
  process.env.E2E_TARGET_BASEDIR = target.baseDir;
  process.env.E2E_TARGET_PORT = String(target.port);
  process.env.E2E_BACKUP_DIR = backupDir;
  process.env.E2E_WORK = work;
  process.env.E2E_TARGET_PASSWORD = targetPassword;
  process.env.E2E_METADATA_URL = meta.url;
  process.env.E2E_METRICS_TOKEN = metricsToken;
  // The CLI run by specs (npm run user:create) seals its audit rows with the server's key.
  process.env.E2E_AUTH_SECRET = env.AUTH_SECRET;
  for (const [role, password] of Object.entries(credentials)) {
    process.env[`E2E_${role.toUpperCase()}_EMAIL`] = `${role}@e2e.test`;
    process.env[`E2E_${role.toUpperCase()}_PASSWORD`] = password;
  }

  return async () => {
    server.kill("SIGTERM");
    worker.kill("SIGTERM");
    // A worker stops its running operations first; past 20 s it is killed.
    await new Promise((resolve) => {
      if (worker.exitCode !== null) return resolve(null);
      const timer = setTimeout(() => worker.kill("SIGKILL"), 20_000);
      worker.once("exit", () => resolve(clearTimeout(timer)));
    });
    await target.remove();
    await meta.drop();
    await rm(work, { recursive: true, force: true });
  };
}
