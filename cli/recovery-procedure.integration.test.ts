import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { desc } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backupArtifacts, runs } from "@/lib/db/schema";
import { generateKeyPair } from "@/lib/engine/crypto/age";
import { runPgTool } from "@/lib/engine/pg/run-pg-tool";
import { createTestMetadataDb, type TestMetadataDb } from "@/test/helpers/metadata-db";
import { cliEnv, createTestTarget, type TestTarget } from "@/test/helpers/target";

const run = promisify(execFile);
const repo = path.resolve(import.meta.dirname, "..");
const tsx = path.join(repo, "node_modules", ".bin", "tsx");

type CliResult = { code: number; stdout: string; stderr: string };

/**
 * The seed's "Recovery Testing" procedure, through the CLI as a user runs it: create data →
 * npm run backup → modify and delete rows → npm run restore backup → every table equal to before;
 * the same with restore json for two tables while a third keeps its change; and dump → restore
 * into a new database → dump again gives equal dumps.
 */
describe("the seed's recovery procedure, through the CLI", () => {
  let target: TestTarget;
  let meta: TestMetadataDb;
  let work: string;
  let env: NodeJS.ProcessEnv;
  let before: Record<string, string>;
  const files: Record<string, string> = {};

  const cli = async (script: string, args: string[]): Promise<CliResult> => {
    try {
      const { stdout, stderr } = await run(tsx, [path.join(repo, "cli", script), ...args], { cwd: repo, env, timeout: 120_000 });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };

  beforeAll(async () => {
    target = await createTestTarget({ seed: true });
    meta = await createTestMetadataDb();
    work = await mkdtemp(path.join(os.tmpdir(), "lifeboat-cli-"));
    const keys = await generateKeyPair();
    await writeFile(path.join(work, "age-identity.txt"), `${keys.identity}\n`, { mode: 0o600 });
    await writeFile(path.join(work, "app.env"), "APP_SECRET=shh\n");
    env = cliEnv(target, {
      DATABASE_URL: meta.url,
      DB_PRISMA_SCHEMA: path.join(repo, "prisma", "schema.prisma"),
      BACKUP_DIR: path.join(work, "backups"),
      LOG_DIR: path.join(work, "logs"),
      LIFEBOAT_AGE_RECIPIENTS: keys.recipient,
      LIFEBOAT_AGE_IDENTITY_FILE: path.join(work, "age-identity.txt"),
      LIFEBOAT_ENV_FILES: path.join(work, "app.env"),
    });
    before = await target.fingerprint();
  });

  afterAll(async () => {
    await target?.remove();
    await meta?.drop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("npm run backup writes the four artifacts with manifests, 0600 files in a 0700 folder", async () => {
    const result = await cli("backup.ts", []);
    expect(result.stderr).not.toContain("ERROR");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/4 written, 0 failed/);
    const dir = path.join(work, "backups", "app");
    const names = await readdir(dir);
    for (const kind of ["full_backup_", "schema_", "data_export_", "env_"]) {
      const file = names.find((n) => n.startsWith(kind) && !n.endsWith(".manifest.json"));
      expect(file, kind).toBeDefined();
      expect(names).toContain(`${file}.manifest.json`);
      files[kind] = file!;
      expect((await stat(path.join(dir, file!))).mode & 0o777).toBe(0o600);
    }
    expect(files.env_).toMatch(/\.tar\.age$/);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect(names.filter((n) => n.startsWith("."))).toEqual([]); // no temp files, lock released
    expect(names).toContain("RESTORE.md");

    const manifest = JSON.parse(await readFile(path.join(dir, `${files.full_backup_}.manifest.json`), "utf8"));
    expect(manifest.tableRowCounts["public.users"]).toBe(500);
    expect(manifest.restorePoint).toMatch(/^lifeboat_app_/);
    // The server's postgresql.conf is copied only from a data directory this target declares (none here).
    const envManifest = JSON.parse(await readFile(path.join(dir, `${files.env_}.manifest.json`), "utf8")) as { notes: string[] };
    expect(envManifest.notes.join(" ")).toMatch(/declares no data or configuration directory on this host, skipped/);

    const catalog = await meta.db.select().from(backupArtifacts);
    expect(catalog.map((a) => a.kind).sort()).toEqual(["env", "full", "json", "schema"]);
    const [record] = await meta.db.select().from(runs);
    expect(record).toMatchObject({ kind: "backup", status: "succeeded" });
    expect(JSON.stringify(record)).not.toContain(target.connection.password!);

    const log = await readFile(path.join(work, "logs", "backup.log"), "utf8");
    // One line per operation, naming every artifact it wrote.
    const lines = log.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/ INFO backup target=app status=SUCCEEDED run=\d+ /);
    for (const kind of ["full", "schema", "json", "env"]) expect(lines[0]).toMatch(new RegExp(`written=.*${kind}:`));
    expect(log).not.toContain(target.connection.password!);
  });

  it("restore backup refuses without confirmation and changes nothing", async () => {
    await target.query("delete from alerts where id % 3 = 0; update users set display_name = 'changed' where id < 50; delete from user_allergens");
    const changed = await target.fingerprint();
    expect(changed).not.toEqual(before);
    const refused = await cli("restore.ts", ["backup", files.full_backup_!]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/pass --yes/);
    expect(await target.fingerprint()).toEqual(changed);
  });

  it("restore backup brings every table back, equal by content [S16]", async () => {
    const restored = await cli("restore.ts", ["backup", files.full_backup_!, "--yes"]);
    expect(restored.stderr).not.toMatch(/ERROR/);
    expect(restored.code).toBe(0);
    expect(restored.stdout).toMatch(/public\.alerts\t\d+\t\d+\tok/);
    expect(restored.stdout).not.toMatch(/MISMATCH/);
    expect(await target.fingerprint()).toEqual(before);
  });

  it("a restore whose row counts differ from the manifest fails: exit 1, a failed run, an ERROR line [S11]", async () => {
    const manifestPath = path.join(work, "backups", "app", `${files.full_backup_}.manifest.json`);
    const pristine = await readFile(manifestPath, "utf8");
    const manifest = JSON.parse(pristine) as { tableRowCounts: Record<string, number> };
    manifest.tableRowCounts["public.users"] = manifest.tableRowCounts["public.users"]! - 1;
    await writeFile(manifestPath, JSON.stringify(manifest));
    try {
      const result = await cli("restore.ts", ["backup", files.full_backup_!, "--yes"]);
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(/public\.users\t499\t500\tMISMATCH/);
      expect(result.stderr).toMatch(/1 table\(s\) differ from the backup's row counts: public\.users/);
      const [run] = await meta.db.select().from(runs).orderBy(desc(runs.id)).limit(1);
      expect(run).toMatchObject({ kind: "restore", status: "failed" });
      expect(run?.error).toMatch(/differ from the backup's row counts/);
      const log = (await readFile(path.join(work, "logs", "backup.log"), "utf8")).trim().split("\n");
      expect(log.at(-1)).toMatch(/ ERROR restore target=app status=FAILED /);
    } finally {
      await writeFile(manifestPath, pristine);
    }
  });

  it("restore json brings two chosen tables back while a third keeps its change [S18]", async () => {
    await target.query(
      "delete from alerts where id < 200; update products set name = 'renamed' where id <= 10; update allergens set severity = 'mild' where id = 1",
    );
    const result = await cli("restore.ts", ["json", files.data_export_!, "--tables", "alerts,Product", "--yes"]);
    expect(result.stderr).not.toMatch(/ERROR/);
    expect(result.code).toBe(0);
    const after = await target.fingerprint();
    expect(after["public.alerts"]).toBe(before["public.alerts"]);
    expect(after["public.products"]).toBe(before["public.products"]);
    expect(after["public.allergens"]).not.toBe(before["public.allergens"]);
    const [allergen] = await target.query<{ severity: string }>("select severity from allergens where id = 1");
    expect(allergen?.severity).toBe("mild");
    // Sequences were reset past the restored ids.
    const [next] = await target.query<{ id: string }>("insert into alerts (user_id, product_id, allergen_id, message) values (1, 1, 1, 'new') returning id");
    expect(Number(next?.id)).toBeGreaterThan(3000);
  });

  it("dump → restore into a new database → dump again gives equal dumps [S16]", async () => {
    const restored = await cli("restore.ts", ["backup", files.full_backup_!, "--into", "app_copy"]);
    expect(restored.stderr).not.toMatch(/ERROR/);
    expect(restored.code).toBe(0);
    const dump = async (database: string) =>
      (await runPgTool({ tool: "pg_dump", args: ["--format=plain", "--no-comments"], connection: { ...target.connection, database } })).stdout
        // pg_dump 15.14+ guards plain dumps with a random \restrict key per run.
        .replace(/^\\(un)?restrict .*$/gm, "");
    // The source has changed since the backup (previous test); restore it in place first.
    expect((await cli("restore.ts", ["backup", files.full_backup_!, "--yes"])).code).toBe(0);
    const [a, b] = [await dump("app"), await dump("app_copy")];
    expect(a.length).toBeGreaterThan(100_000);
    expect(b).toBe(a);
  });

  it("restore backup --into, as a role without CREATEDB, is refused naming the privilege, and nothing is created or changed", async () => {
    await target.cluster.query("alter role app nocreatedb");
    try {
      const before = await target.fingerprint();
      const databases = async () => (await target.query<{ d: string }>("select datname as d from pg_database order by 1")).map((r) => r.d);
      const existing = await databases();
      const refused = await cli("restore.ts", ["backup", files.full_backup_!, "--into", "scratch"]);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(/app may not create databases, so --into cannot make "scratch"/);
      expect(refused.stderr).toMatch(/ALTER ROLE "app" CREATEDB/);
      expect(await databases()).toEqual(existing);
      expect(await target.fingerprint()).toEqual(before);
      const [record] = await meta.db.select().from(runs).orderBy(desc(runs.id)).limit(1);
      expect(record).toMatchObject({ kind: "restore", status: "failed" });
      expect(record?.error).toMatch(/ALTER ROLE "app" CREATEDB/);
    } finally {
      await target.cluster.query("alter role app createdb");
    }
  });

  it("restore env decrypts into a new folder and never over an existing one [S12] [S20]", async () => {
    const out = path.join(work, "env-out");
    const result = await cli("restore.ts", ["env", files.env_!, "--out", out]);
    expect(result.code).toBe(0);
    expect(await readFile(path.join(out, "config", "app.env"), "utf8")).toBe("APP_SECRET=shh\n");
    expect(await readFile(path.join(out, "globals.sql"), "utf8")).toMatch(/CREATE ROLE app/);
    // What it wrote holds secrets: only its owner may read it.
    expect((await stat(out)).mode & 0o777).toBe(0o700);
    expect((await stat(path.join(out, "config"))).mode & 0o777).toBe(0o700);
    expect((await stat(path.join(out, "config", "app.env"))).mode & 0o777).toBe(0o600);
    expect((await stat(path.join(out, "globals.sql"))).mode & 0o777).toBe(0o600);
    const again = await cli("restore.ts", ["env", files.env_!, "--out", out]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/is not empty/);
  });

  it("backup:list shows the catalog, and --rescan rebuilds it from the manifests", async () => {
    await meta.db.delete(backupArtifacts);
    const rescanned = await cli("backup-list.ts", ["--rescan", "--json"]);
    expect(rescanned.code).toBe(0);
    const rows = JSON.parse(rescanned.stdout) as { kind: string; file: string; status: string }[];
    expect(rows.map((r) => r.kind).sort()).toEqual(["env", "full", "json", "schema"]);
    expect(rows.every((r) => r.status === "available")).toBe(true);
    const table = await cli("backup-list.ts", []);
    expect(table.stdout).toMatch(/^KIND\tTIME \(UTC\)\tSIZE/m);
    expect(table.stdout).toContain(files.full_backup_!);

    // A damaged artifact is indexed as damaged, never as available (SCENARIO 28).
    const schemaFile = path.join(work, "backups", "app", files.schema_!);
    const pristine = await readFile(schemaFile);
    await writeFile(schemaFile, Buffer.concat([pristine, Buffer.from("-- tampered\n")]));
    try {
      const damaged = await cli("backup-list.ts", ["--rescan", "--json"]);
      expect(damaged.stderr).toMatch(new RegExp(`DAMAGED: ${files.schema_!.replace(/[.]/g, "\\.")}`));
      const after = JSON.parse(damaged.stdout) as { file: string; status: string }[];
      expect(after.find((r) => r.file === files.schema_)?.status).toBe("damaged");
      expect(after.filter((r) => r.status === "available")).toHaveLength(3);
    } finally {
      await writeFile(schemaFile, pristine);
    }
  });
});
