import { createReadStream, existsSync } from "node:fs";
import { appendFile, chmod, copyFile, mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { LocalCluster, confValue, shellQuote } from "../cluster/local-cluster";
import { handToClusterUser, isRoot, CLUSTER_OS_USER } from "../cluster/os-user";
import { decryptStream } from "../crypto/age";
import { LifeboatError, throwIfAborted } from "../errors";
import { BASE_STREAM_FILE } from "../physical/write-base-backup";
import { withClient } from "../pg/server-info";
import { ChildProcessError, execChild, signalChildGroup, spawnChild } from "../process/spawn-child";
import type { Repository } from "../repository/repository";
import type { Journal } from "../repository/target-lock";
import { formatLsn, historyFileName, parseLsn, timelineAncestry } from "../wal/wal-names";
import type { PitrPlan } from "./plan-pitr";

export class PitrFailedError extends LifeboatError {
  constructor(
    message: string,
    readonly lastReached?: string,
  ) {
    super("PITR_FAILED", message, { lastReached });
  }
}

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
};

export type RunPitrOptions = {
  plan: PitrPlan;
  repository: Repository;
  pgBinDir?: string | undefined;
  /** Identities that decrypt an encrypted base backup. */
  identities?: string[] | undefined;
  signal?: AbortSignal | undefined;
  journal?: Journal | undefined;
  onPhase?: ((phase: string) => void) | undefined;
  /** How long recovery may take before it is declared stuck. */
  timeoutMs?: number | undefined;
};

/** bin/restore-wal of this installation: beside this source tree, or (bundled) under the working folder. */
export function restoreWalScript(): string {
  const beside = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "bin", "restore-wal");
  return existsSync(beside) ? beside : path.resolve("bin", "restore-wal");
}

/**
 * A copy of restore-wal beside the cluster (in the folder the cluster's OS user owns): the
 * checkout it comes from may sit where that user cannot read (e.g. under /root).
 */
async function installRestoreWal(baseDir: string): Promise<string> {
  const installed = path.join(baseDir, "restore-wal");
  await copyFile(restoreWalScript(), installed);
  await chmod(installed, 0o755);
  await handToClusterUser(installed);
  return installed;
}

/**
 * Recovery settings. With a target, recovery pauses there and Lifeboat promotes the server itself
 * once it has checked it (so a server left behind by a killed Lifeboat never promotes on its own);
 * "latest" has no target to pause at, and promotes at the end of the archive.
 */
function recoverySettings(options: RunPitrOptions, restoreWal: string): Record<string, string | number | boolean> {
  const { plan } = options;
  const settings: Record<string, string | number | boolean> = {
    restore_command: `${shellQuote(restoreWal)} ${shellQuote(options.repository.archiveDir)} %f %p`,
    recovery_target_timeline: "latest",
    recovery_target_action: plan.target.kind === "latest" ? "promote" : "pause",
  };
  if (plan.target.kind === "time") settings.recovery_target_time = `${plan.target.utc.toISOString().replace("T", " ").replace("Z", "")}+00`;
  if (plan.target.kind === "name") settings.recovery_target_name = plan.target.name;
  if (plan.target.kind === "lsn") settings.recovery_target_lsn = plan.target.lsn;
  return settings;
}

/** Lay the base backup into an empty data directory owned by the cluster's OS user. */
async function layDownBaseBackup(options: RunPitrOptions, dataDir: string): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const source = path.join(options.repository.dir, options.plan.base.artifact);
  if (options.plan.base.files.some((f) => f.name.endsWith(`/${BASE_STREAM_FILE}`))) {
    await extractStreamedBase(path.join(source, BASE_STREAM_FILE), dataDir, options);
  } else {
    // cp -a keeps modes and is far faster than a per-file copy in JavaScript; argument array, no shell.
    await execChild("cp", ["-a", `${source}/.`, dataDir], { signal: options.signal });
  }
  await rm(path.join(dataDir, "backup_manifest"), { force: true });
  await mkdir(path.join(dataDir, "pg_wal", "archive_status"), { recursive: true, mode: 0o700 });
  if (isRoot()) await execChild("chown", ["-R", `${CLUSTER_OS_USER}:${CLUSTER_OS_USER}`, dataDir], { signal: options.signal });
  await chmod(dataDir, 0o700);
  await writeFile(path.join(dataDir, "recovery.signal"), "");
  await handToClusterUser(path.join(dataDir, "recovery.signal"));
}

