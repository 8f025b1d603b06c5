import { execFile } from "node:child_process";
import { appendFile, chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink, truncate, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateKeyPair } from "../crypto/age";
import { isRoot } from "../cluster/os-user";
import { runBackupSet, type RunBackupSetOptions } from "../backup/run-backup-set";
import type { BackupSettings } from "../backup/types";
import { RestoreRefusedError } from "../errors";
import type { ArtifactKind } from "../repository/artifact-kinds";
import { verifyAgainstManifest } from "../repository/manifest";
import { resolveArtifactPath, UnsafePathError } from "../repository/paths";
import { LocalRepository } from "../repository/repository";
import { restoreEnvironment } from "./restore-environment";
import { restoreFullBackup } from "./restore-full";
import { restoreJsonExport } from "./restore-json";
import { createTestTarget, type TestTarget } from "@/test/helpers/target";

const exec = promisify(execFile);
const repo = path.resolve(import.meta.dirname, "..", "..", "..");

describe("logical backups: integrity, safety and fidelity (SCENARIOS 11–14, 16–20, 22, 24)", () => {
  let target: TestTarget;
  let work: string;
  let backupRoot: string;
  let targetDir: string;
  let keys: { identity: string; recipient: string };
  let clock = Date.parse("2026-01-15T02:00:00Z");

  let repository: LocalRepository;
  const settings = (extra: Partial<BackupSettings> = {}): BackupSettings => ({
    compressionLevel: 6,
    dumpJobs: 1,
    recipients: [keys.recipient],
    encryptAll: false,
    environment: { files: [], baseDir: work, rolePasswords: false },
    lockTimeoutSeconds: 30,
    ...extra,
  });
  const backup = (kinds: ArtifactKind[], extra: Partial<BackupSettings> = {}, options: Partial<RunBackupSetOptions> = {}) =>
    runBackupSet({
      target: { name: "app", connection: target.connection, prismaSchemaPath: path.join(repo, "prisma", "schema.prisma") },
      repository,
      kinds,
      settings: settings(extra),
      // Distinct, increasing timestamps.
      now: () => new Date((clock += 60_000)),
      ...options,
    });

  const only = async (kinds: ArtifactKind[], extra: Partial<BackupSettings> = {}, options: Partial<RunBackupSetOptions> = {}) => {
    const result = await backup(kinds, extra, options);
    const failed = result.artifacts.filter((a) => !a.ok);
    expect(failed, JSON.stringify(failed)).toEqual([]);
    return result.artifacts.map((a) => (a.ok ? a.file : ""));
  };
  const manifestOf = (file: string, repo: LocalRepository = repository) => repo.readManifest(file);

  beforeAll(async () => {
    target = await createTestTarget({ seed: true });
    work = await mkdtemp(path.join(os.tmpdir(), "lifeboat-safety-"));
    backupRoot = path.join(work, "backups");
    targetDir = path.join(backupRoot, "app");
    repository = new LocalRepository(backupRoot, "app");
    keys = await generateKeyPair();
    await writeFile(path.join(work, "identity.txt"), `${keys.identity}\n`, { mode: 0o600 });
  });

  afterAll(async () => {
    await target?.remove();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("refuses a damaged dump, naming the file, whatever the damage, and changes nothing [S11]", async () => {
    const [file] = await only(["full"]);
    const full = path.join(targetDir, file!);
    const pristine = path.join(work, "pristine.dump");
    const manifestPath = `${full}.manifest.json`;
    const pristineManifest = await readFile(manifestPath, "utf8");
    await copyFile(full, pristine);
    await target.query("update users set display_name = 'after the backup' where id = 1");
    const before = await target.fingerprint();

    const damages: [string, () => Promise<void>][] = [
      ["a byte appended", () => appendFile(full, "x")],
      ["truncated to zero", () => truncate(full, 0)],
      [
        "same-size content changed",
        async () => {
          const bytes = await readFile(full);
          const middle = Math.floor(bytes.length / 2);
          bytes[middle] = bytes[middle]! ^ 0xff;
          await writeFile(full, bytes);
        },
      ],
      ["missing", () => rm(full)],
      [
        "manifest edited",
        async () => {
          const manifest = JSON.parse(pristineManifest);
          manifest.files[0].sha256 = "0".repeat(64);
          await writeFile(manifestPath, JSON.stringify(manifest));
        },
      ],
    ];
    for (const [label, damage] of damages) {
      await damage();
      const error = await restoreFullBackup({ repository, connection: target.connection, fileName: file! }).catch((e: unknown) => e);
      expect(error, label).toBeInstanceOf(label === "missing" ? UnsafePathError : RestoreRefusedError);
      expect((error as Error).message, label).toContain(file!);
      expect(await target.fingerprint(), label).toEqual(before);
      await copyFile(pristine, full);
      await writeFile(manifestPath, pristineManifest);
    }
    const manifest = await manifestOf(file!);
    expect(await verifyAgainstManifest(targetDir, manifest)).toEqual({ ok: true });
  });

  it("resolves user-given names only inside the repository [S22]", async () => {
    const [file] = await only(["schema"]);
    await writeFile(path.join(work, "outside.dump"), "not a backup");
    await symlink(path.join(work, "outside.dump"), path.join(targetDir, "full_backup_2026-01-01T00-00-00Z.dump"));
    for (const name of [
      "../outside.dump",
      "/etc/passwd",
      `sub/../${file}`,
      `${file}\0.dump`,
      ".lock",
      "full_backup_2026-01-01T00-00-00Z.dump",
      path.join(work, "outside.dump"),
    ]) {
      await expect(resolveArtifactPath(targetDir, name), name).rejects.toBeInstanceOf(UnsafePathError);
    }
    expect(await resolveArtifactPath(targetDir, file!)).toBe(path.join(targetDir, file!));
    expect(await resolveArtifactPath(targetDir, path.join(targetDir, file!))).toBe(path.join(targetDir, file!));
    await rm(path.join(targetDir, "full_backup_2026-01-01T00-00-00Z.dump"));
  });

  it.skipIf(!isRoot())(
    "a backup that fills the disk fails, removes its partial file and keeps earlier backups (root: mounts a tmpfs) [S14] [S27]",
    async () => {
      const small = path.join(work, "small-disk");
      await mkdir(path.join(small, "app"), { recursive: true });
      await exec("mount", ["-t", "tmpfs", "-o", "size=600k,mode=0700", "tmpfs", path.join(small, "app")]);
      try {
        const smallRepo = new LocalRepository(small, "app");
        const [schema] = await only(["schema"], {}, { repository: smallRepo });
        await target.query("create table filler as select md5(random()::text) || md5(random()::text) as a from generate_series(1, 60000)");
        const result = await backup(["full"], { compressionLevel: 0 }, { repository: smallRepo });
        expect(result.artifacts[0]?.ok).toBe(false);
        if (!result.artifacts[0]?.ok) expect(result.artifacts[0]?.error).toMatch(/No space left on device|could not write/i);
        const names = await readdir(path.join(small, "app"));
        expect(names.filter((n) => n.startsWith(".tmp-") || n.startsWith("full_backup_"))).toEqual([]);
        expect(await verifyAgainstManifest(path.join(small, "app"), await manifestOf(schema!, smallRepo))).toEqual({ ok: true });
        await exec("mount", ["-o", "remount,size=64m", path.join(small, "app")]);
        await only(["full"], { compressionLevel: 0 }, { repository: smallRepo });
      } finally {
        await target.query("drop table if exists filler");
        await exec("umount", [path.join(small, "app")]);
      }
    },
  );

  it("backs up and restores hostile database, schema, table and column names [S17]", async () => {
    const dbName = `-h x=y 'q' "d" ü select`;
    await target.cluster.query(`create database ${pg.escapeIdentifier(dbName)} owner app`);
    const hostile = { ...target.connection, database: dbName };
    await target.query(
      `create schema "My Schema;--"; create table "My Schema;--"."quoted "" table=1" ("-col" int primary key, "select" text, "ключ" jsonb, "a b" numeric);
       insert into "My Schema;--"."quoted "" table=1" values (1, 'drop table x;', '{"k": null}', 1.50), (2, null, 'null', null);`,
      [],
      dbName,
    );
    const before = await target.fingerprint(dbName);
    const result = await backup(["full", "json"], {}, { target: { name: "app", connection: hostile } });
    expect(
      result.artifacts.every((a) => a.ok),
      JSON.stringify(result.artifacts),
    ).toBe(true);
    const [full, json] = result.artifacts.map((a) => (a.ok ? a.file : ""));

    const copyName = `restored -d=${"x"} "ü"`;
    const restored = await restoreFullBackup({ repository, connection: hostile, fileName: full!, intoDatabase: copyName });
    expect(restored.rowCounts.every((r) => r.ok)).toBe(true);
    expect(await target.fingerprint(copyName)).toEqual(before);

    await target.query(`delete from "My Schema;--"."quoted "" table=1" where "-col" = 1`, [], dbName);
    await restoreJsonExport({ repository, connection: hostile, fileName: json!, tables: ['quoted " table=1'] });
    expect(await target.fingerprint(dbName)).toEqual(before);
  });

  it("round-trips every type through the JSON export, all or nothing, using Prisma names [S18]", async () => {
    await target.query(`
      create table kinds (id bigint primary key, big bigint, exact numeric(40,20), money_ numeric, raw bytea, at timestamptz, doc jsonb, js json,
                          ints int[], words text[], flag boolean, f real, u uuid, span interval, small smallint);
      insert into kinds values
        (1, 9223372036854775807, 12345678901234567890.12345678901234567890, 0.1, '\\x00ff00deadbeef', '2026-01-15 14:30:00.123456+07', '{"a": [1, 2.50, null]}', '{"b":1,  "b":2}',
         '{1,NULL,3}', '{"with space","with,comma","quote\\"d",NULL}', true, 1.17549e-38, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '1 day 02:03:04.5', -32768),
        (2, -1, -0.00000000000000000001, 'NaN', '\\x', '-infinity', 'null', 'null', '{}', '{}', false, 'NaN', null, '-1 mons', 0),
        (3, null, null, null, null, null, null, null, null, null, null, null, null, null, null);`);
    const original = await target.query<{ t: string }>("select t::text from kinds t order by id");
    const [json] = await only(["json"]);

    const exported = (await exec("sh", ["-c", `zcat '${path.join(targetDir, json!)}'`], { maxBuffer: 64 * 1024 * 1024 })).stdout;
    const document = JSON.parse(exported) as {
      naming: string;
      tables: { table: string; name: string; columns: { column: string; field: string }[]; rows: Record<string, unknown>[] }[];
    };
    expect(document.naming).toBe("prisma");
    const users = document.tables.find((t) => t.table === "users")!;
    expect(users.name).toBe("User");
    expect(users.columns.find((c) => c.column === "display_name")?.field).toBe("displayName");
    const kinds = document.tables.find((t) => t.table === "kinds")!;
    expect(kinds.rows[1]!.doc).toBe("null"); // JSON null value, not SQL NULL
    expect(kinds.rows[2]!.doc).toBeNull();
    expect(kinds.rows[0]!.big).toBe("9223372036854775807");

    await target.query("delete from kinds where id = 2; update kinds set exact = 0, doc = '{}' where id = 1; insert into kinds (id) values (4)");
    await restoreJsonExport({ repository, connection: target.connection, fileName: json!, tables: ["kinds"] });
    expect(await target.query<{ t: string }>("select t::text from kinds t order by id")).toEqual(original);

    // All or nothing: a constraint the exported rows break aborts the whole restore.
    await target.query(
      "update kinds set flag = false where id = 1; alter table kinds add constraint small_positive check (small is null or small >= 0) not valid",
    );
    const changed = await target.fingerprint();
    await expect(restoreJsonExport({ repository, connection: target.connection, fileName: json!, tables: ["kinds", "users"] })).rejects.toThrow(
      /small_positive/,
    );
    expect(await target.fingerprint()).toEqual(changed);
    await target.query("alter table kinds drop constraint small_positive");
  });

  it("refuses a partial JSON restore that would reach into a table that was not chosen [S18]", async () => {
    const [json] = await only(["json"]);
    await target.query(
      "insert into users (id, email, display_name) values (9001, 'late@example.com', 'Late'); insert into alerts (user_id, product_id, allergen_id, message) values (9001, 1, 1, 'late alert')",
    );
    const before = await target.fingerprint();
    const error = await restoreJsonExport({ repository, connection: target.connection, fileName: json!, tables: ["users"] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RestoreRefusedError);
    expect((error as Error).message).toMatch(/alerts was not chosen/);
    expect(await target.fingerprint()).toEqual(before);
    await expect(restoreJsonExport({ repository, connection: target.connection, fileName: json!, tables: ["nope"] })).rejects.toThrow(
      /Not in this export: nope/,
    );
  });

  it("encrypts with age: the standard tool decrypts; a wrong key or altered ciphertext fails loudly [S20]", async () => {
    const [env] = await only(["env"]);
    const plain = path.join(work, "env.tar");
    await exec("age", ["-d", "-i", path.join(work, "identity.txt"), "-o", plain, path.join(targetDir, env!)]);
    expect((await exec("tar", ["-tf", plain])).stdout).toMatch(/globals\.sql/);

    const stranger = await generateKeyPair();
    await expect(restoreEnvironment({ repository, fileName: env!, outDir: path.join(work, "e1"), identities: [stranger.identity] })).rejects.toThrow(
      /Cannot decrypt/,
    );
    await expect(restoreEnvironment({ repository, fileName: env!, outDir: path.join(work, "e2"), identities: [] })).rejects.toThrow(
      /LIFEBOAT_AGE_IDENTITY_FILE/,
    );

    // An encrypted dump whose ciphertext was altered (and its manifest forged to match): age's
    // authentication stops pg_restore, whose single transaction leaves the database as it was.
    const [full] = await only(["full"], { encryptAll: true });
    expect(full).toMatch(/\.dump\.age$/);
    const file = path.join(targetDir, full!);
    const bytes = await readFile(file);
    bytes[bytes.length - 100] = bytes[bytes.length - 100]! ^ 0x01;
    await writeFile(file, bytes);
    const manifest = JSON.parse(await readFile(`${file}.manifest.json`, "utf8"));
    const { stdout } = await exec("sha256sum", [file]);
    manifest.files[0].sha256 = stdout.split(" ")[0];
    await writeFile(`${file}.manifest.json`, JSON.stringify(manifest));
    await target.query("update users set display_name = 'must survive' where id = 2");
    const before = await target.fingerprint();
    await expect(restoreFullBackup({ repository, connection: target.connection, fileName: full!, identities: [keys.identity] })).rejects.toThrow();
    expect(await target.fingerprint()).toEqual(before);
  });

  it("the environment backup copies the server's config files only from the target's declared folders: a reported hba_file outside them is skipped", async () => {
    // The server reports where its files are; Lifeboat (root) must not copy whatever that names.
    const outside = await mkdtemp(path.join(os.tmpdir(), "lifeboat-outside-"));
    await chmod(outside, 0o755);
    const hba = path.join(outside, "outside_hba.conf");
    const marker = "# outside-the-declared-folders marker";
    await writeFile(hba, `${marker}\n${await readFile(path.join(target.cluster.dataDir, "pg_hba.conf"), "utf8")}`, { mode: 0o644 });
    await target.cluster.query(`alter system set hba_file = '${hba}'`);
    await target.cluster.query("grant pg_read_all_settings to app");
    await target.cluster.stop();
    await target.cluster.start();
    try {
      expect((await target.query<{ f: string }>("select current_setting('hba_file') as f"))[0]!.f).toBe(hba);
      const result = await backup(
        ["env"],
        {},
        {
          target: { name: "app", connection: target.connection, dataDir: target.cluster.dataDir },
        },
      );
      const [env] = result.artifacts;
      expect(env?.ok, JSON.stringify(env)).toBe(true);
      const manifest = await manifestOf(env!.ok ? env!.file : "");
      expect(manifest.notes).toContain("outside_hba.conf: outside the target's declared folders, skipped");
      // postgresql.conf lies inside the declared data directory: it is copied.
      expect((manifest.notes ?? []).join(" ")).not.toMatch(/postgresql\.conf: outside/);

      const plain = path.join(work, "env-outside.tar");
      await exec("age", ["-d", "-i", path.join(work, "identity.txt"), "-o", plain, path.join(targetDir, env!.ok ? env!.file : "")]);
      const names = (await exec("tar", ["-tf", plain])).stdout.split("\n").filter(Boolean);
      expect(names).toContain("server/postgresql.conf");
      expect(names.filter((n) => /hba/.test(n))).toEqual([]);
      expect((await readFile(plain)).includes(marker)).toBe(false);
    } finally {
      await target.cluster.query("alter system reset hba_file");
      await target.cluster.query("revoke pg_read_all_settings from app");
      await target.cluster.stop();
      await target.cluster.start();
      await rm(outside, { recursive: true, force: true });
    }
  });

  it("writes parallel directory-format dumps (LIFEBOAT_DUMP_JOBS) that verify, restore in parallel and refuse damage [S11]", async () => {
    const [dir] = await only(["full"], { dumpJobs: 2 });
    expect(dir).toMatch(/^full_backup_.*\.dir$/);
    const manifest = await manifestOf(dir!);
    expect(manifest.files.map((f) => f.name)).toContain(`${dir}/toc.dat`);
    const before = await target.fingerprint();
    const restored = await restoreFullBackup({
      repository,
      connection: target.connection,
      fileName: dir!,
      intoDatabase: "parallel_copy",
      jobs: 2,
    });
    expect(restored.rowCounts.every((r) => r.ok)).toBe(true);
    expect(await target.fingerprint("parallel_copy")).toEqual(before);

    await writeFile(path.join(targetDir, dir!, "extra.dat"), "x");
    await expect(restoreFullBackup({ repository, connection: target.connection, fileName: dir!, intoDatabase: "never" })).rejects.toThrow(
      /extra\.dat: not in the manifest/,
    );
    await rm(path.join(targetDir, dir!, "extra.dat"));
    await appendFile(path.join(targetDir, dir!, "toc.dat"), "x");
    await expect(restoreFullBackup({ repository, connection: target.connection, fileName: dir!, intoDatabase: "never" })).rejects.toThrow(/toc\.dat: size/);
    const [{ n }] = (await target.query<{ n: string }>("select count(*) as n from pg_database where datname = 'never'")) as [{ n: string }];
    expect(Number(n)).toBe(0);
  });

  it("refuses a client older than the server before writing anything (never a 0-byte backup) [S19]", async () => {
    const fakeBin = path.join(work, "old-bin");
    await mkdir(fakeBin, { recursive: true });
    await writeFile(path.join(fakeBin, "pg_dump"), "#!/bin/sh\n[ \"$1\" = --version ] && echo 'pg_dump (PostgreSQL) 13.16' && exit 0\nexit 0\n");
    await chmod(path.join(fakeBin, "pg_dump"), 0o755);
    const beforeNames = await readdir(targetDir);
    const result = await backup(["full", "schema"], { pgBinDir: fakeBin });
    expect(result.artifacts.map((a) => a.ok)).toEqual([false, false]);
    for (const a of result.artifacts) if (!a.ok) expect(a.error).toMatch(/pg_dump 13\.16 is older than the server \(PostgreSQL 15/);
    expect(await readdir(targetDir)).toEqual(beforeNames);
  });

  /** Wait until a session of the backup waits for a lock (pg_stat_activity), or fail after a deadline. */
  const waitForLockWait = async (applicationName: string) => {
    for (let i = 0; i < 100; i++) {
      const rows = await target.query<{ n: string }>(
        "select count(*) as n from pg_stat_activity where application_name = $1 and wait_event_type = 'Lock'",
        [applicationName],
        "postgres",
      );
      if (Number(rows[0]?.n) > 0) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${applicationName} never waited for a lock`);
  };

  it("a migration that rewrites a table while the backup waits for its lock: every row is in the backup (SCENARIO 25) [S25]", async () => {
    const before = Number((await target.query<{ n: string }>("select count(*) as n from users"))[0]!.n);
    expect(before).toBeGreaterThan(0);
    const migration = new pg.Client({ ...target.connection });
    await migration.connect();
    try {
      // An ordinary app migration: a volatile default rewrites the whole table under ACCESS EXCLUSIVE.
      await migration.query("begin");
      await migration.query("alter table users add column token uuid not null default gen_random_uuid()");
      const running = backup(["full", "json"]);
      await waitForLockWait("lifeboat backup");
      await migration.query("commit");
      const result = await running;
      const failed = result.artifacts.filter((a) => !a.ok);
      expect(failed, JSON.stringify(failed)).toEqual([]);
      for (const artifact of result.artifacts) if (artifact.ok) expect(artifact.manifest.tableRowCounts?.["public.users"], artifact.kind).toBe(before);

      // The dump restores every row (the column the migration added included).
      const [full] = result.artifacts.map((a) => (a.ok ? a.file : ""));
      const restored = await restoreFullBackup({ repository, connection: target.connection, fileName: full!, intoDatabase: "after_migration" });
      expect(restored.rowCounts.every((r) => r.ok)).toBe(true);
      const copy = await target.query<{ n: string; tokens: string }>("select count(*) as n, count(token) as tokens from users", [], "after_migration");
      expect(copy[0]).toEqual({ n: String(before), tokens: String(before) });
    } finally {
      await migration.end();
      await target.query("alter table users drop column if exists token");
    }
  });

  it("gives up loudly, writing nothing, when the application holds a table lock past LIFEBOAT_LOCK_TIMEOUT [S25]", async () => {
    const beforeNames = await readdir(targetDir);
    const holder = new pg.Client({ ...target.connection });
    await holder.connect();
    try {
      await holder.query("begin; lock table alerts in access exclusive mode");
      const result = await backup(["full", "schema", "json"], { lockTimeoutSeconds: 1 });
      expect(result.artifacts.map((a) => a.ok)).toEqual([false, false, false]);
      for (const a of result.artifacts) if (!a.ok) expect(a.error).toMatch(/waited 1 s for a table the application holds locked/);
      expect(await readdir(targetDir)).toEqual(beforeNames);
    } finally {
      await holder.query("rollback");
      await holder.end();
    }
  });

  it("round-trips a table keyed by GENERATED ALWAYS AS IDENTITY through restore json [S18]", async () => {
    await target.query(
      "create table tokens (id bigint generated always as identity primary key, label text not null, made int generated always as identity (start with 100))".replace(
        ", made int generated always as identity (start with 100)",
        "",
      ),
    );
    await target.query("insert into tokens (label) select 'token ' || g from generate_series(1, 20) g");
    const original = await target.query<{ t: string }>("select t::text from tokens t order by id");
    const [json] = await only(["json"]);
    await target.query("delete from tokens where id % 2 = 0; update tokens set label = 'changed' where id < 5");
    const result = await restoreJsonExport({ repository, connection: target.connection, fileName: json!, tables: ["tokens"] });
    expect(result.tables).toEqual([expect.objectContaining({ table: "tokens", rows: 20 })]);
    expect(await target.query<{ t: string }>("select t::text from tokens t order by id")).toEqual(original);
    // The identity sequence continues after the restored rows.
    await target.query("insert into tokens (label) values ('new')");
    expect((await target.query<{ id: string }>("select max(id)::text as id from tokens"))[0]!.id).toBe("21");
    await target.query("drop table tokens");
  });

  it("refuses a tampered JSON export: system catalogs, numbers beyond 2^53, objects where values belong [S18] [S28]", async () => {
    const [json] = await only(["json"]);
    const file = path.join(targetDir, json!);
    const pristine = await readFile(file);
    const manifestPath = `${file}.manifest.json`;
    const pristineManifest = await readFile(manifestPath, "utf8");
    const plain = (await exec("sh", ["-c", `zcat '${file}'`], { maxBuffer: 64 * 1024 * 1024 })).stdout;
    const forge = async (text: string) => {
      const gz = path.join(work, "forged.json.gz");
      await writeFile(path.join(work, "forged.json"), text);
      await exec("sh", ["-c", `gzip -c '${path.join(work, "forged.json")}' > '${gz}'`]);
      await copyFile(gz, file);
      const manifest = JSON.parse(pristineManifest);
      const { stdout } = await exec("sha256sum", [file]);
      manifest.files[0].sha256 = stdout.split(" ")[0];
      manifest.files[0].size = (await readFile(file)).length;
      await writeFile(manifestPath, JSON.stringify(manifest));
    };
    const before = await target.fingerprint();
    try {
      // A table header renamed to a system catalog: refused before anything is applied.
      await forge(plain.replace('{"schema":"public","table":"allergens"', '{"schema":"pg_catalog","table":"pg_authid"'));
      await expect(restoreJsonExport({ repository, connection: target.connection, fileName: json!, tables: ["pg_authid"] })).rejects.toThrow(
        /not an application table/,
      );
      // An integer beyond 2^53 would be rounded by JSON.parse: refused, not guessed.
      const users = plain.split("\n");
      const row = users.findIndex((l) => l.includes('"email":'));
      users[row] = users[row]!.replace(/"id":\d+/, '"id":9007199254740993');
      await forge(users.join("\n"));
      await expect(restoreJsonExport({ repository, connection: target.connection, fileName: json!, tables: ["users"] })).rejects.toThrow(/losing precision/);
      users[row] = users[row]!.replace(/"id":9007199254740993/, '"id":{"$gt":1}');
      await forge(users.join("\n"));
      await expect(restoreJsonExport({ repository, connection: target.connection, fileName: json!, tables: ["users"] })).rejects.toThrow(/JSON object/);
      expect(await target.fingerprint()).toEqual(before);
    } finally {
      await writeFile(file, pristine);
      await writeFile(manifestPath, pristineManifest);
    }
  });

  it("never overwrites: two backup sets started in the same second get distinct names [S13]", async () => {
    const fixed = new Date("2026-03-01T10:00:00.000Z");
    const first = await only(["schema"], {}, { now: () => fixed });
    const second = await only(["schema"], {}, { now: () => fixed });
    expect(first[0]).toBe("schema_2026-03-01T10-00-00Z.sql");
    expect(second[0]).toBe("schema_2026-03-01T10-00-01Z.sql");
    expect(await verifyAgainstManifest(targetDir, await manifestOf(first[0]!))).toEqual({ ok: true });
  });

  it("a restore blocked behind an application transaction gives up within LIFEBOAT_LOCK_TIMEOUT, changing nothing", async () => {
    const [full] = await only(["full"]);
    const before = await target.fingerprint();
    const holder = new pg.Client({ ...target.connection });
    await holder.connect();
    const phases: string[] = [];
    try {
      await holder.query("begin; select count(*) from alerts; lock table products in access share mode");
      const started = Date.now();
      const error = await restoreFullBackup({
        repository,
        connection: target.connection,
        fileName: full!,
        lockTimeoutSeconds: 6,
        onPhase: (p) => phases.push(p),
      }).catch((e: unknown) => e as Error);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toMatch(/waited 6 s for tables the application holds locked and gave up; nothing was changed/);
      expect(Date.now() - started).toBeLessThan(30_000);
      // While it waited, the progress said who holds the lock.
      expect(phases.join("\n")).toMatch(/waiting for locks held by server process \d+/);
    } finally {
      await holder.query("rollback");
      await holder.end();
    }
    expect(await target.fingerprint()).toEqual(before);
  });

  it("a migration queued between the backup's locks and pg_dump's makes the dump fail in bounded time, never hang [S25]", async () => {
    const migration = new pg.Client({ ...target.connection });
    await migration.connect();
    let queued: Promise<unknown> | undefined;
    try {
      const started = Date.now();
      const result = await backup(
        ["full"],
        { lockTimeoutSeconds: 2 },
        {
          onProgress: (p) => {
            // The snapshot exists and its session holds every lock: queue an exclusive request now.
            if (p.phase === "snapshot locked" && !queued) queued = migration.query("alter table products add column migrated boolean not null default true");
          },
        },
      );
      expect(queued).toBeDefined();
      const [artifact] = result.artifacts;
      expect(artifact?.ok).toBe(false);
      if (artifact && !artifact.ok) expect(artifact.error).toMatch(/pg_dump/);
      expect(Date.now() - started).toBeLessThan(30_000);
      // Once the backup gave way, the migration went through.
      await queued;
      expect((await target.query<{ n: string }>("select count(*) as n from products where migrated"))[0]!.n).not.toBe("0");
    } finally {
      await queued?.catch(() => undefined);
      await migration.end();
      await target.query("alter table products drop column if exists migrated");
    }
  });
});
