/**
 * npm run restore backup <file> [-- --into NEWDB] [--yes]
 * npm run restore json <file> [-- --tables a,b] [--yes]
 * npm run restore env <file> [-- --out DIR]
 */
import { createInterface } from "node:readline/promises";
import path from "node:path";
import { Command } from "commander";
import { backupTimestamp } from "@/lib/engine/repository/paths";
import { restoreEnvironment } from "@/lib/engine/logical/restore-environment";
import { restoreFullBackup } from "@/lib/engine/logical/restore-full";
import { restoreJsonExport } from "@/lib/engine/logical/restore-json";
import { finishRun, startRun } from "@/lib/jobs/run-records";
import { findFreePort } from "@/lib/engine/cluster/free-port";
import { planPitr, listBaseBackups } from "@/lib/engine/pitr/plan-pitr";
import { describeTarget, parseRecoveryTarget } from "@/lib/engine/pitr/recovery-target";
import { pitrInPlace, pitrToNewInstance } from "@/lib/engine/pitr/run-pitr";
import { computeRecoverableWindow, describeWindow } from "@/lib/engine/wal/recoverable-window";
import { identitiesFrom, loadCliContext, runCli, warn, type CliContext } from "./context";

class UsageError extends Error {}

/** On a TTY the user types the database name; without one, --yes is required. */
async function confirm(what: string, database: string, yes: boolean | undefined): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY)
    throw new UsageError(`${what} overwrites data in ${database}; without a terminal to confirm, pass --yes (npm run restore … -- --yes).`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${what} will overwrite data in database "${database}". Type the database name to go on: `);
    if (answer.trim() !== database) throw new UsageError("Not confirmed; nothing was changed.");
  } finally {
    rl.close();
  }
}

async function withRun<T>(ctx: CliContext, kind: string, params: Record<string, unknown>, fn: () => Promise<T>): Promise<T> {
  const runId = ctx.meta ? await startRun(ctx.meta.db, { targetId: ctx.target.row?.id ?? null, kind, params, triggeredBy: ctx.actor }) : undefined;
  try {
    const result = await fn();
    if (ctx.meta && runId !== undefined) await finishRun(ctx.meta.db, runId, { status: "succeeded" });
    await ctx.log.succeeded(kind, { target: ctx.target.name, ...flatten(params) });
    await ctx.audit({ action: `backups.${kind}`, outcome: "succeeded", subject: ctx.target.name, details: params });
    return result;
  } catch (error) {
    const message = (error as Error).message;
    if (ctx.meta && runId !== undefined)
      await finishRun(ctx.meta.db, runId, { status: "failed", error: message, stderr: (error as { stderr?: string }).stderr ?? null }).catch(() => {});
    await ctx.log.failed(kind, { target: ctx.target.name, ...flatten(params), error: message });
    await ctx.audit({ action: `backups.${kind}`, outcome: "failed", subject: ctx.target.name, details: { ...params, error: message } });
    throw error;
  }
}

function flatten(params: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(params)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, Array.isArray(v) ? v.join(",") : String(v)]),
  );
}

const program = new Command("restore").description("Restore from a backup").showHelpAfterError();

program
  .command("backup")
  .description("restore a full dump (pg_dump custom format) into the target database or a new one")
  .argument("<file>", "file name in backups/<target>/")
  .option("--into <database>", "restore into this new database instead of overwriting the target's")
  .option("--target <name>", "target (default: the one from DB_*)")
  .option("--yes", "do not ask for confirmation (required without a terminal)")
  .action(async (file: string, opts: { into?: string; target?: string; yes?: boolean }) => {
    const ctx = await loadCliContext({ target: opts.target });
    try {
      if (opts.into === undefined) await confirm(`Restoring ${path.basename(file)}`, ctx.target.connection.database, opts.yes);
      const result = await withRun(ctx, "restore", { file: path.basename(file), into: opts.into }, async () =>
        restoreFullBackup({
          targetName: ctx.target.name,
          targetDir: ctx.targetDir,
          connection: ctx.target.connection,
          fileName: file,
          intoDatabase: opts.into,
          pgBinDir: ctx.env.PG_BIN_DIR,
          jobs: ctx.env.LIFEBOAT_DUMP_JOBS,
          identities: await identitiesFrom(ctx.env),
          onPhase: (phase) => warn(phase),
        }),
      );
      console.log(`Restored ${result.file} into database "${result.database}" in ${(result.durationMs / 1000).toFixed(1)}s.`);
      console.log(["TABLE", "BACKUP", "RESTORED", ""].join("\t"));
      for (const row of result.rowCounts) console.log([row.table, row.expected ?? "-", row.actual ?? "-", row.ok ? "ok" : "MISMATCH"].join("\t"));
      const mismatches = result.rowCounts.filter((r) => !r.ok);
      if (mismatches.length) {
        warn(`ERROR: ${mismatches.length} table(s) differ from the backup's row counts: ${mismatches.map((m) => m.table).join(", ")}`);
        process.exitCode = 1;
      }
    } finally {
      await ctx.close();
    }
  });

