import { InvalidInputError } from "@/lib/engine/errors";
import { MirroredRepository } from "@/lib/engine/offsite/offsite-repository";
import type { Manifest } from "@/lib/engine/repository/manifest";
import { LocalRepository } from "@/lib/engine/repository/repository";
import { ZOffsitePushRequest, type TOffsitePushRequest } from "@/lib/validations/operations";
import type { OperationContext, OperationDefinition } from "./types";

export type OffsiteOutcome = {
  /** Artifacts now in the bucket (sent by this run, or found there already). */
  pushed: string[];
  /** WAL files shipped by this run. */
  walShipped: number;
  /** Whether local copies are kept (local and off-site) or removed once off-site (object storage only). */
  keepLocal: boolean;
  /** Why some did not reach the bucket (they stay local and the next run sends them). */
  error?: string | undefined;
};

/**
 * After a backup: copy each new artifact to the bucket (files, then the manifest), and ship the
 * WAL archived since the last round so a base backup's WAL is off-site with it. With object
 * storage only, the local copy is removed once the bucket has it; if the upload failed, it stays.
 */
export async function copyOffsite(context: OperationContext, manifests: Manifest[]): Promise<OffsiteOutcome | undefined> {
  const repository = context.repository;
  if (!(repository instanceof MirroredRepository)) return undefined;
  const outcome: OffsiteOutcome = { pushed: [], walShipped: 0, keepLocal: repository.keepLocal };
  try {
    // This run's artifacts, and any earlier one whose copy failed (it stayed local): a failed
    // upload is retried by the next backup, not forgotten.
    // With object storage only, a local copy left behind (its bucket copy was not checked
    // complete) is checked again and removed: every local backup goes through push.
    const pending = await repository.notOffsiteYet();
    const earlier = (repository.keepLocal ? pending.artifacts : pending.sendable).filter((m) => !manifests.some((n) => n.artifact === m.artifact));
    for (const manifest of [...manifests, ...earlier]) {
      context.progress(`offsite: uploading ${manifest.artifact}`, manifest.sizeBytes);
      await repository.offsite.push(repository, manifest, { signal: context.signal });
      if (manifests.includes(manifest)) outcome.pushed.push(manifest.artifact);
      if (!repository.keepLocal) await discardLocalCopy(repository, manifest);
    }
    context.progress("offsite: shipping WAL");
    outcome.walShipped = (await repository.offsite.shipWal(repository.archiveDir, { signal: context.signal })).shipped.length;
  } catch (error) {
    if (context.signal.aborted) throw error;
    outcome.error = `not copied to ${repository.offsite.description}: ${(error as Error).message}`;
    context.warn(`off-site copy ${outcome.error} (kept locally; the next backup or npm run offsite -- push sends it)`);
  }
  return outcome;
}

/**
 * Object storage only: the local copy goes once the bucket's copy is checked complete (every
 * object present with the manifest's size and sha256, a folder's file list too), never on the
 * strength of its manifest alone.
 */
async function discardLocalCopy(repository: MirroredRepository, manifest: Manifest): Promise<void> {
  const offsite = await repository.offsite.verify(manifest);
  if (!offsite.ok) throw new Error(`the bucket's copy of ${manifest.artifact} is incomplete (${offsite.problems.join("; ")}); the local copy is kept`);
  await LocalRepository.prototype.discard.call(repository, manifest.artifact);
}

export type OffsitePushResult = {
  description: string;
  pushed: string[];
  already: number;
  /** Local backups the bucket's own retention already removed: not sent again. */
  retired: number;
  walShipped: number;
  walPending: number;
  removedLocally: string[];
};

/**
 * `npm run offsite -- push`: every local artifact the bucket lacks (files, then manifest), then the
 * WAL archive's new files. Under the target's lock, so no backup, restore or cleanup changes the
 * folder meanwhile, and two workers never send one backup twice (an artifact whose manifest is in
 * the bucket is skipped).
 */
export const offsitePushOperation: OperationDefinition<TOffsitePushRequest, OffsitePushResult> = {
  kind: "offsite-push",
  action: "backups.offsite-push",
  permission: "backups.run",
  input: ZOffsitePushRequest,
  lock: true,
  check: (context) => {
    if (!(context.repository instanceof MirroredRepository))
      throw new InvalidInputError("No off-site repository is configured: set LIFEBOAT_S3_BUCKET (and LIFEBOAT_S3_ENDPOINT for storage other than AWS).");
  },
  params: () => ({}),
  run: async (context) => {
    const repository = context.repository as MirroredRepository;
    const result: OffsitePushResult = {
      description: repository.offsite.description,
      pushed: [],
      already: 0,
      retired: 0,
      walShipped: 0,
      walPending: 0,
      removedLocally: [],
    };
    const local = await repository.listLocal();
    const { artifacts: retired } = await repository.offsite.retired();
    for (const { manifest } of [...local.artifacts].reverse()) {
      if (retired.has(manifest.artifact)) {
        result.retired++;
        continue;
      }
      context.progress(`uploading ${manifest.artifact}`, manifest.sizeBytes);
      if ((await repository.offsite.push(repository, manifest, { signal: context.signal })) === "pushed") result.pushed.push(manifest.artifact);
      else result.already++;
      if (!repository.keepLocal) {
        await discardLocalCopy(repository, manifest);
        result.removedLocally.push(manifest.artifact);
      }
    }
    context.progress("shipping WAL");
    const wal = await repository.offsite.shipWal(repository.archiveDir, { signal: context.signal });
    result.walShipped = wal.shipped.length;
    result.walPending = wal.pending;
    return result;
  },
  verdict: (result) => ({
    ok: true,
    fields: { offsite: result.description, pushed: result.pushed.length, already: result.already, wal_shipped: result.walShipped },
    data: { ...result },
  }),
};
