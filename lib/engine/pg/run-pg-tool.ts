import type { ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { childProcessEnv } from "@/lib/env";
import { LifeboatError, OperationAbortedError } from "../errors";
import { signalChildGroup, spawnChild } from "../process/spawn-child";
import { describeConnection, libpqEnv, redactSecrets, type PgConnection } from "./connection";
import { findPgBinary, type PgToolName } from "./find-pg-binary";
import { withPassfile } from "./passfile";

export type PgToolProgress = { bytes: number };

export type RunPgToolOptions = {
  tool: PgToolName;
  args: readonly string[];
  /** Connection given to the child through PG* variables and a passfile (never argv). */
  connection?: PgConnection | undefined;
  pgBinDir?: string | undefined;
  /** Write the child's stdout to this file (created 0600); otherwise stdout is collected. */
  stdoutFile?: string | undefined;
  /** A file the tool writes itself (pg_dump -f); its size is reported as progress. */
  watchFile?: string | undefined;
  onProgress?: ((progress: PgToolProgress) => void) | undefined;
  /** Called once the child is running (tests inspect its argv and environment through /proc). */
  onSpawn?: ((child: ChildProcess) => void) | undefined;
  signal?: AbortSignal | undefined;
  /** Extra environment (never a password). */
  env?: Record<string, string> | undefined;
  cwd?: string | undefined;
  /** Bytes for stdin, e.g. SQL for psql. */
  stdin?: string | undefined;
  /** A stream for stdin, e.g. a decrypted dump for pg_restore. */
  stdinStream?: Readable | undefined;
  /** Consume stdout yourself (e.g. encrypt it on the way to disk); bytes are counted for progress. */
  stdoutConsumer?: ((stdout: Readable) => Promise<void>) | undefined;
};

export type RunPgToolResult = {
  exitCode: number;
  stdout: string;
  stderr: string;
  bytesWritten: number;
  durationMs: number;
};

const STDERR_LIMIT = 64 * 1024;
const STDOUT_LIMIT = 16 * 1024 * 1024;
const KILL_GRACE_MS = 5_000;

export class PgToolError extends LifeboatError {
  constructor(
    readonly tool: string,
    readonly exitCode: number | null,
    readonly stderr: string,
    readonly signalName: NodeJS.Signals | null = null,
    /** Whatever the tool printed before failing (collected stdout only). */
    readonly stdout = "",
  ) {
    const lastLine = stderr.trim().split("\n").filter(Boolean).slice(-3).join(" | ");
    const how = signalName ? `was stopped by ${signalName}` : `exited with code ${String(exitCode)}`;
    super("PG_TOOL_FAILED", `${tool} ${how}${lastLine ? `: ${lastLine}` : ""}`, { stderr });
  }
}

function abortError(signal: AbortSignal | undefined): LifeboatError {
  const reason: unknown = signal?.reason;
  return reason instanceof LifeboatError ? reason : new OperationAbortedError("canceled");
}

/**
 * Spawn one PostgreSQL tool with an argument array (never a shell). Connection details reach the
 * child as PG* variables and the password as a per-job passfile (0600, removed afterwards), so
 * neither argv nor the environment ever holds a secret. Rejects with PgToolError on a non-zero
 * exit, with stderr (secrets redacted) for the run record.
 */
export async function runPgTool(options: RunPgToolOptions): Promise<RunPgToolResult> {
  const binary = await findPgBinary(options.tool, { pgBinDir: options.pgBinDir });
  const connection = options.connection;
  if (options.signal?.aborted) throw abortError(options.signal);

  const run = async (passfilePath: string | undefined) => {
    const env: NodeJS.ProcessEnv = {
      ...childProcessEnv(),
      ...(connection ? libpqEnv(connection) : {}),
      ...(options.env ?? {}),
    };
    if (passfilePath) env.PGPASSFILE = passfilePath;
    // A passwordless connection must not fall back to ~/.pgpass of whoever runs Lifeboat.
    else if (connection) env.PGPASSFILE = "/dev/null";
    return spawnAndWait(binary.path, options, env);
  };

  const result = connection ? await withPassfile(connection, run) : await run(undefined);
  const secrets = [connection?.password];
  const stderr = redactSecrets(result.stderr, secrets);
  if (result.aborted) throw abortError(options.signal);
  if (result.exitCode !== 0) {
    const error = new PgToolError(options.tool, result.exitCode, stderr, result.signal, result.stdout);
    if (connection) error.message = `${error.message} (${describeConnection(connection)})`;
    throw error;
  }
  return { exitCode: 0, stdout: result.stdout, stderr, bytesWritten: result.bytesWritten, durationMs: result.durationMs };
}

type SpawnOutcome = {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  bytesWritten: number;
  durationMs: number;
  aborted: boolean;
};

async function spawnAndWait(file: string, options: RunPgToolOptions, env: NodeJS.ProcessEnv): Promise<SpawnOutcome> {
  const started = Date.now();
  const child = spawnChild(file, options.args, {
    // The guard takes the whole group down with Lifeboat (pg_basebackup forks a WAL streamer, -j forks workers).
    guard: true,
    baseEnv: env,
    cwd: options.cwd,
    stdio: [options.stdin === undefined && !options.stdinStream ? "ignore" : "pipe", "pipe", "pipe"],
  });
  options.onSpawn?.(child);

  let stderr = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_LIMIT);
  });

  let stdinDone: Promise<void> = Promise.resolve();
  if (options.stdin !== undefined) {
    child.stdin!.on("error", () => {});
    child.stdin!.end(options.stdin);
  } else if (options.stdinStream) {
    // A failing input (e.g. ciphertext that does not authenticate) must stop the tool: it would
    // otherwise see a clean end of input and may report success on half the data.
    stdinDone = pipeline(options.stdinStream, child.stdin!).catch((error: unknown) => {
      signalChildGroup(child, "SIGKILL");
      throw error;
    });
  }

  let aborted = false;
  let killTimer: NodeJS.Timeout | undefined;
  const onAbort = () => {
    aborted = true;
    signalChildGroup(child, "SIGTERM");
    killTimer = setTimeout(() => signalChildGroup(child, "SIGKILL"), KILL_GRACE_MS);
  };
  options.signal?.addEventListener("abort", onAbort, { once: true });

  let bytesWritten = 0;
  let stdout = "";
  let watchTimer: NodeJS.Timeout | undefined;
  const report = (bytes: number) => {
    bytesWritten = bytes;
    options.onProgress?.({ bytes });
  };

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => resolve({ code, signal }));
  });

  let stdoutDone: Promise<void>;
  const stopOnOutputError = (error: unknown) => {
    // The output cannot be written (disk full, folder gone): stop the tool rather than let it run on.
    signalChildGroup(child, "SIGKILL");
    throw error;
  };
  if (options.stdoutFile || options.stdoutConsumer) {
    let count = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        count += chunk.length;
        report(count);
        callback(null, chunk);
      },
    });
    const counted = child.stdout!.pipe(counter);
    child.stdout!.once("error", (error) => counter.destroy(error));
    stdoutDone = (
      options.stdoutConsumer ? options.stdoutConsumer(counted) : pipeline(counted, createWriteStream(options.stdoutFile!, { mode: 0o600, flags: "wx" }))
    ).catch(stopOnOutputError);
  } else {
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (chunk: string) => {
      if (stdout.length < STDOUT_LIMIT) stdout += chunk;
    });
    stdoutDone = new Promise((resolve) => child.stdout!.once("close", () => resolve()));
  }

  if (options.watchFile) {
    const watched = options.watchFile;
    watchTimer = setInterval(() => {
      stat(watched).then(
        (s) => report(s.size),
        () => {},
      );
    }, 500);
  }

  try {
    const [{ code, signal }] = await Promise.all([exited, stdoutDone, stdinDone]);
    if (options.watchFile) {
      const size = await stat(options.watchFile).then(
        (s) => s.size,
        () => 0,
      );
      report(size);
    }
    return { exitCode: code, signal, stdout, stderr, bytesWritten, durationMs: Date.now() - started, aborted };
  } finally {
    if (watchTimer) clearInterval(watchTimer);
    if (killTimer) clearTimeout(killTimer);
    options.signal?.removeEventListener("abort", onAbort);
  }
}
