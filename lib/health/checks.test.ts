import { describe, expect, it } from "vitest";
import type { ArtifactKind } from "@/lib/engine/repository/artifact-kinds";
import type { Manifest } from "@/lib/engine/repository/manifest";
import { evaluateHealth, worstState, type HealthInputs } from "./checks";

const NOW = new Date("2026-11-29T12:00:00Z");
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const MB = 1024 * 1024;

/** An artifact of `kind` that finished `agoMs` before NOW after running `tookMs`. */
function artifact(kind: ArtifactKind, agoMs: number, sizeBytes: number, tookMs = 60_000): Manifest {
  const finished = new Date(NOW.getTime() - agoMs);
  const stamp = new Date(finished.getTime() - tookMs)
    .toISOString()
    .replace(/\.\d{3}Z$/, "Z")
    .replace(/:/g, "-");
  const name = kind === "base" ? `base/${stamp}` : kind === "full" ? `full_backup_${stamp}.dump` : `schema_${stamp}.sql`;
  return {
    format: "lifeboat-manifest",
    version: 1,
    kind,
    target: "app",
    artifact: name,
    startedAt: new Date(finished.getTime() - tookMs).toISOString(),
    finishedAt: finished.toISOString(),
    files: [{ name, size: sizeBytes, sha256: "0".repeat(64) }],
    sizeBytes,
    serverVersion: "15.10",
    toolVersions: {},
    compression: "none",
    encryption: null,
  };
}

/** Seven nightly backups of each kind, all alike: every check is ok. */
function healthy(): HealthInputs {
  const artifacts: Manifest[] = [];
  for (let night = 0; night < 7; night++) {
    const ago = night * DAY + 10 * HOUR;
    artifacts.push(artifact("full", ago, (100 + night) * MB), artifact("schema", ago, 40_000), artifact("base", ago, 400 * MB, 120_000));
  }
  return {
    target: "app",
    now: NOW,
    artifacts,
    lastBackupRun: { id: 41, status: "succeeded", finishedAt: new Date(NOW.getTime() - 10 * HOUR), error: null },
    backupSchedule: { cron: "0 2 * * *", intervalMs: DAY, kinds: ["full", "schema", "base"] },
    archives: true,
    archiver: {
      sampledAt: new Date(NOW.getTime() - 60_000),
      lastArchivedWal: "000000010000000000000042",
      lastArchivedAt: new Date(NOW.getTime() - 120_000),
      lastFailedWal: null,
      lastFailedAt: null,
      readyCount: 0,
      rpoExposureSeconds: 30,
      alert: null,
    },
    archiveFailuresLastDay: 0,
    lastDrill: {
      status: "succeeded",
      finishedAt: new Date(NOW.getTime() - 3 * DAY),
      error: null,
      result: { rto_full_ms: 4 * 60_000, rto_partial_ms: 60_000, rto_pitr_ms: 9 * 60_000 },
    },
    disk: { freeBytes: 500_000 * MB, totalBytes: 1_000_000 * MB, growthBytesPerDay: 600 * MB },
    thresholds: { rpoSeconds: 3600, rtoFullMs: 30 * 60_000, rtoPitrMs: 60 * 60_000, rtoPartialMs: 20 * 60_000 },
  };
}

const stateOf = (inputs: HealthInputs, id: string) => {
  const found = evaluateHealth(inputs).find((c) => c.id === id);
  if (!found) throw new Error(`no check ${id}: ${evaluateHealth(inputs).map((c) => c.id)}`);
  return found;
};

/** Only `id` changes state: a condition does not leak into other checks. */
const onlyChanged = (inputs: HealthInputs, id: string) => {
  const base = new Map(evaluateHealth(healthy()).map((c) => [c.id, c.state]));
  return evaluateHealth(inputs)
    .filter((c) => c.id !== id && base.get(c.id) !== c.state)
    .map((c) => `${c.id}: ${c.state}`);
};

