import { createReadStream, existsSync } from "node:fs";
import { appendFile, chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import type { Readable } from "node:stream";
import { findFreePort } from "../cluster/free-port";
import { confValue, shellQuote } from "../cluster/local-cluster";
import { ManagedCluster } from "../cluster/managed-cluster";
import { CLUSTER_OS_USER, handToOsUser, isRoot } from "../cluster/os-user";
import { decryptStream } from "../crypto/age";
import { LifeboatError, throwIfAborted } from "../errors";
import { countRows, listTables } from "../logical/catalog-queries";
import { BASE_COMPRESSION, BASE_STREAM_FILE } from "../physical/write-base-backup";
import type { PgConnection } from "../pg/connection";
import { PgToolError, runPgTool } from "../pg/run-pg-tool";
import { connectionErrorMessage, withClient } from "../pg/server-info";
import { binScript } from "../process/bin-script";
import { ChildProcessError, execChild, signalChildGroup, spawnChild } from "../process/spawn-child";
import type { Repository } from "../repository/repository";
import type { Journal } from "../repository/target-lock";
import { formatLsn, historyFileName, parseLsn, timelineAncestry } from "../wal/wal-names";
import type { PitrPlan } from "./plan-pitr";

export class PitrFailedError extends LifeboatError {
  constructor(
    message: string,
    readonly lastReached?: string,
    details: { serverLog?: string[] } = {},
  ) {
    super("PITR_FAILED", message, { lastReached, ...details });
  }
}

/** Per-table row counts of the recovered instance beside the live database now: what an in-place PITR to that moment would lose or bring back. */
export type RowCountPreview = { table: string; recovered: number | null; live: number | null }[];

export type PitrOutcome = {
  mode: "new-instance" | "in-place";
  dataDir: string;
  port: number;
  timeline: number;
  /** The last transaction replayed (UTC), as PostgreSQL reports it. */
  lastReplayed: string | null;
  durationMs: number;
  /** In place: where the previous data directory went (removed after success unless kept). */
  previousDataDir?: string | undefined;
  /** New instance: its row counts beside the live database's. */
  preview?: RowCountPreview | undefined;
  warnings: string[];
};

export type RunPitrOptions = {
  plan: PitrPlan;
  repository: Repository;
  /**
   * The target's own credentials: the recovered cluster holds the same roles, so Lifeboat connects
   * to it as the target does (scram, any superuser name), never assuming trust or a `postgres` role.
   */
  connection: PgConnection;
  pgBinDir?: string | undefined;
  /** The OS user the recovered server runs as (default postgres). */
  osUser?: string | undefined;
  /** Identities that decrypt an encrypted base backup. */
  identities?: string[] | undefined;
  signal?: AbortSignal | undefined;
  journal?: Journal | undefined;
  onPhase?: ((phase: string) => void) | undefined;
  /** How long recovery may take before it is declared stuck. */
  timeoutMs?: number | undefined;
  /** How long the server may take to start or stop. */
  startTimeoutMs?: number | undefined;
};

/** bin/restore-wal of this installation. */
export function restoreWalScript(): string {
  return binScript("restore-wal");
}

/**
 * A folder for one recovery, owned by the server's OS user: a copy of restore-wal (the checkout
 * may sit where that user cannot read, e.g. under /root), the server's log while it recovers, and
 * its socket. Lifeboat always keeps that log, whatever starts the server, to quote it on failure.
 */
async function prepareWorkspace(dir: string, osUser: string, options: RunPitrOptions): Promise<Workspace> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const logDir = path.join(dir, "log");
  await mkdir(logDir, { recursive: true, mode: 0o700 });
  const restoreWal = path.join(dir, "restore-wal");
  await copyFile(restoreWalScript(), restoreWal);
  await chmod(restoreWal, 0o755);
  await handToOsUser(osUser, dir, logDir, restoreWal);
  // A Unix socket path may hold at most 107 bytes: a deep folder gets a short one in the temp folder.
  let socketDir = dir;
  if (path.join(dir, ".s.PGSQL.65535.lock").length > 100) {
    socketDir = await mkdtemp(path.join(os.tmpdir(), "lbsock-"));
    await handToOsUser(osUser, socketDir);
  }
  // An encrypted archive: the server's restore_command decrypts with a copy of the identity that
  // lives only as long as the recovery (0600, the server's OS user).
  let identity: string | undefined;
  const encrypted = (await readdir(options.repository.archiveDir).catch(() => [] as string[])).some((n) => n.endsWith(".age"));
  if (encrypted) {
    if (!options.identities?.length)
      throw new LifeboatError("ENCRYPTION", "The WAL archive is encrypted: set LIFEBOAT_AGE_IDENTITY_FILE to the key that decrypts it.");
    identity = path.join(dir, "identity.txt");
    await writeFile(identity, `${options.identities.join("\n")}\n`, { mode: 0o600, flag: "w" });
    await handToOsUser(osUser, identity);
  }
  return { dir, restoreWal, logDir, socketDir, identity };
}

