/**
 * npm run backup [-- --target NAME] [--kinds full,schema,json,env]
 * One backup set of a target; one summary line per artifact; exit 1 if any artifact failed.
 */
import path from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { recordArtifact } from "@/lib/catalog/record-artifact";
import { finishRun, failInterruptedRuns, startRun, updateRunProgress } from "@/lib/jobs/run-records";
import { LOGICAL_KINDS, runLogicalBackup, type LogicalKind } from "@/lib/engine/logical/run-logical-backup";
import { runBaseBackup } from "@/lib/engine/physical/run-base-backup";
import { formatBytes } from "@/lib/format";
import { loadCliContext, recipientsFrom, runCli, warn } from "./context";
import { ProgressLine } from "./progress";

const BACKUP_KINDS = [...LOGICAL_KINDS, "base"] as const;
type BackupKind = (typeof BACKUP_KINDS)[number];

function parseKinds(value: string): BackupKind[] {
  const kinds = value
    .split(",")
    .map((k) => k.trim())
    .filter(Boolean);
  const unknown = kinds.filter((k) => !(BACKUP_KINDS as readonly string[]).includes(k));
  if (unknown.length || kinds.length === 0) throw new InvalidArgumentError(`expected some of ${BACKUP_KINDS.join(",")}`);
  return [...new Set(kinds)] as BackupKind[];
}

const program = new Command("backup")
  .description("Back up a target: full dump, schema, JSON export and environment backup")
  .option("--target <name>", "target to back up (default: the one from DB_*)")
  .option("--kinds <list>", `artifacts to write, comma separated (${BACKUP_KINDS.join(",")}; base needs WAL archiving)`, parseKinds)
  .showHelpAfterError();

runCli(async () => {
  program.parse();
  const opts = program.opts<{ target?: string; kinds?: BackupKind[] }>();
  const ctx = await loadCliContext({ target: opts.target });
  try {
    const recipients = recipientsFrom(ctx.env);
    let kinds = opts.kinds;
    if (!kinds) {
      kinds = recipients.length ? [...LOGICAL_KINDS] : ["full", "schema", "json"];
      if (!recipients.length) warn("environment backup skipped: it is always encrypted, and LIFEBOAT_AGE_RECIPIENTS is not set");
      // A managed cluster (its data directory is known) also gets a base backup for PITR.
      if (ctx.target.row?.dataDir) kinds.push("base");
    }
    const logicalKinds = kinds.filter((k): k is LogicalKind => k !== "base");
    const targetId = ctx.target.row?.id ?? null;
    const runId = ctx.meta ? await startRun(ctx.meta.db, { targetId, kind: "backup", params: { kinds }, triggeredBy: ctx.actor }) : undefined;
    const progress = new ProgressLine();
    let lastUpdate = 0;
    const result = await runLogicalBackup({
      kinds: logicalKinds,
      target: {
        name: ctx.target.name,
        connection: ctx.target.connection,
        prismaSchemaPath: ctx.target.prismaSchemaPath && path.resolve(ctx.target.prismaSchemaPath),
      },
      backupRoot: ctx.env.BACKUP_DIR,
      pgBinDir: ctx.env.PG_BIN_DIR,
      compressionLevel: ctx.env.LIFEBOAT_DUMP_COMPRESSION,
      dumpJobs: ctx.env.LIFEBOAT_DUMP_JOBS,
      recipients,
      encryptAll: ctx.env.LIFEBOAT_ENCRYPT_BACKUPS,
      environment: {
        files: ctx.env.LIFEBOAT_ENV_FILES.split(",")
          .map((f) => f.trim())
          .filter(Boolean),
        baseDir: process.cwd(),
        rolePasswords: ctx.env.LIFEBOAT_ENV_ROLE_PASSWORDS,
      },
      log: ctx.log,
      onLocked: async () => {
        if (ctx.meta && targetId !== null) {
          const interrupted = await failInterruptedRuns(ctx.meta.db, targetId, ["backup", "restore"], runId);
          if (interrupted) warn(`${interrupted} earlier run(s) of ${ctx.target.name} had been interrupted; marked failed`);
        }
      },
      onProgress: (p) => {
        progress.update(p.kind, p.phase, p.bytes, p.rows);
        if (ctx.meta && runId !== undefined && Date.now() - lastUpdate > 1000) {
          lastUpdate = Date.now();
          void updateRunProgress(ctx.meta.db, runId, { phase: `${p.kind}: ${p.phase}`, bytesDone: p.bytes }).catch(() => {});
        }
      },
    });
    if (kinds.includes("base")) {
      try {
        const base = await runBaseBackup({
          target: { name: ctx.target.name, connection: ctx.target.connection },
          backupRoot: ctx.env.BACKUP_DIR,
          pgBinDir: ctx.env.PG_BIN_DIR,
          log: ctx.log,
          onPhase: (phase) => progress.update("base", phase),
        });
        result.artifacts.push({
          kind: "base",
          ok: true,
          file: base.artifact,
          manifestFile: base.manifestFile,
          manifest: base.manifest,
          durationMs: base.durationMs,
        });
      } catch (error) {
        result.artifacts.push({ kind: "base", ok: false, error: (error as Error).message, stderr: (error as { stderr?: string }).stderr, durationMs: 0 });
      }
    }
    progress.clear();

    let failed = 0;
    let bytes = 0;
    for (const artifact of result.artifacts) {
      if (artifact.ok) {
        bytes += artifact.manifest.sizeBytes;
        console.log(
          `OK      ${artifact.kind.padEnd(6)} ${artifact.file}  ${formatBytes(artifact.manifest.sizeBytes)}  ${(artifact.durationMs / 1000).toFixed(1)}s`,
        );
        if (ctx.meta && targetId !== null)
          await recordArtifact(ctx.meta.db, { targetId, runId, manifest: artifact.manifest, manifestFile: artifact.manifestFile });
      } else {
        failed += 1;
        console.log(`FAILED  ${artifact.kind.padEnd(6)} ${artifact.error}`);
      }
    }
    if (result.restorePoint) console.log(`restore point: ${result.restorePoint}`);
    console.log(
      `backup set ${result.timestamp} in ${path.relative(process.cwd(), result.targetDir) || "."}/: ${result.artifacts.length - failed} written, ${failed} failed`,
    );

    if (ctx.meta && runId !== undefined) {
      const errors = result.artifacts.filter((a) => !a.ok).map((a) => (a.ok ? "" : `${a.kind}: ${a.error}`));
      const stderr = result.artifacts
        .map((a) => (!a.ok && a.stderr ? `${a.kind}:\n${a.stderr}` : ""))
        .filter(Boolean)
        .join("\n");
      await finishRun(ctx.meta.db, runId, {
        status: failed ? "failed" : "succeeded",
        error: errors.join("; ") || null,
        stderr: stderr || null,
        bytesDone: bytes,
      });
    }
    await ctx.audit({
      action: "backups.run",
      outcome: failed ? "failed" : "succeeded",
      subject: ctx.target.name,
      details: { kinds, timestamp: result.timestamp, failed },
    });
    return failed ? 1 : 0;
  } finally {
    await ctx.close();
  }
});
