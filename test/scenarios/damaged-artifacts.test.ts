import { execFile } from "node:child_process";
import { appendFile, mkdir, readdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findFreePort } from "@/lib/engine/cluster/free-port";
import { generateKeyPair } from "@/lib/engine/crypto/age";
import { restoreEnvironment } from "@/lib/engine/logical/restore-environment";
import { restoreFullBackup } from "@/lib/engine/logical/restore-full";
import { restoreJsonExport } from "@/lib/engine/logical/restore-json";
import { planPitr } from "@/lib/engine/pitr/plan-pitr";
import { pitrToNewInstance } from "@/lib/engine/pitr/run-pitr";
import { kindOfFileName, type ArtifactKind } from "@/lib/engine/repository/artifact-kinds";
import { createArchivingCluster, type ArchivingCluster } from "@/test/helpers/archiving-cluster";

const exec = promisify(execFile);

type Damage = { label: string; apply: (file: string, manifestPath: string) => Promise<void>; undo?: () => Promise<void> };

/** Every way SCENARIOS.md 11 damages a file; each is undone before the next. */
const FILE_DAMAGES: Damage[] = [
  { label: "a byte appended", apply: (file) => appendFile(file, "x") },
  { label: "truncated to zero", apply: (file) => truncate(file, 0) },
  {
    label: "same-size content changed",
    apply: async (file) => {
      const bytes = await readFile(file);
      const middle = Math.floor(bytes.length / 2);
      bytes[middle] = bytes[middle]! ^ 0xff;
      await writeFile(file, bytes);
    },
  },
  { label: "missing", apply: (file) => rm(file) },
  {
    label: "manifest edited",
    apply: async (file, manifestPath) => {
      const manifest = JSON.parse(await readFile(manifestPath, "utf8")) as { files: { name: string; sha256: string }[] };
      const entry = manifest.files.find((f) => file.endsWith(f.name))!;
      entry.sha256 = entry.sha256.replace(/^./, (c) => (c === "0" ? "1" : "0"));
      await writeFile(manifestPath, JSON.stringify(manifest));
    },
  },
];

