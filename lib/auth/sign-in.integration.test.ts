import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { and, eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuditSeal } from "@/lib/audit/append-audit";
import { createDb } from "@/lib/db/client";
import { auditLog, users } from "@/lib/db/schema";
import { createUser, resetUserPassword, setUserDisabled, setUserRole } from "@/lib/users/manage-users";
import { createTestMetadataDb, type TestMetadataDb } from "@/test/helpers/metadata-db";
import { DATABASE_UNREACHABLE_MESSAGE } from "./db-errors";
import { findSessionUser, revokeSession } from "./sessions";
import { authorizeSignIn, clientAddress, signInErrorMessage } from "./sign-in";
import { SignInLimitedError } from "./sign-in-limit";

const PASSWORD = "correct-horse-battery-staple";

describe("sign-in: rate limits, sessions, users (real metadata database)", () => {
  let meta: TestMetadataDb;
  let work: string;
  let seal: AuditSeal;

  beforeAll(async () => {
    meta = await createTestMetadataDb();
    work = await mkdtemp(path.join(os.tmpdir(), "lifeboat-signin-"));
    seal = { key: Buffer.from("a-test-key-that-is-long-enough-for-hmac"), anchorFile: path.join(work, "audit-anchor.log") };
    await createUser(meta.db, { email: "lock@example.com", role: "viewer", password: PASSWORD });
    await createUser(meta.db, { email: "burst@example.com", role: "viewer", password: PASSWORD });
    await createUser(meta.db, { email: "admin@example.com", role: "admin", password: PASSWORD });
  });
  afterAll(async () => {
    await meta?.drop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const signIn = (email: string, password: string, address = "10.0.0.1") => authorizeSignIn(meta.db, { email, password }, address, { seal });

  it("5 wrong passwords lock the account from that address; the right one is then refused, before bcrypt, and audited", async () => {
    for (let i = 0; i < 5; i++) expect(await signIn("lock@example.com", "wrong-password")).toBeNull();
    const started = Date.now();
    const refused = await signIn("lock@example.com", PASSWORD).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(SignInLimitedError);
    expect((refused as Error).message).toMatch(
      /^Too many failed sign-ins for this account from your address\. Try again after \d\d:\d\d UTC \(in 15 minutes\)\.$/,
    );
    expect(Date.now() - started).toBeLessThan(150); // no bcrypt ran
    const rows = await meta.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.subject, "lock@example.com"), eq(auditLog.outcome, "denied")));
    expect(rows.at(-1)?.details).toMatchObject({ reason: "rate limited", scope: "account-address", address: "10.0.0.1" });
    // Another address is not locked out by this pair.
    expect(await signIn("lock@example.com", PASSWORD, "10.0.0.2")).toMatchObject({ email: "lock@example.com", role: "viewer" });
  });

  it("of 12 attempts sent at once, at most 5 reach the password check", async () => {
    const results = await Promise.allSettled(Array.from({ length: 12 }, () => signIn("burst@example.com", "wrong-password", "10.0.0.9")));
    expect(results.filter((r) => r.status === "rejected" && r.reason instanceof SignInLimitedError)).toHaveLength(7);
    const { rows } = await meta.pool.query("select outcome, count(*)::int as n from sign_in_attempts where email = 'burst@example.com' group by 1 order by 1");
    expect(rows).toEqual([
      { outcome: "failed", n: 5 },
      { outcome: "limited", n: 7 },
    ]);
  });

  it("a signed-out session, a disabled user and a reset password each revoke the cookie's session", async () => {
    const admin = (await signIn("admin@example.com", PASSWORD, "10.0.1.1"))!;
    const uid = Number(admin.id);
    expect(await findSessionUser(meta.db, uid, admin.sid)).toMatchObject({ email: "admin@example.com" });
    await revokeSession(meta.db, admin.sid);
    expect(await findSessionUser(meta.db, uid, admin.sid)).toBeNull();

    const viewer = (await signIn("lock@example.com", PASSWORD, "10.0.1.1"))!;
    const other = (await signIn("lock@example.com", PASSWORD, "10.0.1.2"))!;
    expect(await resetUserPassword(meta.db, Number(viewer.id))).toMatchObject({ revokedSessions: 3 }); // one from the first test too
    expect(await findSessionUser(meta.db, Number(viewer.id), viewer.sid)).toBeNull();
    expect(await findSessionUser(meta.db, Number(other.id), other.sid)).toBeNull();

    const again = (await signIn("admin@example.com", PASSWORD, "10.0.1.1"))!;
    const { user: second } = await createUser(meta.db, { email: "second@example.com", role: "admin", password: PASSWORD });
    const secondSession = (await signIn("second@example.com", PASSWORD, "10.0.1.1"))!;
    expect(await setUserDisabled(meta.db, uid, second.id, true)).toMatchObject({ revokedSessions: 1 });
    expect(await findSessionUser(meta.db, second.id, secondSession.sid)).toBeNull();
    expect(await signIn("second@example.com", PASSWORD, "10.0.1.1")).toBeNull();
    expect(await findSessionUser(meta.db, uid, again.sid)).toMatchObject({ email: "admin@example.com" });

    // An admin resetting their own password keeps the session they did it from, and only that one.
    const elsewhere = (await signIn("admin@example.com", PASSWORD, "10.0.1.3"))!;
    expect(await resetUserPassword(meta.db, uid, again.sid)).toMatchObject({ revokedSessions: 1 });
    expect(await findSessionUser(meta.db, uid, again.sid)).toMatchObject({ email: "admin@example.com" });
    expect(await findSessionUser(meta.db, uid, elsewhere.sid)).toBeNull();
  });

  it("keeps an enabled admin: no self-disable, the last admin is neither demoted nor disabled", async () => {
    const [admin] = await meta.db.select().from(users).where(eq(users.email, "admin@example.com"));
    await expect(setUserDisabled(meta.db, admin!.id, admin!.id, true)).rejects.toThrow(/cannot disable your own account/);
    await expect(setUserRole(meta.db, admin!.id, "operator")).rejects.toThrow(/last enabled admin/);
    await expect(setUserDisabled(meta.db, null, admin!.id, true)).rejects.toThrow(/last enabled admin/);
    await expect(createUser(meta.db, { email: "ADMIN@example.com", role: "viewer" })).rejects.toThrow(/already exists/);
    const { user: third } = await createUser(meta.db, { email: "third@example.com", role: "admin" });
    expect(await setUserRole(meta.db, admin!.id, "operator")).toEqual({ email: "admin@example.com", from: "admin", to: "operator" });
    await expect(setUserRole(meta.db, third.id, "viewer")).rejects.toThrow(/last enabled admin/);
  });

  it("with the metadata database down, the browser gets one sentence without SQL or parameters", async () => {
    const down = createDb("postgres://postgres@127.0.0.1:1/nowhere", { max: 1 });
    try {
      const error = await authorizeSignIn(down.db, { email: "someone@example.com", password: "secret-password" }, "10.0.0.1").catch((e: unknown) => e);
      const message = signInErrorMessage(error);
      expect(message).toBe(DATABASE_UNREACHABLE_MESSAGE);
      expect(message).not.toMatch(/insert|select|someone@example\.com|secret/i);
    } finally {
      await down.close();
    }
    const failedQuery = await meta.db.execute(sql`select * from no_such_table where email = ${"someone@example.com"}`).catch((e: unknown) => e);
    expect(signInErrorMessage(failedQuery)).toBe("Sign-in failed on the server; its log has the details.");
  });

  it("takes the address the nearest proxy added", () => {
    expect(clientAddress({ "x-forwarded-for": "1.2.3.4, ::ffff:127.0.0.1" })).toBe("127.0.0.1");
    expect(clientAddress(new Headers({ "x-forwarded-for": "203.0.113.7" }))).toBe("203.0.113.7");
    expect(clientAddress({})).toBe("unknown");
  });
});
