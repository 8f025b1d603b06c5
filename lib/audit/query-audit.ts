import { and, count, desc, eq, gte, ilike, lt, type SQL } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { auditLog, type AuditRow } from "@/lib/db/schema";
import type { TAuditFilters } from "@/lib/validations/audit";

export const AUDIT_PAGE_SIZE = 50;

function likeEscaped(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function nextDay(day: string): Date {
  const date = new Date(`${day}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + 1);
  return date;
}

/** The WHERE clause of the filters: actor (email contains), action (its start: "users." or "users.create"), outcome, UTC days. */
export function auditWhere(filters: TAuditFilters): SQL | undefined {
  const conditions: SQL[] = [];
  if (filters.actor) conditions.push(ilike(auditLog.actorEmail, `%${likeEscaped(filters.actor)}%`));
  if (filters.action) conditions.push(ilike(auditLog.action, `${likeEscaped(filters.action)}%`));
  if (filters.outcome) conditions.push(eq(auditLog.outcome, filters.outcome));
  if (filters.from) conditions.push(gte(auditLog.at, new Date(`${filters.from}T00:00:00Z`)));
  if (filters.to) conditions.push(lt(auditLog.at, nextDay(filters.to)));
  return conditions.length ? and(...conditions) : undefined;
}

/** One page of matching rows, newest first, and how many match in all. */
export async function listAuditRows(db: Db, filters: TAuditFilters, page: number, pageSize = AUDIT_PAGE_SIZE): Promise<{ rows: AuditRow[]; total: number }> {
  const where = auditWhere(filters);
  const [rows, [total]] = await Promise.all([
    db
      .select()
      .from(auditLog)
      .where(where)
      .orderBy(desc(auditLog.id))
      .limit(pageSize)
      .offset((page - 1) * pageSize),
    db.select({ n: count() }).from(auditLog).where(where),
  ]);
  return { rows, total: total?.n ?? 0 };
}

/** Every matching row, newest first, a batch at a time (the CSV export streams them). */
export async function* eachAuditRow(db: Db, filters: TAuditFilters, batch = 1000): AsyncGenerator<AuditRow> {
  let before: number | undefined;
  for (;;) {
    const where = and(auditWhere(filters), before === undefined ? undefined : lt(auditLog.id, before));
    const rows = await db.select().from(auditLog).where(where).orderBy(desc(auditLog.id)).limit(batch);
    yield* rows;
    if (rows.length < batch) return;
    before = rows.at(-1)!.id;
  }
}

const CSV_COLUMNS = ["id", "at", "actor_id", "actor_email", "action", "outcome", "subject", "details", "prev_hash", "hash"] as const;

/** One CSV field: quoted, and a leading = + - @ defused so a spreadsheet does not run it as a formula. */
export function csvField(value: unknown): string {
  let text =
    value === null || value === undefined
      ? ""
      : value instanceof Date
        ? value.toISOString()
        : typeof value === "object"
          ? JSON.stringify(value)
          : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return `"${text.replace(/"/g, '""')}"`;
}

export function csvHeader(): string {
  return `${CSV_COLUMNS.join(",")}\r\n`;
}

export function csvLine(row: AuditRow): string {
  return `${[row.id, row.at, row.actorId, row.actorEmail, row.action, row.outcome, row.subject, row.details, row.prevHash, row.hash].map(csvField).join(",")}\r\n`;
}
