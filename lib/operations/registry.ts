/**
 * Every operation Lifeboat runs, by kind. A new operation is a file in this folder (its kind,
 * permission, zod input, lock and engine call) plus its engine function, registered here; the CLI,
 * the worker and server actions all run it through runOperation.
 */
import { backupOperation } from "./backup";
import { cleanupOperation } from "./cleanup";
import { offsitePushOperation } from "./offsite";
import { pitrOperation } from "./pitr";
import { restoreEnvOperation } from "./restore-env";
import { restoreFullOperation } from "./restore-full";
import { restoreJsonOperation } from "./restore-json";
import { verifyOperation } from "./verify";

export const OPERATIONS = {
  backup: backupOperation,
  restore: restoreFullOperation,
  "restore-json": restoreJsonOperation,
  "restore-env": restoreEnvOperation,
  pitr: pitrOperation,
  verify: verifyOperation,
  cleanup: cleanupOperation,
  "offsite-push": offsitePushOperation,
} as const;

export type OperationKind = keyof typeof OPERATIONS;

/** Kinds that hold a target's lock: with the lock held, any other running run of these kinds on the target is dead. */
export const LOCKED_KINDS: readonly string[] = Object.values(OPERATIONS)
  .filter((o) => o.lock)
  .map((o) => o.kind);