describe("damaged files of every kind: verification names the file and restore refuses, changing nothing", () => {
  let ac: ArchivingCluster;
  let keys: { identity: string; recipient: string };
  const artifacts = {} as Record<"full" | "dir" | "schema" | "json" | "env" | "base", string>;

  const fingerprint = async () => (await ac.sql<{ t: string }>("select string_agg(t::text, ',' order by id) as t from items t"))[0]!.t;

  /** Run `check` against each damage of `file` (a path inside the repository), putting the file and the manifest back after each. */
  const eachDamage = async (artifact: string, file: string, damages: Damage[], check: (label: string) => Promise<void>) => {
    const manifestPath = path.join(ac.repository.dir, `${artifact}.manifest.json`);
    const target = path.join(ac.repository.dir, file);
    const pristine = path.join(ac.work, "pristine");
    await rm(pristine, { recursive: true, force: true });
    await mkdir(pristine);
    await exec("cp", ["-a", target, path.join(pristine, "file")]);
    await exec("cp", ["-a", manifestPath, path.join(pristine, "manifest.json")]);
    for (const damage of damages) {
      await damage.apply(target, manifestPath);
      try {
        await check(damage.label);
      } finally {
        await damage.undo?.();
        await exec("cp", ["-a", path.join(pristine, "file"), target]);
        await exec("cp", ["-a", path.join(pristine, "manifest.json"), manifestPath]);
      }
    }
    // Undone: the artifact verifies again, so each refusal above was the damage's.
    expect(await ac.repository.verify(await ac.repository.readManifest(artifact))).toEqual({ ok: true });
  };

  /** The repository's verification and its pre-restore check both name the file. */
  const expectNamed = async (artifact: string, kind: ArtifactKind, name: string, label: string) => {
    const verified = await ac.repository.verify(await ac.repository.readManifest(artifact));
    expect(verified.ok, label).toBe(false);
    if (!verified.ok) expect(verified.problems.join("; "), label).toContain(name);
    // A base backup is refused by the PITR that would use it (planPitr verifies it), checked below.
    if (kind === "base") return;
    const refused = await ac.repository.checkForRestore(artifact, kind).catch((e: unknown) => e as Error);
    expect(refused, label).toBeInstanceOf(Error);
    expect((refused as Error).message, label).toContain(name);
  };

  beforeAll(async () => {
    ac = await createArchivingCluster();
    keys = await generateKeyPair();
    await ac.sql("create table items (id int primary key, label text not null, doc jsonb)");
    await ac.sql("insert into items select g, 'item ' || g, jsonb_build_object('n', g) from generate_series(1, 5000) g");
    await ac.archiveNow();
    const [full, schema, json, env] = await ac.backup(["full", "schema", "json", "env"], { recipients: [keys.recipient] });
    const [dir] = await ac.backup(["full"], { dumpJobs: 2 });
    const [base] = await ac.backup(["base"]);
    Object.assign(artifacts, { full, schema, json, env, dir, base });
    for (const name of Object.values(artifacts)) expect(name).toMatch(/\d{4}-\d{2}-\d{2}T/);
    await ac.archiveNow();
    await ac.sql("update items set label = 'changed after the backups' where id <= 10");
    for (const name of Object.values(artifacts)) expect(await ac.repository.verify(await ac.repository.readManifest(name))).toEqual({ ok: true });
    expect(kindOfFileName(artifacts.dir)).toBe("full");
    expect(artifacts.dir).toMatch(/\.dir$/);
  });

  afterAll(async () => {
    await ac?.remove();
  });

  it("a full dump (custom format), each damage: named by verification, pg_restore never runs, the database is unchanged [S11]", async () => {
    const before = await fingerprint();
    await eachDamage(artifacts.full, artifacts.full, FILE_DAMAGES, async (label) => {
      await expectNamed(artifacts.full, "full", artifacts.full, label);
      const error = await restoreFullBackup({ repository: ac.repository, connection: ac.cluster.connection("app"), fileName: artifacts.full }).catch(
        (e: unknown) => e as Error,
      );
      expect(error, label).toBeInstanceOf(Error);
      expect((error as Error).message, label).toContain(artifacts.full);
      expect(await fingerprint(), label).toBe(before);
    });
  });

  it("a full dump in directory format: an extra file, a missing one and every damage to toc.dat and a data file are named; restore refuses [S11]", async () => {
    const before = await fingerprint();
    const dir = path.join(ac.repository.dir, artifacts.dir);
    const data = (await readdir(dir)).find((n) => /^\d+\.dat\.gz$/.test(n))!;
    expect(data).toBeDefined();
    const extraFile = path.join(dir, "9999.dat.gz");
    const extra: Damage = { label: "extra file", apply: () => writeFile(extraFile, "x"), undo: () => rm(extraFile, { force: true }) };
    const refuse = async (name: string, label: string) => {
      await expectNamed(artifacts.dir, "full", name, label);
      const error = await restoreFullBackup({
        repository: ac.repository,
        connection: ac.cluster.connection("app"),
        fileName: artifacts.dir,
        intoDatabase: "never_restored",
      }).catch((e: unknown) => e as Error);
      expect(error, label).toBeInstanceOf(Error);
      expect((error as Error).message, label).toContain(name);
      expect(await ac.cluster.query("select 1 from pg_database where datname = 'never_restored'"), label).toEqual([]);
      expect(await fingerprint(), label).toBe(before);
    };
    await eachDamage(artifacts.dir, `${artifacts.dir}/toc.dat`, [extra], (label) => refuse(`${artifacts.dir}/9999.dat.gz`, label));
    for (const file of ["toc.dat", data]) {
      await eachDamage(artifacts.dir, `${artifacts.dir}/${file}`, FILE_DAMAGES, (label) => refuse(`${artifacts.dir}/${file}`, `${file}: ${label}`));
    }
  });

  it("a schema dump, each damage: named, refused before any restore [S11]", async () => {
    await eachDamage(artifacts.schema, artifacts.schema, FILE_DAMAGES, (label) => expectNamed(artifacts.schema, "schema", artifacts.schema, label));
  });

  it("a JSON export, each damage: named; restore json refuses and every table keeps its rows [S11]", async () => {
    const before = await fingerprint();
    await eachDamage(artifacts.json, artifacts.json, FILE_DAMAGES, async (label) => {
      await expectNamed(artifacts.json, "json", artifacts.json, label);
      const error = await restoreJsonExport({
        repository: ac.repository,
        connection: ac.cluster.connection("app"),
        fileName: artifacts.json,
        tables: ["items"],
      }).catch((e: unknown) => e as Error);
      expect((error as Error).message, label).toContain(artifacts.json);
      expect(await fingerprint(), label).toBe(before);
    });
  });

  it("an encrypted environment backup, each damage: named; restore env refuses and writes no folder [S11]", async () => {
    let n = 0;
    await eachDamage(artifacts.env, artifacts.env, FILE_DAMAGES, async (label) => {
      await expectNamed(artifacts.env, "env", artifacts.env, label);
      const outDir = path.join(ac.work, `env-out-${n++}`);
      const error = await restoreEnvironment({ repository: ac.repository, fileName: artifacts.env, outDir, identities: [keys.identity] }).catch(
        (e: unknown) => e as Error,
      );
      expect((error as Error).message, label).toContain(artifacts.env);
      expect(await readdir(outDir).catch(() => "none"), label).toBe("none");
    });
  });

  it("a base backup: an extra, a missing, an appended, a truncated or a changed data file is named by pg_verifybackup and the PITR refuses it; an edited backup_manifest is named before planning [S11]", async () => {
    const base = artifacts.base;
    const plan = await planPitr({ repository: ac.repository, target: { kind: "latest" } });
    expect(plan.base.artifact).toBe(base);
    let n = 0;
    const pitrRefuses = async (name: string, label: string) => {
      const baseDir = path.join(ac.work, `pitr-${n++}`);
      const error = await pitrToNewInstance({
        plan,
        repository: ac.repository,
        connection: ac.cluster.connection("app"),
        baseDir,
        port: await findFreePort(),
      }).catch((e: unknown) => e as Error);
      expect(error, label).toBeInstanceOf(Error);
      expect((error as Error).message, label).toMatch(new RegExp(`base backup ${base} is damaged`));
      expect((error as Error).message, label).toContain(name);
      // Nothing was laid down: the instance's folder is gone again.
      expect(await readdir(baseDir).catch(() => "none"), label).toBe("none");
    };
    const dataFile = "global/1262"; // pg_database, in every cluster
    const extraFile = path.join(ac.repository.dir, base, "global", "extra_file");
    const extra: Damage = { label: "extra file", apply: () => writeFile(extraFile, "x"), undo: () => rm(extraFile, { force: true }) };
    await eachDamage(base, `${base}/${dataFile}`, [extra], (label) => pitrRefuses("global/extra_file", label));
    await eachDamage(base, `${base}/${dataFile}`, FILE_DAMAGES.slice(0, 4), (label) => pitrRefuses(dataFile, label));
    await eachDamage(base, `${base}/PG_VERSION`, [FILE_DAMAGES[3]!], (label) => pitrRefuses("PG_VERSION", label));

    // backup_manifest is pinned by Lifeboat's manifest: any change to it (or to the pin) is refused before planning.
    await eachDamage(base, `${base}/backup_manifest`, FILE_DAMAGES, async (label) => {
      await expectNamed(base, "base", `${base}/backup_manifest`, label);
      if (label === "same-size content changed")
        await expect(planPitr({ repository: ac.repository, target: { kind: "latest" } }), label).rejects.toThrow(/is damaged: .*backup_manifest/);
    });
  });
});
