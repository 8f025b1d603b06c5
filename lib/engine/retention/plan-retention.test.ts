import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ARTIFACT_KINDS, artifactFileName, backupTimestamp, type ArtifactKind } from "../repository/artifact-kinds";
import { describeFile, type Manifest } from "../repository/manifest";
import { LocalRepository } from "../repository/repository";
import { formatLsn, segmentFileName } from "../wal/wal-names";
import { applyRetention, planRetention, type RetentionPlan } from "./plan-retention";

const NOW = new Date("2026-03-01T12:00:00.000Z");
const SEGMENT = 16 * 1024 * 1024;
const daysAgo = (days: number, hours = 0) => new Date(NOW.getTime() - days * 86_400_000 - hours * 3_600_000);
const seg = (n: number, timeline = 1) => segmentFileName(timeline, BigInt(n), SEGMENT);

let work: string;
let repository: LocalRepository;

beforeEach(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), "lifeboat-retention-"));
  repository = new LocalRepository(path.join(work, "backups"), "app");
  await repository.prepare();
  await mkdir(repository.archiveDir, { recursive: true });
});
afterEach(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/**
 * A committed artifact as a backup leaves it: its file (a base backup: a folder whose backup_manifest
 * the manifest pins) and its manifest, written through the repository. Named after its start, a
 * minute before `finishedAt`.
 */
async function addArtifact(kind: ArtifactKind, finishedAt: Date, base: { startSegment?: number; timeline?: number } = {}): Promise<string> {
  const startedAt = new Date(finishedAt.getTime() - 60_000);
  const artifact = artifactFileName(kind, backupTimestamp(startedAt), { encrypted: kind === "env" });
  const file = kind === "base" ? `${artifact}/backup_manifest` : artifact;
  if (kind === "base") await mkdir(path.join(repository.dir, artifact));
  const content = `pretend ${kind} backup finished ${finishedAt.toISOString()}\n`.repeat(20);
  await writeFile(path.join(repository.dir, file), content);
  const startSegment = base.startSegment ?? 1;
  const manifest: Manifest = {
    format: "lifeboat-manifest",
    version: 1,
    kind,
    target: "app",
    artifact,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    files: [await describeFile(repository.dir, file)],
    sizeBytes: Buffer.byteLength(content),
    serverVersion: "16.4",
    toolVersions: {},
    compression: "none",
    encryption: kind === "env" ? { format: "age", recipients: ["age1pretend"] } : null,
    ...(kind === "base"
      ? {
          walStartLsn: formatLsn(BigInt(startSegment) * BigInt(SEGMENT) + 0x28n),
          walStopLsn: formatLsn(BigInt(startSegment) * BigInt(SEGMENT) + 0x138n),
          timeline: base.timeline ?? 1,
          walSegmentSize: SEGMENT,
          verification: { tool: "pg_verifybackup", at: finishedAt.toISOString(), ok: true },
        }
      : {}),
  };
  await repository.writeManifest(manifest);
  return artifact;
}

/** A backup that went wrong after its manifest was written: one byte of its file flipped, same size. */
async function damage(artifact: string): Promise<void> {
  const file = path.join(repository.dir, artifact.startsWith("base/") ? `${artifact}/backup_manifest` : artifact);
  const bytes = await readFile(file);
  bytes[3] = bytes[3]! ^ 0xff;
  await writeFile(file, bytes);
}

async function addWal(...names: string[]): Promise<void> {
  for (const name of names) await writeFile(path.join(repository.archiveDir, name), `wal ${name}\n`);
}

/** Every file and folder under the target's folder, relative to it (folders end with "/"). */
async function listing(dir = repository.dir, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const name = `${prefix}${entry.name}`;
    if (entry.isDirectory()) out.push(`${name}/`, ...(await listing(path.join(dir, entry.name), `${name}/`)));
    else out.push(name);
  }
  return out.sort();
}

const archiveNames = async () => (await readdir(repository.archiveDir)).sort();

/** What a listing should be once the plan is applied: its artifacts (files, folders, manifests, recorded checks) and WAL files gone, nothing else. */
function withoutPlan(before: string[], plan: RetentionPlan): string[] {
  const gone = (entry: string) =>
    plan.deletes.some(
      (d) =>
        entry === d.artifact ||
        entry === `${d.artifact}/` ||
        entry.startsWith(`${d.artifact}/`) ||
        entry === `${d.artifact}.manifest.json` ||
        entry === `${d.artifact}.verification.json`,
    ) || plan.walDeletes.some((w) => entry === `archive/${w.name}`);
  return before.filter((entry) => !gone(entry));
}

const kept = (plan: RetentionPlan) => plan.keeps.map((k) => k.artifact).sort();
const deleted = (plan: RetentionPlan) => plan.deletes.map((d) => d.artifact).sort();

