import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { eq, gt, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditLog } from "@/lib/db/schema";
import { createTestMetadataDb, type TestMetadataDb } from "@/test/helpers/metadata-db";
import { appendAudit, auditRowHash, GENESIS_HASH, type AuditSeal } from "./append-audit";
import { verifyAuditChain } from "./verify-audit-chain";

describe("audit log hash chain (on a freshly migrated metadata database)", () => {
  let meta: TestMetadataDb;
  let work: string;
  let seal: AuditSeal;

  beforeAll(async () => {
    meta = await createTestMetadataDb();
    work = await mkdtemp(path.join(os.tmpdir(), "lifeboat-audit-"));
    seal = { key: Buffer.from("a-test-key-that-is-long-enough-for-hmac"), anchorFile: path.join(work, "audit-anchor.log") };
  });
  afterAll(async () => {
    await meta?.drop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const reset = async () => {
    await meta.db.execute(sql`truncate audit_log restart identity`);
    await writeFile(seal.anchorFile!, "");
  };

  it("migrations create every table the app needs", async () => {
    const { rows } = await meta.pool.query<{ table_name: string }>("select table_name from information_schema.tables where table_schema = 'public' order by 1");
    expect(rows.map((r) => r.table_name)).toEqual([
      "archiver_samples",
      "audit_log",
      "backup_artifacts",
      "deliveries",
      "health_states",
      "runs",
      "schedules",
      "sessions",
      "sign_in_attempts",
      "targets",
      "users",
      "webhooks",
    ]);
  });

  it("verifies an intact chain and names an edited row and a deleted row [S23]", async () => {
    await reset();
    for (const action of ["backups.run", "backups.restore", "users.create", "auth.sign-in"]) {
      await appendAudit(meta.db, { action, outcome: "succeeded", actorEmail: "admin@example.com", details: { b: 2, a: { z: [1, "x"], y: null } } }, seal);
    }
    expect(await verifyAuditChain(meta.db, seal)).toEqual({ ok: true, rows: 4, keyed: true, anchoredAt: 4 });

    const rows = await meta.db.select().from(auditLog).orderBy(auditLog.id);
    const second = rows[1]!;
    await meta.db.update(auditLog).set({ outcome: "denied" }).where(eq(auditLog.id, second.id));
    expect(await verifyAuditChain(meta.db, seal)).toMatchObject({ ok: false, brokenAtId: second.id });
    await meta.db.update(auditLog).set({ outcome: "succeeded" }).where(eq(auditLog.id, second.id));
    expect((await verifyAuditChain(meta.db, seal)).ok).toBe(true);

    await meta.db.delete(auditLog).where(eq(auditLog.id, second.id));
    expect(await verifyAuditChain(meta.db, seal)).toMatchObject({ ok: false, brokenAtId: rows[2]!.id });
  });

  it("detects the newest rows deleted (a shorter chain that still links) through the anchor [S23] [S28]", async () => {
    await reset();
    for (let i = 0; i < 5; i++) await appendAudit(meta.db, { action: `step.${i}`, outcome: "succeeded" }, seal);
    await meta.db.delete(auditLog).where(gt(auditLog.id, 3));
    const report = await verifyAuditChain(meta.db, seal);
    expect(report).toMatchObject({ ok: false, brokenAtId: 5 });
    if (!report.ok) expect(report.reason).toMatch(/truncated/);
  });

  it("detects a row rewritten with every later hash recomputed, by someone without the key [S23] [S28]", async () => {
    await reset();
    for (let i = 0; i < 4; i++) await appendAudit(meta.db, { action: `step.${i}`, outcome: "succeeded" }, seal);
    const rows = await meta.db.select().from(auditLog).orderBy(auditLog.id);
    // Rewrite row 2 and recompute the chain from there, as plain SHA-256 or with a guessed key.
    for (const guess of [undefined, Buffer.from("not-the-real-key-not-the-real-key-xx")]) {
      let prev = rows[0]!.hash;
      for (const row of rows.slice(1)) {
        const changed = { ...row, outcome: row.id === 2 ? "denied" : row.outcome, prevHash: prev };
        const hash = auditRowHash(changed, guess);
        await meta.db.update(auditLog).set({ outcome: changed.outcome, prevHash: prev, hash }).where(eq(auditLog.id, row.id));
        prev = hash;
      }
      const report = await verifyAuditChain(meta.db, seal);
      expect(report, String(guess)).toMatchObject({ ok: false, brokenAtId: 2 });
    }
    // Even with the key, the anchor file holds the old head: a rewrite that changes it is found.
    let prev = rows[0]!.hash;
    for (const row of rows.slice(1)) {
      const changed = { ...row, outcome: row.id === 2 ? "denied" : row.outcome, prevHash: prev };
      const hash = auditRowHash(changed, seal.key);
      await meta.db.update(auditLog).set({ outcome: changed.outcome, prevHash: prev, hash }).where(eq(auditLog.id, row.id));
      prev = hash;
    }
    expect(await verifyAuditChain(meta.db, seal)).toMatchObject({ ok: false, brokenAtId: 4 });
    expect(rows[0]!.prevHash).toBe(GENESIS_HASH);
  });

  it("links concurrent appends into one chain", async () => {
    await reset();
    await Promise.all(Array.from({ length: 20 }, (_, i) => appendAudit(meta.db, { action: `parallel.${i}`, outcome: "allowed" }, seal)));
    expect(await verifyAuditChain(meta.db, seal)).toEqual({ ok: true, rows: 20, keyed: true, anchoredAt: 20 });
  });
});
