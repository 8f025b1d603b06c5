import "server-only";
import { randomUUID } from "node:crypto";
import { eq, sql } from "drizzle-orm";
import type { NextAuthOptions } from "next-auth";
import CredentialsProvider from "next-auth/providers/credentials";
import { z } from "zod";
import { appendAudit } from "@/lib/audit/append-audit";
import { getDb } from "@/lib/db/client";
import { users } from "@/lib/db/schema";
import { requireAuthSecret } from "@/lib/env";
import { hashPassword, verifyPassword } from "./password";

export const ZSignIn = z.object({
  email: z.string().trim().toLowerCase().email().max(320),
  password: z.string().min(1).max(1024),
});

// Comparing against a hash of a random string when the user does not exist keeps the response
// time the same, so sign-in timing does not reveal which emails exist.
let dummyHash: Promise<string> | undefined;
function getDummyHash(): Promise<string> {
  dummyHash ??= hashPassword(randomUUID());
  return dummyHash;
}

let cached: NextAuthOptions | undefined;

/**
 * next-auth's options, built on first use: reading AUTH_SECRET at import time would make
 * `next build` need the runtime secrets.
 */
export function getAuthOptions(): NextAuthOptions {
  cached ??= buildAuthOptions();
  return cached;
}

const buildAuthOptions = (): NextAuthOptions => ({
  secret: requireAuthSecret(),
  session: { strategy: "jwt", maxAge: 12 * 60 * 60 },
  pages: { signIn: "/signin" },
  providers: [
    CredentialsProvider({
      name: "Email and password",
      credentials: {
        email: { label: "Email", type: "email" },
        password: { label: "Password", type: "password" },
      },
      async authorize(credentials) {
        const parsed = ZSignIn.safeParse(credentials ?? {});
        if (!parsed.success) return null;
        const db = await getDb();
        const [user] = await db
          .select()
          .from(users)
          .where(eq(sql`lower(${users.email})`, parsed.data.email))
          .limit(1);
        const ok = await verifyPassword(parsed.data.password, user?.passwordHash ?? (await getDummyHash()));
        if (!user || !ok || user.disabled) {
          await appendAudit(db, {
            action: "auth.sign-in",
            outcome: "denied",
            subject: parsed.data.email,
            details: { reason: !user ? "unknown user" : user.disabled ? "disabled" : "wrong password" },
          });
          return null;
        }
        await db.update(users).set({ lastSignInAt: new Date() }).where(eq(users.id, user.id));
        await appendAudit(db, { action: "auth.sign-in", outcome: "succeeded", actorId: user.id, actorEmail: user.email, subject: user.email });
        return { id: String(user.id), email: user.email, name: user.name, role: user.role };
      },
    }),
  ],
  callbacks: {
    jwt({ token, user }) {
      if (user) {
        token.uid = Number(user.id);
        token.role = user.role;
      }
      return token;
    },
    session({ session, token }) {
      if (token.uid !== undefined && token.role) {
        session.user = { id: token.uid, email: token.email ?? "", name: token.name ?? null, role: token.role };
      }
      return session;
    },
  },
});
