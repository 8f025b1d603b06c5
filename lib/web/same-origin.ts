import "server-only";

/**
 * The Origin of a browser's cross-site request, or undefined when the request may go on. A
 * browser sends Origin on every POST: one that is neither this server's own (its Host header, or
 * NEXTAUTH_URL behind a proxy) is another site acting with the user's cookie (CSRF), and "null"
 * (a sandboxed frame, a data: page) is refused too. Requests without Origin (curl, scripts) come
 * from no browser and are judged by their session alone. Server actions have Next's own check.
 */
export function foreignOrigin(request: Request): string | undefined {
  const origin = request.headers.get("origin");
  if (origin === null) return undefined;
  const allowed = new Set<string>();
  const host = request.headers.get("host");
  if (host) for (const scheme of ["http", "https"]) allowed.add(`${scheme}://${host}`);
  const configured = process.env.NEXTAUTH_URL;
  if (configured && URL.canParse(configured)) allowed.add(new URL(configured).origin);
  return allowed.has(origin) ? undefined : origin;
}
