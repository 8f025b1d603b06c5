import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditLog } from "@/lib/db/schema";
import { createTestMetadataDb, type TestMetadataDb } from "@/test/helpers/metadata-db";
import { appendAudit } from "./append-audit";
import { verifyAuditChain } from "./verify-audit-chain";

describe("audit log hash chain (on a freshly migrated metadata database)", () => {
  let meta: TestMetadataDb;

  beforeAll(async () => {
    meta = await createTestMetadataDb();
  });
  afterAll(async () => {
    await meta?.drop();
  });

  it("migrations create every table the app needs", async () => {
    const { rows } = await meta.pool.query<{ table_name: string }>("select table_name from information_schema.tables where table_schema = 'public' order by 1");
    expect(rows.map((r) => r.table_name)).toEqual(["archiver_samples", "audit_log", "backup_artifacts", "runs", "schedules", "targets", "users"]);
  });

  it("verifies an intact chain and names an edited row and a deleted row", async () => {
    for (const action of ["backups.run", "backups.restore", "users.create", "auth.sign-in"]) {
      await appendAudit(meta.db, { action, outcome: "succeeded", actorEmail: "admin@example.com", details: { b: 2, a: { z: [1, "x"], y: null } } });
    }
    expect(await verifyAuditChain(meta.db)).toEqual({ ok: true, rows: 4 });

    const rows = await meta.db.select().from(auditLog).orderBy(auditLog.id);
    const second = rows[1]!;
    await meta.db.update(auditLog).set({ outcome: "denied" }).where(eq(auditLog.id, second.id));
    const edited = await verifyAuditChain(meta.db);
    expect(edited).toMatchObject({ ok: false, brokenAtId: second.id });
    await meta.db.update(auditLog).set({ outcome: "succeeded" }).where(eq(auditLog.id, second.id));
    expect((await verifyAuditChain(meta.db)).ok).toBe(true);

    await meta.db.delete(auditLog).where(eq(auditLog.id, second.id));
    const deleted = await verifyAuditChain(meta.db);
    expect(deleted).toMatchObject({ ok: false, brokenAtId: rows[2]!.id });
  });

  it("links concurrent appends into one chain", async () => {
    await meta.db.execute(sql`truncate audit_log`);
    await Promise.all(Array.from({ length: 20 }, (_, i) => appendAudit(meta.db, { action: `parallel.${i}`, outcome: "allowed" })));
    expect(await verifyAuditChain(meta.db)).toEqual({ ok: true, rows: 20 });
  });
});
