import type { z } from "zod";
import type { RoleName, Permission } from "@/lib/auth/permissions";
import type { DbHandle } from "@/lib/db/client";
import type { TEnv } from "@/lib/env";
import type { ListedArtifact, Repository } from "@/lib/engine/repository/repository";
import type { Journal } from "@/lib/engine/repository/target-lock";
import type { BackupLog } from "@/lib/log/backup-log";
import type { ResolvedTarget } from "@/lib/targets/resolve-target";

/** Who asks for an operation. `role: null` is the local operator at the CLI, who already has the files. */
export type Actor = {
  label: string;
  userId: number | null;
  role: RoleName | null;
  via: "cli" | "web" | "worker" | "agent" | "quickstart" | "schedule";
};

export type OperationServices = {
  env: TEnv;
  /** The metadata database when reachable; restores must work without it. */
  meta: DbHandle | undefined;
  log: BackupLog;
};

/** Something a caller may want to show while the operation runs (the CLI prints it, the web streams it). */
export type OperationEvent =
  | { type: "progress"; phase: string; bytes?: number | undefined; detail?: string | undefined }
  | { type: "warning"; message: string }
  | { type: "preview"; data: unknown };

export type OperationContext = {
  env: TEnv;
  meta: DbHandle | undefined;
  target: ResolvedTarget;
  repository: Repository;
  signal: AbortSignal;
  runId: number | undefined;
  actor: Actor;
  /** Undo log in the target's lock (operations that take the lock). */
  journal: Journal | undefined;
  progress: (phase: string, bytes?: number) => void;
  /** A note for the log line and the caller (not a failure). */
  warn: (message: string) => void;
  emit: (event: OperationEvent) => void;
};

/** How a finished operation went, in the terms the run record, log line, audit row and catalog need. */
export type OperationVerdict = {
  ok: boolean;
  /** One line for the run record and the person (set when !ok). */
  error?: string | undefined;
  stderr?: string | undefined;
  bytes?: number | undefined;
  /** Artifacts written: indexed in the catalog. */
  artifacts?: ListedArtifact[] | undefined;
  /** Fields for the log line and the audit row. */
  fields?: Record<string, string | number | boolean | null | undefined> | undefined;
  /**
   * What the pages show of the finished run (per-table row counts, a retention plan, a PITR
   * preview): stored as `runs.result.data`. Never secrets: it is shown to everyone who can see runs.
   */
  data?: Record<string, unknown> | undefined;
};

/**
 * An operation, declared once: what it is, who may run it, its input, whether it holds the
 * target's lock, what confirms it, and the engine call. runOperation does everything around it.
 */
export type OperationDefinition<TInput extends { target?: string | undefined }, TResult> = {
  kind: string;
  /** Audit action (e.g. "backups.restore"). */
  action: string;
  permission: Permission;
  input: z.ZodType<TInput>;
  lock: boolean;
  /**
   * Whether this input needs the target's database host itself (its data directory, the power to
   * stop and start it): such a job goes to the target's host queue, which only a process on that
   * host works (its agent, or a worker that can read the data directory). Default: any worker.
   */
  host?: ((input: TInput) => boolean) | undefined;
  /** A destructive operation: the database name a person must type to confirm it, given the input. */
  confirmation?: ((input: TInput, target: ResolvedTarget) => { what: string; database: string } | undefined) | undefined;
  /** Refuse input that cannot work for this target, before anything is looked at or changed. */
  check?: ((context: OperationContext, input: TInput) => void | Promise<void>) | undefined;
  /** Read-only look before confirmation (e.g. the PITR plan), shown as a "preview" event. */
  preview?: ((context: OperationContext, input: TInput) => Promise<unknown>) | undefined;
  /** Parameters recorded on the run and in the audit row (never secrets). */
  params: (input: TInput) => Record<string, unknown>;
  run: (context: OperationContext, input: TInput) => Promise<TResult>;
  verdict: (result: TResult, input: TInput) => OperationVerdict;
};

export type OperationStatus = "succeeded" | "failed" | "canceled" | "interrupted" | "denied" | "invalid";
