// Runs before every page and route (Next.js 16's proxy, formerly middleware): security headers on
// every response, and a signed-out request for a page gets a real 307 to /signin (an API route: 401 JSON).
// Not the only check: pages, actions and route handlers check the session themselves (getSessionUser:
// revoked sessions, disabled users, roles), because a proxy only sees a cookie that decodes.
import { getToken } from "next-auth/jwt";
import { NextResponse, type NextRequest } from "next/server";
import { contentSecurityPolicy, securityHeaders } from "@/lib/auth/security-headers";
import { getEnv, requireAuthSecret } from "@/lib/env";

/** Reachable signed out: the sign-in page, next-auth's endpoints, liveness, metrics (bearer token). */
const PUBLIC_PATHS = ["/signin", "/api/auth", "/api/health", "/api/metrics"];
/**
 * Routes that refuse a missing session themselves and audit the attempt (the proxy cannot write
 * the audit log). Any other API route is refused here with 401 when signed out: add a route to
 * this list once its handler audits its own refusals.
 */
const SELF_CHECKING_PATHS = ["/api/operations", "/api/runs", "/api/audit", "/api/backups"];

function under(pathname: string, prefixes: string[]): boolean {
  return prefixes.some((prefix) => pathname === prefix || pathname.startsWith(`${prefix}/`));
}

export async function proxy(request: NextRequest) {
  const env = getEnv();
  const https = env.NEXTAUTH_URL?.startsWith("https://") ?? request.nextUrl.protocol === "https:";
  const nonce = Buffer.from(crypto.randomUUID()).toString("base64");
  const csp = contentSecurityPolicy({ nonce, dev: env.NODE_ENV === "development", https });
  const finish = (response: NextResponse) => {
    response.headers.set("Content-Security-Policy", csp);
    for (const [name, value] of Object.entries(securityHeaders({ https }))) response.headers.set(name, value);
    return response;
  };

  const { pathname } = request.nextUrl;
  // Server actions are POSTs to a page's URL; defineAction refuses and audits a missing session itself.
  const isAction = request.method === "POST" && request.headers.has("next-action");
  if (!isAction && !under(pathname, PUBLIC_PATHS) && !under(pathname, SELF_CHECKING_PATHS)) {
    const token = await getToken({ req: request, secret: requireAuthSecret(env) }).catch(() => null);
    if (typeof token?.uid !== "number" || typeof token.sid !== "string") {
      if (pathname.startsWith("/api/")) {
        return finish(NextResponse.json({ error: "You are signed out. Sign in again.", code: "UNAUTHENTICATED" }, { status: 401 }));
      }
      const signIn = request.nextUrl.clone();
      signIn.pathname = "/signin";
      signIn.search = "";
      return finish(NextResponse.redirect(signIn, 307));
    }
  }

  // Next.js reads the nonce from the request's CSP header and puts it on the scripts it writes.
  const requestHeaders = new Headers(request.headers);
  requestHeaders.set("Content-Security-Policy", csp);
  return finish(NextResponse.next({ request: { headers: requestHeaders } }));
}

export const config = {
  // Everything but the build's static files and the icons.
  matcher: ["/((?!_next/static|_next/image|favicon.svg|logo.svg).*)"],
};
