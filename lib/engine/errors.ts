/**
 * Every failure Lifeboat reports is a LifeboatError: a stable `code` callers can branch on, a
 * `message` that is safe to show anyone who may see the run (no secret, no connection string, no
 * stack), and `details` (stderr, paths) that stay in logs and run records for admins.
 */
export type ErrorDetails = {
  /** Full stderr of a tool, secrets redacted. */
  stderr?: string | undefined;
  /** Paths involved, for logs; never shown in a browser. */
  paths?: string[] | undefined;
  [key: string]: unknown;
};

export class LifeboatError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details: ErrorDetails = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Another operation holds the target. */
export class TargetBusyError extends LifeboatError {
  constructor(target: string, holder: string) {
    super("TARGET_BUSY", `Another backup, restore or recovery of ${target} is running (${holder}); wait for it to finish and try again.`);
  }
}

/** The operation was stopped on purpose (cancel) or because Lifeboat itself was told to stop. */
export class OperationAbortedError extends LifeboatError {
  constructor(
    readonly reason: "canceled" | "interrupted",
    message = reason === "canceled" ? "The operation was cancelled." : "Lifeboat was stopped while the operation ran.",
  ) {
    super(reason === "canceled" ? "CANCELED" : "INTERRUPTED", message);
  }
}

/** Bad input from a person or a request: nothing was changed. */
export class InvalidInputError extends LifeboatError {
  constructor(message: string, details: ErrorDetails = {}) {
    super("INVALID_INPUT", message, details);
  }
}

/** Metadata, a manifest or a file name that cannot be trusted was refused. */
export class UntrustedDataError extends LifeboatError {
  constructor(message: string, details: ErrorDetails = {}) {
    super("UNTRUSTED_DATA", message, details);
  }
}

/** Any thrown value as a LifeboatError (unknown errors keep their message under code INTERNAL). */
export function toLifeboatError(error: unknown): LifeboatError {
  if (error instanceof LifeboatError) return error;
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOSPC") return new LifeboatError("DISK_FULL", `The disk is full: ${error.message}`, {}, { cause: error });
    if (code === "EACCES" || code === "EPERM") return new LifeboatError("PERMISSION", `Permission denied: ${error.message}`, {}, { cause: error });
    return new LifeboatError("INTERNAL", error.message, { stderr: (error as { stderr?: string }).stderr }, { cause: error });
  }
  return new LifeboatError("INTERNAL", String(error));
}

/** Throw the abort reason when the signal is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (!signal?.aborted) return;
  const reason: unknown = signal.reason;
  throw reason instanceof LifeboatError ? reason : new OperationAbortedError("canceled");
}

/** A restore (or recovery) refused before it changed anything: damaged artifact, wrong kind, existing data. */
export class RestoreRefusedError extends LifeboatError {
  constructor(message: string, details: ErrorDetails = {}) {
    super("RESTORE_REFUSED", message, details);
  }
}
