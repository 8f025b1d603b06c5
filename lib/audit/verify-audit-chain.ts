import { readFile } from "node:fs/promises";
import { asc } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { auditLog } from "@/lib/db/schema";
import { auditRowHash, auditSealFromEnv, GENESIS_HASH, isKeyedHash, type AuditSeal } from "./append-audit";

export type AuditChainReport =
  { ok: true; rows: number; keyed: boolean; anchoredAt: number | null } | { ok: false; rows: number; brokenAtId: number; reason: string };

/** The newest head recorded in the anchor file (the highest id), if any. */
async function readAnchor(file: string | undefined): Promise<{ id: number; hash: string } | undefined> {
  if (!file) return undefined;
  const text = await readFile(file, "utf8").catch(() => "");
  let best: { id: number; hash: string } | undefined;
  for (const line of text.split("\n")) {
    const match = / id=(\d+) hash=(\S+)$/.exec(line);
    if (!match) continue;
    const id = Number(match[1]);
    if (!best || id > best.id) best = { id, hash: match[2]! };
  }
  return best;
}

/**
 * Walk the audit log in order and report the first row whose content or link does not match,
 * then check the chain still reaches the head recorded in the anchor file.
 */
export async function verifyAuditChain(db: Db, seal: AuditSeal = auditSealFromEnv()): Promise<AuditChainReport> {
  const rows = await db.select().from(auditLog).orderBy(asc(auditLog.id));
  let expectedPrev = GENESIS_HASH;
  let keyedSeen = false;
  for (const row of rows) {
    if (row.prevHash !== expectedPrev) {
      return {
        ok: false,
        rows: rows.length,
        brokenAtId: row.id,
        reason: "links to a row that is not its predecessor (a row before it was deleted or changed)",
      };
    }
    if (isKeyedHash(row.hash)) {
      keyedSeen = true;
      if (!seal.key)
        return { ok: false, rows: rows.length, brokenAtId: row.id, reason: "is sealed with a key, and no key is configured to check it (LIFEBOAT_AUDIT_KEY)" };
      if (auditRowHash(row, seal.key) !== row.hash)
        return { ok: false, rows: rows.length, brokenAtId: row.id, reason: "content does not match its sealed hash (the row was edited)" };
    } else {
      // Once rows are sealed, an unsealed one can only be a rewrite by someone without the key.
      if (keyedSeen) return { ok: false, rows: rows.length, brokenAtId: row.id, reason: "is not sealed although earlier rows are (the chain was rewritten)" };
      if (auditRowHash(row) !== row.hash)
        return { ok: false, rows: rows.length, brokenAtId: row.id, reason: "content does not match its hash (the row was edited)" };
    }
    expectedPrev = row.hash;
  }
  const anchor = await readAnchor(seal.anchorFile);
  if (anchor) {
    const row = rows.find((r) => r.id === anchor.id);
    if (!row) {
      return {
        ok: false,
        rows: rows.length,
        brokenAtId: anchor.id,
        reason: `is missing: the anchor file recorded the log reaching row ${anchor.id}, so rows were deleted from the end (truncated)`,
      };
    }
    if (row.hash !== anchor.hash) {
      return {
        ok: false,
        rows: rows.length,
        brokenAtId: anchor.id,
        reason: "does not carry the hash the anchor file recorded for it (the chain was rewritten)",
      };
    }
  }
  return { ok: true, rows: rows.length, keyed: keyedSeen, anchoredAt: anchor?.id ?? null };
}
