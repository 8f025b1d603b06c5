/**
 * npm run restore backup <file> [-- --into NEWDB] [--yes]
 * npm run restore json <file> [-- --tables a,b] [--yes]
 * npm run restore env <file> [-- --out DIR]
 * npm run restore pitr <when|latest> [-- --name P | --lsn L] [--to-new-instance] [--yes] | -- --window
 * A file may be "latest" (the newest of that kind).
 */
import { Command } from "commander";
import { backupTimestamp } from "@/lib/engine/repository/artifact-kinds";
import { listBaseBackups, type PitrPlan } from "@/lib/engine/pitr/plan-pitr";
import { computeRecoverableWindow } from "@/lib/engine/wal/recoverable-window";
import { pitrOperation } from "@/lib/operations/pitr";
import { identities } from "@/lib/operations/settings";
import { restoreEnvOperation } from "@/lib/operations/restore-env";
import { restoreFullOperation } from "@/lib/operations/restore-full";
import { restoreJsonOperation } from "@/lib/operations/restore-json";
import { resolveTarget } from "@/lib/targets/resolve-target";
import { openCliSession, runCli, runFromCli } from "./context";
import { planLines, seconds, windowLines } from "./format";

let exitCode = 0;

const program = new Command("restore").description("Restore from a backup").showHelpAfterError();

program
  .command("backup")
  .description("restore a full dump (pg_dump custom format) into the target database or a new one")
  .argument("<file>", 'file name in backups/<target>/, or "latest"')
  .option("--into <database>", "restore into this new database instead of overwriting the target's")
  .option("--target <name>", "target (default: the one from DB_*)")
  .option("--yes", "do not ask for confirmation (required without a terminal)")
  .action(async (file: string, opts: { into?: string; target?: string; yes?: boolean }) => {
    const session = await openCliSession();
    try {
      const outcome = await runFromCli(session, restoreFullOperation, { target: opts.target, file, into: opts.into }, { yes: opts.yes });
      const result = outcome.result;
      if (result) {
        console.log(`Restored ${result.file} into database "${result.database}" in ${seconds(result.durationMs)}.`);
        console.log(["TABLE", "BACKUP", "RESTORED", ""].join("\t"));
        for (const row of result.rowCounts) console.log([row.table, row.expected ?? "-", row.actual ?? "-", row.ok ? "ok" : "MISMATCH"].join("\t"));
      }
      exitCode = outcome.exitCode;
    } finally {
      await session.close();
    }
  });

program
  .command("json")
  .description("restore tables from a JSON export (all or nothing; other tables untouched)")
  .argument("<file>", 'file name in backups/<target>/, or "latest"')
  .option("--tables <list>", "only these tables (table or model names, comma separated)")
  .option("--target <name>", "target (default: the one from DB_*)")
  .option("--yes", "do not ask for confirmation (required without a terminal)")
  .action(async (file: string, opts: { tables?: string; target?: string; yes?: boolean }) => {
    const tables = opts.tables
      ?.split(",")
      .map((t) => t.trim())
      .filter(Boolean);
    const session = await openCliSession();
    try {
      const outcome = await runFromCli(session, restoreJsonOperation, { target: opts.target, file, tables }, { yes: opts.yes });
      const result = outcome.result;
      if (result) {
        console.log(`Restored ${result.tables.length} table(s) from ${result.file} in ${seconds(result.durationMs)}.`);
        console.log(["TABLE", "ROWS", "DELETED", "WRITTEN"].join("\t"));
        for (const t of result.tables) console.log([t.table, t.rows, t.deleted, t.upserted].join("\t"));
      }
      exitCode = outcome.exitCode;
    } finally {
      await session.close();
    }
  });

program
  .command("env")
  .description("decrypt an environment backup into a folder for you to apply (never overwrites live configuration)")
  .argument("<file>", 'file name in backups/<target>/, or "latest"')
  .option("--out <dir>", "new or empty folder to write into")
  .option("--target <name>", "target (default: the one from DB_*)")
  .action(async (file: string, opts: { out?: string; target?: string }) => {
    const session = await openCliSession();
    try {
      const out = opts.out ?? `restored-env-${backupTimestamp(new Date())}`;
      const outcome = await runFromCli(session, restoreEnvOperation, { target: opts.target, file, out });
      const result = outcome.result;
      if (result) {
        console.log(`Decrypted ${result.file} into ${result.outDir}:`);
        for (const entry of result.entries) console.log(`  ${entry}`);
        console.log("Review and apply these by hand; Lifeboat changed no live configuration.");
      }
      exitCode = outcome.exitCode;
    } finally {
      await session.close();
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
      const session = await openCliSession();
      try {
        if (opts.window) {
          const target = await resolveTarget({ env: session.env, db: session.meta?.db, name: opts.target });
          const window = await computeRecoverableWindow({
            archiveDir: target.repository.archiveDir,
            baseBackups: await listBaseBackups(target.repository),
            pgBinDir: session.env.PG_BIN_DIR,
            identities: await identities(session.env),
          });
          if (opts.json) console.log(JSON.stringify(window, null, 2));
          else for (const line of windowLines(window)) console.log(line);
          return;
        }
        const input = {
          target: opts.target,
          time: when !== undefined && when !== "latest" ? when : undefined,
          latest: when === "latest" ? true : undefined,
          name: opts.name,
          lsn: opts.lsn,
          mode: opts.toNewInstance ? "new-instance" : "in-place",
          port: opts.port,
          dataDir: opts.dataDir,
        };
        const outcome = await runFromCli(session, pitrOperation, input, {
          yes: opts.yes,
          // The plan (resolved UTC instant, base backup, WAL range) is printed before anything runs.
          onPreview: (plan) => {
            for (const line of planLines(plan as PitrPlan)) console.log(line);
          },
        });
        const done = outcome.result?.outcome;
        if (done) {
          console.log(
            `Recovered ${done.mode === "in-place" ? "in place" : "into a new instance"} in ${seconds(done.durationMs)}: timeline ${done.timeline}, last transaction replayed ${done.lastReplayed ?? "none"}.`,
          );
          console.log(`Running on port ${done.port}, data directory ${done.dataDir}.`);
          if (done.previousDataDir) console.log(`The previous data directory is kept in ${done.previousDataDir}.`);
          if (done.preview?.length) {
            // What an in-place recovery to this moment would change, table by table.
            console.log(["TABLE", "AT THAT MOMENT", "LIVE NOW", ""].join("\t"));
            for (const row of done.preview) {
              const change =
                row.recovered === null || row.live === null
                  ? ""
                  : row.recovered === row.live
                    ? "same"
                    : `${row.recovered - row.live > 0 ? "+" : ""}${row.recovered - row.live}`;
              console.log([row.table, row.recovered ?? "-", row.live ?? "-", change].join("\t"));
            }
          }
        } else if (outcome.error?.details.window) {
          console.log("Recoverable window:");
          for (const line of windowLines(outcome.error.details.window as Parameters<typeof windowLines>[0])) console.log(`  ${line}`);
        }
        exitCode = outcome.exitCode;
      } finally {
        await session.close();
      }
    },
  );

runCli(async () => {
  await program.parseAsync();
  return exitCode;
});
