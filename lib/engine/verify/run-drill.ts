import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { findFreePort } from "../cluster/free-port";
import { LocalCluster } from "../cluster/local-cluster";
import { handToOsUser } from "../cluster/os-user";
import { openDumpStream } from "../logical/zstd-stream";
import { LifeboatError, throwIfAborted } from "../errors";
import { checksumMethodOf, listTables, summarizeTables } from "../logical/catalog-queries";
import { restoreJsonExport } from "../logical/restore-json";
import type { PgConnection } from "../pg/connection";
import { runPgTool } from "../pg/run-pg-tool";
import { withClient } from "../pg/server-info";
import { listBaseBackups, planPitr } from "../pitr/plan-pitr";
import { pitrToNewInstance } from "../pitr/run-pitr";
import type { Repository } from "../repository/repository";
import { computeRecoverableWindow, isoMicros } from "../wal/recoverable-window";

export type TableCheck = {
  table: string;
  expectedRows: number | null;
  rows: number | null;
  expectedChecksum: string | null;
  checksum: string | null;
  ok: boolean;
};

/** The seed's "partial restore" (a JSON export restored over the tables), timed on the drill's scratch database. */
export type PartialDrill = { file: string; ok: boolean; tables: number; durationMs: number; problem: string | null };
export type LogicalDrill = {
  file: string;
  ok: boolean;
  tables: TableCheck[];
  /** The full restore alone: the measured RTO of a full restore. */
  durationMs: number;
  problem: string | null;
  partial: PartialDrill | null;
};
export type PitrDrill = { target: string; base: string; ok: boolean; tables: number; lastReplayed: string | null; durationMs: number; problem: string | null };

/**
 * The seed's "Recovery Testing", unattended: restore a full dump into a scratch database on a
 * throwaway cluster and compare every table with what the manifest recorded in the backup's
 * snapshot — exact row count and content checksum. A dump whose files are intact but whose content
 * is not what was backed up fails here. Its duration is the measured RTO of a full restore.
 */
export async function drillLogical(options: {
  repository: Repository;
  fileName?: string | undefined;
  /** A JSON export of the same backup set: restored over the restored tables afterwards and timed (the partial restore). */
  jsonFileName?: string | undefined;
  pgBinDir?: string | undefined;
  identities?: string[] | undefined;
  signal?: AbortSignal | undefined;
  onPhase?: ((phase: string) => void) | undefined;
}): Promise<LogicalDrill> {
  const started = Date.now();
  options.onPhase?.("checking the dump");
  const { path: file, manifest } = await options.repository.checkForRestore(options.fileName ?? "latest", "full");
  if (!manifest.tableRowCounts) throw new LifeboatError("DRILL_IMPOSSIBLE", `${manifest.artifact}'s manifest holds no row counts to compare with.`);
  options.onPhase?.("starting a scratch cluster");
  const scratch = await LocalCluster.temporary({ pgBinDir: options.pgBinDir });
  try {
    await scratch.start();
    await scratch.query("create database drill");
    const connection = scratch.adminConnection("drill");
    options.onPhase?.(`restoring ${manifest.artifact}`);
    // No owners or grants: the scratch cluster has none of the production roles.
    const args = ["--no-owner", "--no-privileges", "--exit-on-error", "--no-password", "--dbname=drill"];
    const opened = await openDumpStream(file, { encrypted: manifest.encryption !== null, identities: options.identities ?? [], signal: options.signal });
    if (opened) {
      await Promise.all([
        runPgTool({ tool: "pg_restore", args, connection, pgBinDir: options.pgBinDir, signal: options.signal, stdinStream: opened.stream }),
        opened.done,
      ]);
    } else {
      await runPgTool({
        tool: "pg_restore",
        args: [...args, ...(file.endsWith(".dir") ? ["--jobs=2"] : []), file],
        connection,
        pgBinDir: options.pgBinDir,
        signal: options.signal,
      });
    }
    throwIfAborted(options.signal);
    options.onPhase?.("comparing every table with the manifest");
    // Computed as the backup computed them (older manifests hold md5 sums).
    const restored = await withClient(connection, async (c) => summarizeTables(c, await listTables(c), checksumMethodOf(manifest.tableChecksums)), 30_000);
    const expectedRows = manifest.tableRowCounts;
    const expectedSums = manifest.tableChecksums ?? {};
    const names = [...new Set([...Object.keys(expectedRows), ...Object.keys(restored.rows)])].sort();
    const tables: TableCheck[] = names.map((table) => {
      const check = {
        table,
        expectedRows: expectedRows[table] ?? null,
        rows: restored.rows[table] ?? null,
        expectedChecksum: expectedSums[table] ?? null,
        checksum: restored.checksums[table] ?? null,
      };
      const sumOk = check.expectedChecksum === null || check.expectedChecksum === check.checksum;
      return { ...check, ok: check.expectedRows === check.rows && sumOk };
    });
    const bad = tables.filter((t) => !t.ok);
    const durationMs = Date.now() - started;
    const partial = options.jsonFileName ? await drillPartial({ ...options, jsonFileName: options.jsonFileName, connection }) : null;
    return {
      file: manifest.artifact,
      ok: bad.length === 0 && (partial?.ok ?? true),
      tables,
      durationMs,
      partial,
      problem: bad.length
        ? `${bad.length} table(s) differ from what was backed up: ${bad
            .slice(0, 5)
            .map((t) => `${t.table} (${t.expectedRows === t.rows ? "content differs" : `${t.rows ?? "missing"} rows, ${t.expectedRows ?? "none"} expected`})`)
            .join(", ")}`
        : null,
    };
  } finally {
    await scratch.remove();
  }
}

