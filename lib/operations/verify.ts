import { and, eq } from "drizzle-orm";
import { backupArtifacts } from "@/lib/db/schema";
import { InvalidInputError } from "@/lib/engine/errors";
import { listBaseBackups } from "@/lib/engine/pitr/plan-pitr";
import { kindOfFileName } from "@/lib/engine/repository/artifact-kinds";
import type { Verification } from "@/lib/engine/repository/repository";
import { drillLogical, drillPitr, type LogicalDrill, type PitrDrill } from "@/lib/engine/verify/run-drill";
import { ZVerifyRequest, type TVerifyRequest } from "@/lib/validations/operations";
import { identities } from "./settings";
import type { OperationContext, OperationDefinition } from "./types";

export type VerifyResult = { logical: LogicalDrill; pitr: PitrDrill | null; pitrSkipped: string | null };

/** The drill's verdict on an artifact: beside it in the repository (the truth) and in the catalog (for the dashboard). */
async function recordDrill(context: OperationContext, artifact: string, verification: Verification): Promise<void> {
  await context.repository.recordVerification(artifact, verification);
  const { meta, target } = context;
  if (meta && target.id !== null)
    await meta.db
      .update(backupArtifacts)
      .set({
        verifiedAt: new Date(verification.at),
        verifyStatus: verification.ok ? "ok" : "failed",
        ...(verification.ok ? {} : { status: "damaged" as const }),
      })
      .where(and(eq(backupArtifacts.targetId, target.id), eq(backupArtifacts.fileName, artifact)))
      .catch((error: unknown) => context.warn(`the catalog could not record the drill of ${artifact}: ${(error as Error).message}`));
}

async function newestFull(context: OperationContext): Promise<string> {
  const { artifacts } = await context.repository.list();
  const full = artifacts.filter((a) => a.manifest.kind === "full").sort((a, b) => Date.parse(b.manifest.finishedAt) - Date.parse(a.manifest.finishedAt))[0];
  if (!full) throw new InvalidInputError(`${context.target.name} has no full backup to drill yet; run a backup first.`);
  return full.manifest.artifact;
}

/** The JSON export written with a full dump (same backup set, same timestamp), if the repository holds it. */
async function jsonOfSameSet(context: OperationContext, fullName: string): Promise<string | undefined> {
  const stamp = fullName.match(/\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z/)?.[0];
  if (!stamp) return undefined;
  const { artifacts } = await context.repository.list();
  return artifacts.find((a) => a.manifest.kind === "json" && a.manifest.artifact.includes(stamp))?.manifest.artifact;
}

/**
 * The seed's monthly verification: restore the newest full dump (or the one named) on a throwaway
 * cluster and compare every table with its manifest, restore the JSON export of the same set over
 * it (the partial restore), and recover to a random moment of the window on a throwaway instance.
 * Each drill's duration is a measured RTO; each drilled artifact is marked verified or failed.
 */
export const verifyOperation: OperationDefinition<TVerifyRequest, VerifyResult> = {
  kind: "verify",
  action: "backups.verify",
  permission: "backups.verify",
  input: ZVerifyRequest,
  // Holds the target's lock so retention cannot delete what is being drilled.
  lock: true,
  params: (input) => ({ file: input.file ?? "latest", pitr: input.pitr ?? "when possible" }),
  check: async (context, input) => {
    if (input.pitr === true && (await listBaseBackups(context.repository)).length === 0)
      throw new InvalidInputError(`${context.target.name} has no base backup, so there is nothing to drill a point-in-time recovery from.`);
  },
  run: async (context, input) => {
    const ids = await identities(context.env);
    const pgBinDir = context.env.PG_BIN_DIR;
    const fileName = input.file ?? (await newestFull(context));
    const logical = await drillLogical({
      repository: context.repository,
      fileName,
      jsonFileName: await jsonOfSameSet(context, fileName),
      pgBinDir,
      identities: ids,
      signal: context.signal,
      onPhase: (phase) => context.progress(phase),
    }).catch(async (error: unknown) => {
      // A dump that cannot even be restored (files changed, pg_restore refused it) failed its drill.
      if (!context.signal.aborted && kindOfFileName(fileName) === "full")
        await recordDrill(context, fileName, { tool: "restore drill", at: new Date().toISOString(), ok: false, detail: (error as Error).message }).catch(
          () => undefined,
        );
      throw error;
    });
    const at = new Date().toISOString();
    await recordDrill(context, logical.file, {
      tool: "restore drill",
      at,
      ok: logical.tables.every((t) => t.ok),
      durationMs: logical.durationMs,
      detail: logical.problem ?? undefined,
    });
    if (logical.partial)
      await recordDrill(context, logical.partial.file, {
        tool: "restore drill (JSON)",
        at,
        ok: logical.partial.ok,
        durationMs: logical.partial.durationMs,
        detail: logical.partial.problem ?? undefined,
      });

    let pitr: PitrDrill | null = null;
    let pitrSkipped: string | null = null;
    if (input.pitr === false) pitrSkipped = "not asked for";
    else if ((await listBaseBackups(context.repository)).length === 0) pitrSkipped = "no base backup";
    else {
      pitr = await drillPitr({
        repository: context.repository,
        connection: context.target.connection,
        osUser: context.target.osUser,
        pgBinDir,
        identities: ids,
        signal: context.signal,
        onPhase: (phase) => context.progress(phase),
      });
      await recordDrill(context, pitr.base, {
        tool: "PITR drill",
        at: new Date().toISOString(),
        ok: pitr.ok,
        durationMs: pitr.durationMs,
        detail: pitr.problem ?? `recovered to ${pitr.target}`,
      });
    }
    return { logical, pitr, pitrSkipped };
  },
  verdict: (result) => {
    const problems = [result.logical.problem, result.logical.partial?.problem, result.pitr?.problem].filter((p): p is string => Boolean(p));
    return {
      ok: problems.length === 0,
      error: problems.length ? problems.join("; ") : undefined,
      fields: {
        file: result.logical.file,
        tables: result.logical.tables.length,
        rto_full_ms: result.logical.durationMs,
        json: result.logical.partial?.file,
        rto_partial_ms: result.logical.partial?.durationMs,
        pitr_base: result.pitr?.base,
        pitr_target: result.pitr?.target,
        rto_pitr_ms: result.pitr?.durationMs,
        pitr_skipped: result.pitrSkipped ?? undefined,
      },
      data: { logical: result.logical, pitr: result.pitr },
    };
  },
};
