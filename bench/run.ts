/**
 * npm run bench — Lifeboat's overhead as ratios against the plain PostgreSQL tools, timed in the
 * same run on the same data (DESIGN.md: "judged as a ratio"). Also WAL archive/restore throughput
 * in segments per second, and the time of a PITR replaying at least BENCH_WAL_MB of WAL.
 *
 *   BENCH_SCALE=20 (pgbench scale; 20 ≈ 300 MB)   BENCH_WAL_MB=1100   BENCH_SEGMENTS=64
 */
import { execFile } from "node:child_process";
import { chmod, copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { findFreePort } from "@/lib/engine/cluster/free-port";
import { LocalCluster } from "@/lib/engine/cluster/local-cluster";
import { ManagedCluster } from "@/lib/engine/cluster/managed-cluster";
import { CLUSTER_OS_USER, handToClusterUser, isRoot } from "@/lib/engine/cluster/os-user";
import { runBackupSet } from "@/lib/engine/backup/run-backup-set";
import type { BackupSettings } from "@/lib/engine/backup/types";
import { restoreFullBackup } from "@/lib/engine/logical/restore-full";
import { findPgBinary } from "@/lib/engine/pg/find-pg-binary";
import { runPgTool } from "@/lib/engine/pg/run-pg-tool";
import { withClient } from "@/lib/engine/pg/server-info";
import { planPitr } from "@/lib/engine/pitr/plan-pitr";
import { pitrInPlace, pitrToNewInstance } from "@/lib/engine/pitr/run-pitr";
import { LocalRepository, type Repository } from "@/lib/engine/repository/repository";
import { formatBytes } from "@/lib/format";

const exec = promisify(execFile);
const repo = path.resolve(import.meta.dirname, "..");
// Benchmark knobs, read here rather than through lib/env.ts, which describes the app.
const SCALE = Number(process.env.BENCH_SCALE ?? 20);
const WAL_MB = Number(process.env.BENCH_WAL_MB ?? 1100);
const SEGMENTS = Number(process.env.BENCH_SEGMENTS ?? 64);

type Row = { what: string; plain: number; lifeboat: number; note?: string };
const rows: Row[] = [];
const extras: string[] = [];

async function time<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const started = process.hrtime.bigint();
  const value = await fn();
  return [Number(process.hrtime.bigint() - started) / 1e9, value];
}

function say(line: string) {
  process.stderr.write(`[bench] ${line}\n`);
}

