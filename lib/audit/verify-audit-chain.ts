import { asc } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { auditLog } from "@/lib/db/schema";
import { auditRowHash, GENESIS_HASH } from "./append-audit";

export type AuditChainReport = { ok: true; rows: number } | { ok: false; rows: number; brokenAtId: number; reason: string };

/** Walk the audit log in order and report the first row whose content or link does not match. */
export async function verifyAuditChain(db: Db): Promise<AuditChainReport> {
  const rows = await db.select().from(auditLog).orderBy(asc(auditLog.id));
  let expectedPrev = GENESIS_HASH;
  for (const row of rows) {
    if (row.prevHash !== expectedPrev) {
      return {
        ok: false,
        rows: rows.length,
        brokenAtId: row.id,
        reason: "links to a row that is not its predecessor (a row before it was deleted or changed)",
      };
    }
    if (auditRowHash(row) !== row.hash) {
      return { ok: false, rows: rows.length, brokenAtId: row.id, reason: "content does not match its hash (the row was edited)" };
    }
    expectedPrev = row.hash;
  }
  return { ok: true, rows: rows.length };
}
