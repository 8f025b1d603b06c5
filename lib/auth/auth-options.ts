import "server-only";
import type { NextAuthOptions } from "next-auth";
import CredentialsProvider from "next-auth/providers/credentials";
import { appendAudit } from "@/lib/audit/append-audit";
import { getDb } from "@/lib/db/client";
import { requireAuthSecret } from "@/lib/env";
import { describeForLog } from "./db-errors";
import { revokeSession, SESSION_MAX_AGE_SECONDS } from "./sessions";
import { authorizeSignIn, clientAddress, signInErrorMessage } from "./sign-in";

let cached: NextAuthOptions | undefined;

/**
 * next-auth's options, built on first use: reading AUTH_SECRET at import time would make
 * `next build` need the runtime secrets.
 */
export function getAuthOptions(): NextAuthOptions {
  cached ??= buildAuthOptions();
  return cached;
}

/** next-auth's errors as one line each (a bad cookie used to print a 15-line stack per request). */
function logLine(level: "error" | "warn", code: string, metadata?: unknown): void {
  const detail = metadata === undefined ? "" : `: ${describeForLog((metadata as { error?: unknown })?.error ?? metadata)}`;
  console[level](`lifeboat: auth ${code}${detail}`);
}

const buildAuthOptions = (): NextAuthOptions => ({
  secret: requireAuthSecret(),
  session: { strategy: "jwt", maxAge: SESSION_MAX_AGE_SECONDS },
  jwt: { maxAge: SESSION_MAX_AGE_SECONDS },
  pages: { signIn: "/signin" },
  logger: {
    error: (code, metadata) => logLine("error", code, metadata),
    warn: (code) => logLine("warn", code),
    debug: () => undefined,
  },
  providers: [
    CredentialsProvider({
      name: "Email and password",
      credentials: {
        email: { label: "Email", type: "email" },
        password: { label: "Password", type: "password" },
      },
      async authorize(credentials, request) {
        try {
          const db = await getDb();
          return await authorizeSignIn(db, credentials, clientAddress(request?.headers as Record<string, string> | undefined));
        } catch (error) {
          // next-auth copies the message (never the cause) into the error URL: only safe sentences.
          throw new Error(signInErrorMessage(error), { cause: error });
        }
      },
    }),
  ],
  callbacks: {
    jwt({ token, user }) {
      if (user) {
        token.uid = Number(user.id);
        token.role = user.role;
        token.sid = user.sid;
      }
      return token;
    },
    session({ session, token }) {
      if (token.uid !== undefined && token.role) {
        session.user = { id: token.uid, email: token.email ?? "", name: token.name ?? null, role: token.role };
        session.sid = token.sid;
      }
      return session;
    },
  },
  events: {
    // Sign-out revokes the session server-side: a copy of the cookie stops working too.
    async signOut({ token }) {
      const sid = (token as { sid?: unknown } | null)?.sid;
      if (typeof sid !== "string") return;
      try {
        const db = await getDb();
        await revokeSession(db, sid);
        const uid = (token as { uid?: unknown }).uid;
        await appendAudit(db, {
          action: "auth.sign-out",
          outcome: "succeeded",
          actorId: typeof uid === "number" ? uid : null,
          actorEmail: token.email ?? null,
          subject: token.email ?? null,
        });
      } catch (error) {
        console.error(`lifeboat: sign-out could not revoke the session (${describeForLog(error)})`);
      }
    },
  },
});