async function main() {
  const work = await mkdtemp(path.join(os.tmpdir(), "lifeboat-bench-"));
  await chmod(work, 0o755);
  const repository = new LocalRepository(path.join(work, "backups"), "bench");
  await repository.prepareArchive();
  const archiveDir = repository.archiveDir;
  // The server runs archive_command as its own OS user, which may not reach this checkout.
  const archiveWal = path.join(work, "archive-wal");
  await copyFile(path.join(repo, "bin", "archive-wal"), archiveWal);
  await chmod(archiveWal, 0o755);
  // What `npm run backup` uses by default: one custom-format dump at -Z 6, nothing encrypted.
  const settings: BackupSettings = {
    compressionLevel: 6,
    dumpJobs: 1,
    recipients: [],
    encryptAll: false,
    environment: { files: [], baseDir: work, rolePasswords: false },
    lockTimeoutSeconds: 300,
  };
  const cluster = await LocalCluster.open({
    baseDir: path.join(work, "cluster"),
    password: "bench-pw",
    archiveMode: "on",
    archiveCommand: `'${archiveWal}' %p '${archiveDir}' %f`,
    settings: { max_wal_size: "4GB", checkpoint_timeout: "30min", shared_buffers: "256MB" },
  });
  try {
    await cluster.start();
    await cluster.query("create database bench");
    const connection = cluster.connection("bench");
    const pgbench = await findPgBinary("pgbench");
    say(`pgbench -i -s ${SCALE}`);
    await exec(pgbench.path, ["-i", "-q", "-s", String(SCALE), "-h", cluster.socketDir, "-p", String(cluster.port), "-U", "postgres", "bench"], {
      maxBuffer: 1 << 26,
    });
    const size = await withClient(connection, async (c) => Number((await c.query<{ s: string }>("select pg_database_size('bench') as s")).rows[0]!.s));
    extras.push(`database: pgbench scale ${SCALE}, ${formatBytes(size)}`);

    // Logical dump: pg_dump -Fc vs Lifeboat's full backup (same pg_dump, plus snapshot, counts, sha256, fsync, manifest).
    const plainDump = path.join(work, "plain.dump");
    const [dumpPlain] = await time(() => runPgTool({ tool: "pg_dump", args: ["-Fc", `--file=${plainDump}`], connection }));
    const [dumpLifeboat, dumped] = await time(() => runBackupSet({ target: { name: "bench", connection }, repository, kinds: ["full"], settings }));
    const full = dumped.artifacts[0];
    if (!full?.ok) throw new Error(`backup failed: ${full && !full.ok ? full.error : "?"}`);
    rows.push({ what: "full dump (pg_dump -Fc)", plain: dumpPlain, lifeboat: dumpLifeboat, note: formatBytes(full.manifest.sizeBytes) });

    // Restore into a new database: pg_restore vs Lifeboat (checksums, lock, single transaction, row counts).
    await cluster.query("create database plain_restore");
    const [restorePlain] = await time(() =>
      runPgTool({ tool: "pg_restore", args: ["--single-transaction", "--exit-on-error", "--dbname=dbname=plain_restore", plainDump], connection }),
    );
    const [restoreLifeboat] = await time(() => restoreFullBackup({ repository, connection, fileName: full.file, intoDatabase: "lifeboat_restore" }));
    rows.push({ what: "restore into a new database (pg_restore)", plain: restorePlain, lifeboat: restoreLifeboat });

    // JSON export vs a plain-format pg_dump (both stream every row as text), with peak memory.
    let peak = process.memoryUsage().rss;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
    const rssBefore = process.memoryUsage().rss;
    const [jsonPlain] = await time(() => runPgTool({ tool: "pg_dump", args: ["-Fp", "--data-only", `--file=${path.join(work, "plain.sql")}`], connection }));
    const [jsonLifeboat, exported] = await time(() => runBackupSet({ target: { name: "bench", connection }, repository, kinds: ["json"], settings }));
    clearInterval(sampler);
    const json = exported.artifacts[0];
    rows.push({
      what: "JSON export vs pg_dump -Fp --data-only",
      plain: jsonPlain,
      lifeboat: jsonLifeboat,
      note: json?.ok ? formatBytes(json.manifest.sizeBytes) : "failed",
    });
    extras.push(`JSON export: process RSS grew ${formatBytes(Math.max(0, peak - rssBefore))} (peak ${formatBytes(peak)}) for a ${formatBytes(size)} database`);

    // Base backup: plain pg_basebackup vs Lifeboat's (adds pg_verifybackup, manifest, rename).
    const [basePlain] = await time(() =>
      runPgTool({ tool: "pg_basebackup", args: [`--pgdata=${path.join(work, "plain-base")}`, "-Fp", "-Xstream", "-cfast"], connection }),
    );
    const [baseLifeboat, based] = await time(() => runBackupSet({ target: { name: "bench", connection }, repository, kinds: ["base"], settings }));
    const base = based.artifacts[0];
    if (!base?.ok) throw new Error(`base backup failed: ${base && !base.ok ? base.error : "?"}`);
    rows.push({ what: "base backup (pg_basebackup -Fp -Xstream)", plain: basePlain, lifeboat: baseLifeboat, note: formatBytes(base.manifest.sizeBytes) });
    await rm(path.join(work, "plain-base"), { recursive: true, force: true });

    await benchSegments(work);
    await benchPitr(work, cluster, connection, repository);
  } finally {
    await cluster.remove();
    await rm(work, { recursive: true, force: true });
  }

  console.log("\n| operation | plain tool (s) | Lifeboat (s) | ratio | output |\n|---|---|---|---|---|");
  for (const r of rows)
    console.log(`| ${r.what} | ${r.plain.toFixed(2)} | ${r.lifeboat.toFixed(2)} | ${(r.lifeboat / r.plain).toFixed(2)} | ${r.note ?? ""} |`);
  console.log("");
  for (const line of extras) console.log(`- ${line}`);
}

/** archive-wal and restore-wal on fresh 16 MiB segments, against a bare cp. */
async function benchSegments(work: string) {
  const src = path.join(work, "segments");
  const viaCp = path.join(work, "archive-cp");
  const viaLifeboat = path.join(work, "archive-lifeboat");
  const restored = path.join(work, "restored");
  for (const dir of [src, viaCp, viaLifeboat, restored]) await mkdir(dir, { recursive: true });
  const names: string[] = [];
  const block = Buffer.alloc(16 * 1024 * 1024, 0x5a);
  for (let i = 1; i <= SEGMENTS; i++) {
    const name = `00000001000000000000${i.toString(16).toUpperCase().padStart(4, "0")}`;
    block.writeUInt32LE(i, 0);
    await writeFile(path.join(src, name), block);
    names.push(name);
  }
  const archiveWal = path.join(repo, "bin", "archive-wal");
  const restoreWal = path.join(repo, "bin", "restore-wal");
  const [cpSeconds] = await time(async () => {
    for (const n of names) await exec("cp", [path.join(src, n), path.join(viaCp, n)]);
  });
  const [archiveSeconds] = await time(async () => {
    for (const n of names) await exec(archiveWal, [path.join(src, n), viaLifeboat, n], { cwd: src });
  });
  const [restoreSeconds] = await time(async () => {
    for (const n of names) await exec(restoreWal, [viaLifeboat, n, path.join(restored, n)]);
  });
  rows.push({
    what: `archive ${SEGMENTS} segments (archive-wal vs cp)`,
    plain: cpSeconds,
    lifeboat: archiveSeconds,
    note: `${(SEGMENTS / archiveSeconds).toFixed(0)} segments/s (cp: ${(SEGMENTS / cpSeconds).toFixed(0)}/s)`,
  });
  extras.push(`restore-wal: ${(SEGMENTS / restoreSeconds).toFixed(0)} segments/s (${restoreSeconds.toFixed(2)} s for ${SEGMENTS})`);
  for (const dir of [src, viaCp, viaLifeboat, restored]) await rm(dir, { recursive: true, force: true });
}

