/**
 * npm run enqueue -- <kind> [--target NAME] [--input '<json>'] [--host]
 * Queue an operation for the workers: e.g. `npm run enqueue -- backup`. An operation that needs the
 * target's database host (`pitr` with "mode":"in-place") goes to that target's host queue by itself,
 * for its agent (`npm run agent`) or a worker on that host; `--host` forces it there. For example
 * `npm run enqueue -- pitr --input '{"latest":true,"mode":"in-place","confirm":"allertify"}'`.
 * The input is checked now, as the operation will check it.
 */
import { Command } from "commander";
import { InvalidInputError } from "@/lib/engine/errors";
import { enqueueOperation, HOST_JOB_DEADLINE_MINUTES, openQueue } from "@/lib/jobs/queue";
import { OPERATIONS } from "@/lib/operations";
import { resolveTarget } from "@/lib/targets/resolve-target";
import { openCliSession, runCli } from "./context";

const program = new Command("enqueue")
  .argument("<kind>", `one of ${Object.keys(OPERATIONS).join(", ")}`)
  .option("--target <name>", "target (default: the one from DB_*)")
  .option("--input <json>", "the operation's input as JSON", "{}")
  .option("--host", "for the target's database host (its agent), even if the operation does not need it")
  .showHelpAfterError();

runCli(async () => {
  program.parse();
  const kind = program.args[0]!;
  const opts = program.opts<{ target?: string; input: string; host?: boolean }>();
  const definition = (OPERATIONS as Record<string, (typeof OPERATIONS)[keyof typeof OPERATIONS] | undefined>)[kind];
  if (!definition) throw new InvalidInputError(`unknown operation ${JSON.stringify(kind)} (one of ${Object.keys(OPERATIONS).join(", ")})`);
  let input: Record<string, unknown>;
  try {
    input = JSON.parse(opts.input) as Record<string, unknown>;
  } catch {
    throw new InvalidInputError("--input must be JSON");
  }
  const session = await openCliSession({ requireCatalog: true });
  const boss = await openQueue(session.env.DATABASE_URL, { application: "lifeboat enqueue" });
  try {
    const target = await resolveTarget({ env: session.env, db: session.meta!.db, name: opts.target ?? (input.target as string | undefined) });
    const parsed = definition.input.safeParse({ ...input, target: target.name });
    if (!parsed.success) throw new InvalidInputError(parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "));
    const { runId, host } = await enqueueOperation(session.meta!.db, boss, {
      kind,
      input: { ...input, target: target.name },
      targetId: target.id,
      actor: { label: session.actor.label, userId: null, via: "cli" },
      params: definition.params(parsed.data as never),
      host: opts.host,
    });
    console.log(
      `queued ${kind} of ${target.name} as run ${runId}${host ? ` (for its database host: an agent there, npm run agent -- --target ${target.name}, or a worker that can read its data directory must pick it up within ${HOST_JOB_DEADLINE_MINUTES} minutes)` : ""}`,
    );
    return 0;
  } finally {
    await boss.stop({ graceful: false }).catch(() => undefined);
    await session.close();
  }
});