type Workspace = { dir: string; restoreWal: string; logDir: string; socketDir: string; identity: string | undefined };

/** Remove a workspace and its socket folder (when it had one of its own). */
/**
 * Remove what a recovery made. A folder Lifeboat created goes entirely; one that existed (empty)
 * before, which may be a mount point of its own, is emptied and kept (rmdir of a mount point fails).
 */
async function removeWorkspace(workspace: Workspace | undefined, dir: string, options: { created?: boolean } = {}): Promise<void> {
  if (options.created === false) {
    for (const name of await readdir(dir).catch(() => [] as string[])) await rm(path.join(dir, name), { recursive: true, force: true });
  } else {
    await rm(dir, { recursive: true, force: true });
  }
  if (workspace && workspace.socketDir !== workspace.dir) await rm(workspace.socketDir, { recursive: true, force: true });
}

/**
 * The settings of a recovery. With a target, recovery pauses there and Lifeboat promotes the
 * server itself once it has checked it, so a server left behind by a killed Lifeboat never promotes
 * on its own; "latest" has no target to pause at and promotes at the end of the archive. The
 * server listens only on 127.0.0.1 at a port of its own with its socket in the workspace, so the
 * application cannot reach a half-recovered database.
 */
function recoverySettings(options: RunPitrOptions, workspace: Workspace, port: number): Record<string, string | number | boolean> {
  const { plan } = options;
  const settings: Record<string, string | number | boolean> = {
    restore_command: [
      shellQuote(workspace.restoreWal),
      ...(workspace.identity ? ["--identity", shellQuote(workspace.identity)] : []),
      shellQuote(options.repository.archiveDir),
      "%f",
      "%p",
    ].join(" "),
    recovery_target_timeline: "latest",
    recovery_target_action: plan.target.kind === "latest" ? "promote" : "pause",
    port,
    listen_addresses: "127.0.0.1",
    unix_socket_directories: workspace.socketDir,
    hot_standby: true,
    logging_collector: true,
    log_directory: workspace.logDir,
    log_filename: "recovery.log",
    log_rotation_age: 0,
    log_rotation_size: 0,
  };
  if (plan.target.kind === "time") settings.recovery_target_time = `${plan.target.utc.toISOString().replace("T", " ").replace("Z", "")}+00`;
  if (plan.target.kind === "name") settings.recovery_target_name = plan.target.name;
  if (plan.target.kind === "lsn") settings.recovery_target_lsn = plan.target.lsn;
  return settings;
}

