import { and, eq, inArray } from "drizzle-orm";
import { backupArtifacts } from "@/lib/db/schema";
import { MirroredRepository } from "@/lib/engine/offsite/offsite-repository";
import { listBaseBackups } from "@/lib/engine/pitr/plan-pitr";
import type { ArtifactKind } from "@/lib/engine/repository/artifact-kinds";
import {
  applyRetention,
  DEFAULT_RETENTION_DAYS,
  localRetentionSide,
  planRetention,
  type RetentionPlan,
  type RetentionResult,
  type RetentionSide,
} from "@/lib/engine/retention/plan-retention";
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
  /** With an off-site copy: its own plan (its own days) and what was deleted from the bucket. */
  offsite?: { description: string; days: number; plan: RetentionPlan; applied: RetentionResult | null } | undefined;
};

function everyKind(days: number | undefined): Partial<Record<ArtifactKind, number>> | undefined {
  return days === undefined ? undefined : { full: days, schema: days, json: days, env: days, base: days };
}

/**
 * The window computed from what stays. Retention deletes only WAL older than the oldest kept base
 * backup, and every range starts at a base backup, so the kept bases alone give the window after.
 */
async function windowOf(context: OperationContext, repository: Repository, deleted: Set<string>): Promise<RecoverableWindow | null> {
  const bases = await listBaseBackups(repository);
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
  params: (input) => ({
    dryRun: input.dryRun ?? false,
    days: input.days ?? DEFAULT_RETENTION_DAYS,
    keepNewest: input.keepNewest ?? 1,
    ...(input.offsiteDays ? { offsiteDays: input.offsiteDays } : {}),
  }),
  run: async (context, input) => {
    const repository = context.repository;
    const now = new Date();
    context.progress("checking every artifact");
    // With an off-site copy, each copy has its own retention: the bucket's is planned first, since
    // with object storage only its kept base backups are what the local WAL still serves.
    let offsite: { side: RetentionSide; plan: RetentionPlan; days: number } | undefined;
    let local: RetentionSide = localRetentionSide(repository);
    if (repository instanceof MirroredRepository) {
      const sides = await repository.retentionSides();
      // The bucket's listing (every manifest read back) is read once: the plan and the anchor below share it.
      const listing = await sides.offsite.list();
      const side: RetentionSide = { ...sides.offsite, list: async () => listing };
      const days = offsiteDaysOf(input, context);
      const plan = await planRetention({ repository: side, now, days: everyKind(days), keepNewest: input.keepNewest });
      offsite = { side, plan, days };
      local = sides.local;
      if (!repository.keepLocal) {
        const kept = new Set(plan.keeps.map((k) => k.artifact));
        local = { ...local, anchorBases: listing.artifacts.map((a) => a.manifest).filter((m) => m.kind === "base" && kept.has(m.artifact)) };
      }
    }
    const plan = await planRetention({ repository: local, now, days: everyKind(input.days), keepNewest: input.keepNewest });
    // An artifact leaves the window (and the catalog) only when no copy keeps it.
    const kept = new Set([...plan.keeps, ...(offsite?.plan.keeps ?? [])].map((k) => k.artifact));
    const deletedEverywhere = new Set([...plan.deletes, ...(offsite?.plan.deletes ?? [])].map((d) => d.artifact).filter((a) => !kept.has(a)));
    context.progress("computing the recoverable window");
    const windowBefore = await windowOf(context, repository, new Set());
    const windowAfter = await windowOf(context, repository, deletedEverywhere);
    const offsiteResult = offsite ? { description: offsite.side.description, days: offsite.days, plan: offsite.plan, applied: null } : undefined;
    context.emit({ type: "preview", data: { plan, windowBefore, windowAfter, offsite: offsiteResult } });
    if (input.dryRun) return { plan, windowBefore, windowAfter, applied: null, offsite: offsiteResult };
    context.progress("deleting", plan.bytesFreed + (offsite?.plan.bytesFreed ?? 0));
    const applied = await applyRetention(plan, local);
    const offsiteApplied = offsite ? await applyRetention(offsite.plan, offsite.side) : null;
    const { meta, target } = context;
    const removed = [...applied.artifacts, ...applied.alreadyGone, ...(offsiteApplied?.artifacts ?? []), ...(offsiteApplied?.alreadyGone ?? [])].filter(
      (name) => deletedEverywhere.has(name),
    );
    if (meta && target.id !== null && removed.length > 0)
      await meta.db
        .update(backupArtifacts)
        .set({ status: "deleted" })
        .where(and(eq(backupArtifacts.targetId, target.id), inArray(backupArtifacts.fileName, removed)))
        .catch((error: unknown) => context.warn(`the catalog could not mark the deleted artifacts: ${(error as Error).message}`));
    return { plan, windowBefore, windowAfter, applied, offsite: offsiteResult && { ...offsiteResult, applied: offsiteApplied } };
  },
  verdict: (result, input) => {
    const failed = [...(result.applied?.failed ?? []), ...(result.offsite?.applied?.failed ?? [])];
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
        ...(result.offsite ? { offsite_deletes: result.offsite.plan.deletes.length, offsite_wal_deletes: result.offsite.plan.walDeletes.length } : {}),
      },
      data: { plan: result.plan, windowBefore: result.windowBefore, windowAfter: result.windowAfter, applied: result.applied, offsite: result.offsite },
    };
  },
};

/** The off-site copy's days: asked for, else LIFEBOAT_OFFSITE_RETENTION_DAYS, else the local copy's. */
function offsiteDaysOf(input: TCleanupRequest, context: OperationContext): number {
  return input.offsiteDays ?? context.env.LIFEBOAT_OFFSITE_RETENTION_DAYS ?? input.days ?? DEFAULT_RETENTION_DAYS;
}
