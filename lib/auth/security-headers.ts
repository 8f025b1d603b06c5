/**
 * The security headers of every page and route (set by proxy.ts, which runs per request, so the
 * CSP carries a fresh nonce and HSTS follows the configuration the server started with).
 */

/**
 * Scripts: only this origin's files and the inline scripts Next.js writes, which carry the
 * request's nonce ('strict-dynamic' lets those load their chunks). Styles allow inline style
 * attributes (React and the charts set them); they cannot run code. Nobody may frame a page.
 */
export function contentSecurityPolicy(options: { nonce: string; dev?: boolean; https?: boolean }): string {
  return [
    "default-src 'self'",
    `script-src 'self' 'nonce-${options.nonce}' 'strict-dynamic'${options.dev ? " 'unsafe-eval'" : ""}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    `connect-src 'self'${options.dev ? " ws: wss:" : ""}`,
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    ...(options.https ? ["upgrade-insecure-requests"] : []),
  ].join("; ");
}

/** Headers beside the CSP. HSTS only when the app is served over https (NEXTAUTH_URL), never on plain http. */
export function securityHeaders(options: { https?: boolean }): Record<string, string> {
  return {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    ...(options.https ? { "Strict-Transport-Security": "max-age=63072000; includeSubDomains" } : {}),
  };
}