/** Lay the base backup into an empty data directory owned by the server's OS user. */
async function layDownBaseBackup(options: RunPitrOptions, dataDir: string): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const source = path.join(options.repository.dir, options.plan.base.artifact);
  const has = (name: string) => options.plan.base.files.some((f) => f.name.endsWith(`/${name}`));
  const tarBase = (["zstd", "lz4"] as const).find((c) => has(BASE_COMPRESSION[c].file));
  if (has(BASE_STREAM_FILE)) {
    const plain = await decryptStream(createReadStream(path.join(source, BASE_STREAM_FILE)), options.identities ?? []);
    await extractTarStream(plain, "zstd", dataDir, options);
  } else if (tarBase) {
    // A compressed tar base backup: the data directory, then the WAL streamed during the backup.
    await extractTarStream(createReadStream(path.join(source, BASE_COMPRESSION[tarBase].file)), tarBase, dataDir, options);
    if (has("pg_wal.tar.zst")) {
      await mkdir(path.join(dataDir, "pg_wal"), { recursive: true, mode: 0o700 });
      await extractTarStream(createReadStream(path.join(source, "pg_wal.tar.zst")), "zstd", path.join(dataDir, "pg_wal"), options);
    }
  } else {
    // cp -a keeps modes and is far faster than a per-file copy in JavaScript; argument array, no shell.
    await execChild("cp", ["-a", `${source}/.`, dataDir], { signal: options.signal });
  }
  // A tablespace_map would send recovery to the original tablespaces' folders (the live
  // cluster's, on this host): no base backup Lifeboat recovers from may carry one.
  // (pg_basebackup's tar format always writes the file; only an empty one is harmless.)
  const tablespaceMap = await readFile(path.join(dataDir, "tablespace_map"), "utf8").catch(() => "");
  if (tablespaceMap.trim() !== "")
    throw new PitrFailedError(
      `The base backup ${options.plan.base.artifact} carries tablespaces (tablespace_map), which Lifeboat does not recover yet; nothing was started. Recover it by hand with tablespace mappings.`,
    );
  await rm(path.join(dataDir, "backup_manifest"), { force: true });
  await mkdir(path.join(dataDir, "pg_wal", "archive_status"), { recursive: true, mode: 0o700 });
  await writeFile(path.join(dataDir, "recovery.signal"), "");
  if (isRoot()) {
    const user = options.osUser ?? CLUSTER_OS_USER;
    await execChild("chown", ["-R", `${user}:`, dataDir], { signal: options.signal });
  }
  await chmod(dataDir, 0o700);
}

/** (age →) zstd or lz4 → tar, streamed: an encrypted base backup is never stored decrypted. */
async function extractTarStream(plain: Readable, compression: "zstd" | "lz4", dataDir: string, options: RunPitrOptions): Promise<void> {
  const zstd = spawnChild(compression === "zstd" ? "zstd" : "lz4", ["-dcq"], { stdio: ["pipe", "pipe", "pipe"] });
  const tar = spawnChild("tar", ["-x", "-f", "-", "-C", dataDir, "--no-same-owner"], { stdio: ["pipe", "ignore", "pipe"] });
  const exited = (child: ReturnType<typeof spawnChild>, name: string) =>
    new Promise<void>((resolve, reject) => {
      let stderr = "";
      child.stderr?.setEncoding("utf8").on("data", (c: string) => (stderr += c));
      child.once("error", (e) => reject(new LifeboatError("COMMAND_FAILED", `${name} could not run: ${e.message} (install ${name})`)));
      child.once("close", (code, signal) => (code === 0 ? resolve() : reject(new ChildProcessError(name, code, stderr, signal))));
    });
  const stop = () => {
    signalChildGroup(zstd, "SIGKILL");
    signalChildGroup(tar, "SIGKILL");
  };
  options.signal?.addEventListener("abort", stop, { once: true });
  try {
    await Promise.all([
      pipeline(plain, zstd.stdin!).catch((e: unknown) => {
        stop();
        throw e;
      }),
      pipeline(zstd.stdout!, tar.stdin!),
      exited(zstd, compression),
      exited(tar, "tar"),
    ]);
  } finally {
    options.signal?.removeEventListener("abort", stop);
  }
  throwIfAborted(options.signal);
}

/**
 * A base backup of a cluster whose configuration lives outside its data directory (Debian's
 * /etc/postgresql) carries none: give the recovered server a minimal one of its own. Password
 * authentication on 127.0.0.1 (md5 accepts scram and md5 verifiers alike), nothing else.
 */
