import path from "node:path";
import { restoreJsonExport, type RestoreJsonResult } from "@/lib/engine/logical/restore-json";
import { ZRestoreJsonRequest, type TRestoreJsonRequest } from "@/lib/validations/operations";
import { identities } from "./settings";
import type { OperationDefinition } from "./types";

export const restoreJsonOperation: OperationDefinition<TRestoreJsonRequest, RestoreJsonResult> = {
  kind: "restore-json",
  action: "backups.restore",
  permission: "backups.restore",
  input: ZRestoreJsonRequest,
  lock: true,
  confirmation: (input, target) => ({
    what: `Restoring ${input.tables ? input.tables.join(", ") : "every table"} from ${path.basename(input.file)}`,
    database: target.connection.database,
  }),
  params: (input) => ({ file: path.basename(input.file), tables: input.tables }),
  run: async (context, input) =>
    restoreJsonExport({
      repository: context.repository,
      connection: context.target.connection,
      fileName: input.file,
      tables: input.tables,
      identities: await identities(context.env),
      lockTimeoutSeconds: context.env.LIFEBOAT_LOCK_TIMEOUT,
      signal: context.signal,
      onPhase: (phase) => context.progress(phase),
    }),
  verdict: (result) => ({
    ok: true,
    fields: { file: result.file, tables: result.tables.map((t) => t.table).join(","), duration_ms: result.durationMs },
    data: { tables: result.tables },
  }),
};