/** PITR replaying ≥ WAL_MB of WAL: Lifeboat vs the same steps by hand; and Lifeboat in place. */
async function benchPitr(work: string, cluster: LocalCluster, connection: ReturnType<LocalCluster["connection"]>, repository: Repository) {
  const archiveDir = repository.archiveDir;
  const before = await withClient(connection, async (c) => (await c.query<{ l: string }>("select pg_current_wal_lsn()::text as l")).rows[0]!.l);
  say(`writing ≥ ${WAL_MB} MB of WAL`);
  const rowsNeeded = Math.ceil((WAL_MB * 1024 * 1024) / 1150);
  await withClient(
    connection,
    (c) => c.query(`create table walgen as select g, repeat(md5(g::text), 30) as pad from generate_series(1, ${rowsNeeded}) g`),
    600_000,
  );
  const walBytes = await withClient(connection, async (c) => {
    await c.query("select pg_switch_wal()");
    return Number((await c.query<{ b: string }>("select pg_wal_lsn_diff(pg_current_wal_lsn(), $1) as b", [before])).rows[0]!.b);
  });
  // Wait for the archive to catch up.
  for (let i = 0; i < 600; i++) {
    const ready = await withClient(
      cluster.adminConnection(),
      async (c) => (await c.query<{ n: number }>("select count(*)::int as n from pg_ls_archive_statusdir() where name like '%.ready'")).rows[0]!.n,
    );
    if (ready === 0) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  extras.push(`PITR replays ${formatBytes(walBytes)} of WAL (${(await readdir(archiveDir)).length} files in the archive)`);

  const plan = await planPitr({ repository, target: { kind: "latest" } });
  const port = await findFreePort();
  const [lifeboat] = await time(() =>
    pitrToNewInstance({
      plan,
      repository,
      connection: cluster.adminConnection(),
      baseDir: path.join(work, "pitr-lifeboat"),
      port,
    }),
  );
  await (await LocalCluster.existing({ baseDir: path.join(work, "pitr-lifeboat") }))?.remove();

  // The same by hand: copy the base backup, restore_command = cp, recovery.signal, start, wait for promotion.
  const handDir = path.join(work, "pitr-hand");
  const [byHand] = await time(async () => {
    await mkdir(handDir, { mode: 0o700 });
    await handToClusterUser(handDir);
    const data = path.join(handDir, "pgdata");
    await exec("cp", ["-a", `${path.join(repository.dir, plan.base.artifact)}/.`, data]);
    if (isRoot()) await exec("chown", ["-R", `${CLUSTER_OS_USER}:${CLUSTER_OS_USER}`, data]);
    await writeFile(path.join(data, "recovery.signal"), "");
    const handPort = await findFreePort();
    await exec("sh", [
      "-c",
      `cat >> '${data}/postgresql.auto.conf' <<EOF
restore_command = 'cp ${archiveDir}/%f %p'
port = ${handPort}
unix_socket_directories = '${handDir}'
archive_mode = off
EOF`,
    ]);
    const hand = await LocalCluster.open({ baseDir: handDir });
    await hand.start();
    for (;;) {
      const inRecovery = await withClient(
        hand.adminConnection(),
        async (c) => (await c.query<{ r: boolean }>("select pg_is_in_recovery() as r")).rows[0]!.r,
      ).catch(() => true);
      if (!inRecovery) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    await hand.remove();
  });
  rows.push({ what: "PITR to a new instance, latest", plain: byHand, lifeboat, note: `${formatBytes(walBytes)} of WAL` });

  // In place, on the benchmark cluster itself (stop, move aside, restore, replay, promote, check).
  const [inPlace] = await time(() =>
    pitrInPlace({
      plan,
      repository,
      connection: cluster.adminConnection(),
      cluster: new ManagedCluster({ dataDir: cluster.dataDir, control: { method: "pg_ctl" }, logFile: cluster.logFile }),
      keepPrevious: false,
    }),
  );
  extras.push(`in-place PITR to latest (${formatBytes(walBytes)} of WAL): ${inPlace.toFixed(1)} s`);
}

main().catch((error: unknown) => {
  console.error(`[bench] ERROR: ${error instanceof Error ? error.stack : String(error)}`);
  process.exit(1);
});