async function ensureOwnConfiguration(dataDir: string, osUser: string): Promise<boolean> {
  if (existsSync(path.join(dataDir, "postgresql.conf"))) return false;
  const files: Record<string, string> = {
    "postgresql.conf": "# Written by Lifeboat for a recovered instance: the original keeps its configuration outside the data directory.\n",
    "pg_hba.conf":
      "# Lifeboat: a recovered instance, reachable on 127.0.0.1 with the target's own credentials.\nhost all all 127.0.0.1/32 md5\nhost all all ::1/128 md5\n",
    "pg_ident.conf": "",
  };
  for (const [name, text] of Object.entries(files)) {
    await writeFile(path.join(dataDir, name), text, { mode: 0o600 });
    await handToOsUser(osUser, path.join(dataDir, name));
  }
  return true;
}

const BLOCK_START = "# Lifeboat PITR: begin";
const BLOCK_END = "# Lifeboat PITR: end";

/** Settings in a marked block of postgresql.auto.conf that removeSettings() takes out again whole. */
async function appendSettings(dataDir: string, settings: Record<string, string | number | boolean>): Promise<void> {
  const lines = Object.entries(settings).map(([k, v]) => `${k} = ${confValue(v)}`);
  await appendFile(path.join(dataDir, "postgresql.auto.conf"), `\n${BLOCK_START}\n${lines.join("\n")}\n${BLOCK_END}\n`);
}

/** postgresql.auto.conf exactly as it was before appendSettings(): the live configuration again. */
async function removeSettings(dataDir: string): Promise<void> {
  const file = path.join(dataDir, "postgresql.auto.conf");
  const text = await readFile(file, "utf8");
  const start = text.indexOf(`\n${BLOCK_START}\n`);
  const end = text.indexOf(`${BLOCK_END}\n`, start);
  if (start < 0 || end < 0) return;
  await writeFile(file, text.slice(0, start) + text.slice(end + BLOCK_END.length + 1));
}

/** The last lines of the server's log (the recovery log Lifeboat keeps, then pg_ctl's), for an error message. */
async function serverLogTail(files: string[], lines = 20): Promise<string[]> {
  const texts: string[] = [];
  for (const file of files) {
    const stat = await readdir(file).then(
      (names) => names.map((n) => path.join(file, n)),
      () => [file],
    );
    for (const f of stat) texts.push(await readFile(f, "utf8").catch(() => ""));
  }
  return texts
    .join("\n")
    .split("\n")
    .map((l) => l.trimEnd())
    .filter(Boolean)
    .slice(-lines);
}

function describeFailure(what: string, log: string[]): { message: string; lastReached: string | undefined } {
  const fatal = log
    .filter((l) => /FATAL|PANIC/.test(l))
    .map((l) => l.replace(/^.*?(FATAL|PANIC):\s*/, ""))
    .at(-1);
  const reached = log
    .map((l) => /last completed transaction was at log time ([^\n]+)/.exec(l)?.[1] ?? /redo done at ([0-9A-F]+\/[0-9A-F]+)/.exec(l)?.[1])
    .findLast(Boolean);
  const relevant = log.filter((l) => /FATAL|PANIC|ERROR|WARNING|could not/.test(l));
  const quoted = (relevant.length ? relevant : log).slice(-4);
  const tail = quoted.length ? ` The server's log says: ${quoted.join(" | ")}` : "";
  // The cause may already be in `what` (a refused login quotes the server's answer): say it once.
  const cause = fatal && !what.includes(fatal) ? `: ${fatal}` : "";
  return { message: `${what}${cause}.${reached ? ` Recovery got as far as ${reached.trim()}.` : ""}${tail}`, lastReached: reached?.trim() };
}

/** Errors that waiting will not cure: the credentials were refused. */
function isAuthenticationFailure(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return code === "28P01" || code === "28000" || /password authentication failed|no pg_hba.conf entry/i.test((error as Error).message ?? "");
}

/**
 * Start the restored cluster, wait (bounded) until recovery reached its target, promote it when it
 * paused there, and prove it takes writes. Every wait has a deadline; every failure quotes the
 * server's own log.
 */
