import { randomBytes } from "node:crypto";
import { expect, test } from "@playwright/test";
import { signIn } from "../support/fixtures";
import { metadataQuery, submitSignIn, userCreate } from "./helpers";

const RESTORE_INPUT = { target: "shop", file: "latest", confirm: "shop" };

test("[ACCESS] a signed-out request for a page gets a real 307 to /signin; an API route gets 401 JSON", async ({ request, baseURL }) => {
  for (const path of ["/", "/backups", "/users", "/audit"]) {
    const response = await request.get(path, { maxRedirects: 0 });
    expect(response.status(), path).toBe(307);
    expect(new URL(response.headers()["location"]!, baseURL).pathname, path).toBe("/signin");
  }
  // Routes that audit their own refusals answer for themselves; any other is refused by the proxy.
  const since = new Date();
  expect((await request.get("/api/runs/1", { maxRedirects: 0 })).status()).toBe(401);
  const audited = await metadataQuery<{ outcome: string }>("select outcome from audit_log where action = 'runs.read' and at >= $1", [since]);
  expect(audited).toEqual([{ outcome: "denied" }]);
  const api = await request.get("/api/not-a-route", { maxRedirects: 0 });
  expect(api.status()).toBe(401);
  expect(await api.json()).toMatchObject({ code: "UNAUTHENTICATED" });
  const health = await request.get("/api/health");
  expect(health.status()).toBe(200);
  expect(await health.json()).toEqual({ ok: true, database: "ok" });
  // A cookie that does not decode is treated as none (and logged in one line, not a stack trace).
  const forged = await request.get("/", { maxRedirects: 0, headers: { cookie: "next-auth.session-token=not-a-token" } });
  expect(forged.status()).toBe(307);
  expect((await request.get("/signin", { headers: { cookie: "next-auth.session-token=not-a-token" } })).status()).toBe(200);
});

test("[ACCESS] every page carries the security headers; nothing may frame the sign-in page", async ({ request, page }) => {
  const response = await request.get("/signin");
  const headers = response.headers();
  expect(headers["content-security-policy"]).toContain("frame-ancestors 'none'");
  expect(headers["content-security-policy"]).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9+/=]+' 'strict-dynamic'/);
  expect(headers["x-frame-options"]).toBe("DENY");
  expect(headers["x-content-type-options"]).toBe("nosniff");
  expect(headers["referrer-policy"]).toBe("strict-origin-when-cross-origin");
  // Served over plain http here: no HSTS (it is sent only when NEXTAUTH_URL is https).
  expect(headers["strict-transport-security"]).toBeUndefined();
  expect((await request.get("/api/health")).headers()["x-frame-options"]).toBe("DENY");

  // The nonce lets Next.js's own scripts run: the page hydrates and signs in, with no CSP violation.
  const violations: string[] = [];
  page.on("console", (message) => {
    if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
  });
  await signIn(page, "viewer");
  expect(violations).toEqual([]);
});

test("[ACCESS] a viewer calling the restore operation directly is refused, and the attempt is audited", async ({ page }) => {
  await signIn(page, "viewer");
  const since = new Date();
  const response = await page.request.post("/api/operations/restore", { data: RESTORE_INPUT });
  expect(response.status()).toBe(403);
  expect((await response.json()).code).toBe("FORBIDDEN");
  const rows = await metadataQuery<{ outcome: string; details: { reason?: string } }>(
    "select outcome, details from audit_log where action like 'backups.restore%' and actor_email = $1 and at >= $2",
    ["viewer@e2e.test", since],
  );
  expect(rows).toEqual([{ outcome: "denied", details: { reason: "viewer lacks backups.restore" } }]);
});

test("[ACCESS] the restore operation with no session is refused, and the attempt is audited", async ({ request }) => {
  const since = new Date();
  const response = await request.post("/api/operations/restore", { data: RESTORE_INPUT });
  expect(response.status()).toBe(401);
  const rows = await metadataQuery<{ outcome: string; actor_email: string | null; details: { reason?: string } }>(
    "select outcome, actor_email, details from audit_log where action like 'backups.restore%' and at >= $1",
    [since],
  );
  expect(rows).toEqual([{ outcome: "denied", actor_email: null, details: { reason: "not signed in" } }]);
});

test("[ACCESS] six wrong passwords lock the account; the right one is then refused and says when to try again", async ({ page }) => {
  // A user of its own: the lock must not keep the other specs' users out.
  const email = `lockout-${randomBytes(4).toString("hex")}@e2e.test`;
  const password = `right-${randomBytes(9).toString("base64url")}`;
  const created = await userCreate(["--email", email, "--role", "viewer", "--password-stdin"], `${password}\n`);
  expect(created.stderr).toBe("");
  expect(created.code).toBe(0);
  expect(created.stdout).toContain(`created viewer ${email}`);

  await page.goto("/signin");
  const alert = page.locator("form").getByRole("alert");
  for (let attempt = 1; attempt <= 6; attempt++) {
    await submitSignIn(page, email, `wrong-${attempt}`);
    await expect(alert).toHaveText(attempt <= 5 ? "Wrong email or password." : /^Too many failed sign-ins/);
  }
  await submitSignIn(page, email, password);
  await expect(alert).toHaveText(/^Too many failed sign-ins for this account from your address\. Try again after \d\d:\d\d UTC \(in 1[45] minutes\)\.$/);
  await page.goto("/");
  await expect(page).toHaveURL(/\/signin$/);

  const limited = await metadataQuery<{ n: number }>(
    "select count(*)::int as n from audit_log where action = 'auth.sign-in' and subject = $1 and outcome = 'denied' and details->>'reason' = 'rate limited'",
    [email],
  );
  expect(limited[0]!.n).toBe(2);
});

test("[ACCESS] signing out revokes the session: a copy of the old cookie no longer opens a page", async ({ page, request, baseURL }) => {
  await signIn(page, "operator");
  const cookie = (await page.context().cookies()).find((c) => c.name.endsWith("next-auth.session-token"));
  expect(cookie).toBeDefined();
  const replay = (path: string) => request.get(path, { maxRedirects: 0, headers: { cookie: `${cookie!.name}=${cookie!.value}` } });
  expect((await replay("/")).status()).toBe(200);

  await page.getByRole("button", { name: "Sign out" }).click();
  // Back on this server's own sign-in page (not a hard-coded port 3000).
  await expect(page).toHaveURL(`${baseURL}/signin`);

  const after = await replay("/");
  expect(after.status()).toBe(307);
  expect(new URL(after.headers()["location"]!, baseURL).pathname).toBe("/signin");
  expect((await replay("/api/runs/1")).status()).toBe(401);
});

test("[ACCESS] npm run user:create refuses a duplicate email and an unknown role in one clear line", async () => {
  const duplicate = await userCreate(["--email", "ADMIN@e2e.test", "--role", "admin"]);
  expect(duplicate.code).toBe(2);
  expect(duplicate.stderr.trim()).toBe(
    "lifeboat: ERROR: A user with the email admin@e2e.test already exists; change their role or reset their password instead.",
  );
  const role = await userCreate(["--email", "new@e2e.test", "--role", "boss"]);
  expect(role.code).toBe(2);
  expect(role.stderr.trim()).toBe('lifeboat: ERROR: --role must be viewer, operator or admin (got "boss")');

  const generated = await userCreate(["--email", `gen-${randomBytes(3).toString("hex")}@e2e.test`, "--role", "operator"]);
  expect(generated.code).toBe(0);
  expect(generated.stdout).toMatch(/password \(shown once, store it now\): [A-Za-z0-9]{24}\n/);
});
