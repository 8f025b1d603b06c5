import { createHash, createHmac } from "node:crypto";
import { appendFile, mkdir } from "node:fs/promises";
import path from "node:path";
import { desc, sql } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { auditLog } from "@/lib/db/schema";
import { getEnv } from "@/lib/env";
import { LifeboatError } from "@/lib/engine/errors";

export type AuditEntry = {
  actorId?: number | null | undefined;
  actorEmail?: string | null | undefined;
  action: string;
  outcome: "allowed" | "denied" | "failed" | "succeeded";
  subject?: string | null | undefined;
  details?: Record<string, unknown> | undefined;
};

/**
 * How the chain is sealed. With a key, each row's hash is an HMAC: someone who can write the
 * database but does not hold the key cannot recompute the chain after editing a row. After each
 * append the new head (id and hash) is appended to an anchor file outside the database, so
 * deleting the newest rows — which leaves a perfectly linked shorter chain — is detected too.
 */
export type AuditSeal = { key?: Buffer | undefined; anchorFile?: string | undefined };

export const GENESIS_HASH = "0".repeat(64);
const KEYED_PREFIX = "h1:";

/** The seal from the configuration: LIFEBOAT_AUDIT_KEY, else a key derived from AUTH_SECRET; the anchor in LOG_DIR. */
export function auditSealFromEnv(): AuditSeal {
  try {
    const env = getEnv();
    const secret =
      env.LIFEBOAT_AUDIT_KEY ?? (env.AUTH_SECRET ? createHmac("sha256", "lifeboat-audit-key").update(env.AUTH_SECRET).digest("base64") : undefined);
    return { key: secret ? Buffer.from(secret) : undefined, anchorFile: path.resolve(env.LOG_DIR, "audit-anchor.log") };
  } catch {
    return {};
  }
}

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

export type HashableRow = {
  at: Date;
  actorId: number | null;
  actorEmail: string | null;
  action: string;
  outcome: string;
  subject: string | null;
  details: Record<string, unknown>;
  prevHash: string;
};

/** A row's hash: HMAC-SHA256 ("h1:…") with the key, plain SHA-256 without one (rows written before keys existed). */
export function auditRowHash(row: HashableRow, key?: Buffer): string {
  const content = canonicalJson([row.prevHash, row.at.toISOString(), row.actorId, row.actorEmail, row.action, row.outcome, row.subject, row.details]);
  if (key) return `${KEYED_PREFIX}${createHmac("sha256", key).update(content).digest("hex")}`;
  return createHash("sha256").update(content).digest("hex");
}

export function isKeyedHash(hash: string): boolean {
  return hash.startsWith(KEYED_PREFIX);
}

// Serialises appends so every row links to exactly one predecessor.
const AUDIT_LOCK = 0xa0d1_7106;

/** Append one row to the hash-chained audit log, then record the new head in the anchor file. */
export async function appendAudit(db: Db, entry: AuditEntry, seal: AuditSeal = auditSealFromEnv()): Promise<void> {
  const head = await db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${AUDIT_LOCK})`);
    const [last] = await tx.select({ hash: auditLog.hash }).from(auditLog).orderBy(desc(auditLog.id)).limit(1);
    // Once the chain is sealed, an unsealed row would read as a rewrite: refuse to write one.
    if (!seal.key && last && isKeyedHash(last.hash)) {
      throw new LifeboatError(
        "AUDIT_KEY_MISSING",
        "The audit log is sealed, and this process has no key to seal its row with: set LIFEBOAT_AUDIT_KEY (as the dashboard has it).",
      );
    }
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
    const [inserted] = await tx
      .insert(auditLog)
      .values({ ...row, hash: auditRowHash(row, seal.key) })
      .returning({ id: auditLog.id, hash: auditLog.hash });
    return inserted!;
  });
  if (seal.anchorFile) {
    await mkdir(path.dirname(seal.anchorFile), { recursive: true, mode: 0o700 });
    await appendFile(seal.anchorFile, `${new Date().toISOString()} id=${head.id} hash=${head.hash}\n`, { mode: 0o600 });
  }
}
