import "server-only";
import { hostname } from "node:os";
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import { eq } from "drizzle-orm";
import { z } from "zod";
import { runs, targets } from "@/lib/db/schema";
import { ManagedCluster } from "@/lib/engine/cluster/managed-cluster";
import { LifeboatError } from "@/lib/engine/errors";
import { listTables } from "@/lib/engine/logical/catalog-queries";
import { planPitr } from "@/lib/engine/pitr/plan-pitr";
import { describeTarget } from "@/lib/engine/pitr/recovery-target";
import { PITR_INSTANCE_MARKER } from "@/lib/engine/pitr/run-pitr";
import { withClient } from "@/lib/engine/pg/server-info";
import { DEFAULT_SEGMENT_SIZE, parseLsn, segmentFileName, segmentOf } from "@/lib/engine/wal/wal-names";
import { pitrOperation, recoveryTargetOf } from "@/lib/operations/pitr";
import { identities } from "@/lib/operations/settings";
import { resolveTarget } from "@/lib/targets/resolve-target";
import { ZPitrRequest, type TPitrRequest } from "@/lib/validations/operations";
import { defineAction, type ActionContext } from "./action";
import { enqueueAs } from "./operations";
import type { PitrPlanView, PitrRunData, RecoveredRowsView } from "./pitr-view";

/** Rows shown of a table in a recovered instance. */
const FIRST_ROWS = 20;
/** Characters shown of one value. */
const CELL_CHARS = 200;

class PitrInstanceError extends LifeboatError {
  constructor(message: string) {
    super("PITR_INSTANCE", message);
  }
}

/**
 * The operation's plan for a moment, without closing the current WAL segment first: the page
 * previews on every change of the picker, and each pg_switch_wal would add a 16 MiB segment to the
 * archive. The run itself archives the latest WAL and plans again under the target's lock
 * (lib/operations/pitr.ts). A moment that cannot be reached is refused with the planner's words.
 */
async function planFor(context: ActionContext, input: TPitrRequest) {
  const target = await resolveTarget({ env: context.env, db: context.db, name: input.target });
  const plan = await planPitr({
    repository: target.repository,
    target: recoveryTargetOf(input, context.env.LIFEBOAT_TIMEZONE),
    pgBinDir: context.env.PG_BIN_DIR,
    identities: await identities(context.env),
  });
  return { target, plan };
}

export const planPitrAction = defineAction({
  action: `${pitrOperation.action}.plan`,
  permission: pitrOperation.permission,
  input: ZPitrRequest,
  subject: (input) => input.target ?? null,
  run: async (context, input): Promise<PitrPlanView> => {
    const { plan } = await planFor(context, input);
    const size = plan.base.walSegmentSize ?? DEFAULT_SEGMENT_SIZE;
    const first = segmentOf(parseLsn(plan.range.from.lsn), size);
    const last = segmentOf(parseLsn(plan.targetLsn ?? plan.range.to.lsn), size);
    return {
      utc: plan.target.kind === "time" ? plan.target.utc.toISOString() : "",
      described: describeTarget(plan.target),
      base: {
        artifact: plan.base.artifact,
        finishedAt: plan.base.finishedAt,
        walStartLsn: plan.base.walStartLsn ?? null,
        walStopLsn: plan.base.walStopLsn ?? null,
        timeline: plan.base.timeline ?? null,
      },
      wal: {
        timeline: plan.range.timeline,
        fromLsn: plan.range.from.lsn,
        targetLsn: plan.targetLsn ?? null,
        firstSegment: segmentFileName(plan.base.timeline ?? plan.range.timeline, first, size),
        lastSegment: segmentFileName(plan.range.timeline, last, size),
        segments: Number(last - first) + 1,
        archiveReaches: plan.range.to,
      },
    };
  },
});

/**
 * Queue a PITR from the page. The moment is planned first, so a moment outside the window is
 * refused now with the operation's own message (not minutes later on a worker). The data folder
 * and port of a new instance are Lifeboat's choice from the browser, never a path a request names.
 */
export const requestPitrAction = defineAction({
  action: `${pitrOperation.action}.request`,
  permission: pitrOperation.permission,
  input: ZPitrRequest.refine((v) => v.dataDir === undefined && v.port === undefined, {
    message: "the dashboard chooses the new instance's folder and port itself",
  }),
  subject: (input) => input.target ?? null,
  run: async (context, input) => {
    await planFor(context, input);
    return enqueueAs(context, "pitr", input);
  },
});

const ZRunRef = z.object({ runId: z.coerce.number().int().positive() });

