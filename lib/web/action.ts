import "server-only";
import type { z } from "zod";
import { appendAudit } from "@/lib/audit/append-audit";
import { can, type Permission } from "@/lib/auth/permissions";
import { getSessionUser, type SessionUser } from "@/lib/auth/session";
import { getDb, type Db } from "@/lib/db/client";
import { LifeboatError } from "@/lib/engine/errors";
import { getEnv, type TEnv } from "@/lib/env";

/** What every server action returns: data, or a message safe to show in the browser. */
export type ActionResult<T> = { ok: true; data: T } | { ok: false; code: "UNAUTHENTICATED" | "FORBIDDEN" | "INVALID" | string; error: string };

export type ActionContext = { user: SessionUser; db: Db; env: TEnv };

/**
 * The one pipeline of CONVENTIONS.md, written once: the signed-in user (no session: refused and
 * audited) → the permission (missing: refused and audited; a hidden button is not protection) →
 * the zod schema → the handler → an audit row of the outcome. A LifeboatError's message is safe
 * to show; any other error becomes a generic sentence (the server log has it).
 */
export function defineAction<S extends z.ZodType, R>(definition: {
  /** Audit action, e.g. "backups.run". */
  action: string;
  permission: Permission;
  input: S;
  /** The audit row's subject for this input (a target name, a user's email). */
  subject?: ((input: z.infer<S>) => string | null) | undefined;
  /** Handlers that audit for themselves (operations: runOperation writes the row). */
  auditsItself?: boolean;
  run: (context: ActionContext, input: z.infer<S>) => Promise<R>;
}): (raw: unknown) => Promise<ActionResult<R>> {
  return async (raw: unknown) => {
    const db = await getDb();
    const user = await getSessionUser().catch(() => null);
    const subjectOf = (input: unknown) => {
      try {
        return definition.subject?.(input as z.infer<S>) ?? null;
      } catch {
        return null;
      }
    };
    if (!user) {
      await appendAudit(db, { action: definition.action, outcome: "denied", subject: subjectOf(raw), details: { reason: "not signed in" } });
      return { ok: false, code: "UNAUTHENTICATED", error: "You are signed out. Sign in again." };
    }
    const actor = { actorId: user.id, actorEmail: user.email };
    if (!can(user, definition.permission)) {
      await appendAudit(db, {
        ...actor,
        action: definition.action,
        outcome: "denied",
        subject: subjectOf(raw),
        details: { reason: `${user.role} lacks ${definition.permission}` },
      });
      return { ok: false, code: "FORBIDDEN", error: `Your role (${user.role}) may not do this: it needs ${definition.permission}.` };
    }
    const parsed = definition.input.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return { ok: false, code: "INVALID", error: `${issue?.path.length ? `${issue.path.join(".")}: ` : ""}${issue?.message ?? "invalid input"}` };
    }
    try {
      const data = await definition.run({ user, db, env: getEnv() }, parsed.data);
      if (!definition.auditsItself) await appendAudit(db, { ...actor, action: definition.action, outcome: "succeeded", subject: subjectOf(parsed.data) });
      return { ok: true, data };
    } catch (error) {
      const safe = error instanceof LifeboatError;
      if (!safe) console.error(`lifeboat: action ${definition.action} failed:`, error);
      if (!definition.auditsItself)
        await appendAudit(db, {
          ...actor,
          action: definition.action,
          outcome: "failed",
          subject: subjectOf(parsed.data),
          details: { error: safe ? error.message : "internal error" },
        }).catch(() => undefined);
      return {
        ok: false,
        code: safe ? error.code : "INTERNAL",
        error: safe ? error.message : "Something went wrong on the server; its log has the details.",
      };
    }
  };
}
