import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { desc, eq, gt } from "drizzle-orm";
import { NextRequest } from "next/server";
import { encode } from "next-auth/jwt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashPassword } from "@/lib/auth/password";
import { PERMISSIONS, roleRank, ROLES, type RoleName } from "@/lib/auth/permissions";
import { auditLog, runs, users } from "@/lib/db/schema";
import { OPERATIONS, type OperationKind } from "@/lib/operations";
import { createTestMetadataDb, type TestMetadataDb } from "@/test/helpers/metadata-db";
import { cliEnv, createTestTarget, type TestTarget } from "@/test/helpers/target";

const exec = promisify(execFile);
const repo = path.resolve(import.meta.dirname, "..", "..");
const AUTH_SECRET = "route-auth-test-secret-0123456789abcdef";
const METRICS_TOKEN = "metrics-token-0123456789";
const ORIGIN = "http://localhost:3000";
const PASSWORD = "route-test-Pa55word!";

/**
 * The route handlers as Next.js calls them, with a session cookie from a real sign-in, a forged
 * one, or none. Outside a Next.js server there is no request scope for
 * `next/headers`, which next-auth's getServerSession reads; the test hands it the request's
 * headers and cookies instead (the same CommonJS module next-auth requires).
 */
const nextHeaders = createRequire(path.join(repo, "node_modules", "next-auth", "package.json"))("next/headers") as {
  headers: () => Promise<Headers>;
  cookies: () => Promise<{ getAll: () => { name: string; value: string }[] }>;
};
let current = new Headers();
nextHeaders.headers = async () => current;
nextHeaders.cookies = async () => ({
  getAll: () =>
    (current.get("cookie") ?? "")
      .split(";")
      .map((c) => c.trim())
      .filter(Boolean)
      .map((c) => ({ name: c.slice(0, c.indexOf("=")), value: decodeURIComponent(c.slice(c.indexOf("=") + 1)) })),
});

type Account = { id: number; email: string; role: RoleName };