/** A finished recovery into a new instance, from its run record, with the target it copied. */
async function recoveredInstance(context: ActionContext, runId: number) {
  const [run] = await context.db.select().from(runs).where(eq(runs.id, runId)).limit(1);
  if (!run || run.kind !== pitrOperation.kind) throw new PitrInstanceError(`Run ${runId} is not a point-in-time recovery.`);
  const data = (run.result as { data?: PitrRunData } | null)?.data;
  if (run.status !== "succeeded" || !data || data.mode !== "new-instance")
    throw new PitrInstanceError(`Run ${runId} did not leave a recovered instance (it is ${run.status}${data?.mode === "in-place" ? ", in place" : ""}).`);
  const [row] = run.targetId === null ? [] : await context.db.select({ name: targets.name }).from(targets).where(eq(targets.id, run.targetId)).limit(1);
  // The instance runs where the worker ran the recovery: from another host, 127.0.0.1 is not it.
  if (run.host && run.host !== hostname())
    throw new PitrInstanceError(
      `The recovered instance of run ${runId} runs on ${run.host}, not on this dashboard's host (${hostname()}): look into it or stop it there (pg_ctl stop -D <folder>).`,
    );
  const target = await resolveTarget({ env: context.env, db: context.db, name: row?.name });
  return { run, data, target, connection: { ...target.connection, host: "127.0.0.1", port: data.port } };
}

function cellText(value: unknown): string {
  if (value === null || value === undefined) return "NULL";
  const text =
    value instanceof Date
      ? value.toISOString()
      : Buffer.isBuffer(value)
        ? `\\x${value.toString("hex")}`
        : typeof value === "object"
          ? JSON.stringify(value)
          : String(value);
  return text.length > CELL_CHARS ? `${text.slice(0, CELL_CHARS)}…` : text;
}

/** The first rows of one table of a recovered instance, read with the target's own credentials. */
export const recoveredRowsAction = defineAction({
  action: `${pitrOperation.action}.inspect`,
  permission: pitrOperation.permission,
  input: ZRunRef.extend({ table: z.string().min(1).max(300) }),
  subject: (input) => `run ${input.runId}`,
  run: async (context, input): Promise<RecoveredRowsView> => {
    const { connection, data } = await recoveredInstance(context, input.runId);
    try {
      return await withClient(
        connection,
        async (client) => {
          // Only a table the instance itself lists, by its quoted name: nothing from the request reaches SQL.
          const table = (await listTables(client)).find((t) => t.qualified === input.table);
          if (!table) throw new PitrInstanceError(`The recovered instance has no table ${input.table}.`);
          const result = await client.query({ text: `select * from only ${table.qualified} limit ${FIRST_ROWS}`, rowMode: "array" });
          return {
            table: table.qualified,
            columns: result.fields.map((f) => f.name),
            rows: (result.rows as unknown[][]).map((r) => r.map(cellText)),
            limit: FIRST_ROWS,
          };
        },
        10_000,
      );
    } catch (error) {
      if (error instanceof LifeboatError) throw error;
      throw new PitrInstanceError(`The recovered instance on port ${data.port} did not answer (was it stopped?): ${(error as Error).message}`);
    }
  },
});

/**
 * Stop a recovered instance and remove its folder. Only a folder Lifeboat made for a recovered
 * instance (it holds the marker) is touched, whatever the run record says; it must be on this host.
 */
export const discardInstanceAction = defineAction({
  action: `${pitrOperation.action}.discard`,
  permission: pitrOperation.permission,
  input: ZRunRef,
  subject: (input) => `run ${input.runId}`,
  run: async (context, input) => {
    const { data, target } = await recoveredInstance(context, input.runId);
    const dataDir = data.dataDir;
    if (typeof dataDir !== "string" || !path.isAbsolute(dataDir) || path.basename(dataDir) !== "pgdata")
      throw new PitrInstanceError(`Run ${input.runId} does not say where its instance runs; stop it on the worker's host (pg_ctl stop).`);
    const baseDir = path.dirname(dataDir);
    if (!existsSync(baseDir)) return { stopped: false, message: `The recovered instance of run ${input.runId} is already gone (or runs on another host).` };
    if (!existsSync(path.join(baseDir, PITR_INSTANCE_MARKER)))
      throw new PitrInstanceError(`${baseDir} is not a folder Lifeboat made for a recovered instance; left alone.`);
    const instance = new ManagedCluster({ dataDir, control: { method: "pg_ctl" }, osUser: target.osUser, pgBinDir: context.env.PG_BIN_DIR });
    await instance.stop("fast", { timeoutMs: 60_000 });
    await rm(baseDir, { recursive: true, force: true });
    return { stopped: true, message: `Stopped the recovered instance on port ${data.port} and removed ${baseDir}.` };
  },
});