async function recoverAndPromote(
  cluster: ManagedCluster,
  connection: PgConnection,
  logs: string[],
  options: RunPitrOptions,
): Promise<{ timeline: number; lastReplayed: string | null }> {
  const fail = async (what: string, cause?: unknown) => {
    const log = await serverLogTail(logs);
    // No server log (pg_ctl refused before the server ran): the control tool's own words instead.
    const said = log.length === 0 && cause instanceof Error ? ` (${cause.message.split("\n").slice(0, 3).join(" | ")})` : "";
    const { message, lastReached } = describeFailure(`${what}${said}`, log);
    return new PitrFailedError(message, lastReached, { serverLog: log });
  };
  options.onPhase?.("replaying WAL");
  try {
    await cluster.start({ timeoutMs: options.startTimeoutMs });
  } catch (error) {
    throw await fail("PostgreSQL did not start for the recovery", error);
  }
  const deadline = Date.now() + (options.timeoutMs ?? 60 * 60 * 1000);
  for (;;) {
    if (options.signal?.aborted) {
      await cluster.stop("immediate").catch(() => undefined);
      throwIfAborted(options.signal);
    }
    // The log is read before the server is stopped: an immediate stop adds lines of its own
    // (restore_command killed by SIGQUIT) that must not pass for the cause.
    if (Date.now() > deadline) {
      const failure = await fail(`Recovery did not finish within ${Math.round((options.timeoutMs ?? 3_600_000) / 60_000)} minutes`);
      await cluster.stop("immediate").catch(() => undefined);
      throw failure;
    }
    let state: { r: boolean; paused: string | null } | undefined;
    try {
      state = await withClient(
        connection,
        async (c) =>
          (
            await c.query<{ r: boolean; paused: string | null }>(
              "select pg_is_in_recovery() as r, case when pg_is_in_recovery() then pg_get_wal_replay_pause_state() end as paused",
            )
          ).rows[0],
        2_000,
      );
    } catch (error) {
      const cause = (error as { cause?: unknown }).cause ?? error;
      if (isAuthenticationFailure(cause)) {
        const failure = await fail(
          `The recovered server refused the target's credentials (${connectionErrorMessage(cause, connection)}; it has the roles, passwords and pg_hba.conf of the recovered moment)`,
        );
        await cluster.stop("immediate").catch(() => undefined);
        throw failure;
      }
      // Not accepting connections yet (still replaying to a consistent state): ask again shortly.
    }
    if (state && !state.r) break;
    if (state?.paused === "paused") {
      // Paused at the target: the target was reached. Promote now, under Lifeboat's eye.
      options.onPhase?.("target reached; promoting");
      try {
        await cluster.promote();
      } catch {
        throw await fail("The recovered server could not be promoted");
      }
      continue;
    }
    if (!state && !(await cluster.isRunning())) throw await fail("PostgreSQL stopped during recovery");
    await new Promise((r) => setTimeout(r, 200));
  }
  options.onPhase?.("checking the cluster accepts writes");
  const result = await withClient(connection, async (c) => {
    await c.query("select txid_current()");
    // The timeline of the WAL being written now (the last checkpoint may predate promotion).
    const { rows } = await c.query<{ tli: string; last: Date | null }>(
      "select substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) as tli, pg_last_xact_replay_timestamp() as last",
    );
    return { timeline: parseInt(rows[0]!.tli, 16), lastReplayed: rows[0]!.last ? rows[0]!.last.toISOString() : null };
  });

  // "latest" has no target PostgreSQL could miss: recovery simply ends where restore_command stops
  // finding WAL. Where it ended is the new timeline's switch point; it must be past the last
  // record the plan saw, or the restore would quietly lose data.
  if (options.plan.target.kind === "latest") {
    const history = await readFile(path.join(cluster.dataDir, "pg_wal", historyFileName(result.timeline)), "utf8").catch(() => "");
    const ended = timelineAncestry(result.timeline, history).at(-1)!.begin;
    const expected = parseLsn(options.plan.range.to.lsn);
    if (ended <= expected) {
      await cluster.stop("immediate").catch(() => undefined);
      throw new PitrFailedError(
        `Recovery ended at ${formatLsn(ended)}, before the end of the archived WAL at ${options.plan.range.to.lsn} (last commit ${options.plan.range.to.time}). ` +
          `The archive could not be read completely (check that PostgreSQL's OS user can read ${options.repository.archiveDir}).`,
        formatLsn(ended),
      );
    }
  }
  return result;
}

