import { z } from "zod";
import { ARTIFACT_KINDS, TARGET_NAME, TARGET_NAME_RULE } from "@/lib/engine/repository/artifact-kinds";

/**
 * Inputs of the operations, shared by the CLI, the worker, server actions and forms. Every
 * field a person or a request can set is checked here, before anything runs.
 */
const targetName = z.string().regex(TARGET_NAME, `must be a target name (${TARGET_NAME_RULE})`).optional();

/** A file name in the target's folder (the path checks happen in the repository), or "latest". */
const artifactName = z
  .string()
  .min(1, "is required")
  .max(255, "is too long")
  .refine((v) => !v.includes("\0"), "must not contain a NUL byte");

/** The database name typed to confirm a destructive operation. */
const confirm = z.string().max(255).optional();

export const ZBackupRequest = z.object({
  target: targetName,
  kinds: z
    .array(z.enum(ARTIFACT_KINDS, { error: `must be some of ${ARTIFACT_KINDS.join(", ")}` }))
    .min(1, "needs at least one kind")
    .optional(),
});
export type TBackupRequest = z.infer<typeof ZBackupRequest>;

export const ZRestoreRequest = z.object({
  target: targetName,
  file: artifactName,
  /** Restore into this new database instead of over the target's. */
  into: z.string().min(1).max(63, "must be at most 63 characters (PostgreSQL's limit)").optional(),
  confirm,
});
export type TRestoreRequest = z.infer<typeof ZRestoreRequest>;

export const ZRestoreJsonRequest = z.object({
  target: targetName,
  file: artifactName,
  tables: z.array(z.string().min(1).max(200)).min(1, "needs at least one table").optional(),
  confirm,
});
export type TRestoreJsonRequest = z.infer<typeof ZRestoreJsonRequest>;

export const ZRestoreEnvRequest = z.object({
  target: targetName,
  file: artifactName,
  out: z.string().min(1, "is required").max(4096),
});
export type TRestoreEnvRequest = z.infer<typeof ZRestoreEnvRequest>;

export const ZVerifyRequest = z.object({
  target: targetName,
  /** The full dump to drill (default: the newest). */
  file: artifactName.optional(),
  /** Also recover to a random moment of the window on a throwaway instance (default: when base backups exist). */
  pitr: z.boolean().optional(),
});
export type TVerifyRequest = z.infer<typeof ZVerifyRequest>;

export const ZCleanupRequest = z.object({
  target: targetName,
  /** List what would be deleted, bytes freed and the window after; delete nothing. */
  dryRun: z.boolean().optional(),
  /** Keep every kind this many days (default 7, the seed's). */
  days: z.coerce.number({ error: "must be a number of days" }).int("must be whole days").min(1, "must be at least 1 day").max(36500).optional(),
  /** The off-site copy keeps every kind this many days (default LIFEBOAT_OFFSITE_RETENTION_DAYS, else the local days). */
  offsiteDays: z.coerce.number({ error: "must be a number of days" }).int("must be whole days").min(1, "must be at least 1 day").max(36500).optional(),
  /** However old, keep the newest this many verified backups of each kind (default 1). */
  keepNewest: z.coerce
    .number({ error: "must be a number" })
    .int("must be a whole number")
    .min(1, "at least 1: the last good backup is never deleted")
    .max(1000)
    .optional(),
});
export type TCleanupRequest = z.infer<typeof ZCleanupRequest>;

export const ZOffsitePushRequest = z.object({ target: targetName });
export type TOffsitePushRequest = z.infer<typeof ZOffsitePushRequest>;

export const ZPitrRequest = z
  .object({
    target: targetName,
    /** A time ("2026-01-15 14:30:00" in LIFEBOAT_TIMEZONE, or with an offset). */
    time: z.string().min(1).max(64).optional(),
    name: z.string().min(1).max(63, "a restore point name has at most 63 characters").optional(),
    lsn: z.string().min(1).max(20).optional(),
    latest: z.boolean().optional(),
    mode: z.enum(["new-instance", "in-place"]),
    port: z.coerce
      .number({ error: "must be a port number" })
      .int("must be a port number")
      .min(1, "must be 1 to 65535")
      .max(65535, "must be 1 to 65535")
      .optional(),
    dataDir: z.string().min(1).max(4096).optional(),
    confirm,
  })
  .refine((v) => [v.time !== undefined, v.name !== undefined, v.lsn !== undefined, v.latest === true].filter(Boolean).length === 1, {
    message: "give exactly one recovery target: a time, a restore point name, an LSN or latest",
  })
  .refine((v) => v.mode === "new-instance" || (v.port === undefined && v.dataDir === undefined), {
    message: "a port and a data folder apply only to a recovery into a new instance",
  });
export type TPitrRequest = z.infer<typeof ZPitrRequest>;
