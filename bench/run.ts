/**
 * npm run bench [-- --size 1GB --rounds 3] — Lifeboat against the tools it drives, on a realistic
 * database, in the same run (DESIGN.md: Lifeboat's overhead is judged as a ratio).
 *
 * Every comparison runs its contenders interleaved, rotated each round, at least --rounds times;
 * the report gives medians, the spread of the rounds and the ratio, checks the targets of issue 12
 * (PASS/MISS), and is written as markdown (docs/benchmarks.md, with the machine described) and JSON.
 *
 * Lifeboat is run the way the CLI runs it: `runOperation(backupOperation, …)` with the same
 * services (metadata database, log, audit), in this process so that Node's start-up is measured
 * once, separately, instead of in every ratio. Peak memory is measured on the real CLI process
 * (`node --import tsx cli/backup.ts`, as npm run backup starts it) and its children.
 */
import { chmod, copyFile, mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import pg from "pg";
import { findFreePort } from "@/lib/engine/cluster/free-port";
import { LocalCluster } from "@/lib/engine/cluster/local-cluster";
import { asClusterUser, CLUSTER_OS_USER, handToClusterUser, isRoot } from "@/lib/engine/cluster/os-user";
import { generateKeyPair } from "@/lib/engine/crypto/age";
import { listTables, summarizeTables } from "@/lib/engine/logical/catalog-queries";
import { findPgBinary } from "@/lib/engine/pg/find-pg-binary";
import { passfileLine } from "@/lib/engine/pg/passfile";
import { withClient } from "@/lib/engine/pg/server-info";
import { baseBackupArgs } from "@/lib/engine/physical/write-base-backup";
import { LocalRepository } from "@/lib/engine/repository/repository";
import { folderSize } from "@/lib/engine/repository/walk";
import { parseEnv, type TEnv } from "@/lib/env";
import { formatBytes } from "@/lib/format";
import { BackupLog } from "@/lib/log/backup-log";
import { backupOperation } from "@/lib/operations/backup";
import { pitrOperation } from "@/lib/operations/pitr";
import { restoreFullOperation } from "@/lib/operations/restore-full";
import { runOperation } from "@/lib/operations/run-operation";
import type { Actor, OperationDefinition } from "@/lib/operations/types";
import { ObjectStore } from "@/lib/engine/offsite/object-store";
import { createTestMetadataDb, type TestMetadataDb } from "@/test/helpers/metadata-db";
import { S3RVER_CREDENTIALS, startS3Server } from "@/test/helpers/s3-server";
import { parseArgs, type BenchOptions } from "./args";
import { buildDataset, type Dataset } from "./dataset";
import { measureHistoryQuery, summarizeHistory } from "./history-query";
import { run, sampleTreeRss } from "./proc";
import { describeMachine, renderMarkdown, type Check, type Comparison, type Report } from "./report";
import { bytesOf, interleave, median, secondsOf, timed, type Sample, type Series } from "./stats";

const ROOT = path.resolve(import.meta.dirname, "..");
const PASSWORD = "bench-Secret:pw1";
const TARGET = "bench";
const MiB = 1024 ** 2;
/** How package.json's scripts start the CLI: tsx loaded into the one Node process (the tsx command would start a second). */
const CLI_NODE_ARGS = ["--import", "tsx"];

function say(line: string) {
  process.stderr.write(`[bench] ${line}\n`);
}

type Context = {
  options: BenchOptions;
  work: string;
  cluster: LocalCluster;
  repository: LocalRepository;
  meta: TestMetadataDb;
  baseEnv: Record<string, string>;
  /** libpq environment for the reference tools: the same TCP connection Lifeboat uses, a passfile. */
  toolEnv: NodeJS.ProcessEnv;
  bin: (tool: string) => Promise<string>;
  series: Series[];
  comparisons: Comparison[];
  checks: Check[];
  notes: string[];
};

const actor: Actor = { label: "cli:bench", userId: null, role: null, via: "cli" };

function envFor(ctx: Context, overrides: Record<string, string> = {}): TEnv {
  return parseEnv({ ...ctx.baseEnv, ...overrides });
}

/** Run an operation as `npm run …` does (runOperation with the CLI's services); fail loudly. */
async function lifeboat<TInput extends { target?: string | undefined }, TResult>(
  ctx: Context,
  definition: OperationDefinition<TInput, TResult>,
  input: unknown,
  overrides: Record<string, string> = {},
): Promise<{ seconds: number; result: TResult }> {
  const env = envFor(ctx, overrides);
  const services = { env, meta: ctx.meta, log: new BackupLog(env.LOG_DIR, [PASSWORD]) };
  const { seconds, value } = await timed(() => runOperation(definition, input, { actor, services, confirm: async (r) => r.database }));
  if (value.status !== "succeeded" || !value.result) {
    throw new Error(`lifeboat ${definition.kind} ${value.status}: ${value.error?.message ?? value.verdict?.error ?? "no result"}`);
  }
  return { seconds, result: value.result };
}

async function lifeboatBackup(ctx: Context, kind: "full" | "json" | "base", overrides: Record<string, string> = {}): Promise<Sample & { file: string }> {
  const { seconds, result } = await lifeboat(ctx, backupOperation, { kinds: [kind] }, overrides);
  const artifact = result.artifacts[0];
  if (!artifact?.ok) throw new Error(`lifeboat ${kind} backup failed`);
  return { seconds, bytes: artifact.manifest.sizeBytes, file: artifact.file };
}

async function sizeOf(file: string): Promise<number> {
  const s = await stat(file);
  return s.isDirectory() ? folderSize(file) : s.size;
}

function pushSeries(ctx: Context, ...list: Series[]) {
  ctx.series.push(...list);
}

function compare(ctx: Context, name: string, lifeboatSeries: Series, reference: Series, note = ""): Comparison {
  const c: Comparison = {
    name,
    lifeboat: lifeboatSeries.id,
    reference: reference.id,
    lifeboatSeconds: median(secondsOf(lifeboatSeries)),
    referenceSeconds: median(secondsOf(reference)),
    lifeboatBytes: bytesOf(lifeboatSeries).length ? median(bytesOf(lifeboatSeries)) : undefined,
    referenceBytes: bytesOf(reference).length ? median(bytesOf(reference)) : undefined,
    ratio: median(secondsOf(lifeboatSeries)) / median(secondsOf(reference)),
    note,
  };
  ctx.comparisons.push(c);
  return c;
}

function check(ctx: Context, target: string, measured: string, pass: boolean, ratio?: number) {
  ctx.checks.push({ target, measured, pass, ratio });
  say(`${pass ? "PASS" : "MISS"}  ${target}: ${measured}`);
}

const pct = (r: number) => `${r >= 1 ? "+" : ""}${((r - 1) * 100).toFixed(1)}%`;

// ---------------------------------------------------------------- logical backup and restore

/**
 * What Lifeboat's full dump runs with these settings (lib/engine/logical/write-dump.ts), as the
 * plain tools: pg_dump -Fc -Z0 piped through zstd -3 -T2, or pg_dump's own compression.
 */
function sameDump(
  env: TEnv,
  out: string,
): { label: string; command: string; args: string[]; restore: (pgRestore: string, args: string[]) => [string, string[]] } {
  const q = (w: string) => `'${w.replace(/'/g, "'\\''")}'`;
  if (env.LIFEBOAT_DUMP_JOBS === 1 && env.LIFEBOAT_DUMP_COMPRESSOR === "zstd") {
    return {
      label: "pg_dump -Fc -Z0 | zstd -3 -T2",
      command: "bash",
      args: ["-c", `set -o pipefail; "$0" -Fc -Z0 ${TARGET} | zstd -q -3 -T2 -o ${q(out)}`],
      restore: (pgRestore, args) => ["bash", ["-c", `set -o pipefail; zstd -dcq ${q(out)} | "$0" ${args.map(q).join(" ")}`, pgRestore]],
    };
  }
  const args =
    env.LIFEBOAT_DUMP_JOBS > 1
      ? ["--format=directory", `--jobs=${env.LIFEBOAT_DUMP_JOBS}`, `--compress=${env.LIFEBOAT_DUMP_COMPRESSION}`]
      : ["--format=custom", `--compress=${env.LIFEBOAT_DUMP_COMPRESSION}`];
  return { label: `pg_dump ${args.join(" ")}`, command: "", args: [...args, `--file=${out}`, TARGET], restore: (pgRestore, a) => [pgRestore, [...a, out]] };
}

async function createDatabase(ctx: Context, name: string) {
  await ctx.cluster.query(`drop database if exists ${name} with (force)`);
  await ctx.cluster.query(`create database ${name}`);
}

async function dropDatabase(ctx: Context, name: string) {
  await ctx.cluster.query(`drop database if exists ${name} with (force)`);
}

async function benchLogical(ctx: Context) {
  say("logical backup: Lifeboat's default vs pg_dump at the same settings vs pg_dump -Fc defaults");
  const env = envFor(ctx);
  const pgDump = await ctx.bin("pg_dump");
  const pgRestore = await ctx.bin("pg_restore");
  const out = path.join(ctx.work, "plain");
  await mkdir(out, { recursive: true });
  const fcIsSame = env.LIFEBOAT_DUMP_JOBS === 1 && env.LIFEBOAT_DUMP_COMPRESSOR === "pg_dump" && env.LIFEBOAT_DUMP_COMPRESSION === 6;
  const same = (round: number) => sameDump(env, path.join(out, `same-${round}`));
  let lifeboatFile = "";
  const contenders = [
    {
      id: "logical.lifeboat",
      label: `Lifeboat full backup (defaults: ${env.LIFEBOAT_DUMP_JOBS > 1 ? `-Fd -j${env.LIFEBOAT_DUMP_JOBS} -Z${env.LIFEBOAT_DUMP_COMPRESSION}` : env.LIFEBOAT_DUMP_COMPRESSOR === "zstd" ? "-Fc -Z0 | zstd -3 -T2" : `-Fc -Z${env.LIFEBOAT_DUMP_COMPRESSION}`})`,
      run: async () => {
        const s = await lifeboatBackup(ctx, "full");
        lifeboatFile = s.file;
        return s;
      },
    },
    {
      id: "logical.pg_dump.same",
      label: `${same(0).label} (the same settings)`,
      run: async (round: number) => {
        const d = same(round);
        const { seconds } = await timed(() =>
          d.command ? run(d.command, [...d.args, pgDump], { env: ctx.toolEnv }) : run(pgDump, d.args, { env: ctx.toolEnv }),
        );
        return { seconds, bytes: await sizeOf(path.join(out, `same-${round}`)) };
      },
    },
    ...(fcIsSame
      ? []
      : [
          {
            id: "logical.pg_dump.Fc",
            label: "pg_dump -Fc (defaults)",
            run: async (round: number) => {
              const file = path.join(out, `fc-${round}.dump`);
              const { seconds } = await timed(() => run(pgDump, ["-Fc", `--file=${file}`, TARGET], { env: ctx.toolEnv }));
              return { seconds, bytes: await sizeOf(file) };
            },
          },
        ]),
  ];
  const backups = await interleave(ctx.options.rounds, contenders);
  pushSeries(ctx, ...backups);
  const [lb, sameSeries] = backups as [Series, Series];
  const fc = backups[2] ?? sameSeries;
  const overhead = compare(ctx, "full backup: Lifeboat vs pg_dump, same settings", lb, sameSeries);
  const defaults = compare(ctx, "full backup: Lifeboat defaults vs pg_dump -Fc defaults", lb, fc);

  say("logical restore into a new database: Lifeboat vs pg_restore");
  const last = ctx.options.rounds - 1;
  const sameFile = path.join(out, `same-${last}`);
  const fcFile = fcIsSame ? sameFile : path.join(out, `fc-${last}.dump`);
  // Lifeboat's restore into a new database: parallel jobs for a directory dump, else one transaction.
  const restoreArgs = env.LIFEBOAT_DUMP_JOBS > 1 ? [`--jobs=${env.LIFEBOAT_DUMP_JOBS}`] : ["--single-transaction"];
  const restoreLabel = `${env.LIFEBOAT_DUMP_JOBS === 1 && env.LIFEBOAT_DUMP_COMPRESSOR === "zstd" ? "zstd -dc | " : ""}pg_restore ${restoreArgs.join(" ")} --exit-on-error (the same dump)`;
  const restoreContenders = [
    {
      id: "restore.lifeboat",
      label: "Lifeboat restore --into (checksums, pg_restore, row counts)",
      run: async (round: number) => {
        const into = `lb_restore_${round}`;
        const { seconds } = await lifeboat(ctx, restoreFullOperation, { file: lifeboatFile, into });
        await dropDatabase(ctx, into);
        return { seconds };
      },
    },
    {
      id: "restore.pg_restore.same",
      label: restoreLabel,
      run: async (round: number) => {
        const into = `same_restore_${round}`;
        const [command, args] = same(last).restore(pgRestore, ["--exit-on-error", ...restoreArgs, `--dbname=${into}`]);
        // createdb is part of the procedure (Lifeboat's --into creates the database too).
        const { seconds } = await timed(async () => {
          await createDatabase(ctx, into);
          await run(command, args, { env: ctx.toolEnv });
        });
        await dropDatabase(ctx, into);
        return { seconds };
      },
    },
    ...(fcIsSame
      ? []
      : [
          {
            id: "restore.pg_restore.Fc",
            label: "pg_restore (defaults) of the pg_dump -Fc dump",
            run: async (round: number) => {
              const into = `fc_restore_${round}`;
              const { seconds } = await timed(async () => {
                await createDatabase(ctx, into);
                await run(pgRestore, [`--dbname=${into}`, fcFile], { env: ctx.toolEnv });
              });
              await dropDatabase(ctx, into);
              return { seconds };
            },
          },
        ]),
  ];
  const restores = await interleave(ctx.options.rounds, restoreContenders);
  pushSeries(ctx, ...restores);
  const [rlb, rsame] = restores as [Series, Series];
  const rfc = restores[2] ?? rsame;
  const restoreOverhead = compare(ctx, "restore: Lifeboat vs pg_restore, same dump format", rlb, rsame);
  const restoreDefaults = compare(ctx, "restore: Lifeboat defaults vs pg_restore of pg_dump -Fc", rlb, rfc);
  await rm(out, { recursive: true, force: true });

  // What Lifeboat adds on purpose: exact row counts and a content checksum of every table, taken in
  // the backup's snapshot (one scan of each table) so that restores and drills can be checked.
  const summaries: Sample[] = [];
  for (let round = 0; round < ctx.options.rounds; round++) {
    summaries.push({
      seconds: (await timed(() => withClient(ctx.cluster.adminConnection(TARGET), async (c) => summarizeTables(c, await listTables(c)), 30_000))).seconds,
    });
  }
  ctx.series.push({ id: "logical.summary", label: "row counts and content checksums of every table (part of Lifeboat's full backup)", samples: summaries });
  ctx.notes.push(
    `Of the full backup's ${(overhead.lifeboatSeconds - overhead.referenceSeconds).toFixed(2)} s over pg_dump, ${median(secondsOf(ctx.series.at(-1)!)).toFixed(2)} s is the row counts and content checksums of every table that the manifest records for restore checks and drills (one scan of each table in the backup's snapshot).`,
  );
  check(ctx, "full backup overhead vs pg_dump, same settings ≤ 5%", pct(overhead.ratio), overhead.ratio <= 1.05, overhead.ratio);
  check(ctx, "restore overhead vs pg_restore, same dump ≤ 5%", pct(restoreOverhead.ratio), restoreOverhead.ratio <= 1.05, restoreOverhead.ratio);
  const smaller = (defaults.lifeboatBytes ?? Infinity) <= (defaults.referenceBytes ?? 0) * 1.0;
  check(
    ctx,
    "default full backup faster than pg_dump -Fc at equal or smaller size",
    `${defaults.ratio.toFixed(2)}× the time, ${formatBytes(defaults.lifeboatBytes ?? 0)} vs ${formatBytes(defaults.referenceBytes ?? 0)}`,
    defaults.ratio < 1 && smaller,
    defaults.ratio,
  );
  check(
    ctx,
    "default restore at least as fast as pg_restore of pg_dump -Fc",
    `${restoreDefaults.ratio.toFixed(2)}× the time`,
    restoreDefaults.ratio <= 1,
    restoreDefaults.ratio,
  );
}

// ---------------------------------------------------------------- JSON export vs COPY

async function benchJson(ctx: Context, dataset: Dataset) {
  say("JSON export vs COPY … TO STDOUT of the same tables");
  const psql = await ctx.bin("psql");
  const out = path.join(ctx.work, "copy.out");
  const copyArgs = ["-X", "-q", "-v", "ON_ERROR_STOP=1", ...dataset.tables.flatMap((t) => ["-c", `COPY ${t} TO STDOUT`]), TARGET];
  const list = await interleave(ctx.options.rounds, [
    { id: "json.lifeboat", label: "Lifeboat JSON export", run: () => lifeboatBackup(ctx, "json") },
    {
      id: "json.copy",
      label: "psql COPY … TO STDOUT, every table, to a file",
      run: async () => {
        const { seconds } = await timed(() => run(psql, copyArgs, { env: ctx.toolEnv, stdoutFile: out }));
        return { seconds, bytes: await sizeOf(out) };
      },
    },
  ]);
  pushSeries(ctx, ...list);
  const c = compare(ctx, "JSON export vs COPY of the same tables", list[0]!, list[1]!);
  await rm(out, { force: true });
  const throughput = 1 / c.ratio;
  check(ctx, "JSON export ≥ 0.5× COPY throughput", `${throughput.toFixed(2)}× COPY`, throughput >= 0.5, throughput);
}

// ---------------------------------------------------------------- base backups

/** The pg_basebackup arguments Lifeboat's unencrypted base backup uses, from the engine itself. */
function sameBaseArgs(env: TEnv, dir: string): string[] {
  return baseBackupArgs(dir, env.LIFEBOAT_BASE_COMPRESSION, "bench");
}

type PgBackRest = { available: boolean; version: string; run: (args: string[]) => Promise<void>; configFile: string };

async function setUpPgBackRest(ctx: Context): Promise<PgBackRest> {
  const dir = path.join(ctx.work, "pgbackrest");
  await mkdir(dir, { recursive: true });
  for (const sub of ["log", "lock", "spool"]) await mkdir(path.join(dir, sub), { recursive: true });
  const configFile = path.join(dir, "pgbackrest.conf");
  await writeFile(
    configFile,
    [
      "[global]",
      `log-path=${dir}/log`,
      `lock-path=${dir}/lock`,
      `spool-path=${dir}/spool`,
      "log-level-console=warn",
      "log-level-file=off",
      "process-max=2",
      "start-fast=y",
      // Lifeboat archives this cluster's WAL; pgBackRest's backups are timed without waiting for
      // its own archive (which favours pgBackRest slightly).
      "archive-check=n",
      "",
      `[${TARGET}]`,
      `pg1-path=${ctx.cluster.dataDir}`,
      `pg1-port=${ctx.cluster.port}`,
      `pg1-socket-path=${ctx.cluster.socketDir}`,
      `pg1-user=${ctx.cluster.superuser}`,
      "",
    ].join("\n"),
  );
  await handToClusterUser(dir, configFile, ...["log", "lock", "spool"].map((s) => path.join(dir, s)));
  const exe = await run("sh", ["-c", "command -v pgbackrest"]).then(
    (r) => r.stdout.trim(),
    () => "",
  );
  if (!exe) return { available: false, version: "", run: async () => undefined, configFile };
  const version = (await run(exe, ["version"])).stdout.trim();
  return {
    available: true,
    version,
    configFile,
    run: async (args) => {
      const cmd = asClusterUser(exe, [`--config=${configFile}`, `--stanza=${TARGET}`, ...args]);
      await run(cmd.file, cmd.args);
    },
  };
}

async function benchBase(ctx: Context) {
  say("base backup: Lifeboat vs pg_basebackup (same settings) vs pgBackRest vs tar of a stopped copy");
  const env = envFor(ctx);
  const pgBasebackup = await ctx.bin("pg_basebackup");
  const plainDir = path.join(ctx.work, "plain-base");
  const tarFile = path.join(ctx.work, "stopped.tar");
  const stopped = path.join(ctx.work, "stopped-copy");
  // The disk's limit: an uncompressed tar of a copy of the data directory taken while stopped.
  await ctx.cluster.stop("fast");
  await run("cp", ["-a", ctx.cluster.dataDir, stopped]);
  await ctx.cluster.start();

  const backrest = await setUpPgBackRest(ctx);
  if (!backrest.available) ctx.notes.push("pgBackRest is not installed (apt-get install -y pgbackrest): its rows are missing.");
  // Debian's pgBackRest 2.45 is built without zstd; then gzip is its smallest.
  let smallest = "zst";
  const backrestRun = async (compress: string, round: number): Promise<Sample> => {
    const repo = path.join(ctx.work, "pgbackrest", `repo-${compress}-${round}`);
    await mkdir(repo, { recursive: true });
    await handToClusterUser(repo);
    await backrest.run([`--repo1-path=${repo}`, "stanza-create"]);
    const { seconds } = await timed(() => backrest.run([`--repo1-path=${repo}`, `--compress-type=${compress}`, "--type=full", "backup"]));
    const bytes = await folderSize(path.join(repo, "backup"));
    await rm(repo, { recursive: true, force: true });
    return { seconds, bytes };
  };
  if (backrest.available) {
    try {
      await backrestRun("zst", 999);
    } catch {
      smallest = "gz";
      ctx.notes.push("This pgBackRest build has no zstd: its smallest setting is gz.");
    }
  }

  const contenders = [
    {
      id: "base.lifeboat",
      label: `Lifeboat base backup (defaults: ${env.LIFEBOAT_BASE_COMPRESSION})`,
      run: () => lifeboatBackup(ctx, "base"),
    },
    {
      id: "base.pg_basebackup.same",
      label: `pg_basebackup, same settings (${env.LIFEBOAT_BASE_COMPRESSION === "none" ? "-Fp" : `-Ft --compress=${env.LIFEBOAT_BASE_COMPRESSION}`} -Xstream -cfast)`,
      run: async () => {
        await rm(plainDir, { recursive: true, force: true });
        const { seconds } = await timed(() => run(pgBasebackup, sameBaseArgs(env, plainDir), { env: ctx.toolEnv }));
        const bytes = await folderSize(plainDir);
        await rm(plainDir, { recursive: true, force: true });
        return { seconds, bytes };
      },
    },
    ...(env.LIFEBOAT_BASE_COMPRESSION === "none"
      ? []
      : [
          {
            id: "base.lifeboat.none",
            label: "Lifeboat base backup, uncompressed (LIFEBOAT_BASE_COMPRESSION=none)",
            run: () => lifeboatBackup(ctx, "base", { LIFEBOAT_BASE_COMPRESSION: "none" }),
          },
        ]),
    {
      id: "base.tar",
      label: "tar -cf of a stopped copy (uncompressed: the disk's limit)",
      run: async () => {
        const { seconds } = await timed(() => run("tar", ["-cf", tarFile, "-C", stopped, "."]));
        const bytes = await sizeOf(tarFile);
        await rm(tarFile, { force: true });
        return { seconds, bytes };
      },
    },
    ...(backrest.available
      ? ["none", "lz4", smallest].map((compress) => ({
          id: `base.pgbackrest.${compress}`,
          label: `pgBackRest ${backrest.version.replace("pgBackRest ", "")}, process-max=2, compress-type=${compress}`,
          run: (round: number) => backrestRun(compress, round),
        }))
      : []),
  ];
  const list = await interleave(ctx.options.rounds, contenders);
  pushSeries(ctx, ...list);
  const byId = (id: string) => list.find((s) => s.id === id);
  const lb = byId("base.lifeboat")!;
  const same = compare(ctx, "base backup: Lifeboat vs pg_basebackup, same settings", lb, byId("base.pg_basebackup.same")!);
  check(ctx, "base backup overhead vs pg_basebackup, same settings ≤ 5%", pct(same.ratio), same.ratio <= 1.05, same.ratio);

  const uncompressed = byId("base.lifeboat.none") ?? lb;
  const tar = byId("base.tar")!;
  const vsTar = compare(ctx, "uncompressed base backup vs tar of a stopped copy", uncompressed, tar, "throughput ratio in the check");
  const throughput = median(bytesOf(uncompressed)) / median(secondsOf(uncompressed)) / (median(bytesOf(tar)) / median(secondsOf(tar)));
  check(
    ctx,
    "uncompressed base backup ≥ 0.8× tar throughput",
    `${throughput.toFixed(2)}× tar (${vsTar.ratio.toFixed(2)}× its time)`,
    throughput >= 0.8,
    throughput,
  );

  if (backrest.available) {
    const none = byId("base.pgbackrest.none")!;
    const lz4 = byId("base.pgbackrest.lz4")!;
    const fastest = median(secondsOf(none)) <= median(secondsOf(lz4)) ? none : lz4;
    const vsFastest = compare(ctx, `base backup: Lifeboat defaults vs pgBackRest's fastest (${fastest.id.split(".").at(-1)})`, lb, fastest);
    compare(ctx, `base backup: Lifeboat defaults vs pgBackRest's smallest (${smallest})`, lb, byId(`base.pgbackrest.${smallest}`)!);
    const lbBytes = median(bytesOf(lb));
    const fastestBytes = median(bytesOf(fastest));
    check(
      ctx,
      "default base backup faster and smaller than pgBackRest's fastest",
      `${vsFastest.ratio.toFixed(2)}× the time, ${formatBytes(lbBytes)} vs ${formatBytes(fastestBytes)}`,
      vsFastest.ratio < 1 && lbBytes < fastestBytes,
      vsFastest.ratio,
    );
    return { stopped, backrest, fastest: fastest.id.split(".").at(-1)! };
  }
  return { stopped, backrest: undefined, fastest: "" };
}

/**
 * Restore of each base backup to a server that takes writes: Lifeboat's PITR (latest, into a new
 * instance) from its newest base backup, pgBackRest's restore of its fastest backup (recovery to
 * consistency, WAL from the same archive), and the tar of the stopped copy extracted and started.
 */
async function benchBaseRestore(ctx: Context, setup: { stopped: string; backrest: PgBackRest | undefined; fastest: string }) {
  say("base backup restore to a running server: Lifeboat PITR (latest) vs pgBackRest restore vs tar -x");
  const tarFile = path.join(ctx.work, "restore.tar");
  await run("tar", ["-cf", tarFile, "-C", setup.stopped, "."]);
  await rm(setup.stopped, { recursive: true, force: true });
  const backrestRepo = path.join(ctx.work, "pgbackrest", "restore-repo");
  if (setup.backrest) {
    await mkdir(backrestRepo, { recursive: true });
    await handToClusterUser(backrestRepo);
    await setup.backrest.run([`--repo1-path=${backrestRepo}`, "stanza-create"]);
    await setup.backrest.run([`--repo1-path=${backrestRepo}`, `--compress-type=${setup.fastest}`, "--type=full", "backup"]);
  }
  // Lifeboat's newest base backup, taken after pgBackRest's so that both replay about the same WAL.
  await lifeboatBackup(ctx, "base");
  await waitForArchive(ctx);
  const fresh = async (name: string) => {
    const dir = path.join(ctx.work, name);
    await removeInstance(dir);
    await mkdir(path.join(dir, "pgdata"), { recursive: true, mode: 0o700 });
    await handToClusterUser(dir, path.join(dir, "pgdata"));
    return dir;
  };
  const list = await interleave(ctx.options.rounds, [
    {
      id: "restore.base.lifeboat",
      label: "Lifeboat PITR --latest --to-new-instance from its default base backup",
      run: async (round) => {
        const dataDir = path.join(ctx.work, `restore-base-lb-${round}`);
        const { seconds } = await lifeboat(ctx, pitrOperation, { latest: true, mode: "new-instance", dataDir });
        await removeInstance(dataDir);
        return { seconds };
      },
    },
    ...(setup.backrest
      ? [
          {
            id: "restore.base.pgbackrest",
            label: `pgBackRest restore (${setup.fastest}, process-max=2, --type=immediate), started until it takes writes`,
            run: async (round: number) => {
              const dir = await fresh(`restore-base-pgbr-${round}`);
              const { seconds } = await timed(async () => {
                await setup.backrest!.run([
                  `--repo1-path=${backrestRepo}`,
                  `--pg1-path=${path.join(dir, "pgdata")}`,
                  "--type=immediate",
                  "--target-action=promote",
                  `--recovery-option=restore_command=cp ${ctx.repository.archiveDir}/%f %p`,
                  "restore",
                ]);
                await startUntilPromoted(dir);
              });
              await removeInstance(dir);
              return { seconds };
            },
          },
        ]
      : []),
    {
      id: "restore.base.tar",
      label: "tar -xf of the stopped copy, started",
      run: async (round) => {
        const dir = await fresh(`restore-base-tar-${round}`);
        const { seconds } = await timed(async () => {
          await run("tar", ["-xf", tarFile, "-C", path.join(dir, "pgdata")]);
          await startUntilPromoted(dir);
        });
        await removeInstance(dir);
        return { seconds };
      },
    },
  ]);
  pushSeries(ctx, ...list);
  if (setup.backrest) compare(ctx, "base restore to a running server: Lifeboat vs pgBackRest", list[0]!, list[1]!);
  compare(ctx, "base restore to a running server: Lifeboat vs tar -x of a stopped copy", list[0]!, list.at(-1)!);
  await rm(tarFile, { force: true });
  await rm(backrestRepo, { recursive: true, force: true });
}

// ---------------------------------------------------------------- WAL

async function benchWalSegments(ctx: Context) {
  say("WAL archiving: bin/archive-wal vs cp, on real segments");
  const archive = ctx.repository.archiveDir;
  const segments = (await readdir(archive)).filter((n) => /^[0-9A-F]{24}$/.test(n)).slice(0, 64);
  if (segments.length < 4) {
    ctx.notes.push("too few archived segments to time archive-wal");
    return;
  }
  const src = path.join(ctx.work, "segments");
  await mkdir(src, { recursive: true });
  for (const n of segments) await copyFile(path.join(archive, n), path.join(src, n));
  const archiveWal = path.join(ROOT, "bin", "archive-wal");
  const restoreWal = path.join(ROOT, "bin", "restore-wal");
  const fresh = async (name: string) => {
    const dir = path.join(ctx.work, name);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    return dir;
  };
  const list = await interleave(ctx.options.rounds, [
    {
      id: "wal.archive-wal",
      label: `bin/archive-wal, ${segments.length} segments one by one (fsynced)`,
      run: async () => {
        const dir = await fresh("wal-lifeboat");
        return {
          seconds: (
            await timed(async () => {
              for (const n of segments) await run(archiveWal, [path.join(src, n), dir, n], { cwd: src });
            })
          ).seconds,
        };
      },
    },
    {
      id: "wal.cp",
      label: `cp, ${segments.length} segments one by one`,
      run: async () => {
        const dir = await fresh("wal-cp");
        return {
          seconds: (
            await timed(async () => {
              for (const n of segments) await run("cp", [path.join(src, n), path.join(dir, n)]);
            })
          ).seconds,
        };
      },
    },
  ]);
  pushSeries(ctx, ...list);
  const c = compare(ctx, `WAL archiving, ${segments.length} segments: archive-wal vs cp`, list[0]!, list[1]!);
  const restored = await fresh("wal-restored");
  const { seconds: restoreSeconds } = await timed(async () => {
    for (const n of segments) await run(restoreWal, [path.join(ctx.work, "wal-lifeboat"), n, path.join(restored, n)]);
  });
  const lbRate = segments.length / c.lifeboatSeconds;
  const cpRate = segments.length / c.referenceSeconds;
  ctx.notes.push(
    `WAL archiving: ${lbRate.toFixed(0)} segments/s with archive-wal (copy, fsync, rename), ${cpRate.toFixed(0)}/s with cp (no fsync); restore-wal ${(segments.length / restoreSeconds).toFixed(0)} segments/s.`,
  );
  for (const d of ["segments", "wal-lifeboat", "wal-cp", "wal-restored"]) await rm(path.join(ctx.work, d), { recursive: true, force: true });
}

async function readyCount(ctx: Context): Promise<number> {
  const rows = await ctx.cluster.query<{ n: number }>("select count(*)::int as n from pg_ls_archive_statusdir() where name like '%.ready'");
  return rows[0]!.n;
}

async function currentLsn(ctx: Context): Promise<string> {
  return (await ctx.cluster.query<{ l: string }>("select pg_current_wal_lsn()::text as l"))[0]!.l;
}

async function walSince(ctx: Context, lsn: string): Promise<number> {
  return Number((await ctx.cluster.query<{ b: string }>("select pg_wal_lsn_diff(pg_current_wal_lsn(), $1) as b", [lsn]))[0]!.b);
}

async function waitForArchive(ctx: Context, deadlineMs = 10 * 60_000) {
  await ctx.cluster.query("select pg_switch_wal()");
  const until = Date.now() + deadlineMs;
  while ((await readyCount(ctx)) > 0) {
    if (Date.now() > until) throw new Error("the archiver did not catch up within 10 minutes");
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** pgbench as fast as it can (4 clients, 2 threads) while the .ready count is sampled; returns WAL written. */
async function benchBacklog(ctx: Context, seconds: number) {
  say(`archive backlog: pgbench -c4 -j2 -T${seconds} while .ready files are counted`);
  const pgbench = await ctx.bin("pgbench");
  const start = await currentLsn(ctx);
  let peak = 0;
  let stop = false;
  const sampler = (async () => {
    while (!stop) {
      peak = Math.max(peak, await readyCount(ctx).catch(() => 0));
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  const { stdout } = await run(pgbench, ["-c", "4", "-j", "2", "-T", String(seconds), "-n", TARGET], { env: ctx.toolEnv });
  stop = true;
  await sampler;
  const wal = await walSince(ctx, start);
  const tps = /tps = ([\d.]+)/.exec(stdout)?.[1] ?? "?";
  ctx.series.push({ id: "wal.backlog", label: "max .ready files while pgbench writes", samples: [{ seconds, bytes: peak }] });
  check(ctx, "archive backlog under pgbench ≤ 3 segments", `max ${peak} .ready (${tps} tps, ${formatBytes(wal)} of WAL in ${seconds} s)`, peak <= 3, peak);
}

/** Write WAL until `bytes` have been written since `lsn` (bulk inserts, then updates). */
async function writeWal(ctx: Context, lsn: string, bytes: number) {
  const client = new pg.Client({ ...ctx.cluster.adminConnection(TARGET) });
  await client.connect();
  try {
    await client.query("create table if not exists walgen (id bigint, pad text)");
    let i = 0;
    while ((await walSince(ctx, lsn)) < bytes) {
      const rows = Math.max(10_000, Math.min(500_000, Math.ceil((bytes - (await walSince(ctx, lsn))) / 1100)));
      await client.query(`insert into walgen select g, repeat(md5(g::text), 30) from generate_series(${i}, ${i + rows - 1}) g`);
      i += rows;
    }
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------- PITR

/** Start the cluster in `dir`/pgdata on a port and socket of its own (archiving off) and wait until it accepts writes. */
async function startUntilPromoted(dir: string, extraConf = ""): Promise<void> {
  const data = path.join(dir, "pgdata");
  const port = await findFreePort();
  await writeFile(path.join(data, "postgresql.auto.conf"), `\n${extraConf}port = ${port}\nunix_socket_directories = '${dir}'\narchive_mode = off\n`, {
    flag: "a",
  });
  if (isRoot()) await run("chown", ["-R", `${CLUSTER_OS_USER}:${CLUSTER_OS_USER}`, dir]);
  await chmod(data, 0o700);
  const instance = await LocalCluster.open({ baseDir: dir });
  await instance.start();
  const until = Date.now() + 30 * 60_000;
  for (;;) {
    const inRecovery = await instance
      .query<{ r: boolean }>("select pg_is_in_recovery() as r")
      .then((rows) => rows[0]!.r)
      .catch(() => true);
    if (!inRecovery) return;
    if (Date.now() > until) throw new Error(`the instance in ${dir} did not accept writes within 30 minutes`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function removeInstance(dir: string) {
  await (await LocalCluster.existing({ baseDir: dir }))?.remove();
  await rm(dir, { recursive: true, force: true });
}

/** The hand-run procedure: lay the same base backup down, restore_command = cp, recovery.signal, start, wait for promotion. */
async function pitrByHand(ctx: Context, baseArtifact: string, round: number): Promise<Sample> {
  const handDir = path.join(ctx.work, `pitr-hand-${round}`);
  const source = path.join(ctx.repository.dir, baseArtifact);
  const { seconds } = await timed(async () => {
    await mkdir(handDir, { mode: 0o700 });
    await handToClusterUser(handDir);
    const data = path.join(handDir, "pgdata");
    await mkdir(data, { mode: 0o700 });
    const files = await readdir(source);
    if (files.includes("base.tar.zst")) {
      await run("sh", ["-c", `zstd -dcq '${source}/base.tar.zst' | tar -xf - -C '${data}'`]);
      if (files.includes("pg_wal.tar.zst")) await run("sh", ["-c", `zstd -dcq '${source}/pg_wal.tar.zst' | tar -xf - -C '${data}/pg_wal'`]);
    } else {
      await run("cp", ["-a", `${source}/.`, data]);
    }
    await writeFile(path.join(data, "recovery.signal"), "");
    await startUntilPromoted(handDir, `restore_command = 'cp ${ctx.repository.archiveDir}/%f %p'\n`);
  });
  await (await LocalCluster.existing({ baseDir: handDir }))?.remove();
  await rm(handDir, { recursive: true, force: true });
  return { seconds };
}

async function benchPitr(ctx: Context, baseArtifact: string, walBytes: number) {
  say(`PITR to a new instance (latest, ${formatBytes(walBytes)} of WAL after the base backup): Lifeboat vs by hand`);
  const list = await interleave(ctx.options.rounds, [
    {
      id: "pitr.lifeboat",
      label: "Lifeboat PITR --latest --to-new-instance",
      run: async (round) => {
        const dataDir = path.join(ctx.work, `pitr-lifeboat-${round}`);
        const { seconds } = await lifeboat(ctx, pitrOperation, { latest: true, mode: "new-instance", dataDir });
        await (await LocalCluster.existing({ baseDir: dataDir }))?.remove();
        await rm(dataDir, { recursive: true, force: true });
        return { seconds };
      },
    },
    {
      id: "pitr.hand",
      label: "by hand: lay down the base, restore_command = cp, start, wait for promotion",
      run: (round) => pitrByHand(ctx, baseArtifact, round),
    },
  ]);
  pushSeries(ctx, ...list);
  const c = compare(ctx, `PITR, ${formatBytes(walBytes)} of WAL: Lifeboat vs by hand`, list[0]!, list[1]!);
  check(ctx, "PITR ≤ 1.1× the hand-run procedure", `${c.ratio.toFixed(2)}×`, c.ratio <= 1.1, c.ratio);
}

// ---------------------------------------------------------------- memory, encryption, history

/** The CLI as `npm run backup` starts it (one Node process, tsx loaded in it) with the default kinds, while its process tree's RSS is sampled. */
async function benchMemory(ctx: Context) {
  say("peak memory: npm run backup (default kinds) as a CLI process, RSS of its process tree");
  const env = { NODE_ENV: "production", ...ctx.baseEnv, PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" } as NodeJS.ProcessEnv;
  const child = spawn(process.execPath, [...CLI_NODE_ARGS, path.join(ROOT, "cli", "backup.ts")], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => (output += c));
  child.stderr.setEncoding("utf8").on("data", (c: string) => (output += c));
  const sampler = sampleTreeRss(child.pid!, 100);
  const started = Date.now();
  const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
  const sampled = await sampler.stop();
  const peak = sampled.total;
  ctx.notes.push(
    `Peak memory of npm run backup: ${formatBytes(peak)} = ${sampled.parts
      .slice(0, 6)
      .map((p) => `${p.command} ${formatBytes(p.bytes)}`)
      .join(" + ")}${sampled.parts.length > 6 ? " + …" : ""}.`,
  );
  const seconds = (Date.now() - started) / 1000;
  if (code !== 0) throw new Error(`npm run backup failed (${code}): ${output.slice(-2000)}`);
  ctx.series.push({ id: "memory.cli", label: "npm run backup (default kinds): peak RSS of the process tree", samples: [{ seconds, bytes: peak }] });
  ctx.notes.push(
    `npm run backup with the default kinds took ${seconds.toFixed(1)} s as a CLI process: ${output
      .trim()
      .split("\n")
      .filter((l) => l.startsWith("OK") || l.startsWith("FAILED"))
      .map((l) => l.replace(/\s+/g, " "))
      .join("; ")}`,
  );
  check(
    ctx,
    "peak memory of the CLI during the largest backup < 256 MB",
    `${formatBytes(peak)} (Node and every tool it ran)`,
    peak < 256 * MiB,
    peak / (256 * MiB),
  );
}

async function benchStartup(ctx: Context) {
  const samples: Sample[] = [];
  for (let i = 0; i < ctx.options.rounds; i++)
    samples.push({
      seconds: (await timed(() => run(process.execPath, [...CLI_NODE_ARGS, path.join(ROOT, "cli", "backup.ts"), "--help"], { cwd: ROOT }))).seconds,
    });
  ctx.series.push({ id: "cli.startup", label: "CLI start-up (node --import tsx cli/backup.ts --help)", samples });
  ctx.notes.push(
    `The CLI's start-up (tsx compiling and loading Lifeboat) adds ${median(samples.map((s) => s.seconds)).toFixed(2)} s to every command; the ratios above leave it out.`,
  );
}

async function benchEncryption(ctx: Context) {
  say("encryption: the default full backup with and without age");
  const { recipient } = await generateKeyPair();
  const env = envFor(ctx);
  // A parallel (directory) dump cannot be streamed through age: encrypted runs use one job.
  const encrypted = {
    LIFEBOAT_ENCRYPT_BACKUPS: "true",
    LIFEBOAT_AGE_RECIPIENTS: recipient,
    ...(env.LIFEBOAT_DUMP_JOBS > 1 ? { LIFEBOAT_DUMP_JOBS: "1" } : {}),
  };
  const plain: Record<string, string> = env.LIFEBOAT_DUMP_JOBS > 1 ? { LIFEBOAT_DUMP_JOBS: "1" } : {};
  const list = await interleave(ctx.options.rounds, [
    { id: "encryption.age", label: "Lifeboat full backup, encrypted (age)", run: () => lifeboatBackup(ctx, "full", encrypted) },
    { id: "encryption.none", label: "Lifeboat full backup, not encrypted", run: () => lifeboatBackup(ctx, "full", plain) },
  ]);
  pushSeries(ctx, ...list);
  const c = compare(ctx, "full backup: encrypted (age) vs not", list[0]!, list[1]!);
  check(ctx, "encryption ≤ 15% of backup time", pct(c.ratio), c.ratio <= 1.15, c.ratio);
}

async function benchHistory(ctx: Context) {
  say("history page query with 10,000 backups in the catalog");
  const db = await createTestMetadataDb();
  try {
    await db.close();
    const timing = await measureHistoryQuery(db.url);
    const s = summarizeHistory(timing);
    ctx.series.push({
      id: "history.server",
      label: "history query, server time (planning + execution)",
      samples: timing.serverMs.map((ms) => ({ seconds: ms / 1000 })),
    });
    ctx.series.push({ id: "history.client", label: "history query, round trip", samples: timing.clientMs.map((ms) => ({ seconds: ms / 1000 })) });
    check(
      ctx,
      "history page with 10,000 backups ≤ 300 ms",
      `${s.serverMs.toFixed(1)} ms on the server, ${s.clientMs.toFixed(1)} ms round trip`,
      s.serverMs <= 300,
      s.serverMs / 300,
    );
  } finally {
    await db.drop().catch(() => undefined);
  }
}

/**
 * Off-site copies: upload and download of the newest full dump through the object-storage client
 * (multipart, hashed as sent and received) against copying it within the local repository's disk.
 * The object storage is s3rver on 127.0.0.1 writing to the same disk, so the ratio is Lifeboat's
 * own cost (hashing, multipart, HTTP), not a network's.
 */
async function benchOffsite(ctx: Context) {
  say("off-site: upload and download against a local copy");
  const file = (await lifeboatBackup(ctx, "full")).file;
  const source = path.join(ctx.repository.dir, file);
  const bytes = await sizeOf(source);
  const server = await startS3Server({ dir: path.join(ctx.work, "s3"), bucket: "lifeboat-bench" });
  const store = new ObjectStore({
    endpoint: server.endpoint,
    region: "us-east-1",
    bucket: "lifeboat-bench",
    prefix: "bench",
    forcePathStyle: true,
    credentials: S3RVER_CREDENTIALS,
  });
  try {
    const scratch = path.join(ctx.work, "offsite-scratch");
    await mkdir(scratch, { recursive: true });
    const up = await interleave(ctx.options.rounds, [
      {
        id: "offsite.upload",
        label: "Lifeboat upload to object storage (multipart, sha256)",
        run: async (round) => ({ seconds: (await timed(() => store.putFile(`up-${round}`, source))).seconds, bytes }),
      },
      {
        id: "offsite.local-copy",
        label: "cp within the local repository's disk",
        run: async (round) => ({ seconds: (await timed(() => run("cp", [source, path.join(scratch, `copy-${round}`)]))).seconds, bytes }),
      },
    ]);
    const down = await interleave(ctx.options.rounds, [
      {
        id: "offsite.download",
        label: "Lifeboat download from object storage (sha256 checked)",
        run: async (round) => ({ seconds: (await timed(() => store.getFile(`up-${round}`, path.join(scratch, `down-${round}`)))).seconds, bytes }),
      },
      {
        id: "offsite.local-read",
        label: "cp back from the local repository's disk",
        run: async (round) => ({
          seconds: (await timed(() => run("cp", [path.join(scratch, `copy-${round}`), path.join(scratch, `back-${round}`)]))).seconds,
          bytes,
        }),
      },
    ]);
    pushSeries(ctx, ...up, ...down);
    const u = compare(ctx, "off-site upload vs local copy", up[0]!, up[1]!, `${formatBytes(bytes)} file; s3rver on 127.0.0.1`);
    const d = compare(ctx, "off-site download vs local copy", down[0]!, down[1]!, `${formatBytes(bytes)} file; s3rver on 127.0.0.1`);
    const rate = (c: Comparison) => `${(bytes / MiB / c.lifeboatSeconds).toFixed(0)} MiB/s`;
    ctx.notes.push(
      `Off-site throughput (loopback s3rver): upload ${rate(u)} (${u.ratio.toFixed(2)}× a local cp's time), download ${rate(d)} (${d.ratio.toFixed(2)}×).`,
    );
  } finally {
    store.destroy();
    await server.stop();
  }
}

// ---------------------------------------------------------------- main

async function main() {
  const options = parseArgs(process.argv.slice(2), {
    markdownPath: path.join(ROOT, "docs", "benchmarks.md"),
    jsonPath: path.join(ROOT, "docs", "benchmarks.json"),
  });
  const began = Date.now();
  const work = await mkdtemp(path.join(os.tmpdir(), "lifeboat-bench-"));
  await chmod(work, 0o755);
  const repository = new LocalRepository(path.join(work, "backups"), TARGET);
  await repository.prepareArchive();
  // The server runs archive_command as its own OS user, which may not reach this checkout.
  const archiveWal = path.join(work, "archive-wal");
  await copyFile(path.join(ROOT, "bin", "archive-wal"), archiveWal);
  await chmod(archiveWal, 0o755);
  const cluster = await LocalCluster.open({
    baseDir: path.join(work, "cluster"),
    password: PASSWORD,
    walLevel: "replica",
    archiveMode: "on",
    archiveCommand: `'${archiveWal}' %p '${repository.archiveDir}' %f`,
    settings: { max_wal_size: "2GB", checkpoint_timeout: "30min", shared_buffers: "256MB", max_wal_senders: 10 },
  });
  const meta = await createTestMetadataDb();
  const passfile = path.join(work, ".pgpass");
  try {
    await cluster.start();
    await cluster.query(`create database ${TARGET}`);
    await writeFile(passfile, `${passfileLine({ host: "127.0.0.1", port: cluster.port, database: TARGET, user: cluster.superuser, password: PASSWORD })}\n`, {
      mode: 0o600,
    });
    const ctx: Context = {
      options,
      work,
      cluster,
      repository,
      meta,
      baseEnv: {
        NODE_ENV: "production",
        DATABASE_URL: meta.url,
        DB_HOST: "127.0.0.1",
        DB_PORT: String(cluster.port),
        DB_NAME: TARGET,
        DB_USER: cluster.superuser,
        DB_PASSWORD: PASSWORD,
        DB_TARGET_NAME: TARGET,
        BACKUP_DIR: path.join(work, "backups"),
        LOG_DIR: path.join(work, "logs"),
      },
      toolEnv: {
        NODE_ENV: "production",
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        PGHOST: "127.0.0.1",
        PGPORT: String(cluster.port),
        PGUSER: cluster.superuser,
        PGPASSFILE: passfile,
      } as NodeJS.ProcessEnv,
      bin: async (tool) => (await findPgBinary(tool as Parameters<typeof findPgBinary>[0])).path,
      series: [],
      comparisons: [],
      checks: [],
      notes: [],
    };
    const dataset = await buildDataset({ connection: cluster.adminConnection(TARGET), sizeBytes: options.sizeBytes, pgbench: await ctx.bin("pgbench"), say });
    say(`dataset: ${formatBytes(dataset.bytes)} (pgbench scale ${dataset.pgbenchScale}, ${dataset.documents} documents) in ${dataset.seconds.toFixed(0)} s`);
    await waitForArchive(ctx);

    await benchStartup(ctx);
    await benchLogical(ctx);
    await benchJson(ctx, dataset);
    await benchEncryption(ctx);
    await benchWalSegments(ctx);
    const baseSetup = await benchBase(ctx);
    await benchBaseRestore(ctx, baseSetup).catch((error: unknown) => {
      ctx.notes.push(`The base restore comparison failed: ${(error as Error).message.slice(0, 300)}`);
      say(`base restore comparison failed: ${(error as Error).message}`);
    });
    // The base backup both PITRs start from (Lifeboat's plan picks the newest), then the WAL to
    // replay after it: pgbench as fast as it can, then bulk writes up to the database's size.
    const base = (await lifeboatBackup(ctx, "base")).file;
    const afterBase = await currentLsn(ctx);
    await benchBacklog(ctx, Math.round(Math.min(60, Math.max(10, options.sizeBytes / (40 * MiB)))));
    await writeWal(ctx, afterBase, Math.min(options.sizeBytes, 1024 ** 3));
    await waitForArchive(ctx);
    const walBytes = await walSince(ctx, afterBase);
    await benchPitr(ctx, base, walBytes);
    await benchMemory(ctx);
    await benchHistory(ctx);
    await benchOffsite(ctx).catch((error: unknown) => {
      ctx.notes.push(`The off-site comparison failed: ${(error as Error).message.slice(0, 300)}`);
      say(`off-site comparison failed: ${(error as Error).message}`);
    });

    const report: Report = {
      generatedAt: new Date().toISOString(),
      options: { size: options.sizeText, rounds: options.rounds },
      machine: await describeMachine(work, cluster),
      dataset: {
        bytes: dataset.bytes,
        description: `pgbench scale ${dataset.pgbenchScale} plus ${dataset.documents.toLocaleString("en")} documents (text and jsonb)`,
        loadSeconds: dataset.seconds,
      },
      series: ctx.series,
      comparisons: ctx.comparisons,
      checks: ctx.checks,
      notes: ctx.notes,
      totalSeconds: (Date.now() - began) / 1000,
    };
    await mkdir(path.dirname(options.markdownPath), { recursive: true });
    const markdown = renderMarkdown(report);
    await writeFile(options.markdownPath, markdown);
    await writeFile(options.jsonPath, JSON.stringify(report, null, 2) + "\n");
    console.log(markdown);
    say(`done in ${((Date.now() - began) / 60_000).toFixed(1)} min: ${options.markdownPath}, ${options.jsonPath}`);
  } finally {
    if (options.keep) say(`kept ${work}`);
    else {
      await cluster.remove().catch(() => undefined);
      await rm(work, { recursive: true, force: true });
    }
    await meta.drop().catch(() => undefined);
  }
}

main().catch((error: unknown) => {
  console.error(`[bench] ERROR: ${error instanceof Error ? error.stack : String(error)}`);
  process.exit(1);
});
