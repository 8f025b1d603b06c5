import { hostname } from "node:os";
import { appendAudit } from "@/lib/audit/append-audit";
import { can } from "@/lib/auth/permissions";
import { recordArtifact } from "@/lib/catalog/record-artifact";
import { InvalidInputError, LifeboatError, OperationAbortedError, toLifeboatError } from "@/lib/engine/errors";
import { undoJournalEntry } from "@/lib/engine/journal/undo-journal-entry";
import { redactSecrets } from "@/lib/engine/pg/connection";
import { sweepStalePassfiles } from "@/lib/engine/pg/passfile";
import { withChildScope } from "@/lib/engine/process/spawn-child";
import type { Journal } from "@/lib/engine/repository/target-lock";
import {
  claimRun,
  finishRun,
  insertRun,
  markInterruptedRuns,
  markRunning,
  updateRunProgress,
  type FinalStatus,
  type InterruptedRun,
} from "@/lib/jobs/run-records";
import { notifyInBackground } from "@/lib/notify/notify";
import { operationNotices } from "@/lib/notify/operation-notices";
import { managedClusterOf, resolveTarget, type ResolvedTarget } from "@/lib/targets/resolve-target";
import { acquireOperationLock, type OperationLock } from "./locks";
import { LOCKED_KINDS } from "./registry";
import type { Actor, OperationContext, OperationDefinition, OperationEvent, OperationServices, OperationStatus, OperationVerdict } from "./types";

export class PermissionDeniedError extends LifeboatError {
  constructor(message: string) {
    super("FORBIDDEN", message);
  }
}

export type RunOperationOptions = {
  actor: Actor;
  services: OperationServices;
  signal?: AbortSignal | undefined;
  onEvent?: ((event: OperationEvent) => void) | undefined;
  /** Asked for the typed database name when a destructive operation's input does not carry it (the CLI's prompt). */
  confirm?: ((request: { what: string; database: string; preview: unknown }) => Promise<string | undefined>) | undefined;
  /** A run queued earlier (the worker's) to take over instead of inserting a new one. */
  runId?: number | undefined;
  /** Told the run's id once it exists (a worker watches that run for a cancel request). */
  onRun?: ((runId: number) => void) | undefined;
};

export type OperationOutcome<TResult> = {
  status: OperationStatus;
  runId: number | undefined;
  target: string | undefined;
  result: TResult | undefined;
  verdict: OperationVerdict | undefined;
  error: LifeboatError | undefined;
  warnings: string[];
};

/**
 * Everything around an operation, on every path, written once: permission, input, target,
 * confirmation, run record, lock (and the undo of whatever a dead predecessor left), child
 * processes bound to the lock, awaited and throttled progress, the catalog, and at the end exactly
 * one finished run record, one log line and one audit row — also when it was refused, failed half
 * way, or was cancelled. It never throws: the outcome says how it went.
 */