describe("health checks (the seed's Backup Health Checks)", () => {
  it("judges a target with regular, alike backups, working archiving and a recent fast drill healthy", () => {
    const checks = evaluateHealth(healthy());
    expect(checks.filter((c) => c.state !== "ok").map((c) => `${c.id}: ${c.message}`)).toEqual([]);
    expect(checks.map((c) => c.id).sort()).toEqual(
      [
        "last-backup",
        "size:full",
        "size:schema",
        "size:base",
        "duration:full",
        "duration:schema",
        "duration:base",
        "age:full",
        "age:schema",
        "age:base",
        "disk",
        "archiving",
        "rto:full",
        "rto:partial",
        "rto:pitr",
      ].sort(),
    );
    expect(worstState(checks)).toBe("ok");
  });

  it("size: a full dump at a third of the rolling median is critical (a table emptied), a fifth smaller a warning", () => {
    const inputs = healthy();
    inputs.artifacts.push(artifact("full", HOUR, 35 * MB));
    const c = stateOf(inputs, "size:full");
    expect(c.state).toBe("critical");
    expect(c.message).toMatch(/35\.0 MiB, 34% of the median of the 7 before it \(10\d\.\d MiB\): a table may have been emptied/);
    expect(onlyChanged(inputs, "size:full")).toEqual([]);
    const smaller = healthy();
    smaller.artifacts.push(artifact("full", HOUR, 75 * MB));
    expect(stateOf(smaller, "size:full").state).toBe("warning");
  });

  it("duration: a backup taking over four times the median (and minutes longer) is critical", () => {
    const inputs = healthy();
    inputs.artifacts.push(artifact("base", HOUR, 400 * MB, 20 * 60_000));
    const c = stateOf(inputs, "duration:base");
    expect(c.state).toBe("critical");
    expect(c.message).toMatch(/took 20 min, against a median of 2 min/);
    expect(onlyChanged(inputs, "duration:base")).toEqual([]);
    // Seconds of jitter on a small database are not an anomaly.
    const jitter = healthy();
    jitter.artifacts.push(artifact("schema", HOUR, 40_000, 5 * 60_000));
    expect(stateOf(jitter, "duration:schema").state).toBe("warning");
    const tiny = healthy();
    tiny.artifacts.push(artifact("schema", HOUR, 40_000, 100_000));
    expect(stateOf(tiny, "duration:schema").state).toBe("ok");
  });

  it("age: the newest base backup two days old against a daily schedule is critical; a missed night a warning; none at all critical", () => {
    const late = healthy();
    late.artifacts = late.artifacts.filter((a) => a.kind !== "base" || Date.parse(a.finishedAt) < NOW.getTime() - 2 * DAY - 2 * HOUR);
    const c = stateOf(late, "age:base");
    expect(c.state).toBe("critical");
    expect(c.message).toMatch(/finished 2\.\d days ago .* runs every 24\.0 h: backups are not happening/);
    const missed = healthy();
    missed.artifacts = missed.artifacts.filter((a) => a.kind !== "full" || Date.parse(a.finishedAt) < NOW.getTime() - DAY);
    expect(stateOf(missed, "age:full").state).toBe("warning");
    const never = healthy();
    never.artifacts = never.artifacts.filter((a) => a.kind !== "schema");
    expect(stateOf(never, "age:schema")).toMatchObject({ state: "critical", message: expect.stringMatching(/There is no schema dump of app at all/) });
    const unscheduled = healthy();
    unscheduled.backupSchedule = null;
    expect(stateOf(unscheduled, "age:full")).toMatchObject({ state: "warning", message: expect.stringMatching(/No backup schedule/) });
  });

  it("free space: full within a week at the current growth is critical, under 5% free too; within a month a warning", () => {
    const soon = healthy();
    soon.disk = { freeBytes: 3000 * MB, totalBytes: 1_000_000 * MB, growthBytesPerDay: 600 * MB };
    const c = stateOf(soon, "disk");
    expect(c.state).toBe("critical");
    expect(c.message).toMatch(/at 600\.0 MiB a day it is full in 5 days/);
    expect(onlyChanged(soon, "disk")).toEqual([]);
    const nearlyFull = healthy();
    nearlyFull.disk = { freeBytes: 40_000 * MB, totalBytes: 1_000_000 * MB, growthBytesPerDay: 0 };
    expect(stateOf(nearlyFull, "disk").state).toBe("critical");
    const month = healthy();
    month.disk = { freeBytes: 12_000 * MB, totalBytes: 100_000 * MB, growthBytesPerDay: 600 * MB };
    expect(stateOf(month, "disk").state).toBe("warning");
  });

  it("archiving: a failing archive_command is critical, so is RPO exposure past the target; failures earlier today a warning [S6]", () => {
    const failing = healthy();
    failing.archiver = { ...failing.archiver!, lastFailedWal: "000000010000000000000043", lastFailedAt: new Date(NOW.getTime() - 30_000) };
    expect(stateOf(failing, "archiving")).toMatchObject({
      state: "critical",
      message: expect.stringMatching(/Archiving is failing: 000000010000000000000043/),
    });
    expect(onlyChanged(failing, "archiving")).toEqual([]);
    const exposed = healthy();
    exposed.archiver = { ...exposed.archiver!, rpoExposureSeconds: 2 * 3600, alert: "archive_timeout is 1d" };
    expect(stateOf(exposed, "archiving")).toMatchObject({
      state: "critical",
      message: expect.stringMatching(/^2\.0 h of commits are not archived, more than the RPO of 60 min/),
    });
    const recovered = healthy();
    recovered.archiveFailuresLastDay = 3;
    expect(stateOf(recovered, "archiving").state).toBe("warning");
    const unwatched = healthy();
    unwatched.archiver = { ...unwatched.archiver!, sampledAt: new Date(NOW.getTime() - HOUR) };
    expect(stateOf(unwatched, "archiving")).toMatchObject({ state: "warning", message: expect.stringMatching(/is the worker \(or agent\) running/) });
    const none = healthy();
    none.archives = false;
    expect(evaluateHealth(none).some((c) => c.id === "archiving" || c.id === "rto:pitr")).toBe(false);
  });

  it("RTO: a drill slower than the target is critical for that kind of restore; a failed drill critical for all; no drill a warning", () => {
    const slow = healthy();
    slow.lastDrill = { ...slow.lastDrill!, result: { rto_full_ms: 45 * 60_000, rto_partial_ms: 60_000, rto_pitr_ms: 9 * 60_000 } };
    expect(stateOf(slow, "rto:full")).toMatchObject({ state: "critical", message: expect.stringMatching(/restored in 45 min \(target 30 min/) });
    expect(onlyChanged(slow, "rto:full")).toEqual([]);
    const slowPitr = healthy();
    slowPitr.lastDrill = { ...slowPitr.lastDrill!, result: { rto_full_ms: 60_000, rto_partial_ms: 60_000, rto_pitr_ms: 75 * 60_000 } };
    expect(stateOf(slowPitr, "rto:pitr").state).toBe("critical");
    const slowPartial = healthy();
    slowPartial.lastDrill = { ...slowPartial.lastDrill!, result: { rto_full_ms: 60_000, rto_partial_ms: 21 * 60_000, rto_pitr_ms: 60_000 } };
    expect(stateOf(slowPartial, "rto:partial").state).toBe("critical");
    const failed = healthy();
    failed.lastDrill = {
      status: "failed",
      finishedAt: new Date(NOW.getTime() - DAY),
      error: "1 table(s) differ from what was backed up: public.users (content differs)",
      result: null,
    };
    for (const id of ["rto:full", "rto:partial", "rto:pitr"])
      expect(stateOf(failed, id)).toMatchObject({ state: "critical", message: expect.stringContaining("public.users (content differs)") });
    const old = healthy();
    old.lastDrill = { ...old.lastDrill!, finishedAt: new Date(NOW.getTime() - 40 * DAY) };
    expect(stateOf(old, "rto:full").state).toBe("warning");
    const never = healthy();
    never.lastDrill = null;
    expect(stateOf(never, "rto:full")).toMatchObject({ state: "warning", message: expect.stringMatching(/Run npm run verify/) });
  });

  it("last backup: a failed or interrupted backup run is critical and quotes its error", () => {
    const inputs = healthy();
    inputs.lastBackupRun = { id: 42, status: "failed", finishedAt: new Date(NOW.getTime() - HOUR), error: "full: pg_dump: error: connection refused" };
    expect(stateOf(inputs, "last-backup")).toMatchObject({
      state: "critical",
      message: expect.stringContaining("failed: full: pg_dump: error: connection refused"),
    });
    expect(worstState(evaluateHealth(inputs))).toBe("critical");
  });
});

describe("off-site copy", () => {
  const offsite = (inputs: HealthInputs) => evaluateHealth(inputs).find((c) => c.id === "offsite");
  it("is not judged without an off-site repository; ok when the bucket has every file; warning, then critical past the RPO target; critical when unreadable", () => {
    expect(offsite(healthy())).toBeUndefined();
    const where = { description: "s3://b/prod/app" };
    expect(offsite({ ...healthy(), offsite: { ...where, pendingFiles: 0, lagSeconds: 0 } })?.state).toBe("ok");
    const rpo = healthy().thresholds.rpoSeconds;
    expect(offsite({ ...healthy(), offsite: { ...where, pendingFiles: 3, lagSeconds: rpo * 0.75 } })?.state).toBe("warning");
    const late = offsite({ ...healthy(), offsite: { ...where, pendingFiles: 40, lagSeconds: rpo + 60 } });
    expect(late).toMatchObject({ state: "critical", message: expect.stringContaining("40 archived WAL files are not in s3://b/prod/app") });
    expect(offsite({ ...healthy(), offsite: { ...where, error: "The bucket x does not exist" } })).toMatchObject({ state: "critical" });
  });

  it("judges the backups the bucket lacks by how long they have waited: ok just after a backup, warning after 15 minutes, critical after a day", () => {
    const backups = (inputs: HealthInputs) => evaluateHealth(inputs).find((c) => c.id === "offsite-backups");
    const inputs = healthy();
    const ago = (ms: number) => new Date(inputs.now.getTime() - ms).toISOString();
    const where = { description: "s3://b/prod/app" };
    expect(backups(inputs)).toBeUndefined();
    expect(backups({ ...inputs, offsiteBackups: { ...where, missing: [] } })).toMatchObject({ state: "ok", message: "Every backup is in s3://b/prod/app." });
    expect(backups({ ...inputs, offsiteBackups: { ...where, missing: [{ artifact: "app-x.dump.zst", finishedAt: ago(60_000) }] } })?.state).toBe("ok");
    const waiting = backups({
      ...inputs,
      offsiteBackups: {
        ...where,
        missing: [
          { artifact: "app-new.dump.zst", finishedAt: ago(60_000) },
          { artifact: "app-old.dump.zst", finishedAt: ago(40 * 60_000) },
        ],
      },
    });
    expect(waiting).toMatchObject({ state: "warning", message: expect.stringContaining("2 backups are not in s3://b/prod/app (the oldest, app-old.dump.zst") });
    expect(waiting?.message).toContain("npm run offsite -- push");
    expect(backups({ ...inputs, offsiteBackups: { ...where, missing: [{ artifact: "app-x.dump.zst", finishedAt: ago(25 * 3600_000) }] } })?.state).toBe(
      "critical",
    );
  });
});
