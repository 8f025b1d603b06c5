import { and, asc, count, desc, eq, gte, isNull, lt, sql, type SQL } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "@/lib/db/client";
import { artifactStatusEnum, backupArtifacts, targets } from "@/lib/db/schema";
import { ARTIFACT_KINDS, TARGET_NAME, type ArtifactKind } from "@/lib/engine/repository/artifact-kinds";

export const HISTORY_SORTS = ["date", "size", "duration"] as const;
export const VERIFIED_STATES = ["never", "ok", "failed"] as const;
export const ARTIFACT_STATUSES = artifactStatusEnum.enumValues;
export const HISTORY_PAGE_SIZES = [25, 50, 100] as const;

const day = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/)
  .refine((v) => !Number.isNaN(Date.parse(`${v}T00:00:00Z`)));

/**
 * The history's filters, as they arrive in the page's URL. Anything malformed falls back to its
 * default rather than failing the page: a hand-edited or stale link still shows the history.
 */
export const ZBackupHistoryFilters = z.object({
  target: z.string().regex(TARGET_NAME).optional().catch(undefined),
  kind: z.enum(ARTIFACT_KINDS).optional().catch(undefined),
  status: z.enum(ARTIFACT_STATUSES).optional().catch(undefined),
  verified: z.enum(VERIFIED_STATES).optional().catch(undefined),
  /** First day included (UTC), YYYY-MM-DD. */
  from: day.optional().catch(undefined),
  /** Last day included (UTC), YYYY-MM-DD. */
  to: day.optional().catch(undefined),
  sort: z.enum(HISTORY_SORTS).default("date").catch("date"),
  dir: z.enum(["asc", "desc"]).default("desc").catch("desc"),
  page: z.coerce.number().int().min(1).max(1_000_000).default(1).catch(1),
  pageSize: z.coerce
    .number()
    .refine((n) => (HISTORY_PAGE_SIZES as readonly number[]).includes(n))
    .default(50)
    .catch(50),
});
export type TBackupHistoryFilters = z.infer<typeof ZBackupHistoryFilters>;

/** Parse Next.js search params (a key may repeat: the first value counts). */
export function parseHistoryFilters(params: Record<string, string | string[] | undefined>): TBackupHistoryFilters {
  const first = Object.fromEntries(
    Object.entries(params)
      .map(([k, v]) => [k, Array.isArray(v) ? v[0] : v])
      .filter(([, v]) => v !== undefined && v !== ""),
  );
  return ZBackupHistoryFilters.parse(first);
}

export type BackupHistoryRow = {
  id: number;
  target: string;
  kind: ArtifactKind;
  fileName: string;
  status: (typeof ARTIFACT_STATUSES)[number];
  startedAt: Date;
  finishedAt: Date;
  sizeBytes: number;
  durationMs: number;
  encrypted: boolean;
  runId: number | null;
  verifiedAt: Date | null;
  /** "ok" or "failed" (null: never verified). */
  verifyStatus: string | null;
};

export type BackupHistoryPage = { rows: BackupHistoryRow[]; total: number; page: number; pageSize: number; pageCount: number };

const a = backupArtifacts;
const duration = sql`(${a.finishedAt} - ${a.startedAt})`;

function conditions(filters: TBackupHistoryFilters): SQL | undefined {
  const where: (SQL | undefined)[] = [
    filters.target ? eq(targets.name, filters.target) : undefined,
    filters.kind ? eq(a.kind, filters.kind) : undefined,
    filters.status ? eq(a.status, filters.status) : undefined,
    filters.verified === "never" ? isNull(a.verifyStatus) : filters.verified ? eq(a.verifyStatus, filters.verified) : undefined,
    filters.from ? gte(a.startedAt, new Date(`${filters.from}T00:00:00Z`)) : undefined,
    filters.to ? lt(a.startedAt, new Date(Date.parse(`${filters.to}T00:00:00Z`) + 86_400_000)) : undefined,
  ];
  return and(...where);
}

/**
 * One page of the backup history (the catalog's backup_artifacts with their target's name):
 * filtered, sorted (id breaks ties, so pages never overlap), paginated by offset: one query with a
 * LIMIT, and beside it, concurrently, the count of matching rows for "51–100 of 10,000". (A window
 * count in the page query would make PostgreSQL read every matching row before the LIMIT, so an
 * index on the sort key could never answer the page alone.) The manifest (jsonb, large for base
 * backups) is not read here: the detail page reads it for one artifact.
 */
export async function listBackupHistory(db: Db, filters: TBackupHistoryFilters): Promise<BackupHistoryPage> {
  const direction = filters.dir === "asc" ? asc : desc;
  const key = filters.sort === "size" ? a.sizeBytes : filters.sort === "duration" ? duration : a.startedAt;
  const where = conditions(filters);
  const [found, [counted]] = await Promise.all([
    db
      .select({
        id: a.id,
        target: targets.name,
        kind: a.kind,
        fileName: a.fileName,
        status: a.status,
        startedAt: a.startedAt,
        finishedAt: a.finishedAt,
        sizeBytes: a.sizeBytes,
        encrypted: a.encrypted,
        runId: a.runId,
        verifiedAt: a.verifiedAt,
        verifyStatus: a.verifyStatus,
      })
      .from(a)
      .innerJoin(targets, eq(targets.id, a.targetId))
      .where(where)
      .orderBy(direction(key), direction(a.id))
      .limit(filters.pageSize)
      .offset((filters.page - 1) * filters.pageSize),
    db.select({ n: count() }).from(a).innerJoin(targets, eq(targets.id, a.targetId)).where(where),
  ]);
  const total = counted?.n ?? 0;
  const rows = found.map((row) => ({ ...row, durationMs: row.finishedAt.getTime() - row.startedAt.getTime() }));
  return { rows, total, page: filters.page, pageSize: filters.pageSize, pageCount: Math.max(1, Math.ceil(total / filters.pageSize)) };
}
