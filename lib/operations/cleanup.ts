import { and, eq, inArray } from "drizzle-orm";
import { backupArtifacts } from "@/lib/db/schema";
import { listBaseBackups } from "@/lib/engine/pitr/plan-pitr";
import { applyRetention, DEFAULT_RETENTION_DAYS, planRetention, type RetentionPlan, type RetentionResult } from "@/lib/engine/retention/plan-retention";
import { computeRecoverableWindow, type RecoverableWindow } from "@/lib/engine/wal/recoverable-window";
import type { Repository } from "@/lib/engine/repository/repository";
import { ZCleanupRequest, type TCleanupRequest } from "@/lib/validations/operations";
import { identities } from "./settings";
import type { OperationContext, OperationDefinition } from "./types";

export type CleanupResult = {
  plan: RetentionPlan;
  /** The recoverable window now, and as it will be once the plan is applied. */
  windowBefore: RecoverableWindow | null;
  windowAfter: RecoverableWindow | null;
  applied: RetentionResult | null;
};

/**
 * The window computed from what stays. Retention deletes only WAL older than the oldest kept base
 * backup, and every range starts at a base backup, so the kept bases alone give the window after.
 */
async function windowOf(context: OperationContext, repository: Repository, plan: RetentionPlan | null): Promise<RecoverableWindow | null> {
  const bases = await listBaseBackups(repository);
  const deleted = new Set(plan?.deletes.map((d) => d.artifact) ?? []);
  const kept = bases.filter((b) => !deleted.has(b.artifact));
  if (bases.length === 0) return null;
  return computeRecoverableWindow({
    archiveDir: repository.archiveDir,
    baseBackups: kept,
    pgBinDir: context.env.PG_BIN_DIR,
    identities: await identities(context.env),
    signal: context.signal,
  }).catch((error: unknown) => {
    context.warn(`the recoverable window could not be computed: ${(error as Error).message}`);
    return null;
  });
}

/**
 * The seed's weekly cleanup: retention by age with a floor (the newest verified backup of each kind
 * stays however old) and the WAL the kept base backups need. A dry run shows exactly what would be
 * deleted, the bytes freed and the window afterwards, and changes nothing.
 */
export const cleanupOperation: OperationDefinition<TCleanupRequest, CleanupResult> = {
  kind: "cleanup",
  action: "retention.cleanup",
  permission: "retention.manage",
  input: ZCleanupRequest,
  // Plan and deletion under the target's lock: no backup or restore can start in between.
  lock: true,
  params: (input) => ({ dryRun: input.dryRun ?? false, days: input.days ?? DEFAULT_RETENTION_DAYS, keepNewest: input.keepNewest ?? 1 }),
  run: async (context, input) => {
    context.progress("checking every artifact");
    const plan = await planRetention({
      repository: context.repository,
      now: new Date(),
      days: input.days === undefined ? undefined : { full: input.days, schema: input.days, json: input.days, env: input.days, base: input.days },
      keepNewest: input.keepNewest,
    });
    context.progress("computing the recoverable window");
    const windowBefore = await windowOf(context, context.repository, null);
    const windowAfter = await windowOf(context, context.repository, plan);
    context.emit({ type: "preview", data: { plan, windowBefore, windowAfter } });
    if (input.dryRun) return { plan, windowBefore, windowAfter, applied: null };
    context.progress("deleting", plan.bytesFreed);
    const applied = await applyRetention(plan, context.repository);
    const { meta, target } = context;
    if (meta && target.id !== null && applied.artifacts.length + applied.alreadyGone.length > 0)
      await meta.db
        .update(backupArtifacts)
        .set({ status: "deleted" })
        .where(and(eq(backupArtifacts.targetId, target.id), inArray(backupArtifacts.fileName, [...applied.artifacts, ...applied.alreadyGone])))
        .catch((error: unknown) => context.warn(`the catalog could not mark the deleted artifacts: ${(error as Error).message}`));
    return { plan, windowBefore, windowAfter, applied };
  },
  verdict: (result, input) => {
    const failed = result.applied?.failed ?? [];
    return {
      ok: failed.length === 0,
      error: failed.length ? `${failed.length} file(s) could not be deleted: ${failed.map((f) => `${f.name} (${f.error})`).join(", ")}` : undefined,
      fields: {
        dry_run: input.dryRun ?? false,
        deletes: result.plan.deletes.length,
        wal_deletes: result.plan.walDeletes.length,
        bytes_freed: result.applied?.bytesFreed ?? result.plan.bytesFreed,
        wal_kept_from: result.plan.walKeptFrom,
        window_after: result.windowAfter?.stretches.map((s) => `${s.from.time}..${s.to.time}`).join(",") || null,
      },
      data: { plan: result.plan, windowBefore: result.windowBefore, windowAfter: result.windowAfter, applied: result.applied },
    };
  },
};