program
  .command("json")
  .description("restore tables from a JSON export (all or nothing; other tables untouched)")
  .argument("<file>", "file name in backups/<target>/")
  .option("--tables <list>", "only these tables (table or model names, comma separated)")
  .option("--target <name>", "target (default: the one from DB_*)")
  .option("--yes", "do not ask for confirmation (required without a terminal)")
  .action(async (file: string, opts: { tables?: string; target?: string; yes?: boolean }) => {
    const tables = opts.tables
      ?.split(",")
      .map((t) => t.trim())
      .filter(Boolean);
    if (opts.tables !== undefined && !tables?.length) throw new UsageError("--tables needs at least one table name");
    const ctx = await loadCliContext({ target: opts.target });
    try {
      await confirm(`Restoring ${tables ? tables.join(", ") : "every table"} from ${path.basename(file)}`, ctx.target.connection.database, opts.yes);
      const result = await withRun(ctx, "restore-json", { file: path.basename(file), tables }, async () =>
        restoreJsonExport({
          targetName: ctx.target.name,
          targetDir: ctx.targetDir,
          connection: ctx.target.connection,
          fileName: file,
          tables,
          identities: await identitiesFrom(ctx.env),
          onPhase: (phase) => warn(phase),
        }),
      );
      console.log(`Restored ${result.tables.length} table(s) from ${result.file} in ${(result.durationMs / 1000).toFixed(1)}s.`);
      console.log(["TABLE", "ROWS", "DELETED", "WRITTEN"].join("\t"));
      for (const t of result.tables) console.log([t.table, t.rows, t.deleted, t.upserted].join("\t"));
    } finally {
      await ctx.close();
    }
  });

program
  .command("env")
  .description("decrypt an environment backup into a folder for you to apply (never overwrites live configuration)")
  .argument("<file>", "file name in backups/<target>/")
  .option("--out <dir>", "new or empty folder to write into")
  .option("--target <name>", "target (default: the one from DB_*)")
  .action(async (file: string, opts: { out?: string; target?: string }) => {
    const ctx = await loadCliContext({ target: opts.target });
    try {
      const outDir = opts.out ?? `restored-env-${backupTimestamp(new Date())}`;
      const result = await withRun(ctx, "restore-env", { file: path.basename(file), out: outDir }, async () =>
        restoreEnvironment({ targetDir: ctx.targetDir, fileName: file, outDir, identities: await identitiesFrom(ctx.env) }),
      );
      console.log(`Decrypted ${result.file} into ${result.outDir}:`);
      for (const entry of result.entries) console.log(`  ${entry}`);
      console.log("Review and apply these by hand; Lifeboat changed no live configuration.");
    } finally {
      await ctx.close();
    }
  });

