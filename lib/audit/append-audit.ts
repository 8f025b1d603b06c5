import { createHash } from "node:crypto";
import { desc, sql } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { auditLog } from "@/lib/db/schema";

export type AuditEntry = {
  actorId?: number | null | undefined;
  actorEmail?: string | null | undefined;
  action: string;
  outcome: "allowed" | "denied" | "failed" | "succeeded";
  subject?: string | null | undefined;
  details?: Record<string, unknown> | undefined;
};

export const GENESIS_HASH = "0".repeat(64);

/** JSON with object keys sorted, so a jsonb round trip (which reorders keys) hashes the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object" && !(value instanceof Date)) {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value instanceof Date ? value.toISOString() : value) ?? "null";
}

export function auditRowHash(row: {
  at: Date;
  actorId: number | null;
  actorEmail: string | null;
  action: string;
  outcome: string;
  subject: string | null;
  details: Record<string, unknown>;
  prevHash: string;
}): string {
  const content = canonicalJson([row.prevHash, row.at.toISOString(), row.actorId, row.actorEmail, row.action, row.outcome, row.subject, row.details]);
  return createHash("sha256").update(content).digest("hex");
}

// Serialises appends so every row links to exactly one predecessor.
const AUDIT_LOCK = 0xa0d1_7106;

/** Append one row to the hash-chained audit log (inside `tx` when the caller has a transaction). */
export async function appendAudit(db: Db, entry: AuditEntry): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${AUDIT_LOCK})`);
    const [last] = await tx.select({ hash: auditLog.hash }).from(auditLog).orderBy(desc(auditLog.id)).limit(1);
    const row = {
      at: new Date(),
      actorId: entry.actorId ?? null,
      actorEmail: entry.actorEmail ?? null,
      action: entry.action,
      outcome: entry.outcome,
      subject: entry.subject ?? null,
      details: entry.details ?? {},
      prevHash: last?.hash ?? GENESIS_HASH,
    };
    await tx.insert(auditLog).values({ ...row, hash: auditRowHash(row) });
  });
}