/** age → zstd → tar, streamed: the encrypted base backup is never stored decrypted. */
async function extractStreamedBase(file: string, dataDir: string, options: RunPitrOptions): Promise<void> {
  const plain = await decryptStream(createReadStream(file), options.identities ?? []);
  const zstd = spawnChild("zstd", ["-dcq"], { stdio: ["pipe", "pipe", "pipe"] });
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
      exited(zstd, "zstd"),
      exited(tar, "tar"),
    ]);
  } finally {
    options.signal?.removeEventListener("abort", stop);
  }
  throwIfAborted(options.signal);
}

const BLOCK_START = "# Lifeboat PITR: begin";
const BLOCK_END = "# Lifeboat PITR: end";

/** Settings for the recovery, in a marked block of postgresql.auto.conf that removeSettings() takes out again whole. */
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

/** The FATAL/PANIC lines and the last replayed point from the server log, for the error message. */
async function recoveryReport(logFile: string, since: number): Promise<{ fatal: string | undefined; lastReached: string | undefined }> {
  const log = (await readFile(logFile, "utf8").catch(() => "")).slice(since);
  const fatal = log
    .split("\n")
    .filter((l) => /FATAL|PANIC/.test(l))
    .map((l) => l.replace(/^.*?(FATAL|PANIC):\s*/, ""))
    .at(-1);
  const reached = /last completed transaction was at log time ([^\n]+)/.exec(log)?.[1] ?? /redo done at ([0-9A-F]+\/[0-9A-F]+)/.exec(log)?.[1];
  return { fatal, lastReached: reached?.trim() };
}