program
  .command("pitr")
  .description("point-in-time recovery from a base backup and the WAL archive")
  .argument("[when]", 'a time ("2026-01-15 14:30:00", read in LIFEBOAT_TIMEZONE, or with an offset) or "latest"')
  .option("--name <restore point>", "recover to a named restore point")
  .option("--lsn <lsn>", "recover to a WAL position")
  .option("--window", "only show the recoverable window")
  .option("--json", "with --window: print JSON")
  .option("--to-new-instance", "restore into a new data directory and port, left running (the target is untouched)")
  .option("--port <port>", "with --to-new-instance: the port (default: a free one)")
  .option("--data-dir <dir>", "with --to-new-instance: the folder for the new cluster")
  .option("--target <name>", "target (default: the one from DB_*)")
  .option("--yes", "do not ask for confirmation (required without a terminal)")
  .action(
    async (
      when: string | undefined,
      opts: {
        name?: string;
        lsn?: string;
        window?: boolean;
        json?: boolean;
        toNewInstance?: boolean;
        port?: string;
        dataDir?: string;
        target?: string;
        yes?: boolean;
      },
    ) => {
      const ctx = await loadCliContext({ target: opts.target });
      try {
        const archiveDir = path.join(ctx.targetDir, "archive");
        if (opts.window) {
          const window = await computeRecoverableWindow({ archiveDir, baseBackups: await listBaseBackups(ctx.targetDir), pgBinDir: ctx.env.PG_BIN_DIR });
          if (opts.json) console.log(JSON.stringify(window, null, 2));
          else for (const line of describeWindow(window)) console.log(line);
          return;
        }
        let target;
        try {
          target = parseRecoveryTarget(
            { time: when === "latest" ? undefined : when, latest: when === "latest", name: opts.name, lsn: opts.lsn },
            ctx.env.LIFEBOAT_TIMEZONE,
          );
        } catch (error) {
          throw new UsageError((error as Error).message);
        }
        const plan = await planPitr({ targetDir: ctx.targetDir, archiveDir, target, pgBinDir: ctx.env.PG_BIN_DIR });
        for (const line of plan.lines) console.log(line);
        const common = {
          plan,
          targetDir: ctx.targetDir,
          archiveDir,
          restoreWal: path.resolve(import.meta.dirname, "..", "bin", "restore-wal"),
          pgBinDir: ctx.env.PG_BIN_DIR,
          log: ctx.log,
          targetName: ctx.target.name,
          onPhase: (phase: string) => warn(phase),
        };
        const params = { target: describeTarget(target), base: plan.base.artifact, mode: opts.toNewInstance ? "new-instance" : "in-place" };
        const outcome = await (async () => {
          if (opts.toNewInstance) {
            const port = opts.port ? Number(opts.port) : await findFreePort();
            if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError("--port must be a port number");
            const baseDir = path.resolve(opts.dataDir ?? path.join(".lifeboat", "pitr", `${ctx.target.name}-${backupTimestamp(new Date())}`));
            return withRun(ctx, "pitr", params, () => pitrToNewInstance({ ...common, baseDir, port }));
          }
          const dataDir = ctx.target.row?.dataDir ?? ctx.env.DB_DATA_DIR;
          if (!dataDir)
            throw new UsageError(`${ctx.target.name} is not a managed cluster (no DB_DATA_DIR), so it cannot be recovered in place; use --to-new-instance.`);
          await confirm(`Point-in-time recovery of ${ctx.target.name} to ${describeTarget(target)}`, ctx.target.connection.database, opts.yes);
          return withRun(ctx, "pitr", params, () =>
            pitrInPlace({ ...common, dataDir: path.resolve(dataDir), keepPrevious: ctx.env.LIFEBOAT_PITR_KEEP_PREVIOUS }),
          );
        })();
        console.log(
          `Recovered ${outcome.mode === "in-place" ? "in place" : "into a new instance"} in ${(outcome.durationMs / 1000).toFixed(1)}s: timeline ${outcome.timeline}, last transaction replayed ${outcome.lastReplayed ?? "none"}.`,
        );
        console.log(`Running on port ${outcome.port}, data directory ${outcome.dataDir}.`);
        if (outcome.previousDataDir) console.log(`The previous data directory is kept in ${outcome.previousDataDir}.`);
      } finally {
        await ctx.close();
      }
    },
  );

runCli(async () => {
  try {
    await program.parseAsync();
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (error) {
    if (error instanceof UsageError) {
      warn(`ERROR: ${error.message}`);
      return 2;
    }
    throw error;
  }
});