/** Restore a JSON export over the drill database and check every table holds the rows the export recorded. */
async function drillPartial(options: {
  repository: Repository;
  jsonFileName: string;
  connection: PgConnection;
  identities?: string[] | undefined;
  signal?: AbortSignal | undefined;
  onPhase?: ((phase: string) => void) | undefined;
}): Promise<PartialDrill> {
  const started = Date.now();
  options.onPhase?.(`restoring ${options.jsonFileName} (partial restore)`);
  try {
    const { manifest } = await options.repository.checkForRestore(options.jsonFileName, "json");
    const result = await restoreJsonExport({
      repository: options.repository,
      connection: options.connection,
      fileName: options.jsonFileName,
      identities: options.identities,
      signal: options.signal,
    });
    const durationMs = Date.now() - started;
    const restored = await withClient(options.connection, async (c) => summarizeTables(c, await listTables(c)), 30_000);
    const expected = manifest.tableRowCounts ?? {};
    const wrong = Object.entries(expected).filter(([table, rows]) => restored.rows[table] !== rows);
    return {
      file: manifest.artifact,
      ok: wrong.length === 0,
      tables: result.tables.length,
      durationMs,
      problem: wrong.length
        ? `after the JSON restore ${wrong.length} table(s) differ from the export: ${wrong
            .slice(0, 5)
            .map(([table, rows]) => `${table} (${restored.rows[table] ?? "missing"} rows, ${rows} expected)`)
            .join(", ")}`
        : null,
    };
  } catch (error) {
    if (options.signal?.aborted) throw error;
    return {
      file: options.jsonFileName,
      ok: false,
      tables: 0,
      durationMs: Date.now() - started,
      problem: `the JSON restore failed: ${(error as Error).message}`,
    };
  }
}

/**
 * A PITR drill: recover to a random moment inside the recoverable window on a new, throwaway
 * instance and check it starts, takes writes, that every table can be read, and that it replayed
 * nothing after that moment. Its duration is the measured RTO of a point-in-time recovery.
 */
export async function drillPitr(options: {
  repository: Repository;
  connection: PgConnection;
  osUser?: string | undefined;
  pgBinDir?: string | undefined;
  identities?: string[] | undefined;
  signal?: AbortSignal | undefined;
  onPhase?: ((phase: string) => void) | undefined;
  random?: () => number;
}): Promise<PitrDrill> {
  const started = Date.now();
  const bases = await listBaseBackups(options.repository);
  const window = await computeRecoverableWindow({
    archiveDir: options.repository.archiveDir,
    baseBackups: bases,
    pgBinDir: options.pgBinDir,
    identities: options.identities,
    signal: options.signal,
  });
  const spans = window.stretches.filter((s) => s.to.time > s.from.time);
  if (spans.length === 0) throw new LifeboatError("DRILL_IMPOSSIBLE", "There is no recoverable window to drill (a base backup with archived WAL after it).");
  const random = options.random ?? Math.random;
  const span = spans[Math.floor(random() * spans.length)]!;
  const from = Date.parse(span.from.time);
  const to = Date.parse(span.to.time);
  const moment = new Date(Math.floor(from + random() * (to - from)));
  options.onPhase?.(`recovering to ${moment.toISOString()} on a throwaway instance`);
  const plan = await planPitr({
    repository: options.repository,
    target: { kind: "time", input: moment.toISOString(), utc: moment, zone: "UTC" },
    pgBinDir: options.pgBinDir,
    identities: options.identities,
    signal: options.signal,
  });
  const work = await mkdtemp(path.join(os.tmpdir(), "lifeboat-drill-"));
  await handToOsUser(options.osUser ?? "postgres", work);
  const baseDir = path.join(work, "instance");
  const port = await findFreePort();
  try {
    const outcome = await pitrToNewInstance({
      plan,
      repository: options.repository,
      connection: options.connection,
      osUser: options.osUser,
      pgBinDir: options.pgBinDir,
      identities: options.identities,
      signal: options.signal,
      onPhase: options.onPhase,
      baseDir,
      port,
    });
    const replayedAfter = outcome.lastReplayed !== null && isoMicros(outcome.lastReplayed) > isoMicros(moment);
    const unreadable = (outcome.preview ?? []).filter((t) => t.recovered === null);
    const problem = replayedAfter
      ? `it replayed a transaction of ${outcome.lastReplayed}, after the target ${moment.toISOString()}`
      : unreadable.length
        ? `tables could not be read: ${unreadable.map((t) => t.table).join(", ")}`
        : null;
    return {
      target: moment.toISOString(),
      base: plan.base.artifact,
      ok: problem === null,
      tables: outcome.preview?.length ?? 0,
      lastReplayed: outcome.lastReplayed,
      durationMs: Date.now() - started,
      problem,
    };
  } finally {
    const instance = await LocalCluster.existing({ baseDir, port }).catch(() => undefined);
    await instance?.remove();
    await rm(work, { recursive: true, force: true });
  }
}
