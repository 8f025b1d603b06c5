import "server-only";
import type PgBoss from "pg-boss";
import { z } from "zod";
import { InvalidInputError } from "@/lib/engine/errors";
import { enqueueOperation, openQueue } from "@/lib/jobs/queue";
import { OPERATIONS, type OperationKind } from "@/lib/operations";
import { resolveTarget } from "@/lib/targets/resolve-target";
import { defineAction, type ActionContext } from "./action";

const globalQueue = globalThis as unknown as { lifeboatBoss?: Promise<PgBoss> };

/** One pg-boss client per server process (queues are shared with the workers through the metadata database). */
export function getQueue(databaseUrl: string): Promise<PgBoss> {
  globalQueue.lifeboatBoss ??= openQueue(databaseUrl, { application: "lifeboat dashboard" }).catch((error: unknown) => {
    globalQueue.lifeboatBoss = undefined;
    throw error;
  });
  return globalQueue.lifeboatBoss;
}

/**
 * Queue an operation for the workers, as the signed-in user: the input is checked with the
 * operation's own schema (done by defineAction), a destructive one must carry the typed database
 * name now (so a wrong name is refused at once, not minutes later on a worker), and the run id
 * comes back at once for the page to poll.
 */
export async function enqueueAs(context: ActionContext, kind: OperationKind, input: { target?: string | undefined }): Promise<{ runId: number }> {
  const definition = OPERATIONS[kind];
  const target = await resolveTarget({ env: context.env, db: context.db, name: input.target });
  const needed = (definition.confirmation as ((input: unknown, target: unknown) => { what: string; database: string } | undefined) | undefined)?.(
    input,
    target,
  );
  if (needed && (input as { confirm?: unknown }).confirm !== needed.database)
    throw new InvalidInputError(`Not confirmed: ${needed.what} overwrites database "${needed.database}"; type its name exactly. Nothing was changed.`);
  const boss = await getQueue(context.env.DATABASE_URL);
  const { runId } = await enqueueOperation(context.db, boss, {
    kind,
    input: { ...(input as Record<string, unknown>), target: target.name },
    targetId: target.id,
    actor: { label: context.user.email, userId: context.user.id, via: "web" },
  });
  return { runId };
}

/** A server action that queues operation `kind` (permission, schema and audit of the request from the operation's definition). */
export function operationAction<K extends OperationKind>(kind: K) {
  const definition = OPERATIONS[kind];
  return defineAction({
    action: `${definition.action}.request`,
    permission: definition.permission,
    input: definition.input as unknown as z.ZodType<{ target?: string | undefined }>,
    subject: (input) => input.target ?? null,
    run: (context, input) => enqueueAs(context, kind, input),
  });
}
