import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline/promises";
import { createDb, type DbHandle } from "@/lib/db/client";
import { migrateDatabase } from "@/lib/db/migrate";
import { getEnv, type TEnv } from "@/lib/env";
import { InvalidInputError, LifeboatError, OperationAbortedError } from "@/lib/engine/errors";
import { BackupLog } from "@/lib/log/backup-log";
import { settleNotifications } from "@/lib/notify/notify";
import { OPERATIONS, runOperation, type Actor, type OperationEvent, type OperationOutcome, type OperationServices } from "@/lib/operations";
import type { OperationDefinition } from "@/lib/operations/types";
import { ProgressLine } from "./progress";

/** What every CLI command shares: configuration, the metadata database when reachable, the log and who runs it. */
export type CliSession = OperationServices & { actor: Actor; close: () => Promise<void> };

const NOTIFY_DEADLINE_MS = 60_000;

export function warn(message: string): void {
  process.stderr.write(`lifeboat: ${message}\n`);
}

export async function openCliSession(options: { requireCatalog?: boolean } = {}): Promise<CliSession> {
  const env = getEnv();
  let meta: DbHandle | undefined = createDb(env.DATABASE_URL, { max: 3 });
  try {
    await migrateDatabase(meta);
  } catch (error) {
    await meta.close().catch(() => undefined);
    meta = undefined;
    const message = `the metadata database is unreachable (${(error as Error).message})`;
    if (options.requireCatalog) throw new LifeboatError("METADATA_UNAVAILABLE", message, {}, { cause: error });
    warn(`${message}; working from the repository alone: run records, the catalog and the audit log are not updated (npm run backup:list -- --rescan later).`);
  }
  const handle = meta;
  return {
    env,
    meta,
    log: new BackupLog(path.resolve(env.LOG_DIR), [env.DB_PASSWORD]),
    actor: { label: `cli:${os.userInfo().username}`, userId: null, role: null, via: "cli" },
    close: async () => {
      // Webhook notices of a failed operation are sent in the background; the process waits for
      // them (bounded: the default retries take at most ~47 s) while the metadata database is
      // still open to record each delivery.
      if (await settleNotifications(2_000)) {
        warn(`sending notifications (a receiver is slow; up to ${NOTIFY_DEADLINE_MS / 1000} s)…`);
        const left = await settleNotifications(NOTIFY_DEADLINE_MS - 2_000);
        if (left) warn(`${left} notification(s) not delivered in time; they stay "pending" in deliveries.`);
      }
      await handle?.close();
    },
  };
}

/**
 * SIGINT, SIGTERM and SIGHUP stop the running operation cleanly: its child processes end, partial
 * output is removed, and the run is recorded as interrupted. A second signal exits at once.
 */
function abortOnSignals(): { signal: AbortSignal; received: () => NodeJS.Signals | undefined; dispose: () => void } {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  const handler = (signal: NodeJS.Signals) => {
    if (received) process.exit(128 + (os.constants.signals[signal] ?? 15));
    received = signal;
    warn(`${signal} received: stopping the operation (again to quit at once)…`);
    controller.abort(new OperationAbortedError("interrupted", `Lifeboat received ${signal} and stopped the operation.`));
  };
  const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  for (const s of signals) process.on(s, handler);
  return { signal: controller.signal, received: () => received, dispose: () => signals.forEach((s) => process.off(s, handler)) };
}

/** On a TTY the user types the database name; without one, --yes is the typed name. */
function confirmer(yes: boolean | undefined) {
  return async (request: { what: string; database: string }): Promise<string | undefined> => {
    if (yes) return request.database;
    if (!process.stdin.isTTY) {
      throw new InvalidInputError(
        `${request.what} overwrites data in "${request.database}"; without a terminal to confirm, pass --yes (npm run restore … -- --yes).`,
      );
    }
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      return (await rl.question(`${request.what} will overwrite data in database "${request.database}". Type the database name to go on: `)).trim();
    } finally {
      rl.close();
    }
  };
}

export type CliRunOptions = { yes?: boolean | undefined; onPreview?: ((data: unknown) => void) | undefined };

/** Run an operation from the CLI: progress on the terminal, prompts, signals; prints failures in one line. */
export async function runFromCli<TInput extends { target?: string | undefined }, TResult>(
  session: CliSession,
  definition: OperationDefinition<TInput, TResult>,
  input: unknown,
  options: CliRunOptions = {},
): Promise<OperationOutcome<TResult> & { exitCode: number }> {
  const progress = new ProgressLine();
  const signals = abortOnSignals();
  const onEvent = (event: OperationEvent) => {
    if (event.type === "progress") progress.update(definition.kind, event.phase, event.bytes);
    else if (event.type === "warning") {
      progress.clear();
      warn(event.message);
    } else if (event.type === "preview") {
      progress.clear();
      options.onPreview?.(event.data);
    }
  };
  try {
    const outcome = await runOperation(definition, input, {
      actor: session.actor,
      services: session,
      signal: signals.signal,
      onEvent,
      confirm: confirmer(options.yes),
    });
    progress.clear();
    if (outcome.error) warn(`ERROR: ${outcome.error.message}`);
    else if (outcome.verdict && !outcome.verdict.ok) warn(`ERROR: ${outcome.verdict.error ?? "failed"}`);
    for (const w of outcome.warnings.filter((m) => m.startsWith("the run record") || m.startsWith("the audit"))) warn(w);
    const signal = signals.received();
    const exitCode =
      outcome.status === "succeeded"
        ? 0
        : signal
          ? 128 + (os.constants.signals[signal] ?? 15)
          : outcome.status === "invalid" || outcome.status === "denied"
            ? 2
            : 1;
    return { ...outcome, exitCode };
  } finally {
    signals.dispose();
  }
}

export { OPERATIONS };

/** Run a CLI main: one clear line on an unexpected failure, exit code 1. */
export function runCli(main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      warn(`ERROR: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(error instanceof InvalidInputError ? 2 : 1);
    },
  );
}

export type { TEnv };
