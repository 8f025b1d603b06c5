import { chmod, mkdir } from "node:fs/promises";
import path from "node:path";
import { findFreePort } from "@/lib/engine/cluster/free-port";
import { handToOsUser, isRoot } from "@/lib/engine/cluster/os-user";
import { InvalidInputError } from "@/lib/engine/errors";
import { MirroredRepository } from "@/lib/engine/offsite/offsite-repository";
import { listBaseBackups, planPitr, type PitrPlan } from "@/lib/engine/pitr/plan-pitr";
import type { Manifest } from "@/lib/engine/repository/manifest";
import { parseLsn, segmentFileName, segmentOf } from "@/lib/engine/wal/wal-names";
import { describeTarget, parseRecoveryTarget, type RecoveryTarget } from "@/lib/engine/pitr/recovery-target";
import { pitrInPlace, pitrToNewInstance, type PitrOutcome } from "@/lib/engine/pitr/run-pitr";
import { backupTimestamp } from "@/lib/engine/repository/artifact-kinds";
import { switchAndWaitForArchive } from "@/lib/engine/wal/archive-now";
import { adoptStreamedWal } from "@/lib/engine/wal/stream-wal";
import { managedClusterOf } from "@/lib/targets/resolve-target";
import { ZPitrRequest, type TPitrRequest } from "@/lib/validations/operations";
import { identities } from "./settings";
import type { OperationContext, OperationDefinition } from "./types";

export function recoveryTargetOf(input: TPitrRequest, zone: string): RecoveryTarget {
  try {
    return parseRecoveryTarget({ time: input.time, name: input.name, lsn: input.lsn, latest: input.latest }, zone);
  } catch (error) {
    throw new InvalidInputError((error as Error).message);
  }
}

/**
 * Recover to now: the moment just before the damage usually sits in the current, unarchived WAL
 * segment (archive_timeout is a minute or more). When the target is reachable its segment is
 * closed and archived before anything is planned; when it is not (it crashed), what was archived
 * is what can be recovered, and the person is told so.
 */
async function archiveLatestWal(context: OperationContext): Promise<void> {
  context.progress("archiving the latest WAL");
  try {
    await switchAndWaitForArchive({
      connection: context.target.connection,
      archiveDir: context.repository.archiveDir,
      timeoutMs: 60_000,
      signal: context.signal,
    });
  } catch (error) {
    if (context.signal.aborted) throw error;
    // The server cannot close its segment (it crashed?): WAL streaming may hold that segment's commits.
    const adopted = await adoptStreamedWal({
      streamDir: context.repository.streamDir,
      archiveDir: context.repository.archiveDir,
      osUser: context.target.osUser,
    }).catch(() => undefined);
    context.warn(
      `${(error as Error).message.replace(/\.$/, "")}${adopted ? `; the newest segment as WAL streaming received it (${adopted}) is used instead` : ""} (the plan below shows what can be recovered).`,
    );
  }
}

/**
 * With an off-site copy, the WAL only the bucket holds (a new host, a lost archive disk) is
 * fetched into the local archive before planning (the plan reads every record it would replay),
 * several segments at a time, each checked against the sha256 recorded when it was shipped (and
 * decrypted when the copy is encrypted): recovery then replays without a round trip to the bucket
 * per segment, and the server never holds the bucket's credentials. Only the WAL from the base
 * backup the target needs is fetched, not the whole off-site history. Files are handed to the
 * cluster's OS user, whose restore_command reads them.
 */
async function fetchOffsiteWal(context: OperationContext, target: RecoveryTarget): Promise<void> {
  const repository = context.repository;
  if (!(repository instanceof MirroredRepository)) return;
  try {
    await repository.prepareArchive();
    const start = startingBase(await listBaseBackups(repository), target);
    const from =
      start?.walStartLsn && start.timeline
        ? segmentFileName(start.timeline, segmentOf(parseLsn(start.walStartLsn), start.walSegmentSize), start.walSegmentSize)
        : undefined;
    const fetched = await repository.offsite.fetchWal(repository.archiveDir, { concurrency: 4, from });
    if (fetched.length) {
      await handToOsUser(context.target.osUser, ...fetched.map((n) => path.join(repository.archiveDir, n)));
      context.progress(`fetched ${fetched.length} WAL files from ${repository.offsite.description}`);
    }
  } catch (error) {
    if (context.signal.aborted) throw error;
    context.warn(`WAL could not be fetched from ${repository.offsite.description}: ${(error as Error).message} (the plan uses the local archive only)`);
  }
}

/**
 * The base backup recovery to `target` would start from, judged from the manifests alone: the
 * newest that finished before a time (or started before an LSN), the newest for "latest", the
 * oldest when that cannot be known (a restore point's position is only in the WAL).
 */
export function startingBase(bases: Manifest[], target: RecoveryTarget): Manifest | undefined {
  const before = (m: Manifest) => {
    if (target.kind === "time") return Date.parse(m.finishedAt) <= target.utc.getTime();
    if (target.kind === "lsn") return m.walStartLsn !== undefined && parseLsn(m.walStartLsn) <= parseLsn(target.lsn);
    return target.kind === "latest";
  };
  return bases.filter(before).at(-1) ?? bases[0];
}

