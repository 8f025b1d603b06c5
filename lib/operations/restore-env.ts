import path from "node:path";
import { restoreEnvironment } from "@/lib/engine/logical/restore-environment";
import { ZRestoreEnvRequest, type TRestoreEnvRequest } from "@/lib/validations/operations";
import { identities } from "./settings";
import type { OperationDefinition } from "./types";

/** Decrypts into a new folder for a person to apply; it changes no live configuration, so it takes no lock. */
export const restoreEnvOperation: OperationDefinition<TRestoreEnvRequest, Awaited<ReturnType<typeof restoreEnvironment>>> = {
  kind: "restore-env",
  action: "backups.restore",
  permission: "backups.restore",
  input: ZRestoreEnvRequest,
  lock: false,
  params: (input) => ({ file: path.basename(input.file), out: input.out }),
  run: async (context, input) =>
    restoreEnvironment({ repository: context.repository, fileName: input.file, outDir: input.out, identities: await identities(context.env) }),
  verdict: (result) => ({ ok: true, fields: { file: result.file, out: result.outDir, entries: result.entries.length } }),
};
