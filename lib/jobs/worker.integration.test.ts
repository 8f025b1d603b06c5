import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { eq, inArray } from "drizzle-orm";
import type PgBoss from "pg-boss";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditLog, runs, schedules } from "@/lib/db/schema";
import { parseEnv, type TEnv } from "@/lib/env";
import { LocalRepository } from "@/lib/engine/repository/repository";
import { BackupLog } from "@/lib/log/backup-log";
import { resolveTarget } from "@/lib/targets/resolve-target";
import { createTestMetadataDb, type TestMetadataDb } from "@/test/helpers/metadata-db";
import { createTestTarget, type TestTarget } from "@/test/helpers/target";
import { enqueueOperation, OPERATIONS_QUEUE, openQueue, requestCancel } from "./queue";
import { ensureDefaultSchedules, runDueSchedules } from "./schedules";
import { startWorker, type Worker } from "./worker";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Jobs, schedules and workers against a real metadata database and a real target (issue 10). */
describe("the job queue, schedules and workers", () => {
  let target: TestTarget;
  let meta: TestMetadataDb;
  let work: string;
  let env: TEnv;
  let boss: PgBoss;
  let repository: LocalRepository;
  let targetId: number;
  const workers: Worker[] = [];
  const bosses: PgBoss[] = [];

  const services = () => ({ env, meta, log: new BackupLog(path.join(work, "logs")) });
  const worker = async (label: string, overrides: { env?: TEnv; onEvent?: (message: string) => void } = {}) => {
    const own = await openQueue(meta.url, { application: label });
    bosses.push(own);
    const w = await startWorker({
      services: { ...services(), ...(overrides.env ? { env: overrides.env } : {}) },
      boss: own,
      label,
      via: "worker",
      queues: [OPERATIONS_QUEUE],
      concurrency: 2,
      schedulerIntervalMs: 0,
      sampleIntervalMs: 0,
      onEvent: overrides.onEvent,
    });
    workers.push(w);
    return w;
  };
  const runOf = async (id: number) => (await meta.db.select().from(runs).where(eq(runs.id, id)))[0]!;
  const waitFinished = async (ids: number[], timeoutMs = 90_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const rows = await meta.db.select().from(runs).where(inArray(runs.id, ids));
      if (rows.length === ids.length && rows.every((r) => !["queued", "running"].includes(r.status))) return rows;
      if (Date.now() > deadline) throw new Error(`runs not finished: ${JSON.stringify(rows.map((r) => [r.id, r.status, r.phase]))}`);
      await sleep(250);
    }
  };

  beforeAll(async () => {
    target = await createTestTarget({ seed: true });
    meta = await createTestMetadataDb();
    work = await mkdtemp(path.join(os.tmpdir(), "lifeboat-jobs-"));
    env = parseEnv({
      DATABASE_URL: meta.url,
      DB_HOST: "127.0.0.1",
      DB_PORT: String(target.cluster.port),
      DB_NAME: target.connection.database,
      DB_USER: target.connection.user,
      DB_PASSWORD: target.connection.password,
      DB_TARGET_NAME: "app",
      BACKUP_DIR: path.join(work, "backups"),
      LOG_DIR: path.join(work, "logs"),
    });
    boss = await openQueue(meta.url);
    bosses.push(boss);
    targetId = (await resolveTarget({ env, db: meta.db })).id!;
    repository = new LocalRepository(env.BACKUP_DIR, "app");
  });

  afterAll(async () => {
    for (const w of workers) await w.stop().catch(() => undefined);
    for (const b of bosses) await b.stop({ graceful: false }).catch(() => undefined);
    await target?.remove();
    await meta?.drop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("a schedule fires at its time (the clock is the test's) and its backup runs on a worker", async () => {
    await ensureDefaultSchedules(meta.db, targetId, "UTC");
    const rows = await meta.db.select().from(schedules).where(eq(schedules.targetId, targetId));
    expect(rows.map((r) => [r.kind, r.cron]).sort()).toEqual([
      ["backup", "0 2 * * *"],
      ["cleanup", "0 3 * * 0"],
      ["verify", "0 4 1 * *"],
    ]);
    // As if the last firing was at 01:00 on Thursday 15 January.
    await meta.db
      .update(schedules)
      .set({ lastFiredAt: new Date("2026-01-15T01:00:00Z") })
      .where(eq(schedules.targetId, targetId));
    expect(await runDueSchedules(meta.db, boss, new Date("2026-01-15T01:59:59Z"))).toEqual([]);
    const fired = await runDueSchedules(meta.db, boss, new Date("2026-01-15T02:00:30Z"));
    expect(fired).toHaveLength(1);
    // Fired once: asking again at the same moment (another worker) fires nothing.
    expect(await runDueSchedules(meta.db, boss, new Date("2026-01-15T02:00:31Z"))).toEqual([]);
    const queued = await runOf(fired[0]!.runId);
    expect(queued).toMatchObject({ kind: "backup", status: "queued", triggeredBy: "schedule" });

    await worker("worker-a");
    const [done] = await waitFinished([fired[0]!.runId]);
    expect(done?.status, done?.error ?? "").toBe("succeeded");
    const kinds = (await repository.list()).artifacts.map((a) => a.manifest.kind).sort();
    expect(kinds).toEqual(["full", "json", "schema"]);
  });

  it("two workers never run one target's operations at once [S13]", async () => {
    await worker("worker-b");
    const queued = [];
    for (let i = 0; i < 3; i++) {
      queued.push(
        await enqueueOperation(meta.db, boss, {
          kind: "backup",
          input: { target: "app", kinds: ["schema"] },
          targetId,
          actor: { label: "test", userId: null, via: "cli" },
        }),
      );
    }
    const done = await waitFinished(queued.map((q) => q.runId));
    expect(done.map((r) => r.status)).toEqual(["succeeded", "succeeded", "succeeded"]);
    const spans = done.map((r) => [r.startedAt!.getTime(), r.finishedAt!.getTime()] as const).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0], "runs overlapped").toBeGreaterThanOrEqual(spans[i - 1]![1]);
  });

  it("a cancelled job stops, leaves nothing behind, and its run says canceled; a queued one never starts", async () => {
    await target.query("create table bulk as select g, md5(g::text) || md5((g * 7)::text) as payload from generate_series(1, 600000) g");
    const before = (await repository.list()).artifacts.map((a) => a.manifest.artifact).sort();
    const slow = parseEnv({
      ...Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])),
      LIFEBOAT_DUMP_COMPRESSOR: "pg_dump",
      LIFEBOAT_DUMP_COMPRESSION: "9",
    });
    // Only a worker with the slow settings from here on.
    for (const w of workers.splice(0)) await w.stop();
    await worker("worker-slow", { env: slow });
    const running = await enqueueOperation(meta.db, boss, {
      kind: "backup",
      input: { target: "app", kinds: ["full"] },
      targetId,
      actor: { label: "test", userId: null, via: "cli" },
    });
    const waiting = await enqueueOperation(meta.db, boss, {
      kind: "backup",
      input: { target: "app", kinds: ["schema"] },
      targetId,
      actor: { label: "test", userId: null, via: "cli" },
    });
    expect(await requestCancel(meta.db, boss, waiting.runId)).toBe("canceled");
    // The worker has picked the job up and pg_dump is writing (a deadline, not a fixed pause: the machine may be busy).
    const deadline = Date.now() + 60_000;
    while ((await runOf(running.runId)).status !== "running" || !(await readdir(repository.dir)).some((n) => n.startsWith(".tmp-"))) {
      if (Date.now() > deadline) throw new Error(`the backup never started writing: ${JSON.stringify(await runOf(running.runId))}`);
      await sleep(50);
    }
    expect(await requestCancel(meta.db, boss, running.runId)).toBe("requested");
    const [stopped] = await waitFinished([running.runId], 30_000);
    expect(stopped).toMatchObject({ status: "canceled" });
    expect((await readdir(repository.dir)).filter((n) => n.startsWith("."))).toEqual([]);
    expect((await repository.list()).artifacts.map((a) => a.manifest.artifact).sort()).toEqual(before);
    expect(await runOf(waiting.runId)).toMatchObject({ status: "canceled", startedAt: null });
    await target.query("drop table bulk");
  });

  it("a worker start marks the running runs of dead processes on this host interrupted, whatever their kind, each with its log line and audit row [S26]", async () => {
    /** A pid that was alive on this host a moment ago and is not any more. */
    const deadPid = async () => {
      const child = spawn("true");
      await new Promise((resolve) => child.once("exit", resolve));
      return child.pid!;
    };
    const plant = async (kind: string, pid: number) => {
      const [row] = await meta.db
        .insert(runs)
        .values({ targetId, kind, status: "running", host: os.hostname(), pid, startedAt: new Date(), phase: "working", triggeredBy: "cli" })
        .returning({ id: runs.id });
      return row!.id;
    };
    const dead = new Map<number, string>();
    for (const kind of ["restore-env", "pitr", "restore-json", "verify"]) dead.set(await plant(kind, await deadPid()), kind);
    // A run whose process still lives (another Lifeboat on this host, busy) is left alone.
    const alive = spawn("sleep", ["300"], { stdio: "ignore" });
    const living = await plant("backup", alive.pid!);
    const logFile = path.join(work, "logs", "backup.log");
    const linesBefore = (await readFile(logFile, "utf8").catch(() => "")).split("\n").filter(Boolean).length;
    const events: string[] = [];
    try {
      for (const w of workers.splice(0)) await w.stop();
      await worker("worker-after-a-crash", { onEvent: (m) => events.push(m) });

      for (const [id, kind] of dead) {
        const record = await runOf(id);
        expect(record, kind).toMatchObject({ status: "interrupted", phase: "interrupted" });
        expect(record.finishedAt, kind).toBeInstanceOf(Date);
        expect(record.error, kind).toMatch(/interrupted/);
        expect(
          events.filter((e) => e.startsWith(`run ${id} (${kind} of app) had been interrupted`)),
          kind,
        ).toHaveLength(1);
      }
      expect(await runOf(living)).toMatchObject({ status: "running", finishedAt: null });

      // Its process could not write them: the worker writes one log line and one audit row per dead run.
      const lines = (await readFile(logFile, "utf8")).split("\n").filter(Boolean).slice(linesBefore);
      for (const [id, kind] of dead) {
        const own = lines.filter((l) => new RegExp(` run=${id}( |$)`).test(l));
        expect(own, `${kind}: ${lines.join("\n")}`).toHaveLength(1);
        expect(own[0]).toMatch(/ ERROR interrupted target=app status=INTERRUPTED /);
        expect(own[0]).toContain(`kind=${kind}`);
      }
      expect(lines.filter((l) => new RegExp(` run=${living}( |$)`).test(l))).toEqual([]);
      const audit = (await meta.db.select().from(auditLog).where(eq(auditLog.action, "runs.interrupted"))).map((a) => ({
        runId: (a.details as { runId?: number }).runId,
        kind: (a.details as { kind?: string }).kind,
        outcome: a.outcome,
        subject: a.subject,
      }));
      for (const [id, kind] of dead) expect(audit.filter((a) => a.runId === id)).toEqual([{ runId: id, kind, outcome: "failed", subject: "app" }]);
      expect(audit.filter((a) => a.runId === living)).toEqual([]);
    } finally {
      alive.kill("SIGKILL");
      await meta.db.update(runs).set({ status: "failed", finishedAt: new Date() }).where(eq(runs.id, living));
    }
  });
});
