import path from "node:path";
import { restoreFullBackup, type RestoreFullResult } from "@/lib/engine/logical/restore-full";
import { ZRestoreRequest, type TRestoreRequest } from "@/lib/validations/operations";
import { identities } from "./settings";
import type { OperationDefinition } from "./types";

export const restoreFullOperation: OperationDefinition<TRestoreRequest, RestoreFullResult> = {
  kind: "restore",
  action: "backups.restore",
  permission: "backups.restore",
  input: ZRestoreRequest,
  lock: true,
  // Into a new database nothing is overwritten; over the target's database it must be confirmed.
  confirmation: (input, target) =>
    input.into === undefined ? { what: `Restoring ${path.basename(input.file)}`, database: target.connection.database } : undefined,
  params: (input) => ({ file: path.basename(input.file), into: input.into }),
  run: async (context, input) =>
    restoreFullBackup({
      repository: context.repository,
      connection: context.target.connection,
      fileName: input.file,
      intoDatabase: input.into,
      pgBinDir: context.env.PG_BIN_DIR,
      jobs: context.env.LIFEBOAT_DUMP_JOBS,
      identities: await identities(context.env),
      lockTimeoutSeconds: context.env.LIFEBOAT_LOCK_TIMEOUT,
      signal: context.signal,
      journal: context.journal,
      onPhase: (phase) => context.progress(phase),
    }),
  // The data is committed either way; a table whose rows do not match the manifest makes the run a failure.
  verdict: (result) => {
    const mismatches = result.rowCounts.filter((r) => !r.ok);
    // A manifest without row counts leaves nothing to check the restore against: not a success.
    if (!result.checked) {
      return {
        ok: false,
        error: `${result.file}'s manifest holds no row counts, so the restore could not be checked`,
        fields: { file: result.file, database: result.database },
      };
    }
    return {
      ok: mismatches.length === 0,
      error: mismatches.length
        ? `${mismatches.length} table(s) differ from the backup's row counts: ${mismatches.map((m) => `${m.table} (backup ${m.expected ?? "-"}, restored ${m.actual ?? "-"})`).join(", ")}`
        : undefined,
      fields: { file: result.file, database: result.database, tables: result.rowCounts.length, mismatches: mismatches.length, duration_ms: result.durationMs },
      data: { database: result.database, createdDatabase: result.createdDatabase, rowCounts: result.rowCounts },
    };
  },
};