async function plan(context: OperationContext, input: TPitrRequest): Promise<PitrPlan> {
  const target = recoveryTargetOf(input, context.env.LIFEBOAT_TIMEZONE);
  await archiveLatestWal(context);
  await fetchOffsiteWal(context, target);
  return planPitr({
    repository: context.repository,
    target,
    pgBinDir: context.env.PG_BIN_DIR,
    identities: await identities(context.env),
    signal: context.signal,
  });
}

/**
 * Where a recovered instance goes by default: .lifeboat/pitr/<target>-<time>/ under the working
 * folder, whose parents the cluster's OS user can pass through when Lifeboat runs as root.
 */
async function newInstanceFolder(context: OperationContext, input: TPitrRequest): Promise<string> {
  if (input.dataDir) return path.resolve(input.dataDir);
  const parent = path.resolve(".lifeboat", "pitr");
  await mkdir(parent, { recursive: true, mode: 0o711 });
  if (isRoot()) {
    await chmod(path.dirname(parent), 0o711);
    await chmod(parent, 0o711);
  }
  return path.join(parent, `${context.target.name}-${backupTimestamp(new Date())}`);
}

export const pitrOperation: OperationDefinition<TPitrRequest, { plan: PitrPlan; outcome: PitrOutcome }> = {
  kind: "pitr",
  action: "backups.pitr",
  permission: "backups.pitr",
  input: ZPitrRequest,
  lock: true,
  // In place stops, replaces and starts the cluster: only a process on its host can do that.
  host: (input) => input.mode === "in-place",
  confirmation: (input, target) =>
    input.mode === "in-place" ? { what: `Point-in-time recovery of ${target.name} in place`, database: target.connection.database } : undefined,
  check: (context, input) => {
    if (input.mode === "in-place" && !context.target.dataDir) {
      throw new InvalidInputError(
        `${context.target.name} is not a managed cluster (no data directory on this host: DB_DATA_DIR, or --data-dir of npm run target), so it cannot be recovered in place; recover into a new instance (--to-new-instance).`,
      );
    }
  },
  // The plan (UTC instant, base backup, WAL to replay) is shown before anything is confirmed or changed.
  preview: (context, input) => plan(context, input),
  params: (input) => ({
    recovery_target: input.latest ? "latest" : (input.time ?? (input.name ? `name:${input.name}` : `lsn:${input.lsn}`)),
    mode: input.mode,
  }),
  run: async (context, input) => {
    const cluster = input.mode === "in-place" ? managedClusterOf(context.target, context.env.PG_BIN_DIR) : null;
    // Planned again under the lock: the archive may have moved on since the preview.
    const thePlan = await plan(context, input);
    if (context.repository instanceof MirroredRepository && (await context.repository.materialize(thePlan.base.artifact)) === "fetched")
      context.progress(`fetched ${thePlan.base.artifact} from ${context.repository.offsite.description}`);
    const common = {
      plan: thePlan,
      repository: context.repository,
      connection: context.target.connection,
      osUser: context.target.osUser,
      pgBinDir: context.env.PG_BIN_DIR,
      identities: await identities(context.env),
      signal: context.signal,
      journal: context.journal,
      onPhase: (phase: string) => context.progress(phase),
    };
    if (input.mode === "new-instance") {
      const baseDir = await newInstanceFolder(context, input);
      const outcome = await pitrToNewInstance({ ...common, baseDir, port: input.port ?? (await findFreePort()) });
      for (const warning of outcome.warnings) context.warn(warning);
      return { plan: thePlan, outcome };
    }
    const outcome = await pitrInPlace({ ...common, cluster: cluster!, keepPrevious: context.env.LIFEBOAT_PITR_KEEP_PREVIOUS });
    for (const warning of outcome.warnings) context.warn(warning);
    // The new timeline's history file and first segment reach the archive now: the recoverable
    // window goes on along the new timeline at once.
    await archiveLatestWal(context);
    return { plan: thePlan, outcome };
  },
  verdict: ({ plan: thePlan, outcome }) => ({
    ok: true,
    fields: {
      recovered_to: describeTarget(thePlan.target),
      base: thePlan.base.artifact,
      port: outcome.port,
      timeline: outcome.timeline,
      last_replayed: outcome.lastReplayed,
      duration_ms: outcome.durationMs,
    },
    // The recovered instance's port and row counts (beside the live database's) for the preview; never a password.
    data: {
      mode: outcome.mode,
      port: outcome.port,
      // Where a new instance runs, so the dashboard can stop and remove it (a folder Lifeboat made).
      dataDir: outcome.mode === "new-instance" ? outcome.dataDir : null,
      timeline: outcome.timeline,
      lastReplayed: outcome.lastReplayed,
      preview: outcome.preview ?? null,
      warnings: outcome.warnings,
    },
  }),
};