export async function runOperation<TInput extends { target?: string | undefined }, TResult>(
  definition: OperationDefinition<TInput, TResult>,
  rawInput: unknown,
  options: RunOperationOptions,
): Promise<OperationOutcome<TResult>> {
  const { services, actor } = options;
  const { env, meta, log } = services;
  const controller = new AbortController();
  const onOuterAbort = () => controller.abort(options.signal?.reason);
  if (options.signal?.aborted) onOuterAbort();
  else options.signal?.addEventListener("abort", onOuterAbort, { once: true });

  const warnings: string[] = [];
  const emit = (event: OperationEvent) => options.onEvent?.(event);
  const warn = (message: string) => {
    warnings.push(message);
    emit({ type: "warning", message });
  };
  let status: OperationStatus | undefined;
  let input: TInput | undefined;
  let target: ResolvedTarget | undefined;
  let runId: number | undefined;
  let lock: OperationLock | undefined;
  let result: TResult | undefined;
  let verdict: OperationVerdict | undefined;
  let error: LifeboatError | undefined;
  const progress = new ProgressWriter(services, (phase, bytes) => emit({ type: "progress", phase, bytes }));

  try {
    if (actor.role !== null && !can({ role: actor.role }, definition.permission)) {
      status = "denied";
      throw new PermissionDeniedError(`${actor.label} (${actor.role}) may not ${definition.kind.replace(/-/g, " ")}: it needs ${definition.permission}.`);
    }
    const parsed = definition.input.safeParse(rawInput);
    if (!parsed.success) {
      status = "invalid";
      const issue = parsed.error.issues[0];
      throw new InvalidInputError(`${issue?.path.length ? `${issue.path.join(".")}: ` : ""}${issue?.message ?? "invalid input"}`);
    }
    input = parsed.data;
    target = await resolveTarget({ env, db: meta?.db, name: input.target });
    const swept = await sweepStalePassfiles();
    if (swept) warn(`removed ${swept} password file folder(s) left by a Lifeboat process that was killed`);
    let journal: Journal | undefined;
    const context: OperationContext = {
      env,
      meta,
      target,
      repository: target.repository,
      signal: controller.signal,
      get runId() {
        return runId;
      },
      actor,
      get journal() {
        return journal;
      },
      progress: (phase, bytes) => progress.update(phase, bytes),
      warn,
      emit,
    };

    await definition.check?.(context, input);
    const needed = definition.confirmation?.(input, target);
    const preview = definition.preview ? await definition.preview(context, input) : undefined;
    if (definition.preview) emit({ type: "preview", data: preview });
    if (needed) {
      let typed = (input as { confirm?: string }).confirm;
      if (typed !== needed.database && options.confirm) typed = await options.confirm({ ...needed, preview });
      if (typed !== needed.database) {
        status = "invalid";
        throw new InvalidInputError(
          `Not confirmed: ${needed.what} overwrites database "${needed.database}", whose name must be typed exactly. Nothing was changed.`,
        );
      }
    }

    if (meta) {
      for (const dead of await markInterruptedRuns(meta.db, { host: hostname() })) await reportInterrupted(services, dead);
      runId =
        options.runId !== undefined && (await claimRun(meta.db, options.runId))
          ? options.runId
          : await insertRun(meta.db, {
              targetId: target.id,
              kind: definition.kind,
              params: definition.params(input),
              triggeredBy: actor.via,
              userId: actor.userId,
            });
      progress.attach(runId);
      options.onRun?.(runId);
    }

    if (definition.lock) {
      lock = await acquireOperationLock({ meta, repositoryDir: target.repository.dir, target: target.name, operation: definition.kind, runId });
      const file = lock.file;
      journal = { record: (entry) => file.journal(entry), resolve: (id) => file.resolve(id) };
      if (lock.file.lastWriteError) warn(`the lock file could not be updated: ${lock.file.lastWriteError.message}`);
      // Whatever a dead holder left half-done is put back before anything else happens.
      for (const entry of lock.file.pendingJournal) {
        const done = await undoJournalEntry(entry, {
          connection: target.connection,
          cluster: managedClusterOf(target, env.PG_BIN_DIR),
          osUser: target.osUser,
          pgBinDir: env.PG_BIN_DIR,
        });
        await lock.file.resolve(entry.id);
        warn(done);
      }
    }
    if (meta && runId !== undefined) {
      await markRunning(meta.db, runId);
      if (lock && target.id !== null) {
        for (const dead of await markInterruptedRuns(meta.db, { targetId: target.id, kinds: LOCKED_KINDS, exceptRunId: runId }))
          await reportInterrupted(services, dead);
      }
    }

    const heldLock = lock;
    const run = () => definition.run(context, input!);
    result = heldLock ? await withChildScope({ onSpawn: (c) => heldLock.file.addChild(c), onExit: (pid) => heldLock.file.removeChild(pid) }, run) : await run();
    verdict = definition.verdict(result, input);
    status = verdict.ok ? "succeeded" : "failed";
    if (meta && target.id !== null) {
      for (const artifact of verdict.artifacts ?? []) {
        await recordArtifact(meta.db, { targetId: target.id, runId: runId ?? null, manifest: artifact.manifest, manifestFile: artifact.manifestFile }).catch(
          (e: unknown) => warn(`the catalog was not updated for ${artifact.manifest.artifact}: ${(e as Error).message} (npm run backup:list -- --rescan)`),
        );
      }
    }
  } catch (caught) {
    error = toLifeboatError(caught);
    if (error instanceof OperationAbortedError) status = error.reason;
    else if (controller.signal.aborted && controller.signal.reason instanceof OperationAbortedError) status = controller.signal.reason.reason;
    else if (status === undefined && error instanceof InvalidInputError) status = "invalid";
    else if (status === undefined || status === "succeeded") status = "failed";
  } finally {
    options.signal?.removeEventListener("abort", onOuterAbort);
    await progress.close();
    if (lock) await lock.release().catch((e: unknown) => warn(`the lock could not be released: ${(e as Error).message}`));
  }

  const finalStatus: OperationStatus = status ?? "failed";
  const secrets = [target?.connection.password, env.DB_PASSWORD];
  const message = error ? redactSecrets(error.message, secrets) : verdict?.ok === false ? redactSecrets(verdict.error ?? "failed", secrets) : undefined;
  const stderr = error?.details.stderr ?? verdict?.stderr;
  const params = input ? definition.params(input) : {};

  if (meta && runId !== undefined) {
    await finishRun(meta.db, runId, {
      // A run record knows succeeded, failed, canceled and interrupted: a refusal is a failure.
      status: (finalStatus === "invalid" || finalStatus === "denied" ? "failed" : finalStatus) as FinalStatus,
      error: message ?? null,
      stderr: stderr ? redactSecrets(String(stderr), secrets) : null,
      bytesDone: verdict?.bytes,
      result:
        verdict?.fields || verdict?.data
          ? { ...(verdict.fields ? (redactFields(verdict.fields, secrets) as Record<string, unknown>) : {}), ...(verdict.data ? { data: verdict.data } : {}) }
          : undefined,
    }).catch((e: unknown) => warnings.push(`the run record could not be finished: ${(e as Error).message}`));
  }

  const level = finalStatus === "succeeded" ? "INFO" : finalStatus === "canceled" ? "WARN" : "ERROR";
  const logStatus =
    finalStatus === "succeeded"
      ? "SUCCEEDED"
      : finalStatus === "canceled"
        ? "CANCELED"
        : finalStatus === "interrupted"
          ? "INTERRUPTED"
          : finalStatus === "denied"
            ? "DENIED FAILED"
            : "FAILED";
  const fields: Record<string, string | number | boolean | null | undefined> = {
    target: target?.name ?? (rawInput as { target?: unknown } | undefined)?.target?.toString(),
    status: logStatus,
    run: runId,
    actor: actor.label,
    ...flatten(params),
    ...verdict?.fields,
    error: message,
    code: error?.code,
    warnings: warnings.length ? warnings.join("; ") : undefined,
  };
  await log
    .write(level, definition.kind, redactFields(fields, secrets))
    .catch((e: unknown) => process.stderr.write(`lifeboat: could not write ${log.file}: ${(e as Error).message}\n`));

  if (meta) {
    await appendAudit(meta.db, {
      actorId: actor.userId,
      actorEmail: actor.label,
      action: definition.action,
      outcome: finalStatus === "succeeded" ? "succeeded" : finalStatus === "denied" ? "denied" : "failed",
      subject: target?.name ?? null,
      details: { kind: definition.kind, status: finalStatus, runId: runId ?? null, ...params, ...verdict?.fields, error: message ?? null },
    }).catch((e: unknown) => warnings.push(`the audit log could not be written: ${(e as Error).message}`));
  }

  if (meta) {
    // Webhooks go out in the background: a slow or dead receiver's retries (bounded, each recorded
    // in deliveries) never hold up the caller. They are tracked, not forgotten: a CLI session
    // awaits them, with a deadline, before its process exits (cli/context.ts).
    const notices = operationNotices({
      kind: definition.kind,
      status: finalStatus,
      target: target?.name ?? null,
      runId,
      error: message,
      code: error?.code,
      fields: verdict?.fields && redactFields(verdict.fields, secrets),
    });
    for (const notice of notices) notifyInBackground(meta.db, notice, { secretsKey: env.LIFEBOAT_SECRETS_KEY });
  }

  return { status: finalStatus, runId, target: target?.name, result, verdict, error, warnings };
}

