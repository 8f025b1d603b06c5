import { execFile } from "node:child_process";
import { chmod, copyFile, cp, mkdtemp, readdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findFreePort } from "../cluster/free-port";
import { LocalCluster } from "../cluster/local-cluster";
import { ManagedCluster } from "../cluster/managed-cluster";
import { CLUSTER_OS_USER, isRoot } from "../cluster/os-user";
import { runBackupSet } from "../backup/run-backup-set";
import { generateKeyPair } from "../crypto/age";
import { LocalRepository } from "../repository/repository";
import { withClient } from "../pg/server-info";
import { computeRecoverableWindow } from "../wal/recoverable-window";
import { sampleArchiver } from "../wal/sample-archiver";
import { DEFAULT_SEGMENT_SIZE, formatLsn, parseLsn, segmentFileName, segmentOf } from "../wal/wal-names";
import { listBaseBackups, PitrRefusedError, planPitr, type PitrPlan } from "./plan-pitr";
import { describeTarget, parseRecoveryTarget } from "./recovery-target";
import { PitrFailedError, pitrInPlace, pitrToNewInstance } from "./run-pitr";

const exec = promisify(execFile);
const repo = path.resolve(import.meta.dirname, "..", "..", "..");
let archiveWal: string;
const restoreWal = path.join(repo, "bin", "restore-wal");
const baseSettings = {
  compressionLevel: 6,
  dumpJobs: 1,
  recipients: [],
  encryptAll: false,
  environment: { files: [], baseDir: repo, rolePasswords: false },
  lockTimeoutSeconds: 30,
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("WAL archiving, base backups and point-in-time recovery (SCENARIOS 1–10)", () => {
  let work: string;
  let targetDir: string;
  let archiveDir: string;
  let cluster: LocalCluster;
  let repository: LocalRepository;
  /** The same repository reading a copy of the archive (damaged, compressed, unreadable). */
  const withArchive = (dir: string) => new LocalRepository(path.join(work, "backups"), "app", { archiveDir: dir });
  const marks: Record<string, string> = {};
  const extra: LocalCluster[] = [];

  const sql = async <R extends Record<string, unknown>>(text: string, params: unknown[] = []) =>
    withClient(cluster.connection("app"), async (c) => (await c.query<R>(text, params)).rows);
  const markers = async (c: LocalCluster) =>
    withClient(c.adminConnection("app"), async (client) => (await client.query<{ v: string }>("select v from marker order by id")).rows.map((r) => r.v));

  /** Switch to a new segment and wait until the archiver has it. */
  const archiveNow = async (c: LocalCluster = cluster) => {
    const [{ f }] = await withClient(
      c.adminConnection(),
      async (client) => (await client.query<{ f: string }>("select pg_walfile_name(pg_switch_wal()) as f")).rows as [{ f: string }],
    );
    for (let i = 0; i < 150; i++) {
      const [row] = await withClient(
        c.adminConnection(),
        async (client) => (await client.query<{ w: string | null }>("select last_archived_wal as w from pg_stat_archiver")).rows,
      );
      if (row?.w && row.w.slice(8) >= f.slice(8)) return;
      await sleep(200);
    }
    throw new Error(`segment ${f} was not archived`);
  };

  const plan = (target: Parameters<typeof parseRecoveryTarget>[0]) => planPitr({ repository, target: parseRecoveryTarget(target, "UTC") });

  const common = (p: PitrPlan, archive = archiveDir) => ({
    plan: p,
    repository: archive === archiveDir ? repository : withArchive(archive),
    // The target's own credentials (a password-protected superuser over TCP), as for any cluster.
    connection: cluster.connection("app"),
  });
  /** The test cluster as a target on this host, controlled with pg_ctl. */
  const managed = () => new ManagedCluster({ dataDir: cluster.dataDir, control: { method: "pg_ctl" }, logFile: cluster.logFile });

  /** PITR into a throwaway instance, return its marker rows, then remove it. */
  const recoverRows = async (p: PitrPlan, archive = archiveDir) => {
    const baseDir = path.join(work, `pitr-${Math.random().toString(36).slice(2)}`);
    const outcome = await pitrToNewInstance({ ...common(p, archive), baseDir, port: await findFreePort() });
    const instance = (await LocalCluster.existing({ baseDir }))!;
    try {
      return { rows: await markers(instance), outcome };
    } finally {
      await instance.remove();
    }
  };

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), "lifeboat-pitr-"));
    await chmod(work, 0o755);
    // The server runs archive_command as its own OS user, which may not reach this checkout.
    archiveWal = path.join(work, "archive-wal");
    await copyFile(path.join(repo, "bin", "archive-wal"), archiveWal);
    await chmod(archiveWal, 0o755);
    repository = new LocalRepository(path.join(work, "backups"), "app");
    await repository.prepareArchive();
    targetDir = repository.dir;
    archiveDir = repository.archiveDir;
    cluster = await LocalCluster.open({
      baseDir: path.join(work, "cluster"),
      password: "pitr-super-pw",
      walLevel: "replica",
      archiveMode: "on",
      archiveCommand: `'${archiveWal}' %p '${archiveDir}' %f`,
    });
    await cluster.start();
    await cluster.query("create database app");
    await sql("create table marker (id serial primary key, v text not null, at timestamptz not null default clock_timestamp())");
    await archiveNow();
  });

  afterAll(async () => {
    for (const c of extra) await c.remove().catch(() => {});
    await cluster?.remove();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("takes a verified base backup with its WAL range and timeline", async () => {
    const set = await runBackupSet({ target: { name: "app", connection: cluster.connection("app") }, repository, kinds: ["base"], settings: baseSettings });
    const result = set.artifacts[0]!;
    if (!result.ok) throw new Error(result.error);
    expect(result.manifest).toMatchObject({ kind: "base", timeline: 1, compression: "none" });
    expect(parseLsn(result.manifest.walStopLsn!)).toBeGreaterThan(parseLsn(result.manifest.walStartLsn!));
    expect(result.manifest.verification).toMatchObject({ tool: "pg_verifybackup", ok: true });
    expect((await readdir(path.join(targetDir, "base"))).filter((n) => n.startsWith("."))).toEqual([]);
  });

  it("recovers to a time, a restore point, an LSN and latest, with exactly the rows written before each [S1]", async () => {
    await sql("insert into marker (v) values ('a')");
    await sleep(50);
    marks.afterA = new Date().toISOString();
    await sleep(50);
    await sql("insert into marker (v) values ('b')");
    await withClient(cluster.adminConnection(), (c) => c.query("select pg_create_restore_point('after-b')"));
    await sql("insert into marker (v) values ('c')");
    const [{ lsn }] = (await sql<{ lsn: string }>("select pg_current_wal_lsn()::text as lsn")) as [{ lsn: string }];
    marks.afterC = lsn;
    await sql("insert into marker (v) values ('d')");
    await archiveNow();

    const window = await computeRecoverableWindow({ archiveDir, baseBackups: await listBaseBackups(repository) });
    expect(window.problems).toEqual([]);
    expect(window.restorePoints.map((p) => p.name)).toContain("after-b");

    const atTime = await plan({ time: marks.afterA.replace("T", " ").replace("Z", "") });
    expect(describeTarget(atTime.target)).toContain(`time ${marks.afterA}`);
    expect((await recoverRows(atTime)).rows).toEqual(["a"]);
    expect((await recoverRows(await plan({ name: "after-b" }))).rows).toEqual(["a", "b"]);
    expect((await recoverRows(await plan({ lsn: marks.afterC }))).rows).toEqual(["a", "b", "c"]);
    const latest = await recoverRows(await plan({ latest: true }));
    expect(latest.rows).toEqual(["a", "b", "c", "d"]);
    expect(latest.outcome.timeline).toBe(2);
  });

  it("refuses targets outside the window before touching anything, printing the window [S3] [S5]", async () => {
    const tooEarly = await plan({ time: "2001-01-01 00:00:00" }).catch((e: unknown) => e);
    expect(tooEarly).toBeInstanceOf(PitrRefusedError);
    expect((tooEarly as Error).message).toMatch(/outside what can be recovered/);
    expect((tooEarly as PitrRefusedError).window?.ranges[0]?.timeline).toBe(1);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    await expect(plan({ time: future })).rejects.toThrow(/is in the future/);
    await expect(plan({ name: "never-created" })).rejects.toThrow(/No restore point named "never-created"/);
  });

  it("fails, never succeeds, when PostgreSQL cannot reach the target [S2]", async () => {
    const p = await plan({ latest: true });
    const beyond = formatLsn(parseLsn(p.range.to.lsn) + 64n * 1024n * 1024n);
    const forged: PitrPlan = { ...p, target: { kind: "lsn", lsn: beyond } };
    const error = await recoverRows(forged).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PitrFailedError);
    expect((error as Error).message).toMatch(/recovery ended before configured recovery target was reached/);
  });

  it("recovers in place onto a new timeline; a second PITR follows it and never replays the abandoned one [S4]", async () => {
    const p = await plan({ time: marks.afterA!.replace("T", " ").replace("Z", "") });
    const outcome = await pitrInPlace({ ...common(p), cluster: managed(), keepPrevious: false });
    expect(outcome.timeline).toBe(2);
    expect(await markers(cluster)).toEqual(["a"]);
    expect((await readdir(path.dirname(cluster.dataDir))).filter((n) => n.includes("pre-pitr"))).toEqual([]);

    await sql("insert into marker (v) values ('e')");
    await sleep(50);
    marks.afterE = new Date().toISOString();
    await sleep(50);
    await sql("insert into marker (v) values ('f')");
    await archiveNow();
    expect(await readdir(archiveDir)).toContain("00000002.history");

    const alongNew = await plan({ time: marks.afterE.replace("T", " ").replace("Z", "") });
    expect(alongNew.range.timeline).toBe(2);
    expect((await recoverRows(alongNew)).rows).toEqual(["a", "e"]);
    expect((await recoverRows(await plan({ latest: true }))).rows).toEqual(["a", "e", "f"]);
  });

  it("puts the previous data directory back when an in-place PITR fails [S2]", async () => {
    const p = await plan({ latest: true });
    const forged: PitrPlan = { ...p, target: { kind: "lsn", lsn: formatLsn(parseLsn(p.range.to.lsn) + 64n * 1024n * 1024n) } };
    await expect(pitrInPlace({ ...common(forged), cluster: managed(), keepPrevious: false })).rejects.toThrow(/previous data directory was put back/);
    expect(await cluster.isRunning()).toBe(true);
    expect(await markers(cluster)).toEqual(["a", "e", "f"]);
  });

  it("finds corrupted, truncated and missing segments and ends the window before them [S10]", async () => {
    // Real records across several segments; the damage goes in the middle of them.
    const lsnOf = async () => parseLsn(((await sql<{ l: string }>("select pg_current_wal_lsn()::text as l")) as [{ l: string }])[0].l);
    const startLsn = await lsnOf();
    await sql("insert into marker (v) select 'bulk' || g from generate_series(1, 300000) g");
    const middle = (startLsn + (await lsnOf())) / 2n;
    await sql("insert into marker (v) values ('g')");
    await archiveNow();
    const bases = await listBaseBackups(repository);
    const intact = await computeRecoverableWindow({ archiveDir, baseBackups: bases });
    expect(intact.problems).toEqual([]);
    const end = parseLsn(intact.ranges.at(-1)!.to.lsn);
    const victim = segmentFileName(2, segmentOf(middle));
    const offset = Number(middle % BigInt(DEFAULT_SEGMENT_SIZE));

    const damage = async (label: string, how: (file: string) => Promise<void>, expected: RegExp) => {
      const copy = path.join(work, `archive-${label}`);
      await cp(archiveDir, copy, { recursive: true });
      await how(path.join(copy, victim));
      if (isRoot()) await exec("chown", ["-R", `${CLUSTER_OS_USER}:${CLUSTER_OS_USER}`, copy]);
      const window = await computeRecoverableWindow({ archiveDir: copy, baseBackups: bases });
      expect(window.problems.join("; "), label).toMatch(expected);
      expect(window.problems.join("; "), label).toContain(victim);
      expect(parseLsn(window.ranges.at(-1)!.to.lsn), `${label}: ${JSON.stringify(window)}`).toBeLessThan(end);
      return copy;
    };
    const corrupted = await damage(
      "corrupted",
      async (file) => {
        const bytes = await readFile(file);
        bytes[offset] = bytes[offset]! ^ 0xff;
        await writeFile(file, bytes);
      },
      /damaged at/,
    );
    await damage("truncated", (file) => truncate(file, 8192), /truncated/);
    await damage("missing", (file) => rm(file), /missing from the archive/);

    // Segments read once are remembered (a PITR plans twice): the remembered window equals one read
    // whole, and damage done in place afterwards is still found.
    expect(await computeRecoverableWindow({ archiveDir, baseBackups: bases })).toEqual(intact);
    const inPlace = path.join(work, "archive-in-place");
    await cp(archiveDir, inPlace, { recursive: true });
    if (isRoot()) await exec("chown", ["-R", `${CLUSTER_OS_USER}:${CLUSTER_OS_USER}`, inPlace]);
    expect((await computeRecoverableWindow({ archiveDir: inPlace, baseBackups: bases })).problems).toEqual([]);
    await new Promise((r) => setTimeout(r, 20));
    const bytes = await readFile(path.join(inPlace, victim));
    bytes[offset] = bytes[offset]! ^ 0xff;
    await writeFile(path.join(inPlace, victim), bytes);
    expect((await computeRecoverableWindow({ archiveDir: inPlace, baseBackups: bases })).problems.join("; ")).toMatch(/damaged at/);

    // PITR to "latest" on the damaged archive reaches the last good point, and says where.
    const latest = await planPitr({ repository: withArchive(corrupted), target: { kind: "latest" } });
    expect(latest.range.endReason).toMatch(/damaged at/);
    const { rows } = await recoverRows(latest, corrupted);
    expect(rows).toContain("f");
    expect(rows).not.toContain("g");
  });

  it("reads a zstd-compressed archive for the window and for recovery [S10]", async () => {
    const compressed = path.join(work, "archive-zstd");
    await cp(archiveDir, compressed, { recursive: true });
    for (const name of await readdir(compressed)) {
      if (!/^[0-9A-F]{24}$/.test(name)) continue;
      await exec("zstd", ["-q", "--rm", path.join(compressed, name)]);
    }
    if (isRoot()) await exec("chown", ["-R", `${CLUSTER_OS_USER}:${CLUSTER_OS_USER}`, compressed]);
    const bases = await listBaseBackups(repository);
    const plain = await computeRecoverableWindow({ archiveDir, baseBackups: bases });
    const zstd = await computeRecoverableWindow({ archiveDir: compressed, baseBackups: bases });
    expect(zstd.problems).toEqual([]);
    expect(zstd.ranges.at(-1)!.to).toEqual(plain.ranges.at(-1)!.to);
    const latest = await planPitr({ repository: withArchive(compressed), target: { kind: "latest" } });
    expect((await recoverRows(latest, compressed)).rows.at(-1)).toBe("g");
  });

  it.runIf(isRoot())("refuses to call a PITR done when recovery could not read the archive [S2] [S9]", async () => {
    const unreadable = path.join(work, "archive-unreadable");
    await cp(archiveDir, unreadable, { recursive: true }); // root-owned 0600 copies: the server cannot read them
    const latest = await planPitr({ repository: withArchive(unreadable), target: { kind: "latest" } });
    await expect(recoverRows(latest, unreadable)).rejects.toThrow(/Recovery ended at .* before the end of the archived WAL/);
  });

  it("archive-wal refuses a different cluster; restore-wal reports a missing segment quietly [S8] [S9]", async () => {
    const foreign = await LocalCluster.temporary({ archiveMode: "on", archiveCommand: `'${archiveWal}' %p '${archiveDir}' %f` });
    extra.push(foreign);
    await foreign.start();
    const before = await readFile(path.join(archiveDir, "SYSTEM_IDENTIFIER"), "utf8");
    await withClient(foreign.adminConnection(), (c) => c.query("create table t as select 1; select pg_switch_wal()"));
    let stats = await sampleArchiver(foreign.adminConnection());
    for (let i = 0; i < 50 && stats.failedCount === 0; i++) {
      await sleep(200);
      stats = await sampleArchiver(foreign.adminConnection());
    }
    expect(stats.failedCount).toBeGreaterThan(0);
    expect(stats.archivedCount).toBe(0);
    expect(await readFile(path.join(archiveDir, "SYSTEM_IDENTIFIER"), "utf8")).toBe(before);
    const log = await readFile(foreign.logFile, "utf8");
    expect(log).toMatch(/this archive belongs to cluster \d+; refusing WAL from cluster \d+/);
    await foreign.remove();

    const missing = await exec(restoreWal, [archiveDir, "0000000100000000000000FF", path.join(work, "x")]).catch((e: { code: number; stderr: string }) => e);
    expect(missing).toMatchObject({ code: 1, stderr: "" });
  });

  it("archiving that fails (repository unwritable) shows in the statistics, loses nothing and drains once fixed [S6]", async () => {
    const archiveMode = (await import("node:fs/promises")).stat;
    const mode = (await archiveMode(archiveDir)).mode & 0o777;
    // The archiver runs as the cluster's OS user, which owns the folder: r-x makes it unwritable.
    await chmod(archiveDir, 0o500);
    try {
      await sql("insert into marker (v) values ('while-broken')");
      await withClient(cluster.adminConnection(), (c) => c.query("select pg_switch_wal()"));
      let stats = await sampleArchiver(cluster.adminConnection());
      for (let i = 0; i < 50 && stats.healthy; i++) {
        await sleep(200);
        stats = await sampleArchiver(cluster.adminConnection());
      }
      expect(stats.healthy).toBe(false);
      expect(stats.alert).toMatch(/archiving is failing/);
      expect(stats.lastFailedWal).toMatch(/^00000002/);
      expect(stats.readyCount).toBeGreaterThan(0);
    } finally {
      await chmod(archiveDir, mode);
    }
    await sql("insert into marker (v) values ('after-fix')");
    await archiveNow();
    const stats = await sampleArchiver(cluster.adminConnection());
    expect(stats).toMatchObject({ healthy: true, readyCount: 0 });
    const window = await computeRecoverableWindow({ archiveDir, baseBackups: await listBaseBackups(repository) });
    expect(window.problems).toEqual([]);
    expect((await recoverRows(await plan({ latest: true }))).rows.slice(-2)).toEqual(["while-broken", "after-fix"]);
  });

  it("an encrypted WAL archive: segments unreadable without the identity; the window and PITR read them with it [S20]", async () => {
    const keys = await generateKeyPair();
    await writeFile(path.join(work, "wal-recipients.txt"), `${keys.recipient}\n`);
    const marker = `wal-secret-${Date.now()}`;
    await sql("insert into marker (v) values ($1)", [marker]);
    await archiveNow();
    // The same archive as archive-wal --encrypt stores it: every segment age-encrypted, history files plain.
    const encrypted = path.join(work, "archive-encrypted");
    await cp(archiveDir, encrypted, { recursive: true });
    for (const name of await readdir(encrypted)) {
      if (!/^[0-9A-F]{24}$/.test(name)) continue;
      await exec("age", ["-R", path.join(work, "wal-recipients.txt"), "-o", path.join(encrypted, `${name}.age`), path.join(encrypted, name)]);
      await rm(path.join(encrypted, name));
    }
    if (isRoot()) await exec("chown", ["-R", `${CLUSTER_OS_USER}:${CLUSTER_OS_USER}`, encrypted]);
    const names = await readdir(encrypted);
    expect(names.filter((n) => /^[0-9A-F]{24}$/.test(n))).toEqual([]);
    for (const name of names.filter((n) => n.endsWith(".age")))
      expect((await readFile(path.join(encrypted, name))).includes(Buffer.from(marker)), name).toBe(false);
    const stranger = await generateKeyPair();
    await writeFile(path.join(work, "stranger.txt"), `${stranger.identity}\n`, { mode: 0o600 });
    const someSegment = path.join(
      encrypted,
      names.find((n) => n.endsWith(".age"))!,
    );
    await expect(exec("age", ["-d", "-i", path.join(work, "stranger.txt"), "-o", "/dev/null", someSegment])).rejects.toThrow(/no identity matched/);

    const repositoryEncrypted = withArchive(encrypted);
    await expect(planPitr({ repository: repositoryEncrypted, target: { kind: "latest" } })).rejects.toThrow(/encrypted: set LIFEBOAT_AGE_IDENTITY_FILE/);
    const latest = await planPitr({ repository: repositoryEncrypted, target: { kind: "latest" }, identities: [keys.identity] });
    expect(latest.window.problems).toEqual([]);
    const baseDir = path.join(work, "pitr-encrypted-wal");
    await pitrToNewInstance({ ...common(latest, encrypted), identities: [keys.identity], baseDir, port: await findFreePort() });
    const instance = (await LocalCluster.existing({ baseDir }))!;
    try {
      expect(await markers(instance)).toContain(marker);
      // The server's copy of the key is gone once recovery is over.
      expect(await readdir(baseDir)).not.toContain("identity.txt");
    } finally {
      await instance.remove();
    }
  });

  it("with encryption on, every artifact (base backups included) is age ciphertext, and PITR recovers from the encrypted base backup [S20]", async () => {
    const keys = await generateKeyPair();
    const marker = `secret-marker-${Date.now()}`;
    await sql("insert into marker (v) values ($1)", [marker]);
    const set = await runBackupSet({
      target: { name: "app", connection: cluster.connection("app") },
      repository,
      kinds: ["full", "schema", "json", "base"],
      settings: { ...baseSettings, recipients: [keys.recipient], encryptAll: true },
    });
    const failed = set.artifacts.filter((a) => !a.ok);
    expect(failed, JSON.stringify(failed)).toEqual([]);
    for (const artifact of set.artifacts) {
      if (!artifact.ok) continue;
      expect(artifact.manifest.encryption?.recipients).toEqual([keys.recipient]);
      for (const file of artifact.manifest.files) {
        const bytes = await readFile(path.join(targetDir, file.name));
        expect(bytes.subarray(0, 21).toString(), file.name).toBe("age-encryption.org/v1");
        expect(bytes.includes(Buffer.from(marker)), file.name).toBe(false);
      }
    }
    const base = set.artifacts.find((a) => a.kind === "base");
    if (!base?.ok) throw new Error("no base backup");
    expect(base.manifest.files.map((f) => f.name)).toEqual([`${base.file}/base.tar.zst.age`]);
    expect((await readdir(path.join(targetDir, base.file))).filter((n) => n !== "base.tar.zst.age")).toEqual([]);
    // The standard tools read it without Lifeboat.
    await writeFile(path.join(work, "key.txt"), `${keys.identity}\n`, { mode: 0o600 });
    const listing = await exec(
      "sh",
      ["-c", `age -d -i '${path.join(work, "key.txt")}' '${path.join(targetDir, base.file, "base.tar.zst.age")}' | zstd -dcq | tar -t`],
      {
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    expect(listing.stdout).toMatch(/^PG_VERSION$/m);
    expect(listing.stdout).toMatch(/^backup_manifest$/m);

    await sql("insert into marker (v) values ('after-encrypted-base')");
    await archiveNow();
    const latest = await plan({ latest: true });
    expect(latest.base.artifact).toBe(base.file);
    const baseDir = path.join(work, "pitr-encrypted");
    await pitrToNewInstance({ ...common(latest), identities: [keys.identity], baseDir, port: await findFreePort() });
    const instance = (await LocalCluster.existing({ baseDir }))!;
    try {
      expect((await markers(instance)).slice(-2)).toEqual([marker, "after-encrypted-base"]);
    } finally {
      await instance.remove();
    }
    // Without the key, the recovery is refused before anything starts, and leaves nothing behind.
    const noKey = path.join(work, "pitr-no-key");
    await expect(pitrToNewInstance({ ...common(latest), identities: [], baseDir: noKey, port: await findFreePort() })).rejects.toThrow(
      /LIFEBOAT_AGE_IDENTITY_FILE/,
    );
    expect(await readdir(noKey).catch(() => "gone")).toBe("gone");
  });
});