describe("route handlers called directly: no session 401, a lower role 403, both audited; no secret in what they serve", () => {
  let meta: TestMetadataDb;
  let target: TestTarget;
  let work: string;
  const accounts = {} as Record<RoleName | "disabled", Account>;
  let authRoute: { POST: (request: Request, context: { params: Promise<{ nextauth: string[] }> }) => Promise<Response> };
  let operations: typeof import("@/app/api/operations/[kind]/route");
  let runRoute: typeof import("@/app/api/runs/[id]/route");
  let metrics: typeof import("@/app/api/metrics/route");
  const saved = { ...process.env };

  const signedIn = new Map<number, string>();
  /**
   * A session cookie from the real sign-in (next-auth's credentials callback through the app's own
   * route handler), so whatever the app records for a session (a sessions row, say) exists.
   */
  const signIn = async (account: Account): Promise<string> => {
    const known = signedIn.get(account.id);
    if (known) return known;
    const context = (action: string[]) => ({ params: Promise.resolve({ nextauth: action }) });
    const cookies = new Map<string, string>();
    const take = (response: Response) => {
      for (const line of response.headers.getSetCookie()) {
        const [pair] = line.split(";");
        const at = pair!.indexOf("=");
        cookies.set(pair!.slice(0, at), pair!.slice(at + 1));
      }
    };
    const send = async (method: string, action: string[], body?: URLSearchParams) => {
      current = new Headers({ host: "localhost:3000", origin: ORIGIN, "x-forwarded-for": "127.0.0.1" });
      if (cookies.size) current.set("cookie", [...cookies].map(([k, v]) => `${k}=${v}`).join("; "));
      if (body) current.set("content-type", "application/x-www-form-urlencoded");
      const response = await authRoute.POST(new NextRequest(`${ORIGIN}/api/auth/${action.join("/")}`, { method, headers: current, body }), context(action));
      take(response);
      return response;
    };
    const csrf = (await (await send("GET", ["csrf"])).json()) as { csrfToken: string };
    await send("POST", ["callback", "credentials"], new URLSearchParams({ csrfToken: csrf.csrfToken, email: account.email, password: PASSWORD, json: "true" }));
    const session = [...cookies].find(([k]) => k.endsWith("next-auth.session-token"));
    if (!session) throw new Error(`signing in as ${account.email} set no session cookie`);
    const cookie = `${session[0]}=${session[1]}`;
    signedIn.set(account.id, cookie);
    return cookie;
  };
  /** A cookie next-auth accepts only if it holds AUTH_SECRET: one signed with another secret is a forgery. */
  const forged = async (account: Account) =>
    `next-auth.session-token=${await encode({ token: { uid: account.id, sid: "forged", role: "admin", email: account.email, sub: String(account.id) }, secret: "another-secret-of-32-characters-or-more" })}`;
  const cookieFor = async (account: Account | undefined, forge = false) => (account ? (forge ? forged(account) : signIn(account)) : undefined);

  const request = async (method: string, url: string, options: { as?: Account; forge?: boolean; origin?: string | null; body?: unknown } = {}) => {
    const cookie = await cookieFor(options.as, options.forge);
    const headers = new Headers({ host: "localhost:3000" });
    if (cookie) headers.set("cookie", cookie);
    if (options.origin !== null) headers.set("origin", options.origin ?? ORIGIN);
    if (options.body !== undefined) headers.set("content-type", "application/json");
    current = headers;
    return new Request(`${ORIGIN}${url}`, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  };
  /**
   * As Next.js serves it: through the app's proxy (proxy.ts, Next.js 16's middleware) when there is
   * one, then the handler unless the proxy answered itself.
   */
  const serve = async (req: Request, handler: (req: Request) => Promise<Response>) => {
    const proxyFile = path.join(repo, "proxy.ts");
    if (existsSync(proxyFile)) {
      const { proxy } = (await import(/* @vite-ignore */ proxyFile)) as { proxy: (r: NextRequest) => Promise<Response> };
      const answer = await proxy(new NextRequest(req.clone()));
      if (!answer.headers.has("x-middleware-next")) return answer;
    }
    return handler(req);
  };
  const postOperation = async (kind: string, options: { as?: Account; forge?: boolean; origin?: string | null } = {}) =>
    serve(await request("POST", `/api/operations/${kind}`, { ...options, body: { target: "app" } }), (r) =>
      operations.POST(r, { params: Promise.resolve({ kind }) }),
    );
  const getRun = async (id: number, options: { as?: Account; forge?: boolean } = {}) =>
    serve(await request("GET", `/api/runs/${id}`, options), (r) => runRoute.GET(r, { params: Promise.resolve({ id: String(id) }) }));
  const newestAudit = async () => (await meta.db.select().from(auditLog).orderBy(desc(auditLog.id)).limit(1))[0];
  const runCount = async () => (await meta.db.select({ id: runs.id }).from(runs)).length;

  beforeAll(async () => {
    meta = await createTestMetadataDb();
    target = await createTestTarget();
    work = await mkdtemp(path.join(os.tmpdir(), "lifeboat-routes-"));
    // The web app's configuration: lib/env.ts reads it on first use, after this.
    Object.assign(process.env, {
      DATABASE_URL: meta.url,
      AUTH_SECRET,
      NEXTAUTH_URL: ORIGIN,
      LIFEBOAT_METRICS_TOKEN: METRICS_TOKEN,
      BACKUP_DIR: path.join(work, "backups"),
      LOG_DIR: path.join(work, "logs"),
      ...cliEnv(target, { DATABASE_URL: meta.url, BACKUP_DIR: path.join(work, "backups"), LOG_DIR: path.join(work, "logs") }),
    });
    const passwordHash = await hashPassword(PASSWORD);
    for (const role of [...ROLES, "disabled"] as const) {
      const [row] = await meta.db
        .insert(users)
        .values({ email: `${role}@example.com`, passwordHash, role: role === "disabled" ? "admin" : role })
        .returning();
      accounts[role] = { id: row!.id, email: row!.email, role: row!.role };
    }
    authRoute = (await import("@/app/api/auth/[...nextauth]/route")) as unknown as typeof authRoute;
    operations = await import("@/app/api/operations/[kind]/route");
    runRoute = await import("@/app/api/runs/[id]/route");
    metrics = await import("@/app/api/metrics/route");
    // Signed in while enabled, then disabled: the cookie still decodes, and must count for nothing.
    for (const account of Object.values(accounts)) await signIn(account);
    await meta.db.update(users).set({ disabled: true }).where(eq(users.id, accounts.disabled.id));
  });

  afterAll(async () => {
    const globals = globalThis as unknown as { lifeboatDb?: { close: () => Promise<void> }; lifeboatBoss?: Promise<{ stop: (o?: object) => Promise<void> }> };
    await (await globals.lifeboatBoss?.catch(() => undefined))?.stop({ graceful: false, wait: true }).catch(() => undefined);
    await globals.lifeboatDb?.close().catch(() => undefined);
    process.env = saved;
    await target?.remove();
    await meta?.drop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("POST /api/operations/[kind], every kind: no session or a forged one → 401, a role below the operation's → 403, each refusal audited, nothing queued [S21]", async () => {
    const kinds = Object.keys(OPERATIONS) as OperationKind[];
    expect(kinds.length).toBeGreaterThanOrEqual(7);
    for (const kind of kinds) {
      const definition = OPERATIONS[kind];
      for (const options of [{}, { as: accounts.admin, forge: true }, { as: accounts.disabled }]) {
        const response = await postOperation(kind, options);
        expect(response.status, `${kind} ${JSON.stringify(options)}`).toBe(401);
        expect(await response.json()).toMatchObject({ code: "UNAUTHENTICATED" });
        expect(await newestAudit(), kind).toMatchObject({ action: `${definition.action}.request`, outcome: "denied", details: { reason: "not signed in" } });
      }
      const needed = PERMISSIONS[definition.permission];
      const below = ROLES.filter((r) => roleRank(r) < roleRank(needed));
      expect(below.length, `${kind} needs ${needed}`).toBeGreaterThan(0);
      for (const role of below) {
        const response = await postOperation(kind, { as: accounts[role] });
        expect(response.status, `${kind} as ${role}`).toBe(403);
        expect((await response.json()).error).toContain(definition.permission);
        expect(await newestAudit(), `${kind} as ${role}`).toMatchObject({
          action: `${definition.action}.request`,
          outcome: "denied",
          actorEmail: accounts[role].email,
          details: { reason: `${role} lacks ${definition.permission}` },
        });
      }
    }
    expect(await runCount()).toBe(0);
  });

  it("POST /api/operations/[kind] with a session but from a foreign Origin is rejected and queues nothing [S21]", async () => {
    const before = await runCount();
    for (const origin of ["https://evil.example", "http://localhost:3000.evil.example", "null"]) {
      const response = await postOperation("backup", { as: accounts.admin, origin });
      expect(response.status, origin).toBe(403);
    }
    expect(await runCount()).toBe(before);
  });

  it("GET /api/runs/[id]: no session, a forged or a disabled account → 401; a viewer sees the run but never its stderr [S21]", async () => {
    const [run] = await meta.db
      .insert(runs)
      .values({ kind: "backup", status: "failed", stderr: "pg_dump: error: something private", error: "it failed" })
      .returning();
    for (const options of [{}, { as: accounts.admin, forge: true }, { as: accounts.disabled }]) {
      const response = await getRun(run!.id, options);
      expect(response.status, JSON.stringify(options)).toBe(401);
      expect(JSON.stringify(await response.json())).not.toContain("something private");
    }
    const asViewer = await getRun(run!.id, { as: accounts.viewer });
    expect(asViewer.status).toBe(200);
    expect(await asViewer.json()).toMatchObject({ id: run!.id, status: "failed", error: "it failed", stderr: null });
    const asAdmin = await getRun(run!.id, { as: accounts.admin });
    expect(await asAdmin.json()).toMatchObject({ stderr: "pg_dump: error: something private" });
  });

  it("GET /api/runs/[id] refusals are audited [S21]", async () => {
    const after = (await newestAudit())?.id ?? 0;
    expect((await getRun(1)).status).toBe(401);
    const rows = await meta.db.select().from(auditLog).where(gt(auditLog.id, after));
    expect(rows).toEqual([expect.objectContaining({ outcome: "denied" })]);
  });

  it("GET /api/metrics: no token, another token or another scheme → 401; the token → 200 [S21]", async () => {
    for (const authorization of [undefined, "Bearer wrong-token-0123456789", `Basic ${METRICS_TOKEN}`]) {
      const response = await serve(new Request(`${ORIGIN}/api/metrics`, { headers: authorization ? { authorization } : {} }), (r) => metrics.GET(r));
      expect(response.status, authorization).toBe(401);
      expect(await response.text()).not.toContain("lifeboat_");
    }
    const ok = await serve(new Request(`${ORIGIN}/api/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } }), (r) => metrics.GET(r));
    expect(ok.status).toBe(200);
    expect(await ok.text()).toMatch(/lifeboat_/);
  });

  it("a backup with a wrong password and one with the right one: neither password is in the logs, the run records, the audit log or what /api/runs serves [S24]", async () => {
    const wrong = "Wr0ng:pw'secret-42";
    const settings = { DATABASE_URL: meta.url, BACKUP_DIR: path.join(work, "backups"), LOG_DIR: path.join(work, "logs") };
    const backup = async (env: NodeJS.ProcessEnv) =>
      exec(path.join(repo, "node_modules", ".bin", "tsx"), [path.join(repo, "cli", "backup.ts"), "--kinds", "schema"], {
        cwd: repo,
        env,
        timeout: 120_000,
      }).then(
        (r) => ({ code: 0, ...r }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
    const firstRun = (await meta.db.select({ id: runs.id }).from(runs).orderBy(desc(runs.id)).limit(1))[0]?.id ?? 0;
    const failed = await backup({ ...cliEnv(target, settings), DB_PASSWORD: wrong });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/password authentication failed/);
    const succeeded = await backup(cliEnv(target, settings));
    expect(succeeded.code, succeeded.stderr).toBe(0);

    const secrets: string[] = [wrong, target.connection.password ?? "app-Secret:pw'1"];
    const seen: string[] = [failed.stdout, failed.stderr, succeeded.stdout, succeeded.stderr];
    for (const name of await readdir(settings.LOG_DIR)) seen.push(await readFile(path.join(settings.LOG_DIR, name), "utf8"));
    const recorded = await meta.db.select().from(runs).where(gt(runs.id, firstRun));
    expect(recorded.map((r) => r.status).sort()).toEqual(["failed", "succeeded"]);
    seen.push(JSON.stringify(recorded), JSON.stringify(await meta.db.select().from(auditLog)));
    for (const run of recorded) seen.push(JSON.stringify(await (await getRun(run.id, { as: accounts.admin })).json()));
    expect(seen.join("\n")).toMatch(/password authentication failed/);
    for (const secret of secrets) {
      expect(seen.join("\n")).not.toContain(secret);
      expect(seen.join("\n")).not.toContain(encodeURIComponent(secret));
    }
  });
});