/**
 * A run found dead: its own log line and audit row, since its process could not write them (every
 * sweep reports through this: an operation's, and a worker's at its start).
 */
export async function reportInterrupted(services: OperationServices, dead: InterruptedRun): Promise<void> {
  const target = dead.target ?? "unknown";
  const error = "the process running it stopped before it finished";
  await services.log.write("ERROR", "interrupted", { target, status: "INTERRUPTED", run: dead.id, kind: dead.kind, error }).catch(() => undefined);
  if (services.meta) {
    await appendAudit(services.meta.db, {
      action: "runs.interrupted",
      outcome: "failed",
      actorEmail: "lifeboat",
      subject: target,
      details: { runId: dead.id, kind: dead.kind },
    }).catch(() => undefined);
  }
}

function flatten(params: Record<string, unknown>): Record<string, string | number | boolean | null | undefined> {
  const out: Record<string, string | number | boolean | null | undefined> = {};
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null) continue;
    out[key] = Array.isArray(value) ? value.join(",") : typeof value === "object" ? JSON.stringify(value) : (value as string | number | boolean);
  }
  return out;
}

function redactFields(fields: Record<string, string | number | boolean | null | undefined>, secrets: (string | undefined)[]) {
  return Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, typeof v === "string" ? redactSecrets(v, secrets) : v]));
}

/**
 * Progress on the run record: throttled (one write a second at most), written one at a time, and
 * awaited before the run is finished; the update itself only touches unfinished runs, so a late
 * write can never overwrite the final state.
 */
class ProgressWriter {
  private runId: number | undefined;
  private chain: Promise<void> = Promise.resolve();
  private lastWrite = 0;
  private closed = false;

  constructor(
    private readonly services: OperationServices,
    private readonly onUpdate: (phase: string, bytes: number | undefined) => void,
  ) {}

  attach(runId: number): void {
    this.runId = runId;
  }

  update(phase: string, bytes?: number): void {
    this.onUpdate(phase, bytes);
    const db = this.services.meta?.db;
    if (this.closed || !db || this.runId === undefined || Date.now() - this.lastWrite < 1_000) return;
    this.lastWrite = Date.now();
    const runId = this.runId;
    this.chain = this.chain.then(() =>
      updateRunProgress(db, runId, { phase: phase.slice(0, 200), ...(bytes === undefined ? {} : { bytesDone: bytes }) }).catch(() => undefined),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.chain;
  }
}
