import { randomBytes } from "node:crypto";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { schedules, targets } from "@/lib/db/schema";
import { parseEnv, type TEnv } from "@/lib/env";
import { resolveTarget } from "@/lib/targets/resolve-target";
import { createTestMetadataDb, type TestMetadataDb } from "@/test/helpers/metadata-db";
import { createTestTarget, type TestTarget } from "@/test/helpers/target";
import { previewCron, saveRetention, saveSchedule } from "./settings-schedules";
import { removeTarget, saveTargetForm, testTargetForm, type TTargetForm } from "./settings-targets";

/** The settings page's server side against a real metadata database and a real password-protected target. */
describe("settings: targets with write-only passwords, schedules, retention", () => {
  let meta: TestMetadataDb;
  let target: TestTarget;
  let env: TEnv;
  let form: TTargetForm;

  beforeAll(async () => {
    meta = await createTestMetadataDb();
    target = await createTestTarget();
    env = parseEnv({ DATABASE_URL: meta.url, DB_TARGET_NAME: "main", LIFEBOAT_SECRETS_KEY: randomBytes(32).toString("base64"), BACKUP_DIR: "/tmp/unused" });
    form = {
      mode: "add",
      name: "second",
      host: "127.0.0.1",
      port: target.cluster.port,
      database: target.connection.database,
      user: target.connection.user,
      passwordMode: "sealed",
      password: target.connection.password,
    };
  });
  afterAll(async () => {
    await target?.remove();
    await meta?.drop();
  });

  it("tests a connection without storing anything, and says why it fails", async () => {
    const wrong = await testTargetForm(meta.db, env, { ...form, password: "not-it" });
    expect(wrong).toEqual({ ok: false, error: expect.stringContaining('password authentication failed for user "app"') });
    expect(JSON.stringify(wrong)).not.toContain("not-it");
    expect((await testTargetForm(meta.db, env, form)).ok).toBe(true);
    expect(await meta.db.select().from(targets)).toHaveLength(0);
  });

  it("refuses to save a target it cannot connect to, unless told to save anyway", async () => {
    await expect(saveTargetForm(meta.db, env, { ...form, password: "not-it" })).rejects.toThrow(/^Not saved: cannot connect: .*password authentication failed/);
    expect(await meta.db.select().from(targets)).toHaveLength(0);
  });

  it("stores the password sealed, resolves it back for operations, and gives the target the seed's schedules", async () => {
    const { created, probe } = await saveTargetForm(meta.db, env, form);
    expect(created).toBe(true);
    expect(probe.ok).toBe(true);
    const [row] = await meta.db.select().from(targets).where(eq(targets.name, "second"));
    expect(row!.passwordRef).toMatch(/^enc:v1:/);
    expect(row!.passwordRef).not.toContain(target.connection.password!);
    expect((await resolveTarget({ env, db: meta.db, name: "second" })).connection.password).toBe(target.connection.password);
    expect((await meta.db.select().from(schedules).where(eq(schedules.targetId, row!.id))).map((s) => s.kind).sort()).toEqual(["backup", "cleanup", "verify"]);
    await expect(saveTargetForm(meta.db, env, form)).rejects.toThrow("There is already a target named second; edit it instead.");
  });

  it("keeps a stored password on edit, but never sends it to a changed address", async () => {
    const edit: TTargetForm = { ...form, mode: "edit", passwordMode: "keep", password: undefined };
    expect((await saveTargetForm(meta.db, env, edit)).probe.ok).toBe(true);
    await expect(testTargetForm(meta.db, env, { ...edit, user: "postgres" })).rejects.toThrow(/not sent to a new address\. Type the password again/);
  });

  it("leaves the default target to DB_* and removes others", async () => {
    await expect(saveTargetForm(meta.db, env, { ...form, name: "main" })).rejects.toThrow(/is the default target: it is configured by DB_HOST/);
    await expect(removeTarget(meta.db, env, "main")).rejects.toThrow(/default target/);
    await removeTarget(meta.db, env, "second");
    expect(await meta.db.select().from(targets).where(eq(targets.name, "second"))).toHaveLength(0);
  });

  it("checks a cron string with the workers' parser, and saves it counting from now", async () => {
    expect(() => previewCron("61 2 * * *", "UTC")).toThrow('"61 2 * * *" is not a valid cron schedule');
    expect(() => previewCron("0 2 * *", "UTC")).toThrow("it needs five fields");
    expect(() => previewCron("0 2 * * *", "Mars/Olympus")).toThrow("Unknown time zone");
    const preview = previewCron(" 30  1 * * 1 ", "Asia/Jakarta", new Date("2026-01-15T00:00:00Z"));
    expect(preview).toEqual({
      cron: "30 1 * * 1",
      timezone: "Asia/Jakarta",
      words: "At 01:30, only on Monday",
      next: ["2026-01-18T18:30:00.000Z", "2026-01-25T18:30:00.000Z", "2026-02-01T18:30:00.000Z"],
    });

    await resolveTarget({ env, db: meta.db });
    const [main] = await meta.db.select().from(targets).where(eq(targets.name, "main"));
    await meta.db.insert(schedules).values([
      { targetId: main!.id, kind: "backup", cron: "0 2 * * *" },
      { targetId: main!.id, kind: "cleanup", cron: "0 3 * * 0", input: { other: 1 } },
    ]);
    const [backup] = await meta.db.select().from(schedules).where(eq(schedules.kind, "backup"));
    const before = Date.now();
    await saveSchedule(meta.db, { id: backup!.id, cron: "15 4 * * *", timezone: "UTC", enabled: false });
    const [saved] = await meta.db.select().from(schedules).where(eq(schedules.id, backup!.id));
    expect(saved).toMatchObject({ cron: "15 4 * * *", enabled: false });
    expect(saved!.lastFiredAt!.getTime()).toBeGreaterThanOrEqual(before - 1000);
    await expect(saveSchedule(meta.db, { id: backup!.id, cron: "nope", timezone: "UTC", enabled: true })).rejects.toThrow("five fields");

    await saveRetention(meta.db, { target: "main", days: 14, keepNewest: 2 });
    const [cleanup] = await meta.db.select().from(schedules).where(eq(schedules.kind, "cleanup"));
    expect(cleanup).toMatchObject({ retentionDays: 14, input: { other: 1, keepNewest: 2 } });
  });
});