describe("retention keeps the last good backup (SCENARIOS 15)", () => {
  it("keeps the last good artifact of every kind, and its WAL, however old, when every recent backup is damaged [S15]", async () => {
    const lastGood = new Map<ArtifactKind, string>();
    const olderGood = new Map<ArtifactKind, string>();
    const recentDamaged = new Map<ArtifactKind, string>();
    const oldDamaged = new Map<ArtifactKind, string>();
    for (const [index, kind] of ARTIFACT_KINDS.entries()) {
      const minutes = index / 24 / 60; // distinct names per kind
      olderGood.set(kind, await addArtifact(kind, daysAgo(60 + minutes), { startSegment: 0x08 }));
      lastGood.set(kind, await addArtifact(kind, daysAgo(40 + minutes), { startSegment: 0x10 }));
      oldDamaged.set(kind, await addArtifact(kind, daysAgo(20 + minutes), { startSegment: 0x20 }));
      recentDamaged.set(kind, await addArtifact(kind, daysAgo(1 + minutes), { startSegment: 0x30 }));
      await damage(oldDamaged.get(kind)!);
      await damage(recentDamaged.get(kind)!);
    }
    for (let n = 0x05; n <= 0x32; n++) await addWal(seg(n));

    const plan = await planRetention({ repository, now: NOW });

    for (const kind of ARTIFACT_KINDS) {
      const keep = plan.keeps.find((k) => k.artifact === lastGood.get(kind));
      expect(keep, kind).toMatchObject({ kind, damaged: false });
      expect(keep?.reason, kind).toMatch(/newest 1 verified .*kept past 7 days/);
      // Damaged recent ones stay by age (a person may want to look at them) but are never the floor.
      expect(plan.keeps.find((k) => k.artifact === recentDamaged.get(kind))).toMatchObject({
        damaged: true,
        reason: expect.stringMatching(/within the last 7 days \(damaged: .*sha256/),
      });
      expect(plan.deletes.find((d) => d.artifact === oldDamaged.get(kind))).toMatchObject({
        damaged: true,
        reason: expect.stringMatching(/older than 7 days \(damaged/),
      });
      expect(plan.deletes.find((d) => d.artifact === olderGood.get(kind))).toMatchObject({ damaged: false, kind });
    }
    expect(kept(plan)).toEqual([...lastGood.values(), ...recentDamaged.values()].sort());
    // WAL is kept from the start of the last good base backup on.
    expect(plan.oldestKeptBase).toBe(lastGood.get("base"));
    expect(plan.walKeptFrom).toBe(seg(0x10));
    expect(plan.walDeletes.map((w) => w.name)).toEqual([0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f].map((n) => seg(n)));

    const result = await applyRetention(plan, repository);
    expect(result.failed).toEqual([]);
    for (const kind of ARTIFACT_KINDS) {
      const manifest = await repository.readManifest(lastGood.get(kind)!);
      await expect(repository.verify(manifest), kind).resolves.toEqual({ ok: true });
    }
    const wal = await archiveNames();
    for (let n = 0x10; n <= 0x32; n++) expect(wal).toContain(seg(n));
    expect(wal).not.toContain(seg(0x0f));
  });

  it("keeps the newest N verified artifacts of each kind with keepNewest N, skipping damaged ones", async () => {
    const full: string[] = [];
    for (let i = 0; i < 6; i++) full.push(await addArtifact("full", daysAgo(10 + i)));
    await damage(full[1]!);
    const plan = await planRetention({ repository, now: NOW, keepNewest: 3 });
    expect(kept(plan)).toEqual([full[0], full[2], full[3]].sort());
    expect(deleted(plan)).toEqual([full[1], full[4], full[5]].sort());
    expect(plan.deletes.find((d) => d.artifact === full[1])?.damaged).toBe(true);

    const defaults = await planRetention({ repository, now: NOW });
    expect(kept(defaults)).toEqual([full[0]]);
    await expect(planRetention({ repository, now: NOW, keepNewest: 0 })).rejects.toThrow(/at least 1/);
  });

  it("deletes old damaged artifacts by age when a kind has no good one left, and says so", async () => {
    const broken = await addArtifact("schema", daysAgo(30));
    await damage(broken);
    const plan = await planRetention({ repository, now: NOW });
    expect(plan.deletes).toMatchObject([{ artifact: broken, damaged: true }]);
    expect(plan.notes.join("\n")).toMatch(/No schema dump passes verification/);
  });
});

describe("retention by age", () => {
  it("keeps 7 days of every kind by default, and a kind's own days when given", async () => {
    const young = new Map<ArtifactKind, string>();
    const old = new Map<ArtifactKind, string>();
    for (const [index, kind] of ARTIFACT_KINDS.entries()) {
      young.set(kind, await addArtifact(kind, daysAgo(6, 23 - index / 60)));
      old.set(kind, await addArtifact(kind, daysAgo(7, 1 + index / 60)));
    }
    const plan = await planRetention({ repository, now: NOW });
    expect(kept(plan)).toEqual([...young.values()].sort());
    expect(deleted(plan)).toEqual([...old.values()].sort());
    for (const d of plan.deletes) expect(d.reason).toMatch(/older than 7 days/);

    const longerJson = await planRetention({ repository, now: NOW, days: { json: 30 } });
    expect(kept(longerJson)).toEqual([...young.values(), old.get("json")!].sort());
    expect(longerJson.keeps.find((k) => k.artifact === old.get("json"))?.reason).toMatch(/within the last 30 days/);
  });
});

describe("retention of the WAL archive", () => {
  /**
   * Two kept base backups on timeline 2 (started at segments 0x20 and 0x30), one old base backup
   * (0x10) that goes; the archive in every form archive-wal writes, on timelines 1 and 2.
   */
  async function archiveFixture() {
    const oldBase = await addArtifact("base", daysAgo(30), { startSegment: 0x10 });
    const keptBase = await addArtifact("base", daysAgo(5), { startSegment: 0x20, timeline: 2 });
    const newBase = await addArtifact("base", daysAgo(1), { startSegment: 0x30, timeline: 2 });
    const oldDump = await addArtifact("full", daysAgo(30));
    await addArtifact("full", daysAgo(1));
    await addWal(
      "SYSTEM_IDENTIFIER",
      "00000002.history",
      "00000003.history.zst",
      `.${seg(0x33, 2)}.tmp.4242`,
      // Timeline 1, before the switch: plain, zstd, encrypted with their sha256, compressed+encrypted.
      seg(0x0e),
      `${seg(0x0f)}.zst`,
      `${seg(0x10)}.age`,
      `${seg(0x10)}.sha256`,
      `${seg(0x11)}.zst.age`,
      `${seg(0x11)}.sha256`,
      `${seg(0x10)}.00000028.backup`,
      `${seg(0x12)}.partial`,
      `${seg(0x12)}.partial.zst.age`,
      `${seg(0x12)}.partial.sha256`,
      seg(0x25), // timeline 1 went on past the switch; a later segment number is kept on any timeline
      // Timeline 2.
      seg(0x12, 2),
      `${seg(0x1f, 2)}.zst`,
      `${seg(0x1f, 2)}.stream`,
      `${seg(0x20, 2)}.zst`,
      `${seg(0x20, 2)}.00000028.backup.zst`,
      `${seg(0x21, 2)}.age`,
      `${seg(0x21, 2)}.sha256`,
      seg(0x30, 2),
      `${seg(0x30, 2)}.00000028.backup`,
      `${seg(0x31, 2)}.stream`,
    );
    return { oldBase, keptBase, newBase, oldDump };
  }

  it("deletes WAL older than the oldest kept base backup on every timeline, keeps it from there, and keeps history, SYSTEM_IDENTIFIER, .partial and .stream [S15]", async () => {
    const { oldBase, keptBase, oldDump } = await archiveFixture();
    const plan = await planRetention({ repository, now: NOW });
    expect(deleted(plan)).toEqual([oldBase, oldDump].sort());
    expect(plan.oldestKeptBase).toBe(keptBase);
    expect(plan.walKeptFrom).toBe(seg(0x20, 2));
    expect(plan.walDeletes.map((w) => w.name).sort()).toEqual(
      [
        seg(0x0e),
        `${seg(0x0f)}.zst`,
        `${seg(0x10)}.age`,
        `${seg(0x10)}.sha256`,
        `${seg(0x10)}.00000028.backup`,
        `${seg(0x11)}.zst.age`,
        `${seg(0x11)}.sha256`,
        seg(0x12, 2),
        `${seg(0x1f, 2)}.zst`,
      ].sort(),
    );
    const planned = plan.deletes.reduce((sum, d) => sum + d.sizeBytes, 0) + plan.walDeletes.reduce((sum, w) => sum + w.sizeBytes, 0);
    expect(plan.bytesFreed).toBe(planned);

    await applyRetention(plan, repository);
    expect(await archiveNames()).toEqual(
      [
        "SYSTEM_IDENTIFIER",
        "00000002.history",
        "00000003.history.zst",
        `.${seg(0x33, 2)}.tmp.4242`,
        `${seg(0x12)}.partial`,
        `${seg(0x12)}.partial.zst.age`,
        `${seg(0x12)}.partial.sha256`,
        seg(0x25),
        `${seg(0x1f, 2)}.stream`,
        `${seg(0x20, 2)}.zst`,
        `${seg(0x20, 2)}.00000028.backup.zst`,
        `${seg(0x21, 2)}.age`,
        `${seg(0x21, 2)}.sha256`,
        seg(0x30, 2),
        `${seg(0x30, 2)}.00000028.backup`,
        `${seg(0x31, 2)}.stream`,
      ].sort(),
    );
  });

  it("the dry-run plan lists exactly what applyRetention deletes, and planning changes nothing", async () => {
    await archiveFixture();
    const before = await listing();
    const plan = await planRetention({ repository, now: NOW });
    expect(await listing()).toEqual(before);
    expect(plan.deletes.length).toBeGreaterThan(0);
    expect(plan.walDeletes.length).toBeGreaterThan(0);

    const result = await applyRetention(plan, repository);
    expect(await listing()).toEqual(withoutPlan(before, plan));
    expect(result.artifacts.sort()).toEqual(deleted(plan));
    expect(result.wal).toEqual(plan.walDeletes.map((w) => w.name));
    expect(result.bytesFreed).toBe(plan.bytesFreed);
    expect(result.alreadyGone).toEqual([]);

    // Applied again (a retry after a crash): everything is already gone, nothing else is touched.
    const after = await listing();
    const again = await applyRetention(plan, repository);
    expect(again).toMatchObject({ artifacts: [], wal: [], failed: [], bytesFreed: 0 });
    expect(again.alreadyGone.length).toBe(plan.deletes.length + plan.walDeletes.length);
    expect(await listing()).toEqual(after);
  });

  it("deletes no WAL when no base backup exists, or none is kept, and says why [S15]", async () => {
    const dump = await addArtifact("full", daysAgo(30));
    await addArtifact("full", daysAgo(40));
    await addWal("SYSTEM_IDENTIFIER", seg(1), seg(2), `${seg(2)}.00000028.backup`);
    const walBefore = await archiveNames();
    const plan = await planRetention({ repository, now: NOW });
    expect(plan).toMatchObject({ walDeletes: [], oldestKeptBase: null, walKeptFrom: null });
    expect(plan.notes.join("\n")).toMatch(/All archived WAL is kept: no base backup is kept/);
    expect(kept(plan)).toEqual([dump]);
    await applyRetention(plan, repository);
    expect(await archiveNames()).toEqual(walBefore);

    // Only damaged, old base backups: they go by age, and the WAL still stays.
    const broken = await addArtifact("base", daysAgo(20), { startSegment: 2 });
    await damage(broken);
    const onlyBroken = await planRetention({ repository, now: NOW });
    expect(deleted(onlyBroken)).toEqual([broken]);
    expect(onlyBroken.walDeletes).toEqual([]);
    expect(onlyBroken.notes.join("\n")).toMatch(/No base backup passes verification[\s\S]*All archived WAL is kept/);
  });

  it("keeps all WAL when a base backup's manifest cannot be read [S15]", async () => {
    await addArtifact("base", daysAgo(1), { startSegment: 0x10 });
    await addWal(seg(1), seg(0x10));
    await mkdir(path.join(repository.baseDir, "2026-01-01T00-00-00Z"));
    await writeFile(path.join(repository.baseDir, "2026-01-01T00-00-00Z.manifest.json"), "{ not json");
    const plan = await planRetention({ repository, now: NOW });
    expect(plan.walDeletes).toEqual([]);
    expect(plan.notes.join("\n")).toMatch(/base\/2026-01-01T00-00-00Z.manifest.json cannot be read/);
  });

  it("refuses a plan that names anything retention never deletes, or another target, before deleting anything [S15] [S28]", async () => {
    const { oldDump } = await archiveFixture();
    const before = await listing();
    const plan = await planRetention({ repository, now: NOW });
    for (const name of ["00000002.history", "SYSTEM_IDENTIFIER", `${seg(0x12)}.partial`, `${seg(0x31, 2)}.stream`, `../${seg(1)}`]) {
      await expect(applyRetention({ ...plan, walDeletes: [...plan.walDeletes, { name, sizeBytes: 1 }] }, repository), name).rejects.toThrow(
        /nothing was deleted/,
      );
    }
    await expect(applyRetention({ ...plan, deletes: [{ ...plan.deletes[0]!, artifact: "../../etc" }] }, repository)).rejects.toThrow(/nothing was deleted/);
    await expect(applyRetention(plan, new LocalRepository(path.join(work, "backups"), "other"))).rejects.toThrow(/made for target "app"/);
    expect(await listing()).toEqual(before);
    expect(deleted(plan)).toContain(oldDump);
  });
});