/** Each table's rows in the recovered instance beside the live database now. */
export async function compareWithLive(recovered: PgConnection, live: PgConnection): Promise<RowCountPreview> {
  const count = (connection: PgConnection) =>
    withClient(connection, async (c) => countRows(c, await listTables(c)), 10_000).catch(() => undefined as Record<string, number> | undefined);
  const [then, now] = await Promise.all([count(recovered), count(live)]);
  const tables = [...new Set([...Object.keys(then ?? {}), ...Object.keys(now ?? {})])].sort();
  return tables.map((table) => ({ table, recovered: then?.[table] ?? null, live: now?.[table] ?? null }));
}

/** Marks a folder Lifeboat created for a recovered instance (only such folders are ever removed by undo). */
export const PITR_INSTANCE_MARKER = ".lifeboat-pitr-instance";

/**
 * PITR into a new data directory and port, left running for inspection. It gets its own
 * configuration (port, socket, no archiving: it must never write into the production archive),
 * also when the original keeps its configuration outside the data directory. A failure removes
 * what it created. After it starts, its row counts are shown beside the live database's.
 */
export async function pitrToNewInstance(options: RunPitrOptions & { baseDir: string; port: number }): Promise<PitrOutcome> {
  const started = Date.now();
  const osUser = options.osUser ?? CLUSTER_OS_USER;
  const dataDir = path.join(options.baseDir, "pgdata");
  // Only a new or empty folder: a failed (or interrupted) attempt then removes all of it, and
  // nothing of the person's is ever touched.
  const existing = await readdir(options.baseDir).catch(() => undefined);
  if (existing && existing.length > 0)
    throw new PitrFailedError(`${options.baseDir} is not empty; choose a new folder for the recovered instance (nothing was changed).`);
  const created = existing === undefined;
  const journalId = await options.journal?.record({ action: "remove-pitr-instance", baseDir: options.baseDir, created });
  await mkdir(options.baseDir, { recursive: true, mode: 0o700 });
  await writeFile(path.join(options.baseDir, PITR_INSTANCE_MARKER), `${new Date().toISOString()}\n`, { mode: 0o600 });
  const cluster = new ManagedCluster({
    dataDir,
    control: { method: "pg_ctl" },
    osUser,
    pgBinDir: options.pgBinDir,
    logFile: path.join(options.baseDir, "postgres.log"),
  });
  const warnings: string[] = [];
  let workspace: Workspace | undefined;
  try {
    await verifyBaseBackup(options);
    workspace = await prepareWorkspace(options.baseDir, osUser, options);
    options.onPhase?.("copying the base backup");
    await layDownBaseBackup(options, dataDir);
    if (await ensureOwnConfiguration(dataDir, osUser))
      warnings.push("the original keeps its configuration outside the data directory; the new instance got a minimal one of its own");
    await appendSettings(dataDir, { ...recoverySettings(options, workspace, options.port), archive_mode: "off", archive_command: "" });
    const connection = { ...options.connection, host: "127.0.0.1", port: options.port };
    const { timeline, lastReplayed } = await recoverAndPromote(cluster, connection, [workspace.logDir, cluster.logFile], options);
    // Promoted: recovery is over, and the instance keeps no copy of the key.
    if (workspace.identity) await rm(workspace.identity, { force: true });
    if (journalId) await options.journal?.resolve(journalId);
    options.onPhase?.("counting rows in the recovered instance and the live database");
    const preview = await compareWithLive(connection, options.connection);
    return { mode: "new-instance", dataDir, port: options.port, timeline, lastReplayed, durationMs: Date.now() - started, preview, warnings };
  } catch (error) {
    await cluster.stop("immediate").catch(() => undefined);
    // Leave nothing behind (the key's copy included): the folder was new or empty. A failure to
    // clean up is reported beside the cause, never instead of it.
    const cleanup = await removeWorkspace(workspace, options.baseDir, { created }).then(
      () => undefined,
      (e: unknown) => (e as Error).message,
    );
    if (!created) await mkdir(options.baseDir, { recursive: true, mode: 0o700 }).catch(() => undefined);
    if (journalId) await options.journal?.resolve(journalId);
    if (cleanup && error instanceof LifeboatError) error.details.cleanup = `${options.baseDir} could not be emptied: ${cleanup}`;
    throw error;
  }
}

