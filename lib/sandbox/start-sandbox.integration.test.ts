import { execFile } from "node:child_process";
import { chmod, copyFile, mkdir, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { promisify } from "node:util";
import os from "node:os";
import path from "node:path";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyPassword } from "@/lib/auth/password";
import { createDb } from "@/lib/db/client";
import { users } from "@/lib/db/schema";
import { parseEnv, type TEnv } from "@/lib/env";
import { findFreePort } from "@/lib/engine/cluster/free-port";
import { clusterOsUser, isRoot } from "@/lib/engine/cluster/os-user";
import { withClient } from "@/lib/engine/pg/server-info";
import { startSandbox, type SandboxResult } from "./start-sandbox";

const repo = path.resolve(import.meta.dirname, "..", "..");
const exec = promisify(execFile);

describe("quickstart sandbox", () => {
  let root: string;
  let env: TEnv;
  let first: SandboxResult;
  const log: string[] = [];

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), "lifeboat-sandbox-"));
    await chmod(root, 0o755); // the cluster's OS user must reach it when tests run as root
    await mkdir(path.join(root, "bin"));
    await mkdir(path.join(root, "demo"));
    await copyFile(path.join(repo, "bin", "archive-wal"), path.join(root, "bin", "archive-wal"));
    await copyFile(path.join(repo, "demo", "seed.sql"), path.join(root, "demo", "seed.sql"));
    const [demoPort, metaPort] = [await findFreePort(), await findFreePort()];
    env = parseEnv({
      DB_HOST: "127.0.0.1",
      DB_PORT: String(demoPort),
      DB_PASSWORD: "demo-owner-pw",
      DB_TARGET_NAME: "allertify",
      DB_DATA_DIR: ".lifeboat/demo/pgdata",
      DATABASE_URL: `postgres://lifeboat:meta-pw@127.0.0.1:${metaPort}/lifeboat`,
    });
    first = await startSandbox({ rootDir: root, env, adminEmail: "Admin@Example.com", log: (l) => log.push(l) });
  });

  afterAll(async () => {
    await first?.demo.stop("immediate").catch(() => {});
    await first?.meta?.stop("immediate").catch(() => {});
    if (root) await rm(root, { recursive: true, force: true });
  });

  it("seeds the demo database and creates an admin whose printed password signs in", async () => {
    expect(first.seeded).toBe(true);
    expect(first.admin).toMatchObject({ created: true, email: "admin@example.com" });
    const counts = await withClient(
      { host: "127.0.0.1", port: env.DB_PORT, database: "allertify", user: "allertify", password: "demo-owner-pw" },
      async (c) =>
        (await c.query<{ users: number; alerts: number }>("select (select count(*) from users)::int as users, (select count(*) from alerts)::int as alerts"))
          .rows[0],
    );
    expect(counts?.users).toBe(500);
    expect(counts?.alerts).toBeGreaterThan(1000);

    const meta = createDb(env.DATABASE_URL);
    const [admin] = await meta.db.select().from(users).where(eq(users.email, "admin@example.com"));
    await meta.close();
    expect(admin?.role).toBe("admin");
    expect(admin?.passwordHash).not.toContain(first.admin.password!);
    expect(await verifyPassword(first.admin.password!, admin!.passwordHash)).toBe(true);
    expect(first.target).toMatchObject({ name: "allertify", port: env.DB_PORT, passwordRef: "env:DB_PASSWORD" });
  });

  it("archives WAL into backups/<target>/archive", async () => {
    await withClient({ host: "127.0.0.1", port: env.DB_PORT, database: "postgres", user: "allertify", password: "demo-owner-pw" }, (c) =>
      c.query("select pg_switch_wal()"),
    );
    const deadline = Date.now() + 30_000;
    let segments: string[] = [];
    while (Date.now() < deadline) {
      segments = (await readdir(first.archiveDir)).filter((f) => /^[0-9A-F]{24}$/.test(f));
      if (segments.length > 0) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(first.archiveDir).toBe(path.join(root, "backups", "allertify", "archive"));
    expect(segments.length).toBeGreaterThan(0);
  });

  it("lets the demo owner create databases (restore backup --into) and archives at least every 60 s", async () => {
    const owner = { host: "127.0.0.1", port: env.DB_PORT, database: "postgres", user: "allertify", password: "demo-owner-pw" };
    const settings = await withClient(owner, async (c) => {
      const { rows } = await c.query<{ createdb: boolean; super: boolean; timeout: string; mode: string }>(
        "select rolcreatedb as createdb, rolsuper as super, current_setting('archive_timeout') as timeout, current_setting('archive_mode') as mode from pg_roles where rolname = current_user",
      );
      // What --into does first: a database of its own, made (and dropped) by the demo owner.
      await c.query("create database lifeboat_into_probe");
      await c.query("drop database lifeboat_into_probe");
      return rows[0];
    });
    expect(settings).toMatchObject({ createdb: true, super: false, mode: "on" });
    // current_setting reports archive_timeout in its unit, "1min" or "60s" alike: compare in seconds.
    const [, amount, unit] = /^(\d+)(s|min|h)?$/.exec(settings!.timeout) ?? [];
    const seconds = Number(amount) * (unit === "min" ? 60 : unit === "h" ? 3600 : 1);
    expect(seconds).toBeGreaterThan(0);
    expect(seconds).toBeLessThanOrEqual(60);
  });

  it.runIf(isRoot())("leaves the cluster's OS user only the archive: it can neither delete nor forge backups (root)", async () => {
    const postgres = await clusterOsUser();
    for (const dir of [path.join(root, "backups"), path.join(root, "backups", "allertify")]) {
      const info = await stat(dir);
      expect(info.uid, dir).toBe(0);
      expect(info.mode & 0o777, dir).toBe(0o711);
    }
    expect((await stat(first.archiveDir)).uid).toBe(postgres.uid);
    const probe = (args: string[]) =>
      exec("runuser", ["-u", postgres.name, "--", ...args]).then(
        () => "allowed",
        () => "refused",
      );
    expect(await probe(["touch", path.join(root, "backups", "allertify", "full_backup_2026-01-01T00-00-00Z.dump")])).toBe("refused");
    expect(await probe(["ls", path.join(root, "backups", "allertify")])).toBe("refused");
    expect(await probe(["touch", path.join(first.archiveDir, ".probe")])).toBe("allowed");
    await rm(path.join(first.archiveDir, ".probe"), { force: true });
  });

  it("reuses everything on a second run, even after the clusters were stopped", async () => {
    await first.demo.stop();
    await first.meta!.stop();
    const again = await startSandbox({ rootDir: root, env, adminEmail: "admin@example.com", log: (l) => log.push(l) });
    expect(again.seeded).toBe(false);
    expect(again.admin).toEqual({ created: false, email: "admin@example.com" });
    expect(await again.demo.isRunning()).toBe(true);
    const meta = createDb(env.DATABASE_URL);
    expect(await meta.db.select().from(users)).toHaveLength(1);
    await meta.close();
    expect(log.join("\n")).toContain("already seeded");
  });
});
