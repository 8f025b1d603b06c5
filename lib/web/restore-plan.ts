import "server-only";
import type { Db } from "@/lib/db/client";
import type { TEnv } from "@/lib/env";
import { OPERATIONS } from "@/lib/operations";
import { resolveTarget } from "@/lib/targets/resolve-target";
import { getBackupDetail } from "./backup-history";

export type RestorePlan = {
  id: number;
  target: string;
  fileName: string;
  kind: "full" | "json";
  status: string;
  startedAt: string;
  /** The database an in-place restore overwrites, as the operation's confirmation names it. */
  confirmDatabase: string;
  /** What the operation says it overwrites ("Restoring full_backup_….dump"). */
  confirmWhat: string;
  /** Tables of the backup with their row counts (the manifest's, taken in the dump's snapshot). */
  tables: { table: string; rows: number }[];
};

/**
 * What the restore dialog shows for one artifact: the target's database (named by the restore
 * operation's own `confirmation`, so the page asks for exactly the name the server will check) and
 * the tables it holds. Null for an artifact that is not a full dump or a JSON export.
 */
export async function getRestorePlan(db: Db, env: TEnv, id: number): Promise<RestorePlan | null> {
  const detail = await getBackupDetail(db, id);
  if (!detail || (detail.kind !== "full" && detail.kind !== "json")) return null;
  const target = await resolveTarget({ env, db, name: detail.target });
  const confirmation =
    detail.kind === "full"
      ? OPERATIONS.restore.confirmation?.({ file: detail.fileName }, target)
      : OPERATIONS["restore-json"].confirmation?.({ file: detail.fileName }, target);
  const counts = detail.manifest?.tableRowCounts ?? {};
  return {
    id: detail.id,
    target: detail.target,
    fileName: detail.fileName,
    kind: detail.kind,
    status: detail.status,
    startedAt: detail.startedAt.toISOString(),
    confirmDatabase: confirmation?.database ?? target.connection.database,
    confirmWhat: confirmation?.what ?? `Restoring ${detail.fileName}`,
    tables: Object.keys(counts)
      .sort()
      .map((table) => ({ table, rows: counts[table] ?? 0 })),
  };
}