/**
 * Lifeboat's manifest pins a plain base backup's backup_manifest; pg_verifybackup checks every
 * file against it (and refuses files that do not belong) before the backup is laid down.
 */
async function verifyBaseBackup(options: RunPitrOptions): Promise<void> {
  const folder = path.join(options.repository.dir, options.plan.base.artifact);
  // A streamed or tar backup: every file's sha256 was checked against Lifeboat's manifest (pg_verifybackup reads only plain backups before 18).
  // Decided from Lifeboat's manifest, never from the folder's contents: a plain backup missing a
  // file (PG_VERSION, say) must still be checked, and named as damaged.
  const tar = options.plan.base.files.some((f) => /\/base\.tar\.(zst|lz4)(\.age)?$/.test(f.name));
  if (tar || !existsSync(path.join(folder, "backup_manifest"))) return;
  options.onPhase?.("verifying the base backup (pg_verifybackup)");
  try {
    await runPgTool({ tool: "pg_verifybackup", args: [folder], pgBinDir: options.pgBinDir, signal: options.signal });
  } catch (error) {
    if (error instanceof PgToolError) {
      throw new PitrFailedError(
        `The base backup ${options.plan.base.artifact} is damaged and was not used (nothing was changed): ${error.stderr.trim().split("\n").slice(0, 3).join(" | ")}`,
      );
    }
    throw error;
  }
}

/**
 * PITR in place, for a cluster on this host: stop it, move its data directory aside, restore the
 * base backup with the live configuration, recover (isolated: 127.0.0.1 on a port of its own, no
 * archiving yet) to the target, promote, check it takes writes, then restart it with its live
 * configuration and archive the new timeline's first WAL at once. The previous data directory is
 * then removed (unless kept). On any failure it is put back and the cluster started as it was. The
 * move is journalled in the target's lock, so if Lifeboat dies half-way the next operation puts the
 * old directory back.
 */
