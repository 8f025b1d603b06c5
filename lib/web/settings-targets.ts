import "server-only";
import { eq } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "@/lib/db/client";
import { targets, type Target } from "@/lib/db/schema";
import { InvalidInputError, LifeboatError } from "@/lib/engine/errors";
import { TARGET_NAME, TARGET_NAME_RULE } from "@/lib/engine/repository/artifact-kinds";
import { readPasswordVariable, type TEnv } from "@/lib/env";
import { ensureDefaultSchedules } from "@/lib/jobs/schedules";
import { probeTarget, type TargetProbe } from "@/lib/targets/probe-target";
import { encryptTargetPassword, passwordVariableFor, resolveTargetPassword } from "@/lib/targets/target-secrets";

/**
 * A target as the settings form sends it. The password is write-only: it comes in with "sealed"
 * (stored encrypted, bound to name, host, port and user, as `npm run target -- add
 * --password-stdin`), is used for the connection test, and is never sent back. "keep" leaves the
 * stored one. Cluster settings (data directory, control commands, OS user) run commands on this
 * host: they stay with `npm run target` and are kept as they are.
 */
export const ZTargetForm = z.object({
  mode: z.enum(["add", "edit"]),
  name: z.string().trim().regex(TARGET_NAME, `must be a target name (${TARGET_NAME_RULE})`),
  host: z
    .string()
    .trim()
    .min(1, "is required")
    .max(255)
    .regex(/^[A-Za-z0-9_.:\-[\]/]+$/, "must be a host name, an IP address or a socket folder"),
  port: z.coerce.number({ error: "must be a port number" }).int("must be a port number").min(1, "must be 1 to 65535").max(65535, "must be 1 to 65535"),
  database: z.string().trim().min(1, "is required").max(63, "must be at most 63 characters"),
  user: z.string().trim().min(1, "is required").max(63, "must be at most 63 characters"),
  passwordMode: z.enum(["keep", "sealed", "env", "none"]),
  password: z.string().max(1000, "is too long").optional(),
  /** Save even when the connection test fails (the server may be down for now). */
  saveAnyway: z.boolean().optional(),
});
export type TTargetForm = z.infer<typeof ZTargetForm>;

export const ZTargetName = z.object({ name: z.string().regex(TARGET_NAME, `must be a target name (${TARGET_NAME_RULE})`) });

async function currentRow(db: Db, name: string): Promise<Target | undefined> {
  const [row] = await db.select().from(targets).where(eq(targets.name, name));
  return row;
}

function sameAddress(row: Target, form: TTargetForm): boolean {
  return row.host === form.host && row.port === form.port && row.username === form.user;
}

/** The password the form means, and the reference to store for it. */
async function passwordOf(db: Db, env: TEnv, form: TTargetForm, seal = true): Promise<{ password: string | undefined; ref: string | null }> {
  switch (form.passwordMode) {
    case "none":
      return { password: undefined, ref: null };
    case "sealed": {
      if (!form.password) throw new InvalidInputError("Type the password, or choose another password source.");
      if (!seal) return { password: form.password, ref: null };
      const ref = encryptTargetPassword(form.password, { name: form.name, host: form.host, port: form.port, user: form.user }, env.LIFEBOAT_SECRETS_KEY);
      return { password: form.password, ref };
    }
    case "env": {
      // The variable names a target: its password goes only to the address that target already has
      // (a new target, or a changed address, is first saved with the password typed or "save anyway").
      const existing = await currentRow(db, form.name);
      if (existing && !sameAddress(existing, form))
        throw new InvalidInputError(
          `The host, port or user changed: ${passwordVariableFor(form.name)} is not sent to a new address. Type the password, or save the new address first.`,
        );
      const variable = passwordVariableFor(form.name);
      const password = readPasswordVariable(variable);
      if (password === undefined)
        throw new InvalidInputError(`${variable} is not set in the dashboard's environment; set it there (and for the worker), or type the password.`);
      return { password, ref: `env:${variable}` };
    }
    case "keep": {
      const row = await currentRow(db, form.name);
      if (!row) throw new InvalidInputError(`There is no target ${form.name} whose password could be kept; type one.`);
      if (!row.passwordRef) return { password: undefined, ref: null };
      // A sealed password is bound to host, port and user: it is never sent to another address.
      // A stored password (sealed, or an env: reference) is never sent to another address.
      if (!sameAddress(row, form))
        throw new InvalidInputError("The host, port or user changed: the stored password is not sent to a new address. Type the password again.");
      const password = resolveTargetPassword(
        row.passwordRef,
        { name: row.name, host: row.host, port: row.port, user: row.username, isDefault: false },
        env.LIFEBOAT_SECRETS_KEY,
      );
      return { password, ref: row.passwordRef };
    }
  }
}

function checkName(env: TEnv, form: TTargetForm): void {
  if (form.name === env.DB_TARGET_NAME)
    throw new InvalidInputError(`${form.name} is the default target: it is configured by DB_HOST, DB_PORT, DB_NAME, DB_USER and DB_PASSWORD in .env.`);
}

/** Connect with what the form says (nothing is stored). Never throws a connection failure: it is the answer. */
export async function testTargetForm(db: Db, env: TEnv, form: TTargetForm): Promise<TargetProbe> {
  checkName(env, form);
  const { password } = await passwordOf(db, env, form, false);
  return probeTarget({ host: form.host, port: form.port, database: form.database, user: form.user, password });
}

/** Add or edit a target: tested first (unless told to save anyway), stored with a sealed password or a variable's name, never the password. */
export async function saveTargetForm(db: Db, env: TEnv, form: TTargetForm): Promise<{ probe: TargetProbe; created: boolean }> {
  checkName(env, form);
  const current = await currentRow(db, form.name);
  if (form.mode === "add" && current) throw new InvalidInputError(`There is already a target named ${form.name}; edit it instead.`);
  if (form.mode === "edit" && !current) throw new InvalidInputError(`There is no target named ${form.name}.`);
  const { password, ref } = await passwordOf(db, env, form);
  const probe = await probeTarget({ host: form.host, port: form.port, database: form.database, user: form.user, password });
  if (!probe.ok && !form.saveAnyway) throw new LifeboatError("CONNECTION_FAILED", `Not saved: cannot connect: ${probe.error}`);
  const values = {
    name: form.name,
    host: form.host,
    port: form.port,
    database: form.database,
    username: form.user,
    passwordRef: ref,
    updatedAt: new Date(),
  };
  // The cluster fields and their seal stay as they are: the seal covers the name and those fields only.
  const [saved] = await db.insert(targets).values(values).onConflictDoUpdate({ target: targets.name, set: values }).returning({ id: targets.id });
  if (!current && saved) await ensureDefaultSchedules(db, saved.id, env.LIFEBOAT_SCHEDULE_TIMEZONE);
  return { probe, created: !current };
}

/** Forget a target (its backups stay in the repository). */
export async function removeTarget(db: Db, env: TEnv, name: string): Promise<void> {
  if (name === env.DB_TARGET_NAME) throw new InvalidInputError(`${name} is the default target (DB_* in .env); it cannot be removed here.`);
  const removed = await db.delete(targets).where(eq(targets.name, name)).returning({ id: targets.id });
  if (!removed.length) throw new InvalidInputError(`There is no target named ${name}.`);
}
