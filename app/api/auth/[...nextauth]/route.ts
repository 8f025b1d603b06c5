// GET/POST /api/auth/* - next-auth's sign-in, sign-out, session and CSRF endpoints (public by design)
import NextAuth from "next-auth";
import { getAuthOptions } from "@/lib/auth/auth-options";

type RouteContext = { params: Promise<{ nextauth: string[] }> };
type AppRouteHandler = (request: Request, context: RouteContext) => Promise<Response>;

// Built per request from lazily read options, so `next build` needs no runtime secrets.
function handler(request: Request, context: RouteContext): Promise<Response> {
  return (NextAuth(getAuthOptions()) as unknown as AppRouteHandler)(request, context);
}

export { handler as GET, handler as POST };