export async function pitrInPlace(options: RunPitrOptions & { cluster: ManagedCluster; keepPrevious: boolean }): Promise<PitrOutcome> {
  const started = Date.now();
  const { cluster } = options;
  const dataDir = cluster.dataDir;
  const osUser = cluster.osUser;
  if (!existsSync(path.join(dataDir, "PG_VERSION")))
    throw new PitrFailedError(`There is no cluster in ${dataDir} (nothing was changed); recover into a new instance instead.`);
  const stamp = new Date(started).toISOString().replace(/[:.]/g, "-");
  const aside = `${dataDir}.pre-pitr-${stamp}`;
  const workspaceDir = path.join(path.dirname(dataDir), `.lifeboat-pitr-${stamp}`);
  const warnings: string[] = [];
  await verifyBaseBackup(options);
  const wasRunning = await cluster.isRunning();
  // Journalled before the cluster is stopped: if Lifeboat dies from here on, the next operation
  // puts the data directory back (if it moved) and starts the cluster again (if it ran).
  const journalId = await options.journal?.record({ action: "pitr-in-place", dataDir, aside, wasRunning, workspace: workspaceDir });
  let moved = false;
  let committed = false;
  let workspace: Workspace | undefined;
  try {
    if (wasRunning) {
      options.onPhase?.("stopping the cluster");
      await cluster.stop("fast", { timeoutMs: options.startTimeoutMs });
    }
    throwIfAborted(options.signal);
    await rename(dataDir, aside);
    moved = true;
    workspace = await prepareWorkspace(workspaceDir, osUser, options);
    options.onPhase?.("copying the base backup");
    await layDownBaseBackup(options, dataDir);
    // Keep the live configuration (port, archive_command, tuning), not the one from backup time.
    // postgresql.auto.conf always lives in the data directory; the others do when the cluster keeps them there.
    const live = cluster.configDir === dataDir ? ["postgresql.conf", "pg_hba.conf", "pg_ident.conf", "postgresql.auto.conf"] : ["postgresql.auto.conf"];
    for (const file of live) {
      if (!existsSync(path.join(aside, file))) continue;
      await copyFile(path.join(aside, file), path.join(dataDir, file));
      await handToOsUser(osUser, path.join(dataDir, file));
    }
    const port = await findFreePort();
    // archive_command '' keeps the new timeline's files waiting (.ready) until the live
    // configuration is back: an interrupted recovery leaves no history file in the archive.
    await appendSettings(dataDir, { ...recoverySettings(options, workspace, port), archive_command: "" });
    const connection = { ...options.connection, host: "127.0.0.1", port };
    const { timeline, lastReplayed } = await recoverAndPromote(cluster, connection, [workspace.logDir, cluster.logFile], options);

    // The recovery is done and checked: from here on it is never undone. What is left is to restart
    // with the live configuration; if Lifeboat dies now, the next operation finishes that instead.
    const finishId = await options.journal?.record({ action: "pitr-finish", dataDir, workspace: workspaceDir });
    if (journalId) await options.journal?.resolve(journalId);
    committed = true;
    options.onPhase?.("restarting with the live configuration");
    await cluster.stop("fast", { timeoutMs: options.startTimeoutMs });
    await removeSettings(dataDir);
    await cluster.start({ timeoutMs: options.startTimeoutMs });
    if (finishId) await options.journal?.resolve(finishId);
    await removeWorkspace(workspace, workspaceDir).catch((e: unknown) =>
      warnings.push(`the recovery's workspace ${workspaceDir} could not be removed: ${(e as Error).message}`),
    );
    if (!options.keepPrevious) {
      await rm(aside, { recursive: true, force: true }).catch((e: unknown) =>
        warnings.push(`the previous data directory ${aside} could not be removed: ${(e as Error).message}`),
      );
    }
    return {
      mode: "in-place",
      dataDir,
      port: options.connection.port,
      timeline,
      lastReplayed,
      durationMs: Date.now() - started,
      previousDataDir: options.keepPrevious ? aside : undefined,
      warnings,
    };
  } catch (error) {
    if (committed) {
      // Never roll back a finished recovery: the journal entry stays, and the next operation removes
      // the recovery settings and starts the cluster.
      if (error instanceof LifeboatError) {
        error.message = `The recovery finished, but restarting ${dataDir} with its live configuration failed: ${error.message} The next operation on this target retries it; the previous data directory is in ${aside}.`;
      }
      throw error;
    }
    let undone = true;
    if (moved) {
      const putBack = await putBackDataDirectory(cluster, aside, wasRunning).then(
        () => undefined,
        (e: unknown) => (e as Error).message,
      );
      undone = putBack === undefined;
      if (error instanceof LifeboatError) {
        error.message +=
          putBack === undefined
            ? " The previous data directory was put back."
            : ` Putting the previous data directory back failed too (${putBack}); it is in ${aside}.`;
      }
    } else if (wasRunning) {
      undone = await cluster.start({ timeoutMs: options.startTimeoutMs }).then(
        () => true,
        () => false,
      );
    }
    await removeWorkspace(workspace, workspaceDir).catch(() => undefined); // best effort: the undo journal retries what matters
    // When the undo failed, the journal entry stays (the lock keeps it): the next operation tries again.
    if (journalId && undone) await options.journal?.resolve(journalId);
    throw error;
  }
}

/** Finish an in-place PITR that recovered but was not restarted: the live configuration, and start. */
export async function finishInPlaceRecovery(cluster: ManagedCluster): Promise<void> {
  await cluster.stop("fast");
  await removeSettings(cluster.dataDir);
  await cluster.start();
}

/** Undo an interrupted in-place PITR: stop whatever runs in the data directory, put the old one back, start it if it ran. */
export async function putBackDataDirectory(cluster: ManagedCluster, aside: string, start: boolean): Promise<void> {
  await cluster.stop("immediate").catch(() => undefined);
  if (existsSync(aside)) {
    await rm(cluster.dataDir, { recursive: true, force: true });
    await rename(aside, cluster.dataDir);
  }
  if (start) await cluster.start();
}