/** Start the restored cluster, wait until recovery reached its target and promoted, prove it takes writes. */
async function recoverAndPromote(cluster: LocalCluster, options: RunPitrOptions): Promise<{ timeline: number; lastReplayed: string | null }> {
  const logStart = await stat(cluster.logFile).then(
    (s) => s.size,
    () => 0,
  );
  const fail = async (what: string) => {
    const report = await recoveryReport(cluster.logFile, logStart);
    const reached = report.lastReached ? ` Recovery got as far as ${report.lastReached}.` : "";
    return new PitrFailedError(`${what}${report.fatal ? `: ${report.fatal}` : ""}.${reached}`, report.lastReached);
  };
  options.onPhase?.("replaying WAL");
  try {
    await cluster.start();
  } catch {
    throw await fail("PostgreSQL stopped during recovery");
  }
  const deadline = Date.now() + (options.timeoutMs ?? 60 * 60 * 1000);
  for (;;) {
    if (options.signal?.aborted) {
      await cluster.stop("immediate").catch(() => undefined);
      throwIfAborted(options.signal);
    }
    if (Date.now() > deadline) {
      await cluster.stop("immediate").catch(() => undefined);
      throw await fail("Recovery did not finish in time");
    }
    const state = await withClient(
      cluster.adminConnection(),
      async (c) => {
        const { rows } = await c.query<{ r: boolean; paused: string | null }>(
          "select pg_is_in_recovery() as r, case when pg_is_in_recovery() then pg_get_wal_replay_pause_state() end as paused",
        );
        const row = rows[0];
        // Paused at the target: the target was reached; promote now, under Lifeboat's eye.
        if (row?.paused === "paused") {
          options.onPhase?.("target reached; promoting");
          await c.query("select pg_promote(true, 60)");
          return false;
        }
        return row?.r;
      },
      2_000,
    ).catch(() => undefined); // not accepting connections yet: asked again in 200 ms
    if (state === false) break;
    if (state === undefined && !(await cluster.isRunning())) throw await fail("PostgreSQL stopped during recovery");
    await new Promise((r) => setTimeout(r, 200));
  }
  options.onPhase?.("checking the cluster accepts writes");
  const result = await withClient(cluster.adminConnection(), async (c) => {
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

/** Marks a folder Lifeboat created for a recovered instance (only such folders are ever removed by undo). */
export const PITR_INSTANCE_MARKER = ".lifeboat-pitr-instance";

/**
 * PITR into a new data directory and port, left running for inspection. Its archiving is off:
 * it must never write into the production archive. A failure removes what it created.
 */
export async function pitrToNewInstance(options: RunPitrOptions & { baseDir: string; port: number }): Promise<PitrOutcome> {
  const started = Date.now();
  const existing = await LocalCluster.existing({ baseDir: options.baseDir });
  if (existing) throw new PitrFailedError(`${options.baseDir} already holds a cluster; choose a new folder (nothing was changed).`);
  const created = !existsSync(options.baseDir);
  const journalId = await options.journal?.record({ action: "remove-pitr-instance", baseDir: options.baseDir });
  await mkdir(options.baseDir, { recursive: true, mode: 0o700 });
  await writeFile(path.join(options.baseDir, PITR_INSTANCE_MARKER), `${new Date().toISOString()}\n`, { mode: 0o600 });
  await handToClusterUser(options.baseDir);
  const dataDir = path.join(options.baseDir, "pgdata");
  try {
    options.onPhase?.("copying the base backup");
    await layDownBaseBackup(options, dataDir);
    await appendSettings(dataDir, {
      ...recoverySettings(options, await installRestoreWal(options.baseDir)),
      port: options.port,
      listen_addresses: "127.0.0.1",
      unix_socket_directories: options.baseDir,
      archive_mode: "off",
      archive_command: "",
    });
    const cluster = await LocalCluster.open({ baseDir: options.baseDir, port: options.port, pgBinDir: options.pgBinDir });
    cluster.port = options.port;
    const { timeline, lastReplayed } = await recoverAndPromote(cluster, options);
    if (journalId) await options.journal?.resolve(journalId);
    return { mode: "new-instance", dataDir, port: options.port, timeline, lastReplayed, durationMs: Date.now() - started };
  } catch (error) {
    const cluster = await LocalCluster.existing({ baseDir: options.baseDir }).catch(() => undefined);
    await cluster?.stop("immediate").catch(() => undefined);
    // Leave nothing behind: a folder we created goes entirely; one the user named keeps only what was there.
    if (created) await rm(options.baseDir, { recursive: true, force: true });
    else await rm(dataDir, { recursive: true, force: true });
    if (journalId) await options.journal?.resolve(journalId);
    throw error;
  }
}

/**
 * PITR in place, for a managed cluster: make sure its latest WAL is archived, stop it, move its
 * data directory aside, restore the base backup, recover to the target, promote, check it takes
 * writes; then drop the old directory (unless asked to keep it). On any failure the old data
 * directory is put back and the cluster started again as it was. The move is journalled in the
 * target's lock, so if Lifeboat dies half-way the next operation puts the old directory back.
 */
export async function pitrInPlace(options: RunPitrOptions & { dataDir: string; keepPrevious: boolean }): Promise<PitrOutcome> {
  const started = Date.now();
  if (path.basename(options.dataDir) !== "pgdata")
    throw new PitrFailedError("In-place PITR needs a cluster laid out by Lifeboat (<folder>/pgdata); use --to-new-instance.");
  const baseDir = path.dirname(options.dataDir);
  const cluster = await LocalCluster.existing({ baseDir, pgBinDir: options.pgBinDir });
  if (!cluster) throw new PitrFailedError(`No cluster in ${options.dataDir}; use --to-new-instance.`);
  const wasRunning = await cluster.isRunning();
  const aside = `${options.dataDir}.pre-pitr-${new Date(started).toISOString().replace(/[:.]/g, "-")}`;

  if (wasRunning) {
    options.onPhase?.("archiving the current WAL");
    await archiveCurrentWal(cluster).catch(() => {
      // Not fatal: what was already archived is what the plan used.
    });
    throwIfAborted(options.signal);
    options.onPhase?.("stopping the cluster");
    await cluster.stop("fast");
  }
  const journalId = await options.journal?.record({ action: "pitr-in-place", dataDir: options.dataDir, aside, wasRunning });
  let moved = false;
  try {
    // Keep the live configuration (port, archive_command, tuning), not the one from backup time.
    const configs = ["postgresql.conf", "pg_hba.conf", "pg_ident.conf", "postgresql.auto.conf"];
    await rename(options.dataDir, aside);
    moved = true;
    options.onPhase?.("copying the base backup");
    await layDownBaseBackup(options, options.dataDir);
    for (const file of configs) {
      const copied = await copyFile(path.join(aside, file), path.join(options.dataDir, file)).then(
        () => true,
        () => false,
      );
      if (copied) await handToClusterUser(path.join(options.dataDir, file));
    }
    // While it recovers the server is isolated: no TCP (the application cannot write to a half-done
    // recovery), and no archiving yet (archive_command '' keeps the new timeline's files waiting as
    // .ready, so an interrupted recovery leaves no history file in the archive).
    await appendSettings(options.dataDir, { ...recoverySettings(options, await installRestoreWal(baseDir)), listen_addresses: "", archive_command: "" });
    const { timeline, lastReplayed } = await recoverAndPromote(cluster, options);
    options.onPhase?.("restarting with the live configuration");
    await cluster.stop("fast");
    await removeSettings(options.dataDir);
    await cluster.start();
    // The new timeline's history file and first segment go to the archive now, so the recoverable
    // window continues on the new timeline at once.
    await archiveCurrentWal(cluster).catch(() => undefined);
    if (journalId) await options.journal?.resolve(journalId);
    if (!options.keepPrevious) await rm(aside, { recursive: true, force: true });
    return {
      mode: "in-place",
      dataDir: options.dataDir,
      port: cluster.port,
      timeline,
      lastReplayed,
      durationMs: Date.now() - started,
      previousDataDir: options.keepPrevious ? aside : undefined,
    };
  } catch (error) {
    let undone = true;
    if (moved) {
      const putBack = await putBackDataDirectory(cluster, options.dataDir, aside, wasRunning).then(
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
      await cluster.start().catch(() => undefined);
    }
    // When the undo failed, the journal entry stays: the next operation on this target tries again.
    if (journalId && undone) await options.journal?.resolve(journalId);
    throw error;
  }
}

/** Undo an interrupted in-place PITR: stop whatever runs in the data directory, put the old one back, start it if it ran. */
export async function putBackDataDirectory(cluster: LocalCluster, dataDir: string, aside: string, start: boolean): Promise<void> {
  await cluster.stop("immediate").catch(() => undefined);
  if (existsSync(aside)) {
    await rm(dataDir, { recursive: true, force: true });
    await rename(aside, dataDir);
  }
  if (start) await cluster.start();
}

/** Switch to a new WAL segment and wait until the archiver has it (so "latest" loses nothing). */
async function archiveCurrentWal(cluster: LocalCluster): Promise<void> {
  const segment = await withClient(cluster.adminConnection(), async (c) => {
    const { rows } = await c.query<{ f: string }>("select pg_walfile_name(pg_switch_wal()) as f");
    return rows[0]!.f;
  });
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const archived = await withClient(
      cluster.adminConnection(),
      async (c) => (await c.query<{ w: string | null }>("select last_archived_wal as w from pg_stat_archiver")).rows[0]?.w,
    );
    if (archived && archived >= segment) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new LifeboatError("ARCHIVE_WAIT_TIMEOUT", `segment ${segment} was not archived within 30 s`);
}
